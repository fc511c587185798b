//! [`ConvConfig`] (1-D and 2-D) and [`ConvTranspose2dConfig`]; input channels from the input.

use super::{check_rank, Ctx, LayerConfig, Val};
use crate::ops::{ConvSpec, ConvTransposeSpec, Padding};
use crate::{DynTensor, Fans, Initializer, Key, Params};
use burn::tensor::Device;

crate::param_tree! {
    /// A convolution's params: `weight` (`[filters, in/groups, k..]`; transposed:
    /// `[in, filters/groups, k, k]`) and an optional `bias` `[filters]`.
    pub struct ConvParams { leaf weight: V, opt bias: Option<V> }
}

/// The initialisation of every convolution: the weight drawn with `weight_init`, the bias with
/// `bias_init`, from `key.split2()`.
fn conv_init(
    c: (Initializer, Initializer, bool),
    shape: &[usize],
    fans: Fans,
    n: usize,
    key: Key,
    device: &Device,
) -> ConvParams<DynTensor> {
    let [kw, kb] = key.split2();
    let w = c.0.sample(shape, fans, kw);
    ConvParams {
        weight: DynTensor::from_floats(w, shape, device),
        bias: c.2.then(|| c.1.init([n], fans, kb, device).into()),
    }
}

/// An `N`-D convolution (`N` = 1 or 2) with `filters` output channels and a `kernel`-sized
/// window. Defaults: stride 1, no padding, dilation 1, one group (`ConvSpec::default()`), a
/// bias, PyTorch's default init.
///
/// # Shapes
/// `[B, C, L] -> [B, filters, L_out]` (1-D); `[B, C, H, W] -> [B, filters, H_out, W_out]` (2-D)
///
/// # Example
/// ```
/// use duet_core::layers::{Conv2dConfig, LayerConfig};
/// use duet_core::ops::Padding;
/// let c = Conv2dConfig::new(6, 5);
/// assert_eq!(c.output_shape(&[8, 3, 32, 32]).unwrap(), vec![8, 6, 28, 28]);
/// let same = Conv2dConfig::new(6, 3).with_padding(Padding::Same);
/// assert_eq!(same.output_shape(&[8, 3, 32, 32]).unwrap(), vec![8, 6, 32, 32]);
/// ```
#[derive(Clone, Copy, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct ConvConfig<const N: usize> {
    /// Output channels.
    pub filters: usize,
    /// The window's size along every spatial axis.
    pub kernel: usize,
    /// Stride, padding, dilation, groups.
    pub spec: ConvSpec,
    /// Whether there is a bias (default true).
    pub bias: bool,
    /// The weight's initializer (default `TorchDefault`).
    pub weight_init: Initializer,
    /// The bias's initializer (default `TorchDefault`).
    pub bias_init: Initializer,
}

/// 1-D convolution over `[B, C, L]`.
pub type Conv1dConfig = ConvConfig<1>;
/// 2-D convolution over `[B, C, H, W]`.
pub type Conv2dConfig = ConvConfig<2>;

impl<const N: usize> ConvConfig<N> {
    /// `filters` output channels, a `kernel`-sized window, the defaults.
    pub fn new(filters: usize, kernel: usize) -> Self {
        ConvConfig {
            filters,
            kernel,
            spec: ConvSpec::default(),
            bias: true,
            weight_init: Initializer::TorchDefault,
            bias_init: Initializer::TorchDefault,
        }
    }
    /// Sets stride, padding, dilation and groups.
    pub fn with_spec(mut self, spec: ConvSpec) -> Self {
        self.spec = spec;
        self
    }
    /// Sets the padding.
    pub fn with_padding(mut self, padding: Padding) -> Self {
        self.spec.padding = padding;
        self
    }
    /// Sets the stride.
    pub fn with_stride(mut self, stride: usize) -> Self {
        self.spec.stride = stride;
        self
    }
    /// With or without a bias.
    pub fn with_bias(mut self, bias: bool) -> Self {
        self.bias = bias;
        self
    }
    /// Without a bias.
    pub fn without_bias(self) -> Self {
        self.with_bias(false)
    }
    /// Other initializers for the weight and the bias.
    pub fn with_init(mut self, weight: Initializer, bias: Initializer) -> Self {
        self.weight_init = weight;
        self.bias_init = bias;
        self
    }
}

impl<const N: usize> LayerConfig for ConvConfig<N> {
    const KIND: &'static str = if N == 1 { "conv1d" } else { "conv2d" };
    const PER_EXAMPLE: bool = N == 2;
    type Params<V: Val> = ConvParams<V>;

    fn name(&self) -> String {
        format!("Conv{N}d({}, k={})", self.filters, self.kernel)
    }
    fn input_size(&self, input: &[usize]) -> Result<usize, String> {
        check_rank(input, N + 2, false)?;
        Ok(input[1])
    }
    fn output_shape(&self, s: &[usize]) -> Result<Vec<usize>, String> {
        check_rank(s, N + 2, false)?;
        let g = self.spec.groups;
        if !s[1].is_multiple_of(g) || !self.filters.is_multiple_of(g) {
            return Err(format!(
                "{} input channels and {} filters do not split into {g} groups",
                s[1], self.filters
            ));
        }
        let mut out = vec![s[0], self.filters];
        for &n in &s[2..] {
            let eff = self.spec.dilation * (self.kernel - 1) + 1;
            let (a, b) =
                self.spec
                    .padding
                    .resolve(n, self.kernel, self.spec.stride, self.spec.dilation);
            if n + a + b < eff {
                return Err(format!(
                    "input {s:?} is smaller than the kernel extent {eff}"
                ));
            }
            out.push(self.spec.out_len(n, self.kernel));
        }
        Ok(out)
    }
    fn init(&self, d_in: usize, key: Key, device: &Device) -> (ConvParams<DynTensor>, Params) {
        let mut shape = vec![self.filters, d_in / self.spec.groups];
        shape.extend([self.kernel; N]);
        let inits = (self.weight_init, self.bias_init, self.bias);
        let fans = Fans::conv(&shape);
        (
            conv_init(inits, &shape, fans, self.filters, key, device),
            Params::new(),
        )
    }
    fn apply<V: Val>(&self, p: &ConvParams<V>, x: V, _: &mut Ctx<'_>) -> V {
        x.conv(p.weight.clone(), p.bias.clone(), &self.spec)
    }
}

/// A 2-D transposed convolution with `filters` output channels and a `kernel` x `kernel`
/// window. Defaults: `ConvTransposeSpec::default()` (stride 1, no padding), a bias, PyTorch's
/// default init.
///
/// # Shapes
/// `[B, C, H, W] -> [B, filters, (H-1)*s - 2p + d*(k-1) + output_padding + 1, ..]`
///
/// # Example
/// ```
/// use duet_core::layers::{ConvTranspose2dConfig, LayerConfig};
/// use duet_core::ops::ConvTransposeSpec;
/// let up = ConvTranspose2dConfig::new(4, 3)
///     .with_spec(ConvTransposeSpec { stride: 2, padding: 1, output_padding: 1, ..Default::default() });
/// assert_eq!(up.output_shape(&[1, 8, 5, 5]).unwrap(), vec![1, 4, 10, 10]);
/// ```
#[derive(Clone, Copy, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct ConvTranspose2dConfig {
    /// Output channels.
    pub filters: usize,
    /// The window's size.
    pub kernel: usize,
    /// Stride, padding, output padding, dilation, groups.
    pub spec: ConvTransposeSpec,
    /// Whether there is a bias (default true).
    pub bias: bool,
    /// The weight's initializer (default `TorchDefault`).
    pub weight_init: Initializer,
    /// The bias's initializer (default `TorchDefault`).
    pub bias_init: Initializer,
}

impl ConvTranspose2dConfig {
    /// `filters` output channels and a `kernel` x `kernel` window, the defaults.
    pub fn new(filters: usize, kernel: usize) -> Self {
        ConvTranspose2dConfig {
            filters,
            kernel,
            spec: ConvTransposeSpec::default(),
            bias: true,
            weight_init: Initializer::TorchDefault,
            bias_init: Initializer::TorchDefault,
        }
    }
    /// Sets stride, padding, output padding, dilation, groups.
    pub fn with_spec(mut self, spec: ConvTransposeSpec) -> Self {
        self.spec = spec;
        self
    }
    /// With or without a bias.
    pub fn with_bias(mut self, bias: bool) -> Self {
        self.bias = bias;
        self
    }
}

impl LayerConfig for ConvTranspose2dConfig {
    const KIND: &'static str = "conv_transpose2d";
    type Params<V: Val> = ConvParams<V>;

    fn name(&self) -> String {
        format!("ConvTranspose2d({}, k={})", self.filters, self.kernel)
    }
    fn input_size(&self, input: &[usize]) -> Result<usize, String> {
        check_rank(input, 4, false)?;
        Ok(input[1])
    }
    fn output_shape(&self, s: &[usize]) -> Result<Vec<usize>, String> {
        check_rank(s, 4, false)?;
        let sp = &self.spec;
        let reach = sp.dilation * (self.kernel - 1) + sp.output_padding;
        if !s[1].is_multiple_of(sp.groups)
            || 2 * sp.padding > reach + (s[2].min(s[3]) - 1) * sp.stride
        {
            return Err(format!("input {s:?} does not fit {sp:?}"));
        }
        let (h, w) = (sp.out_len(s[2], self.kernel), sp.out_len(s[3], self.kernel));
        Ok(vec![s[0], self.filters, h, w])
    }
    fn init(&self, d_in: usize, key: Key, device: &Device) -> (ConvParams<DynTensor>, Params) {
        let shape = [
            d_in,
            self.filters / self.spec.groups,
            self.kernel,
            self.kernel,
        ];
        let inits = (self.weight_init, self.bias_init, self.bias);
        let fans = Fans::conv_transpose(&shape);
        (
            conv_init(inits, &shape, fans, self.filters, key, device),
            Params::new(),
        )
    }
    fn apply<V: Val>(&self, p: &ConvParams<V>, x: V, _: &mut Ctx<'_>) -> V {
        x.conv_transpose2d(p.weight.clone(), p.bias.clone(), &self.spec)
    }
}
