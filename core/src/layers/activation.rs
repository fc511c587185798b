//! [`Act`]: every activation as one enum, parsed from PyTorch's names; it is its own config.

use super::{check_rank, Ctx, LayerConfig, NoParams, Val};
use crate::ops::activation as act;
use crate::{DynTensor, Fans, Initializer, Key, Params};
use burn::tensor::{Device, Tensor};
use std::fmt;
use std::str::FromStr;

/// An activation (PyTorch's definitions and defaults). Weightless; shape-preserving.
///
/// Parses PyTorch's functional and module names in any case (`relu`, `ReLU`, `LeakyReLU`,
/// `gelu`/`gelu_erf`, `gelu_tanh`, `silu`/`swish`, `hardsigmoid`/`hard_sigmoid`, ...), softmaxes
/// with an optional `_last`, and a numeric suffix for the two with a parameter
/// (`leaky_relu_0.2`, `elu_1.0`); [`fmt::Display`] prints the canonical name, which parses back.
///
/// # Shapes
/// Any shape, unchanged.
///
/// # Example
/// ```
/// use duet_core::layers::Act;
/// let a: Act = "LeakyReLU_0.2".parse().unwrap();
/// assert_eq!(a, Act::LeakyRelu(0.2));
/// assert_eq!(a.to_string().parse::<Act>().unwrap(), a);
/// assert_eq!("swish".parse::<Act>().unwrap(), Act::Silu);
/// assert!("frobnicate".parse::<Act>().unwrap_err().contains("relu"));
/// ```
#[derive(Clone, Copy, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
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

/// Canonical names of the parameterless activations, with their variants.
const NAMES: [(&str, Act); 16] = [
    ("relu", Act::Relu),
    ("relu6", Act::Relu6),
    ("selu", Act::Selu),
    ("gelu", Act::Gelu),
    ("gelu_tanh", Act::GeluTanh),
    ("silu", Act::Silu),
    ("mish", Act::Mish),
    ("sigmoid", Act::Sigmoid),
    ("hard_sigmoid", Act::HardSigmoid),
    ("hard_swish", Act::HardSwish),
    ("tanh", Act::Tanh),
    ("softplus", Act::Softplus),
    ("softsign", Act::Softsign),
    ("log_sigmoid", Act::LogSigmoid),
    ("softmax", Act::Softmax),
    ("log_softmax", Act::LogSoftmax),
];

impl Act {
    /// Applies the function element-wise to a typed tensor (softmaxes: over the last axis).
    /// (Named so that it does not shadow `duet_functional::LayerExt::apply`.)
    ///
    /// # Shapes
    /// Any shape, unchanged.
    pub fn apply_tensor<const D: usize>(self, x: Tensor<D>) -> Tensor<D> {
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

impl fmt::Display for Act {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Act::LeakyRelu(s) => write!(f, "leaky_relu_{s:?}"),
            Act::Elu(a) => write!(f, "elu_{a:?}"),
            a => f.write_str(NAMES.iter().find(|(_, v)| v == a).map_or("?", |(n, _)| n)),
        }
    }
}

impl FromStr for Act {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, String> {
        let lower = s.to_ascii_lowercase();
        let key = lower.replace('_', "");
        let key = key.strip_suffix("last").unwrap_or(&key);
        for (prefix, make) in [
            ("leakyrelu", Act::LeakyRelu as fn(f64) -> Act),
            ("elu", Act::Elu),
        ] {
            if let Some(rest) = key.strip_prefix(prefix) {
                let default = if prefix == "elu" { 1.0 } else { 0.01 };
                if rest.is_empty() {
                    return Ok(make(default));
                }
                if let Ok(v) = rest.parse::<f64>() {
                    return Ok(make(v));
                }
            }
        }
        let alias = match key {
            "geluerf" => "gelu",
            "swish" => "silu",
            "hardsigmoid" => "hard_sigmoid",
            "hardswish" => "hard_swish",
            "logsigmoid" => "log_sigmoid",
            "logsoftmax" => "log_softmax",
            "gelutanh" => "gelu_tanh",
            k => k,
        };
        NAMES
            .iter()
            .find(|(n, _)| *n == alias || n.replace('_', "") == alias)
            .map(|(_, a)| *a)
            .ok_or_else(|| {
                let names: Vec<&str> = NAMES.iter().map(|(n, _)| *n).collect();
                format!(
                    "unknown activation `{s}` (known: {}, leaky_relu[_slope], elu[_alpha])",
                    names.join(", ")
                )
            })
    }
}

impl LayerConfig for Act {
    const KIND: &'static str = "activation";
    const PER_EXAMPLE: bool = true;
    type Params<V: Val> = NoParams;

    fn name(&self) -> String {
        format!("{self:?}")
    }
    fn input_size(&self, input: &[usize]) -> Result<usize, String> {
        check_rank(input, 1, true).map(|_| 0)
    }
    fn output_shape(&self, input: &[usize]) -> Result<Vec<usize>, String> {
        check_rank(input, 1, true).map(|_| input.to_vec())
    }
    fn init(&self, _: usize, _: Key, _: &Device) -> (NoParams, Params) {
        (NoParams, Params::new())
    }
    fn apply<V: Val>(&self, _: &NoParams, x: V, _: &mut Ctx<'_>) -> V {
        x.act(*self)
    }
}

crate::param_tree! {
    /// PReLU's params: `weight` `[num_parameters]`, the negative slopes.
    pub struct PReluParams { leaf weight: V }
}

/// PReLU (PyTorch's `nn.PReLU`): `max(x, 0) + weight * min(x, 0)` with learned slopes, one
/// shared (`num_parameters = 1`) or one per channel of axis 1.
///
/// Defaults (PyTorch's): `num_parameters` 1, `init` `Constant(0.25)`.
///
/// # Shapes
/// Any shape with `C = num_parameters` on axis 1 when `num_parameters > 1`; output: the same.
///
/// # Example
/// ```
/// use duet_core::layers::{Ctx, LayerConfig, PReluConfig};
/// use duet_core::{burn::tensor::Device, DynTensor, Key, Mode, Params};
/// let dev = Device::flex();
/// let c = PReluConfig::new();
/// let (p, _) = c.init(0, Key::new(0), &dev);
/// let x = DynTensor::from_floats(vec![-2.0, 3.0], &[1, 2], &dev);
/// let y = c.apply(&p, x, &mut Ctx { mode: Mode::Eval, state: &mut Params::new() });
/// assert_eq!(y.to_vec(), vec![-0.5, 3.0]); // 0.25 * -2
/// assert!(PReluConfig::new().with_num_parameters(3).input_size(&[2, 4]).is_err());
/// ```
#[derive(Clone, Copy, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct PReluConfig {
    /// 1 (one shared slope) or the channel count (default 1).
    pub num_parameters: usize,
    /// The slopes' initializer (default `Constant(0.25)`).
    pub init: Initializer,
}

impl PReluConfig {
    /// The defaults.
    pub fn new() -> Self {
        PReluConfig {
            num_parameters: 1,
            init: Initializer::Constant(0.25),
        }
    }
    /// Sets the number of slopes.
    pub fn with_num_parameters(mut self, n: usize) -> Self {
        self.num_parameters = n;
        self
    }
    /// Sets the slopes' initializer.
    pub fn with_init(mut self, init: Initializer) -> Self {
        self.init = init;
        self
    }
}

impl Default for PReluConfig {
    fn default() -> Self {
        Self::new()
    }
}

impl LayerConfig for PReluConfig {
    const KIND: &'static str = "prelu";
    type Params<V: Val> = PReluParams<V>;

    fn name(&self) -> String {
        format!("PRelu({})", self.num_parameters)
    }
    fn input_size(&self, s: &[usize]) -> Result<usize, String> {
        check_rank(s, 1, true)?;
        let n = self.num_parameters;
        if n > 1 && (s.len() < 2 || s[1] != n) {
            return Err(format!(
                "{n} slopes need {n} channels on axis 1, got shape {s:?}"
            ));
        }
        Ok(n)
    }
    fn output_shape(&self, s: &[usize]) -> Result<Vec<usize>, String> {
        self.input_size(s).map(|_| s.to_vec())
    }
    fn init(&self, _: usize, key: Key, device: &Device) -> (PReluParams<DynTensor>, Params) {
        let n = [self.num_parameters];
        let weight = self.init.init(n, Fans::infer(&n), key, device).into();
        (PReluParams { weight }, Params::new())
    }
    fn apply<V: Val>(&self, p: &PReluParams<V>, x: V, _: &mut Ctx<'_>) -> V {
        let rank = x.dims().len();
        let mut shape = vec![1; rank];
        if self.num_parameters > 1 {
            shape[1] = self.num_parameters;
        }
        let w = p.weight.clone().reshape(&shape);
        let negative = x.clone().scale(-1.0).act(Act::Relu); // -min(x, 0)
        x.act(Act::Relu).sub(w.mul(negative))
    }
}
