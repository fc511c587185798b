//! Pooling over the two spatial axes of `[N, C, H, W]`.

use burn::tensor::ops::{AvgPoolOptions, MaxPoolOptions};
use burn::tensor::Tensor;

/// Options of a 2-D pooling window (the same on both axes).
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct PoolSpec {
    /// Window size.
    pub kernel: usize,
    /// Step between windows.
    pub stride: usize,
    /// Implicit padding on every side (`-inf` for max, zeros for average).
    pub padding: usize,
}

impl PoolSpec {
    /// A `kernel` x `kernel` window with stride `kernel` and no padding (PyTorch's default).
    pub fn new(kernel: usize) -> Self {
        PoolSpec {
            kernel,
            stride: kernel,
            padding: 0,
        }
    }

    /// Output length of one axis: `floor((n + 2p - k) / s) + 1`.
    pub fn out_len(&self, n: usize) -> usize {
        assert!(
            n + 2 * self.padding >= self.kernel,
            "pool: input length {n} is shorter than the window {}",
            self.kernel
        );
        (n + 2 * self.padding - self.kernel) / self.stride + 1
    }

    fn check(&self, op: &str, x: &[usize]) {
        assert!(
            self.padding * 2 <= self.kernel && x[2] + 2 * self.padding >= self.kernel && x[3] + 2 * self.padding >= self.kernel,
            "{op}: window {self:?} does not fit input {x:?} (padding must be at most half the kernel)"
        );
    }
}

/// Max pooling: `y[n, c, i, j] = max over the window at (i*s - p, j*s - p)`.
///
/// # Shapes
/// `[N, C, H, W] -> [N, C, H_out, W_out]`, `H_out = floor((H + 2p - k) / s) + 1`.
///
/// # Example
/// ```
/// use duet_core::{burn::tensor::{Device, Tensor}, ops::{max_pool2d, PoolSpec}};
/// let x = Tensor::<4>::from_floats([[[[1.0, 2.0], [3.0, 4.0]]]], &Device::flex());
/// assert_eq!(max_pool2d(x, &PoolSpec::new(2)).into_data().try_to_vec::<f32>().unwrap(), vec![4.0]);
/// ```
pub fn max_pool2d(x: Tensor<4>, spec: &PoolSpec) -> Tensor<4> {
    spec.check("max_pool2d", &x.dims());
    if spec.padding == 0 && crate::kernels::supports(&x) {
        return crate::kernels::max_pool2d(x, [spec.kernel; 2], [spec.stride; 2]);
    }
    let mut o = MaxPoolOptions::new([spec.kernel; 2]);
    o.stride = [spec.stride; 2];
    o.padding = [(spec.padding, spec.padding); 2];
    burn::tensor::module::max_pool2d(x, o)
}

/// Average pooling. With `count_include_pad` the divisor is always `k*k` (PyTorch's default);
/// without it, only the window's cells inside the input are counted.
///
/// # Shapes
/// `[N, C, H, W] -> [N, C, H_out, W_out]` as [`max_pool2d`].
///
/// # Example
/// ```
/// use duet_core::{burn::tensor::{Device, Tensor}, ops::{avg_pool2d, PoolSpec}};
/// let x = Tensor::<4>::ones([1, 1, 2, 2], &Device::flex());
/// let spec = PoolSpec { kernel: 2, stride: 2, padding: 1 };
/// // Each output window holds one real cell and three padding cells.
/// assert_eq!(avg_pool2d(x.clone(), &spec, true).into_data().try_to_vec::<f32>().unwrap(), vec![0.25; 4]);
/// assert_eq!(avg_pool2d(x, &spec, false).into_data().try_to_vec::<f32>().unwrap(), vec![1.0; 4]);
/// ```
pub fn avg_pool2d(x: Tensor<4>, spec: &PoolSpec, count_include_pad: bool) -> Tensor<4> {
    spec.check("avg_pool2d", &x.dims());
    let mut o = AvgPoolOptions::new([spec.kernel; 2]);
    o.stride = [spec.stride; 2];
    o.padding = [(spec.padding, spec.padding); 2];
    o.count_include_pad = count_include_pad;
    burn::tensor::module::avg_pool2d(x, o)
}

/// Adaptive average pooling to a fixed output size (PyTorch's bin edges:
/// `start = floor(i*H/out)`, `end = ceil((i+1)*H/out)`).
///
/// # Shapes
/// `[N, C, H, W] -> [N, C, out_h, out_w]`
///
/// # Example
/// ```
/// use duet_core::{burn::tensor::{Device, Tensor}, ops::adaptive_avg_pool2d};
/// let x = Tensor::<4>::from_floats([[[[1.0, 2.0], [3.0, 6.0]]]], &Device::flex());
/// assert_eq!(adaptive_avg_pool2d(x, [1, 1]).into_data().try_to_vec::<f32>().unwrap(), vec![3.0]);
/// ```
pub fn adaptive_avg_pool2d(x: Tensor<4>, output: [usize; 2]) -> Tensor<4> {
    assert!(
        output[0] > 0 && output[1] > 0,
        "adaptive_avg_pool2d: output size {output:?} for input {:?}",
        x.dims()
    );
    burn::tensor::module::adaptive_avg_pool2d(x, output)
}

/// Global average pooling: the mean over `H` and `W`.
///
/// # Shapes
/// `[N, C, H, W] -> [N, C]`
///
/// # Example
/// ```
/// use duet_core::{burn::tensor::{Device, Tensor}, ops::global_avg_pool2d};
/// let x = Tensor::<4>::from_floats([[[[1.0, 2.0], [3.0, 6.0]]]], &Device::flex());
/// assert_eq!(global_avg_pool2d(x).into_data().try_to_vec::<f32>().unwrap(), vec![3.0]);
/// ```
pub fn global_avg_pool2d(x: Tensor<4>) -> Tensor<2> {
    let [n, c, h, w] = x.dims();
    x.reshape([n, c, h * w]).mean_dim(2).reshape([n, c])
}
