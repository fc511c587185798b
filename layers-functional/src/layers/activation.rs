//! Activation layers: weightless, shape-preserving, over `duet_core::ops::activation`.
//!
//! Element-wise activations run on a flat view of the input (a free reshape); `Softmax` and
//! `LogSoftmax` act over the last axis.
//!
//! # Shapes
//! Output shape = input shape.
//!
//! # Example
//! ```
//! use duet_functional::{LayerExt, Mode, Relu, Softmax};
//! use duet_core::{burn::tensor::Device, DynTensor, Params};
//! let x = DynTensor::from_floats(vec![-1.0, 2.0], &[1, 2], &Device::flex());
//! let (y, _) = Relu.apply(&Params::new(), &Params::new(), x.clone(), Mode::Eval);
//! assert_eq!(y.to_vec(), vec![0.0, 2.0]);
//! let (p, _) = Softmax.apply(&Params::new(), &Params::new(), x, Mode::Eval);
//! assert!((p.to_vec().iter().sum::<f32>() - 1.0).abs() < 1e-6);
//! ```

use crate::layer::{expect_inputs, BuildError, Layer, Mode, Shape};
use duet_core::ops::activation as act;
use duet_core::{DynTensor, Params};

macro_rules! activation {
    ($(#[$doc:meta])* $ty:ident, |$x:ident, $s:ident| $body:expr) => {
        $(#[$doc])*
        #[derive(Clone, Copy, Debug, Default, PartialEq)]
        pub struct $ty;
        activation!(@impl $ty, |$x, $s| $body);
    };
    (@impl $ty:ident, |$x:ident, $s:ident| $body:expr) => {
        impl Layer for $ty {
            fn name(&self) -> String {
                stringify!($ty).into()
            }
            fn output_signature(&self, inputs: &[Shape]) -> Result<Vec<Shape>, BuildError> {
                expect_inputs(self, inputs)?;
                Ok(inputs.to_vec())
            }
            fn forward(&self, _: &Params, state: &Params, x: Vec<DynTensor>, _: Mode) -> (Vec<DynTensor>, Params) {
                let $x = x.into_iter().next().expect("one input");
                let $s = self;
                let _ = $s;
                (vec![$body], state.clone())
            }
        }
    };
}

/// `x` if positive, else `slope * x`; the default slope is PyTorch's 0.01.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct LeakyRelu {
    /// The slope for negative inputs.
    pub slope: f64,
}

impl Default for LeakyRelu {
    fn default() -> Self {
        LeakyRelu { slope: 0.01 }
    }
}

/// `x` if positive, else `alpha (e^x - 1)`; the default alpha is PyTorch's 1.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Elu {
    /// The scale of the negative part.
    pub alpha: f64,
}

impl Default for Elu {
    fn default() -> Self {
        Elu { alpha: 1.0 }
    }
}

activation!(@impl LeakyRelu, |x, s| x.map_flat(|t| act::leaky_relu(t, s.slope)));
activation!(@impl Elu, |x, s| x.map_flat(|t| act::elu(t, s.alpha)));

/// Applies `f` over the last axis of `x`, as a `[rows, last]` view.
fn last_axis(
    x: DynTensor,
    f: fn(duet_core::burn::tensor::Tensor<2>, usize) -> duet_core::burn::tensor::Tensor<2>,
) -> DynTensor {
    let dims = x.dims();
    let last = *dims.last().expect("rank >= 1");
    let rows = x.num_elements() / last;
    DynTensor::from(f(x.flatten().reshape([rows, last]), 1)).reshape(&dims)
}

activation!(/// `max(x, 0)`.
    Relu, |x, s| x.map_flat(act::relu));
activation!(/// `min(max(x, 0), 6)`.
    Relu6, |x, s| x.map_flat(act::relu6));
activation!(/// SELU.
    Selu, |x, s| x.map_flat(act::selu));
activation!(/// Exact GELU.
    Gelu, |x, s| x.map_flat(act::gelu));
activation!(/// GELU, tanh approximation.
    GeluTanh, |x, s| x.map_flat(act::gelu_tanh));
activation!(/// SiLU / swish: `x sigmoid(x)`.
    Silu, |x, s| x.map_flat(act::silu));
activation!(/// Mish: `x tanh(softplus(x))`.
    Mish, |x, s| x.map_flat(act::mish));
activation!(/// `1 / (1 + e^-x)`.
    Sigmoid, |x, s| x.map_flat(act::sigmoid));
activation!(/// `relu6(x + 3) / 6`.
    HardSigmoid, |x, s| x.map_flat(act::hard_sigmoid));
activation!(/// `x hard_sigmoid(x)`.
    HardSwish, |x, s| x.map_flat(act::hard_swish));
activation!(/// `tanh(x)`.
    Tanh, |x, s| x.map_flat(act::tanh));
activation!(/// `log(1 + e^x)` (linear above 20).
    Softplus, |x, s| x.map_flat(act::softplus));
activation!(/// `x / (1 + |x|)`.
    Softsign, |x, s| x.map_flat(act::softsign));
activation!(/// `log sigmoid(x)`.
    LogSigmoid, |x, s| x.map_flat(act::log_sigmoid));
activation!(/// Softmax over the last axis.
    Softmax, |x, s| last_axis(x, act::softmax::<2>));
activation!(/// Log-softmax over the last axis.
    LogSoftmax, |x, s| last_axis(x, act::log_softmax::<2>));
