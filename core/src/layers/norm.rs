//! Normalization configs: batch norm, layer norm, group norm, RMS norm (their maths:
//! `norm_ops.rs`).

use super::norm_ops::{batch_norm_eval, batch_norm_train, group_norm, layer_norm, rms_norm};
use super::{check_rank, Ctx, LayerConfig, Val};
use crate::{DynTensor, Key, Params};
use burn::tensor::{Device, Tensor};

crate::param_tree! {
    /// A normalization's params: `weight` and an optional `bias`, one per feature or channel.
    pub struct NormParams { leaf weight: V, opt bias: Option<V> }
}

fn ones_zeros(n: usize, bias: bool, device: &Device) -> NormParams<DynTensor> {
    NormParams {
        weight: Tensor::<1>::ones([n], device).into(),
        bias: bias.then(|| Tensor::<1>::zeros([n], device).into()),
    }
}

/// `[rows, F]` view of `x`, with the original shape.
fn rows<V: Val>(x: V) -> (V, Vec<usize>) {
    let dims = x.dims();
    let last = dims[dims.len() - 1];
    let n: usize = dims.iter().product();
    (x.reshape(&[n / last, last]), dims)
}

/// Batch normalization over the channel axis 1 (PyTorch's `BatchNorm1d/2d`).
///
/// Defaults: eps 1e-5, momentum 0.1 (`new = (1 - m) old + m batch`). Params `weight` (ones),
/// `bias` (zeros); state `running_mean` (zeros), `running_var` (ones). In train mode it
/// normalizes with batch statistics and replaces the state; in eval mode it uses the state.
///
/// # Shapes
/// `[N, C]`, `[N, C, L]` or `[N, C, H, W]` -> the same shape.
///
/// # Example
/// ```
/// use duet_core::layers::{BatchNormConfig, LayerConfig};
/// let bn = BatchNormConfig::new().with_momentum(0.2);
/// assert_eq!((bn.eps, bn.momentum), (1e-5, 0.2));
/// assert_eq!(bn.input_size(&[8, 3, 4, 4]).unwrap(), 3);
/// ```
#[derive(Clone, Copy, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct BatchNormConfig {
    /// Added to the variance (default 1e-5).
    pub eps: f64,
    /// The running statistics' momentum (default 0.1).
    pub momentum: f64,
}

impl BatchNormConfig {
    /// The defaults.
    pub fn new() -> Self {
        BatchNormConfig {
            eps: 1e-5,
            momentum: 0.1,
        }
    }
    /// Sets eps.
    pub fn with_eps(mut self, eps: f64) -> Self {
        self.eps = eps;
        self
    }
    /// Sets the momentum.
    pub fn with_momentum(mut self, momentum: f64) -> Self {
        self.momentum = momentum;
        self
    }
}

impl Default for BatchNormConfig {
    fn default() -> Self {
        Self::new()
    }
}

impl LayerConfig for BatchNormConfig {
    const KIND: &'static str = "batch_norm";
    type Params<V: Val> = NormParams<V>;

    fn name(&self) -> String {
        "BatchNorm".into()
    }
    fn input_size(&self, s: &[usize]) -> Result<usize, String> {
        self.output_shape(s).map(|_| s[1])
    }
    fn output_shape(&self, s: &[usize]) -> Result<Vec<usize>, String> {
        check_rank(s, 2, true)?;
        if s.len() > 4 {
            return Err(format!("expected rank 2 to 4, got {s:?}"));
        }
        Ok(s.to_vec())
    }
    fn init(&self, c: usize, _: Key, device: &Device) -> (NormParams<DynTensor>, Params) {
        let state = Params::new()
            .with("running_mean", Tensor::<1>::zeros([c], device))
            .with("running_var", Tensor::<1>::ones([c], device));
        (ones_zeros(c, true, device), state)
    }
    fn apply<V: Val>(&self, p: &NormParams<V>, x: V, cx: &mut Ctx<'_>) -> V {
        let g = |n: &str| {
            cx.state
                .get::<1>(n)
                .unwrap_or_else(|e| panic!("BatchNorm: {e}"))
        };
        let (rm, rv) = (g("running_mean"), g("running_var"));
        let b = p.bias.clone().expect("BatchNorm: bias");
        if cx.mode.is_train() {
            let (y, st) = batch_norm_train(x, p.weight.clone(), b, rm, rv, self.momentum, self.eps);
            *cx.state = Params::new()
                .with("running_mean", st.running_mean)
                .with("running_var", st.running_var);
            y
        } else {
            batch_norm_eval(x, p.weight.clone(), b, rm, rv, self.eps)
        }
    }
}

/// Layer normalization over the last axis. Defaults: eps 1e-5, a bias. Params `weight` (ones),
/// `bias` (zeros), `[F]`.
///
/// # Shapes
/// `[..., F] -> [..., F]`
///
/// # Example
/// ```
/// use duet_core::layers::{LayerConfig, LayerNormConfig};
/// let ln = LayerNormConfig::new().with_eps(1e-6);
/// assert_eq!((ln.eps, ln.bias), (1e-6, true));
/// assert_eq!(ln.input_size(&[2, 7, 16]).unwrap(), 16);
/// ```
#[derive(Clone, Copy, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct LayerNormConfig {
    /// Added to the variance (default 1e-5).
    pub eps: f64,
    /// Whether there is a bias (default true).
    pub bias: bool,
}

impl LayerNormConfig {
    /// The defaults.
    pub fn new() -> Self {
        LayerNormConfig {
            eps: 1e-5,
            bias: true,
        }
    }
    /// Sets eps.
    pub fn with_eps(mut self, eps: f64) -> Self {
        self.eps = eps;
        self
    }
    /// With or without a bias.
    pub fn with_bias(mut self, bias: bool) -> Self {
        self.bias = bias;
        self
    }
}

impl Default for LayerNormConfig {
    fn default() -> Self {
        Self::new()
    }
}

impl LayerConfig for LayerNormConfig {
    const KIND: &'static str = "layer_norm";
    type Params<V: Val> = NormParams<V>;

    fn name(&self) -> String {
        "LayerNorm".into()
    }
    fn input_size(&self, s: &[usize]) -> Result<usize, String> {
        check_rank(s, 1, true).map(|_| s[s.len() - 1])
    }
    fn output_shape(&self, s: &[usize]) -> Result<Vec<usize>, String> {
        check_rank(s, 1, true).map(|_| s.to_vec())
    }
    fn init(&self, f: usize, _: Key, device: &Device) -> (NormParams<DynTensor>, Params) {
        (ones_zeros(f, self.bias, device), Params::new())
    }
    fn apply<V: Val>(&self, p: &NormParams<V>, x: V, _: &mut Ctx<'_>) -> V {
        let (x, dims) = rows(x);
        layer_norm(x, Some(p.weight.clone()), p.bias.clone(), self.eps).reshape(&dims)
    }
}

/// RMS normalization over the last axis: `x / sqrt(mean(x^2) + eps) * weight`. Default eps
/// 1e-5 (duet's behaviour so far; PyTorch's `nn.RMSNorm` defaults to the dtype's epsilon).
/// Param `weight` (ones) `[F]`.
///
/// # Shapes
/// `[..., F] -> [..., F]`
///
/// # Example
/// ```
/// use duet_core::layers::{LayerConfig, RmsNormConfig};
/// assert_eq!(RmsNormConfig::new().eps, 1e-5);
/// assert_eq!(RmsNormConfig::new().output_shape(&[2, 8]).unwrap(), vec![2, 8]);
/// ```
#[derive(Clone, Copy, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct RmsNormConfig {
    /// Added to the mean square (default 1e-5).
    pub eps: f64,
}

impl RmsNormConfig {
    /// The defaults.
    pub fn new() -> Self {
        RmsNormConfig { eps: 1e-5 }
    }
    /// Sets eps.
    pub fn with_eps(mut self, eps: f64) -> Self {
        self.eps = eps;
        self
    }
}

impl Default for RmsNormConfig {
    fn default() -> Self {
        Self::new()
    }
}

impl LayerConfig for RmsNormConfig {
    const KIND: &'static str = "rms_norm";
    type Params<V: Val> = NormParams<V>;

    fn name(&self) -> String {
        "RmsNorm".into()
    }
    fn input_size(&self, s: &[usize]) -> Result<usize, String> {
        check_rank(s, 1, true).map(|_| s[s.len() - 1])
    }
    fn output_shape(&self, s: &[usize]) -> Result<Vec<usize>, String> {
        check_rank(s, 1, true).map(|_| s.to_vec())
    }
    fn init(&self, f: usize, _: Key, device: &Device) -> (NormParams<DynTensor>, Params) {
        (ones_zeros(f, false, device), Params::new())
    }
    fn apply<V: Val>(&self, p: &NormParams<V>, x: V, _: &mut Ctx<'_>) -> V {
        let (x, dims) = rows(x);
        rms_norm(x, p.weight.clone(), self.eps).reshape(&dims)
    }
}

/// Group normalization with `groups` groups over axis 1. Default eps 1e-5. Params `weight`
/// (ones), `bias` (zeros), `[C]`.
///
/// # Shapes
/// `[N, C, ...] -> [N, C, ...]`, `C % groups == 0`.
///
/// # Example
/// ```
/// use duet_core::layers::{GroupNormConfig, LayerConfig};
/// assert_eq!(GroupNormConfig::new(2).input_size(&[1, 4, 3]).unwrap(), 4);
/// assert!(GroupNormConfig::new(3).output_shape(&[1, 4, 3]).is_err());
/// ```
#[derive(Clone, Copy, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct GroupNormConfig {
    /// The number of groups.
    pub groups: usize,
    /// Added to the variance (default 1e-5).
    pub eps: f64,
}

impl GroupNormConfig {
    /// `groups` groups, the defaults.
    pub fn new(groups: usize) -> Self {
        GroupNormConfig { groups, eps: 1e-5 }
    }
    /// Sets eps.
    pub fn with_eps(mut self, eps: f64) -> Self {
        self.eps = eps;
        self
    }
}

impl LayerConfig for GroupNormConfig {
    const KIND: &'static str = "group_norm";
    type Params<V: Val> = NormParams<V>;

    fn name(&self) -> String {
        format!("GroupNorm({})", self.groups)
    }
    fn input_size(&self, s: &[usize]) -> Result<usize, String> {
        self.output_shape(s).map(|_| s[1])
    }
    fn output_shape(&self, s: &[usize]) -> Result<Vec<usize>, String> {
        check_rank(s, 2, true)?;
        if self.groups == 0 || !s[1].is_multiple_of(self.groups) {
            return Err(format!(
                "{} channels do not split into {} groups",
                s[1], self.groups
            ));
        }
        Ok(s.to_vec())
    }
    fn init(&self, c: usize, _: Key, device: &Device) -> (NormParams<DynTensor>, Params) {
        (ones_zeros(c, true, device), Params::new())
    }
    fn apply<V: Val>(&self, p: &NormParams<V>, x: V, _: &mut Ctx<'_>) -> V {
        let d = x.dims();
        let x3 = x.reshape(&[d[0], d[1], d[2..].iter().product::<usize>().max(1)]);
        let b = p.bias.clone().expect("GroupNorm: bias");
        group_norm(x3, self.groups, p.weight.clone(), b, self.eps).reshape(&d)
    }
}
