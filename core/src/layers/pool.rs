//! Pooling configs over `[N, C, H, W]`: max, average, adaptive average, global average.

use super::{check_rank, Ctx, LayerConfig, NoParams, Val};
use crate::ops::PoolSpec;
use crate::{Key, Params};
use burn::tensor::Device;

fn pooled(spec: &PoolSpec, s: &[usize]) -> Result<Vec<usize>, String> {
    check_rank(s, 4, false)?;
    let (k, p) = (spec.kernel, spec.padding);
    if s[2] + 2 * p < k || s[3] + 2 * p < k || 2 * p > k {
        return Err(format!("window {spec:?} does not fit input {s:?}"));
    }
    Ok(vec![s[0], s[1], spec.out_len(s[2]), spec.out_len(s[3])])
}

macro_rules! weightless {
    ($kind:literal, |$s:ident, $x:ident| $out:expr, |$c:ident, $v:ident| $apply:expr) => {
        const KIND: &'static str = $kind;
        const PER_EXAMPLE: bool = true;
        type Params<V: Val> = NoParams;
        fn input_size(&self, input: &[usize]) -> Result<usize, String> {
            self.output_shape(input).map(|_| 0)
        }
        fn output_shape(&self, $x: &[usize]) -> Result<Vec<usize>, String> {
            let $s = self;
            $out
        }
        fn init(&self, _: usize, _: Key, _: &Device) -> (NoParams, Params) {
            (NoParams, Params::new())
        }
        fn apply<V: Val>(&self, _: &NoParams, $v: V, _: &mut Ctx<'_>) -> V {
            let $c = self;
            $apply
        }
    };
}
pub(crate) use weightless;

/// Max pooling. Default: a `kernel` x `kernel` window with stride `kernel`, no padding.
///
/// # Shapes
/// `[N, C, H, W] -> [N, C, floor((H + 2p - k)/s) + 1, ..]`
///
/// # Example
/// ```
/// use duet_core::layers::{LayerConfig, MaxPool2dConfig};
/// assert_eq!(MaxPool2dConfig::new(2).output_shape(&[1, 6, 28, 28]).unwrap(), vec![1, 6, 14, 14]);
/// ```
#[derive(Clone, Copy, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct MaxPool2dConfig {
    /// Window, stride, padding.
    pub spec: PoolSpec,
}

impl MaxPool2dConfig {
    /// A `kernel` x `kernel` window, stride `kernel`.
    pub fn new(kernel: usize) -> Self {
        MaxPool2dConfig {
            spec: PoolSpec::new(kernel),
        }
    }
    /// Sets window, stride and padding.
    pub fn with_spec(mut self, spec: PoolSpec) -> Self {
        self.spec = spec;
        self
    }
}

impl LayerConfig for MaxPool2dConfig {
    fn name(&self) -> String {
        format!("MaxPool2d(k={}, s={})", self.spec.kernel, self.spec.stride)
    }
    weightless!("max_pool2d", |c, s| pooled(&c.spec, s), |c, x| x
        .max_pool2d(&c.spec));
}

/// Average pooling. Defaults: a `kernel` x `kernel` window with stride `kernel`, no padding,
/// padding counted in the divisor (PyTorch's `count_include_pad=True`).
///
/// # Shapes
/// `[N, C, H, W] -> [N, C, floor((H + 2p - k)/s) + 1, ..]`
///
/// # Example
/// ```
/// use duet_core::layers::{AvgPool2dConfig, LayerConfig};
/// let p = AvgPool2dConfig::new(2).excluding_padding();
/// assert!(!p.count_include_pad);
/// assert_eq!(p.output_shape(&[1, 3, 8, 8]).unwrap(), vec![1, 3, 4, 4]);
/// ```
#[derive(Clone, Copy, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct AvgPool2dConfig {
    /// Window, stride, padding.
    pub spec: PoolSpec,
    /// Whether padding cells count in the divisor (default true).
    pub count_include_pad: bool,
}

impl AvgPool2dConfig {
    /// A `kernel` x `kernel` window, stride `kernel`.
    pub fn new(kernel: usize) -> Self {
        AvgPool2dConfig {
            spec: PoolSpec::new(kernel),
            count_include_pad: true,
        }
    }
    /// Sets window, stride and padding.
    pub fn with_spec(mut self, spec: PoolSpec) -> Self {
        self.spec = spec;
        self
    }
    /// Sets whether padding counts in the divisor.
    pub fn with_count_include_pad(mut self, include: bool) -> Self {
        self.count_include_pad = include;
        self
    }
    /// Divides by the number of real (non-padding) cells.
    pub fn excluding_padding(self) -> Self {
        self.with_count_include_pad(false)
    }
}

impl LayerConfig for AvgPool2dConfig {
    fn name(&self) -> String {
        format!("AvgPool2d(k={}, s={})", self.spec.kernel, self.spec.stride)
    }
    weightless!("avg_pool2d", |c, s| pooled(&c.spec, s), |c, x| x
        .avg_pool2d(&c.spec, c.count_include_pad));
}

/// Adaptive average pooling to a fixed `[out_h, out_w]`.
///
/// # Shapes
/// `[N, C, H, W] -> [N, C, out_h, out_w]`
///
/// # Example
/// ```
/// use duet_core::layers::{AdaptiveAvgPool2dConfig, LayerConfig};
/// let p = AdaptiveAvgPool2dConfig::new([2, 3]);
/// assert_eq!(p.output_shape(&[1, 4, 9, 9]).unwrap(), vec![1, 4, 2, 3]);
/// ```
#[derive(Clone, Copy, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct AdaptiveAvgPool2dConfig {
    /// The output's height and width.
    pub output: [usize; 2],
}

impl AdaptiveAvgPool2dConfig {
    /// Pools to `output`.
    pub fn new(output: [usize; 2]) -> Self {
        AdaptiveAvgPool2dConfig { output }
    }
}

impl LayerConfig for AdaptiveAvgPool2dConfig {
    fn name(&self) -> String {
        format!("AdaptiveAvgPool2d({:?})", self.output)
    }
    weightless!(
        "adaptive_avg_pool2d",
        |c, s| check_rank(s, 4, false).map(|_| vec![s[0], s[1], c.output[0], c.output[1]]),
        |c, x| x.adaptive_avg_pool2d(c.output)
    );
}

/// Global average pooling: the mean over `H` and `W`.
///
/// # Shapes
/// `[N, C, H, W] -> [N, C]`
///
/// # Example
/// ```
/// use duet_core::layers::{GlobalAvgPoolConfig, LayerConfig};
/// assert_eq!(GlobalAvgPoolConfig.output_shape(&[2, 8, 4, 4]).unwrap(), vec![2, 8]);
/// ```
#[derive(Clone, Copy, Debug, Default, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct GlobalAvgPoolConfig;

impl LayerConfig for GlobalAvgPoolConfig {
    fn name(&self) -> String {
        "GlobalAvgPool".into()
    }
    weightless!(
        "global_avg_pool2d",
        |c, s| {
            let _ = c;
            check_rank(s, 4, false).map(|_| vec![s[0], s[1]])
        },
        |c, x| {
            let _ = c;
            let d = x.dims();
            x.reshape(&[d[0], d[1], d[2] * d[3]])
                .mean_dim(2)
                .reshape(&[d[0], d[1]])
        }
    );
}
