//! Weightless pooling modules: [`MaxPool2d`], [`AvgPool2d`], [`AdaptiveAvgPool2d`]
//! (`duet_core::ops::{max_pool2d, avg_pool2d, adaptive_avg_pool2d}`).

use crate::val_forward::{Lift, ValForward};
use duet_core::burn::module::Module;
use duet_core::burn::tensor::Tensor;
use duet_core::ops::{self, PoolSpec};
use duet_core::{Mode, Val};

/// Max pooling: the maximum of each window (padding counts as `-inf`).
///
/// # Shapes
/// `[N, C, H, W] -> [N, C, H_out, W_out]`, `H_out = floor((H + 2p - k) / s) + 1`
///
/// # Example
/// ```
/// use duet_module::MaxPool2d;
/// use duet_core::burn::tensor::{Device, Tensor};
/// let x = Tensor::<4>::from_floats([[[[1.0, 2.0], [3.0, 4.0]]]], &Device::flex());
/// assert_eq!(MaxPool2d::new(2).forward(x).into_data().to_vec::<f32>().unwrap(), vec![4.0]);
/// ```
#[derive(Module, Debug)]
pub struct MaxPool2d {
    /// Window, stride, padding.
    #[module(skip)]
    pub spec: PoolSpec,
}

impl MaxPool2d {
    /// A `k` x `k` window with stride `k`, no padding (PyTorch's default).
    pub fn new(k: usize) -> Self {
        MaxPool2d::with_spec(PoolSpec::new(k))
    }

    /// Any window, stride and padding.
    pub fn with_spec(spec: PoolSpec) -> Self {
        MaxPool2d { spec }
    }

    /// Applies it.
    ///
    /// # Shapes
    /// `[N, C, H, W] -> [N, C, H_out, W_out]`
    pub fn forward(&self, x: Tensor<4>) -> Tensor<4> {
        ops::max_pool2d(x, &self.spec)
    }
}

/// Average pooling: the mean of each window. With `count_include_pad` (PyTorch's default) the
/// divisor is always `k * k`; without, padding cells are not counted.
///
/// # Shapes
/// `[N, C, H, W] -> [N, C, H_out, W_out]`
///
/// # Example
/// ```
/// use duet_module::AvgPool2d;
/// use duet_core::burn::tensor::{Device, Tensor};
/// let x = Tensor::<4>::from_floats([[[[1.0, 2.0], [3.0, 6.0]]]], &Device::flex());
/// assert_eq!(AvgPool2d::new(2).forward(x).into_data().to_vec::<f32>().unwrap(), vec![3.0]);
/// ```
#[derive(Module, Debug)]
pub struct AvgPool2d {
    /// Window, stride, padding.
    #[module(skip)]
    pub spec: PoolSpec,
    /// Whether padding cells count in the divisor.
    #[module(skip)]
    pub count_include_pad: bool,
}

impl AvgPool2d {
    /// A `k` x `k` window with stride `k`, no padding.
    pub fn new(k: usize) -> Self {
        AvgPool2d::with_spec(PoolSpec::new(k), true)
    }

    /// Any window, stride, padding and padding rule.
    pub fn with_spec(spec: PoolSpec, count_include_pad: bool) -> Self {
        AvgPool2d {
            spec,
            count_include_pad,
        }
    }

    /// Applies it.
    ///
    /// # Shapes
    /// `[N, C, H, W] -> [N, C, H_out, W_out]`
    pub fn forward(&self, x: Tensor<4>) -> Tensor<4> {
        ops::avg_pool2d(x, &self.spec, self.count_include_pad)
    }
}

/// Adaptive average pooling to a fixed output size (PyTorch's bins:
/// `start = floor(i H / out)`, `end = ceil((i + 1) H / out)`).
///
/// # Shapes
/// `[N, C, H, W] -> [N, C, out_h, out_w]`
///
/// # Example
/// ```
/// use duet_module::AdaptiveAvgPool2d;
/// use duet_core::burn::tensor::{Device, Tensor};
/// let x = Tensor::<4>::from_floats([[[[1.0, 2.0], [3.0, 6.0]]]], &Device::flex());
/// let y = AdaptiveAvgPool2d::new([1, 1]).forward(x);
/// assert_eq!(y.into_data().to_vec::<f32>().unwrap(), vec![3.0]);
/// ```
#[derive(Module, Debug)]
pub struct AdaptiveAvgPool2d {
    /// `[out_h, out_w]`.
    #[module(skip)]
    pub output: [usize; 2],
}

impl AdaptiveAvgPool2d {
    /// Pools to `output` = `[out_h, out_w]`.
    pub fn new(output: [usize; 2]) -> Self {
        AdaptiveAvgPool2d { output }
    }

    /// Applies it.
    ///
    /// # Shapes
    /// `[N, C, H, W] -> [N, C, out_h, out_w]`
    pub fn forward(&self, x: Tensor<4>) -> Tensor<4> {
        ops::adaptive_avg_pool2d(x, self.output)
    }
}

impl crate::Build for duet_core::layers::MaxPool2dConfig {
    type Module = MaxPool2d;
    fn build(
        &self,
        _: usize,
        _: &mut crate::Rngs,
        _: &duet_core::burn::tensor::Device,
    ) -> MaxPool2d {
        MaxPool2d::with_spec(self.spec)
    }
}

impl crate::Build for duet_core::layers::AvgPool2dConfig {
    type Module = AvgPool2d;
    fn build(
        &self,
        _: usize,
        _: &mut crate::Rngs,
        _: &duet_core::burn::tensor::Device,
    ) -> AvgPool2d {
        AvgPool2d::with_spec(self.spec, self.count_include_pad)
    }
}

impl crate::Build for duet_core::layers::AdaptiveAvgPool2dConfig {
    type Module = AdaptiveAvgPool2d;
    fn build(
        &self,
        _: usize,
        _: &mut crate::Rngs,
        _: &duet_core::burn::tensor::Device,
    ) -> AdaptiveAvgPool2d {
        AdaptiveAvgPool2d::new(self.output)
    }
}

impl ValForward for MaxPool2d {
    fn forward_val<V: Val>(&self, _: Lift<'_, V>, x: V, _: Mode) -> V {
        x.max_pool2d(&self.spec)
    }
}

impl ValForward for AvgPool2d {
    fn forward_val<V: Val>(&self, _: Lift<'_, V>, x: V, _: Mode) -> V {
        x.avg_pool2d(&self.spec, self.count_include_pad)
    }
}

impl ValForward for AdaptiveAvgPool2d {
    fn forward_val<V: Val>(&self, _: Lift<'_, V>, x: V, _: Mode) -> V {
        x.adaptive_avg_pool2d(self.output)
    }
}
