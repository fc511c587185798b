//! [`Activation`]: a weightless module applying one of `duet_core::ops::activation`'s functions.

use crate::config::{param, Build};
use crate::rngs::Rngs;
use crate::val_forward::{eval_state, Lift, ValForward};
use duet_core::burn::module::{Module, Param};
use duet_core::burn::tensor::{Device, Tensor};
use duet_core::layers::{Ctx, LayerConfig, PReluConfig, PReluParams};
use duet_core::layers::{FlattenConfig, NoParams};
use duet_core::Val;
use duet_core::{DynTensor, Mode, Params};

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

/// PReLU with learned slopes (PyTorch's `nn.PReLU`; defined by [`PReluConfig`]): `weight`
/// `[num_parameters]`, `Constant(0.25)` by default.
///
/// # Shapes
/// Any shape, unchanged (`C = num_parameters` on axis 1 when more than one).
///
/// # Example
/// ```
/// use duet_module::{PRelu, Rngs};
/// use duet_core::burn::tensor::{Device, Tensor};
/// let dev = Device::flex();
/// let p = PRelu::new(1, &mut Rngs::new(0), &dev);
/// let y = p.forward(Tensor::<2>::from_floats([[-2.0, 3.0]], &dev));
/// assert_eq!(y.into_data().to_vec::<f32>().unwrap(), vec![-0.5, 3.0]);
/// ```
#[derive(Module, Debug)]
pub struct PRelu {
    /// `[num_parameters]`: the negative slopes.
    pub weight: Param<Tensor<1>>,
    /// The definition.
    #[module(skip)]
    pub config: PReluConfig,
}

impl PRelu {
    /// `num_parameters` slopes (1, or the channel count), PyTorch's init.
    pub fn new(num_parameters: usize, rngs: &mut Rngs, device: &Device) -> Self {
        PReluConfig::new()
            .with_num_parameters(num_parameters)
            .build(num_parameters, rngs, device)
    }

    /// Applies it to a rank-erased tensor.
    ///
    /// # Shapes
    /// Any shape, unchanged.
    pub fn forward_dyn(&self, x: DynTensor) -> DynTensor {
        let p = PReluParams {
            weight: DynTensor::from(self.weight.val()),
        };
        let mut state = Params::new();
        let mut cx = Ctx {
            mode: Mode::Eval,
            state: &mut state,
        };
        self.config.apply(&p, x, &mut cx)
    }

    /// Applies it.
    ///
    /// # Shapes
    /// Any shape, unchanged.
    pub fn forward<const D: usize>(&self, x: Tensor<D>) -> Tensor<D> {
        self.forward_dyn(x.into()).into_rank()
    }
}

impl Build for Act {
    type Module = Activation;
    fn build(&self, _: usize, _: &mut Rngs, _: &Device) -> Activation {
        Activation::new(*self)
    }
}

impl Build for PReluConfig {
    type Module = PRelu;
    fn build(&self, d_in: usize, rngs: &mut Rngs, device: &Device) -> PRelu {
        let (p, _) = self.init(d_in, rngs.params.next(), device);
        PRelu {
            weight: param(p.weight),
            config: *self,
        }
    }
}

impl ValForward for Activation {
    fn forward_val<V: Val>(&self, _: Lift<'_, V>, x: V, _: Mode) -> V {
        x.act(self.act)
    }
}

impl ValForward for PRelu {
    fn forward_val<V: Val>(&self, lift: Lift<'_, V>, x: V, mode: Mode) -> V {
        eval_state(
            self.config,
            &PReluParams {
                weight: lift("weight"),
            },
            x,
            mode,
            Params::new(),
        )
    }
}

impl ValForward for Flatten {
    fn forward_val<V: Val>(&self, _: Lift<'_, V>, x: V, mode: Mode) -> V {
        eval_state(FlattenConfig, &NoParams, x, mode, Params::new())
    }
}
