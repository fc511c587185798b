//! Pooling layers over `[N, C, H, W]`.

use super::single;
use crate::layer::{BuildError, Layer, Mode, Shape};
use duet_core::ops::{self, PoolSpec};
use duet_core::{DynTensor, Params};

fn pooled(layer: &dyn Layer, spec: &PoolSpec, inputs: &[Shape]) -> Result<Vec<Shape>, BuildError> {
    let s = single(layer, inputs, 4, false)?;
    if s[2] + 2 * spec.padding < spec.kernel
        || s[3] + 2 * spec.padding < spec.kernel
        || 2 * spec.padding > spec.kernel
    {
        return Err(BuildError::new(
            layer,
            format!("window {spec:?} does not fit input {s:?}"),
        ));
    }
    Ok(vec![vec![
        s[0],
        s[1],
        spec.out_len(s[2]),
        spec.out_len(s[3]),
    ]])
}

/// Max pooling (see `duet_core::ops::max_pool2d`).
///
/// # Shapes
/// `[N, C, H, W] -> [N, C, floor((H + 2p - k)/s) + 1, ..]`
///
/// # Example
/// ```
/// use duet_functional::{Layer, MaxPool2d};
/// assert_eq!(MaxPool2d::new(2).output_signature(&[vec![1, 6, 28, 28]]).unwrap(), vec![vec![1, 6, 14, 14]]);
/// ```
#[derive(Clone, Copy, Debug)]
pub struct MaxPool2d(pub PoolSpec);

impl MaxPool2d {
    /// A `k` x `k` window with stride `k`.
    pub fn new(k: usize) -> Self {
        MaxPool2d(PoolSpec::new(k))
    }
}

impl Layer for MaxPool2d {
    fn name(&self) -> String {
        format!("MaxPool2d(k={}, s={})", self.0.kernel, self.0.stride)
    }
    fn output_signature(&self, inputs: &[Shape]) -> Result<Vec<Shape>, BuildError> {
        pooled(self, &self.0, inputs)
    }
    fn forward(
        &self,
        _: &Params,
        state: &Params,
        x: Vec<DynTensor>,
        _: Mode,
    ) -> (Vec<DynTensor>, Params) {
        let x = x.into_iter().next().expect("one input").into_rank::<4>();
        (vec![ops::max_pool2d(x, &self.0).into()], state.clone())
    }
}

/// Average pooling (see `duet_core::ops::avg_pool2d`); counts padding unless built with
/// [`AvgPool2d::excluding_padding`].
///
/// # Shapes
/// `[N, C, H, W] -> [N, C, floor((H + 2p - k)/s) + 1, ..]`
#[derive(Clone, Copy, Debug)]
pub struct AvgPool2d {
    spec: PoolSpec,
    count_include_pad: bool,
}

impl AvgPool2d {
    /// A window described by `spec`, counting padding in the divisor (PyTorch's default).
    pub fn new(spec: PoolSpec) -> Self {
        AvgPool2d {
            spec,
            count_include_pad: true,
        }
    }

    /// Divides by the number of real (non-padding) cells.
    pub fn excluding_padding(mut self) -> Self {
        self.count_include_pad = false;
        self
    }
}

impl Layer for AvgPool2d {
    fn name(&self) -> String {
        format!("AvgPool2d(k={}, s={})", self.spec.kernel, self.spec.stride)
    }
    fn output_signature(&self, inputs: &[Shape]) -> Result<Vec<Shape>, BuildError> {
        pooled(self, &self.spec, inputs)
    }
    fn forward(
        &self,
        _: &Params,
        state: &Params,
        x: Vec<DynTensor>,
        _: Mode,
    ) -> (Vec<DynTensor>, Params) {
        let x = x.into_iter().next().expect("one input").into_rank::<4>();
        (
            vec![ops::avg_pool2d(x, &self.spec, self.count_include_pad).into()],
            state.clone(),
        )
    }
}

/// Adaptive average pooling to `[out_h, out_w]`.
///
/// # Shapes
/// `[N, C, H, W] -> [N, C, out_h, out_w]`
#[derive(Clone, Copy, Debug)]
pub struct AdaptiveAvgPool2d(pub [usize; 2]);

impl Layer for AdaptiveAvgPool2d {
    fn name(&self) -> String {
        format!("AdaptiveAvgPool2d({:?})", self.0)
    }
    fn output_signature(&self, inputs: &[Shape]) -> Result<Vec<Shape>, BuildError> {
        let s = single(self, inputs, 4, false)?;
        Ok(vec![vec![s[0], s[1], self.0[0], self.0[1]]])
    }
    fn forward(
        &self,
        _: &Params,
        state: &Params,
        x: Vec<DynTensor>,
        _: Mode,
    ) -> (Vec<DynTensor>, Params) {
        let x = x.into_iter().next().expect("one input").into_rank::<4>();
        (
            vec![ops::adaptive_avg_pool2d(x, self.0).into()],
            state.clone(),
        )
    }
}

/// Global average pooling: the mean over `H` and `W`.
///
/// # Shapes
/// `[N, C, H, W] -> [N, C]`
#[derive(Clone, Copy, Debug, Default)]
pub struct GlobalAvgPool;

impl Layer for GlobalAvgPool {
    fn name(&self) -> String {
        "GlobalAvgPool".into()
    }
    fn output_signature(&self, inputs: &[Shape]) -> Result<Vec<Shape>, BuildError> {
        let s = single(self, inputs, 4, false)?;
        Ok(vec![vec![s[0], s[1]]])
    }
    fn forward(
        &self,
        _: &Params,
        state: &Params,
        x: Vec<DynTensor>,
        _: Mode,
    ) -> (Vec<DynTensor>, Params) {
        let x = x.into_iter().next().expect("one input").into_rank::<4>();
        (vec![ops::global_avg_pool2d(x).into()], state.clone())
    }
}
