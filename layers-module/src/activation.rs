//! [`Activation`]: a weightless module applying one of `duet_core::ops::activation`'s functions.

use duet_core::burn::module::Module;
use duet_core::burn::tensor::Tensor;
use duet_core::ops::activation as act;

/// Which activation an [`Activation`] applies (PyTorch's definitions and defaults).
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Act {
    /// `max(x, 0)`.
    Relu,
    /// `min(max(x, 0), 6)`.
    Relu6,
    /// `x` if `x > 0`, else `slope * x` (PyTorch's default slope is 0.01).
    LeakyRelu(f64),
    /// `x` if `x > 0`, else `alpha (exp(x) - 1)` (PyTorch's default alpha is 1).
    Elu(f64),
    /// Scaled ELU with the self-normalizing constants.
    Selu,
    /// `x Phi(x)` (exact, erf-based).
    Gelu,
    /// GELU's tanh approximation.
    GeluTanh,
    /// `x sigmoid(x)` (also called swish).
    Silu,
    /// `x tanh(softplus(x))`.
    Mish,
    /// `1 / (1 + exp(-x))`.
    Sigmoid,
    /// `clamp(x / 6 + 1/2, 0, 1)`.
    HardSigmoid,
    /// `x hard_sigmoid(x)`.
    HardSwish,
    /// `tanh(x)`.
    Tanh,
    /// `ln(1 + exp(x))`.
    Softplus,
    /// `x / (1 + |x|)`.
    Softsign,
    /// `ln sigmoid(x)`.
    LogSigmoid,
    /// Softmax over the last axis.
    Softmax,
    /// Log-softmax over the last axis.
    LogSoftmax,
}

impl Act {
    /// Applies the function elementwise (softmaxes: over the last axis).
    ///
    /// # Shapes
    /// Any shape, unchanged.
    pub fn apply<const D: usize>(self, x: Tensor<D>) -> Tensor<D> {
        match self {
            Act::Relu => act::relu(x),
            Act::Relu6 => act::relu6(x),
            Act::LeakyRelu(s) => act::leaky_relu(x, s),
            Act::Elu(a) => act::elu(x, a),
            Act::Selu => act::selu(x),
            Act::Gelu => act::gelu(x),
            Act::GeluTanh => act::gelu_tanh(x),
            Act::Silu => act::silu(x),
            Act::Mish => act::mish(x),
            Act::Sigmoid => act::sigmoid(x),
            Act::HardSigmoid => act::hard_sigmoid(x),
            Act::HardSwish => act::hard_swish(x),
            Act::Tanh => act::tanh(x),
            Act::Softplus => act::softplus(x),
            Act::Softsign => act::softsign(x),
            Act::LogSigmoid => act::log_sigmoid(x),
            Act::Softmax => act::softmax(x, D - 1),
            Act::LogSoftmax => act::log_softmax(x, D - 1),
        }
    }
}

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
        self.act.apply(x)
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
