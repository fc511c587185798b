//! [`Activation`]: a weightless module applying one of `duet_core::ops::activation`'s functions.

use duet_core::burn::module::Module;
use duet_core::burn::tensor::Tensor;

/// Which activation an [`Activation`] applies: `duet_core`'s one activation enum (PyTorch's
/// definitions and defaults; parses PyTorch's names).
pub use duet_core::layers::Act;

/// A weightless activation layer (no params, no state; in a `Sequential` it keeps its index).
///
/// # Shapes
/// Any shape, unchanged.
///
/// # Example
/// ```
/// use duet_module::{Act, Activation};
/// use duet_core::burn::tensor::{Device, Tensor};
/// let x = Tensor::<1>::from_floats([-2.0, 0.0, 3.0], &Device::flex());
/// let y = Activation::new(Act::Relu).forward(x.clone());
/// assert_eq!(y.into_data().to_vec::<f32>().unwrap(), vec![0.0, 0.0, 3.0]);
/// let y = Activation::new(Act::LeakyRelu(0.5)).forward(x);
/// assert_eq!(y.into_data().to_vec::<f32>().unwrap(), vec![-1.0, 0.0, 3.0]);
/// ```
#[derive(Module, Debug)]
pub struct Activation {
    /// The function.
    #[module(skip)]
    pub act: Act,
}

impl Activation {
    /// A layer applying `act`.
    pub fn new(act: Act) -> Self {
        Activation { act }
    }

    /// Applies it (`duet_core::ops::activation`).
    ///
    /// # Shapes
    /// Any shape, unchanged.
    pub fn forward<const D: usize>(&self, x: Tensor<D>) -> Tensor<D> {
        self.act.apply_tensor(x)
    }
}

/// Flattens every axis after the first: `[N, d1, d2, ...] -> [N, d1 * d2 * ...]` (weightless).
///
/// # Shapes
/// `[N, ...] -> [N, prod(...)]`
///
/// # Example
/// ```
/// use duet_module::Flatten;
/// use duet_core::burn::tensor::{Device, Tensor};
/// let y = Flatten.forward(Tensor::<4>::ones([2, 16, 5, 5], &Device::flex()));
/// assert_eq!(y.dims(), [2, 400]);
/// ```
#[derive(Module, Debug)]
pub struct Flatten;

impl Flatten {
    /// Applies it.
    ///
    /// # Shapes
    /// `[N, ...] -> [N, prod(...)]`
    pub fn forward<const D: usize>(&self, x: Tensor<D>) -> Tensor<2> {
        x.flatten(1, D - 1)
    }
}
