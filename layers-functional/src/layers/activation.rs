//! Activation layers: [`Act`] (one enum in `duet_core`, parsed from PyTorch's names) is a
//! layer, and each activation has a constant of its old name, so `serial![.., Relu, ..]` reads
//! as before. Weightless, shape-preserving; `Softmax` and `LogSoftmax` act over the last axis.
//!
//! # Shapes
//! Output shape = input shape.
//!
//! # Example
//! ```
//! use duet_functional::{Act, LayerExt, Mode, Relu, Softmax};
//! use duet_core::{burn::tensor::Device, DynTensor, Params};
//! let x = DynTensor::from_floats(vec![-1.0, 2.0], &[1, 2], &Device::flex());
//! let (y, _) = Relu.apply(&Params::new(), &Params::new(), x.clone(), Mode::Eval);
//! assert_eq!(y.to_vec(), vec![0.0, 2.0]);
//! let (p, _) = Softmax.apply(&Params::new(), &Params::new(), x.clone(), Mode::Eval);
//! assert!((p.to_vec().iter().sum::<f32>() - 1.0).abs() < 1e-6);
//! let (y, _) = Act::LeakyRelu(0.5).apply(&Params::new(), &Params::new(), x, Mode::Eval);
//! assert_eq!(y.to_vec(), vec![-0.5, 2.0]);
//! ```

use crate::layer::config_layer;
pub use duet_core::layers::Act;

config_layer!(Act);

macro_rules! constants {
    ($($(#[$doc:meta])* $name:ident = $value:expr;)*) => {$(
        $(#[$doc])*
        #[allow(non_upper_case_globals)]
        pub const $name: Act = $value;
    )*};
}

constants! {
    /// `max(x, 0)`.
    Relu = Act::Relu;
    /// `min(max(x, 0), 6)`.
    Relu6 = Act::Relu6;
    /// Leaky ReLU with PyTorch's default slope 0.01 (others: `Act::LeakyRelu(slope)`).
    LeakyRelu = Act::LeakyRelu(0.01);
    /// ELU with PyTorch's default alpha 1 (others: `Act::Elu(alpha)`).
    Elu = Act::Elu(1.0);
    /// SELU.
    Selu = Act::Selu;
    /// Exact GELU.
    Gelu = Act::Gelu;
    /// GELU, tanh approximation.
    GeluTanh = Act::GeluTanh;
    /// SiLU / swish: `x sigmoid(x)`.
    Silu = Act::Silu;
    /// Mish: `x tanh(softplus(x))`.
    Mish = Act::Mish;
    /// `1 / (1 + e^-x)`.
    Sigmoid = Act::Sigmoid;
    /// `relu6(x + 3) / 6`.
    HardSigmoid = Act::HardSigmoid;
    /// `x hard_sigmoid(x)`.
    HardSwish = Act::HardSwish;
    /// `tanh(x)`.
    Tanh = Act::Tanh;
    /// `log(1 + e^x)` (linear above 20).
    Softplus = Act::Softplus;
    /// `x / (1 + |x|)`.
    Softsign = Act::Softsign;
    /// `log sigmoid(x)`.
    LogSigmoid = Act::LogSigmoid;
    /// Softmax over the last axis.
    Softmax = Act::Softmax;
    /// Log-softmax over the last axis.
    LogSoftmax = Act::LogSoftmax;
}

/// PReLU with learned slopes ([`PReluConfig`]: PyTorch's `nn.PReLU`). Param `weight`
/// `[num_parameters]`.
///
/// # Shapes
/// Any shape, unchanged (`C = num_parameters` on axis 1 when more than one).
pub type PRelu = PReluConfig;

pub use duet_core::layers::PReluConfig;
config_layer!(PReluConfig);
