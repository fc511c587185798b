//! The fast kernels' entry points on tensors: each wraps one [`FastCpuOps`] method (dispatched
//! to `flex` or to autodiff over `flex`), with its maths, shapes and a doctest. Callers check
//! [`super::supports`] first; `duet_core::ops` and the layer maths do.

use super::{AttentionSpec, ConvGeom, FastCpuOps};
use burn::backend::Dispatch;
use burn::tensor::Tensor;

/// 2-D convolution on the fast kernels (differentiable). Prefer [`crate::ops::conv2d`], which
/// calls this when [`super::supports`] holds and burn's kernel otherwise.
///
/// # Shapes
/// - `x`: `[N, C_in, H, W]`, `w`: `[C_out, C_in / groups, kH, kW]`, `b`: `[C_out]`
/// - output: `[N, C_out, H_out, W_out]` (see [`ConvGeom::out_len`])
///
/// # Example
/// ```
/// use duet_core::{burn::tensor::{Device, Tensor}, kernels::{conv2d, ConvGeom}};
/// let dev = Device::flex();
/// let x = Tensor::<4>::ones([1, 1, 3, 3], &dev);
/// let w = Tensor::<4>::ones([1, 1, 2, 2], &dev);
/// let b = Tensor::<1>::from_floats([0.5], &dev);
/// let geom = ConvGeom { stride: [1, 1], pad: [(0, 0); 2], dilation: [1, 1], groups: 1 };
/// let y = conv2d(x, w, b, geom);
/// assert_eq!(y.into_data().try_to_vec::<f32>().unwrap(), vec![4.5; 4]);
/// ```
pub fn conv2d(x: Tensor<4>, w: Tensor<4>, b: Tensor<1>, geom: ConvGeom) -> Tensor<4> {
    Tensor::from_dispatch(Dispatch::fast_conv2d(
        x.into_dispatch(),
        w.into_dispatch(),
        b.into_dispatch(),
        geom,
    ))
}

/// Max pooling (no padding, no dilation) on the fast kernels (differentiable). Prefer
/// [`crate::ops::max_pool2d`], which calls this when it applies.
///
/// # Shapes
/// - `x`: `[N, C, H, W]`; output `[N, C, (H - kH) / sH + 1, (W - kW) / sW + 1]`
///
/// # Example
/// ```
/// use duet_core::{burn::tensor::{Device, Tensor}, kernels::max_pool2d};
/// let x = Tensor::<4>::from_floats([[[[1.0, 2.0], [4.0, 3.0]]]], &Device::flex());
/// let y = max_pool2d(x, [2, 2], [2, 2]);
/// assert_eq!(y.into_data().try_to_vec::<f32>().unwrap(), vec![4.0]);
/// ```
pub fn max_pool2d(x: Tensor<4>, kernel: [usize; 2], stride: [usize; 2]) -> Tensor<4> {
    let d = x.dims();
    assert!(
        d[2] >= kernel[0] && d[3] >= kernel[1],
        "max_pool2d: input {d:?} is smaller than the kernel {kernel:?}"
    );
    Tensor::from_dispatch(Dispatch::fast_max_pool2d(x.into_dispatch(), kernel, stride))
}

/// Max pooling's tangent map on the fast kernels: `t` at the position of each window's first
/// maximum of `x` (no padding or dilation); differentiable in `t`, not in `x` (piecewise
/// constant). What forward mode runs for a max pool on `flex`.
///
/// # Shapes
/// `x`, `t`: `[N, C, H, W]` -> `[N, C, (H - kH) / sH + 1, (W - kW) / sW + 1]`.
///
/// # Example
/// ```
/// use duet_core::{burn::tensor::{Device, Tensor}, kernels::max_pool2d_select};
/// let dev = Device::flex();
/// let x = Tensor::<4>::from_floats([[[[1.0, 2.0], [4.0, 3.0]]]], &dev);
/// let t = Tensor::<4>::from_floats([[[[10.0, 20.0], [40.0, 30.0]]]], &dev);
/// let y = max_pool2d_select(x, t, [2, 2], [2, 2]);
/// assert_eq!(y.into_data().try_to_vec::<f32>().unwrap(), vec![40.0]);
/// ```
pub fn max_pool2d_select(
    x: Tensor<4>,
    t: Tensor<4>,
    kernel: [usize; 2],
    stride: [usize; 2],
) -> Tensor<4> {
    let d = x.dims();
    assert!(
        d[2] >= kernel[0] && d[3] >= kernel[1] && t.dims() == d,
        "max_pool2d_select: input {d:?} and tangent {:?} for kernel {kernel:?}",
        t.dims()
    );
    Tensor::from_dispatch(Dispatch::fast_max_pool2d_select(
        x.into_dispatch(),
        t.into_dispatch(),
        kernel,
        stride,
    ))
}

/// `softplus(x) = ln(1 + eˣ)`, computed as `max(x, 0) + ln(1 + e^{-|x|})` in one pass on the fast
/// kernels (differentiable: `d/dx = σ(x)`, one pass too). Prefer [`crate::ops::activation::softplus`], which
/// calls this when [`super::supports`] holds and the tensor-op form otherwise.
///
/// # Shapes
/// Any; the result has the shape of `x`.
///
/// # Example
/// ```
/// use duet_core::{burn::tensor::{Device, Tensor}, kernels::softplus};
/// let x = Tensor::<1>::from_floats([0.0, 30.0, -30.0], &Device::flex());
/// let y = softplus(x).into_data().try_to_vec::<f32>().unwrap();
/// assert_eq!(y, vec![2f32.ln(), 30.0, (-30f32).exp()]);
/// ```
pub fn softplus<const D: usize>(x: Tensor<D>) -> Tensor<D> {
    Tensor::from_dispatch(Dispatch::fast_unary(x.into_dispatch(), Unary::Softplus))
}

/// Exact GELU `x Φ(x)` in one pass on the fast kernels (differentiable: `Φ(x) + x φ(x)`, one
/// pass too), with a polynomial `erfc` (relative error below 1.2e-7). Prefer
/// [`crate::ops::activation::gelu`], which calls this when [`super::supports`] holds.
///
/// # Shapes
/// Any; the result has the shape of `x`.
///
/// # Example
/// ```
/// use duet_core::{burn::tensor::{Device, Tensor}, kernels::gelu};
/// let x = Tensor::<1>::from_floats([0.0, 1.0, -1.0], &Device::flex());
/// let y = gelu(x).into_data().try_to_vec::<f32>().unwrap();
/// // Φ(1) = 0.841345
/// assert_eq!(y[0], 0.0);
/// assert!((y[1] - 0.841_345).abs() < 1e-6 && (y[2] + 0.158_655).abs() < 1e-6);
/// ```
pub fn gelu<const D: usize>(x: Tensor<D>) -> Tensor<D> {
    Tensor::from_dispatch(Dispatch::fast_unary(x.into_dispatch(), Unary::Gelu))
}

/// A dense layer `y = x W + b` on the fast kernels (differentiable): one gemm into the
/// bias-filled output; the backward pass reads the transposes through strides. Prefer
/// [`crate::ops::dense`], which calls this when [`super::supports`] holds.
///
/// # Shapes
/// - `x`: `[..., K]`, `w`: `[K, N]`, `b`: `[N]`
/// - output: `[..., N]`
///
/// # Example
/// ```
/// use duet_core::{burn::tensor::{Device, Tensor}, kernels::dense};
/// let dev = Device::flex();
/// let x = Tensor::<2>::from_floats([[1.0, 2.0]], &dev);
/// let w = Tensor::<2>::from_floats([[1.0, 0.0, 1.0], [0.0, 1.0, 1.0]], &dev);
/// let y = dense(x, w, Tensor::from_floats([0.5, 0.5, 0.5], &dev));
/// assert_eq!(y.into_data().try_to_vec::<f32>().unwrap(), vec![1.5, 2.5, 3.5]);
/// ```
pub fn dense<const D: usize>(x: Tensor<D>, w: Tensor<2>, b: Tensor<1>) -> Tensor<D> {
    Tensor::from_dispatch(Dispatch::fast_dense(
        x.into_dispatch(),
        w.into_dispatch(),
        b.into_dispatch(),
    ))
}

/// Per-example outer products on the fast kernels (parallel over examples; not
/// differentiable): a dense layer's per-example weight gradients `x_nᵀ dy_n`.
///
/// # Shapes
/// `x`: `[N, I]`, `dy`: `[N, O]` -> `[N, I, O]`.
///
/// # Example
/// ```
/// use duet_core::{burn::tensor::{Device, Tensor}, kernels::outer_per_example};
/// let dev = Device::flex();
/// let x = Tensor::<2>::from_floats([[1.0, 2.0], [3.0, 4.0]], &dev);
/// let dy = Tensor::<2>::from_floats([[1.0], [-1.0]], &dev);
/// let g = outer_per_example(x, dy);
/// assert_eq!(g.dims(), [2, 2, 1]);
/// assert_eq!(g.into_data().try_to_vec::<f32>().unwrap(), vec![1.0, 2.0, -3.0, -4.0]);
/// ```
pub fn outer_per_example(x: Tensor<2>, dy: Tensor<2>) -> Tensor<3> {
    assert_eq!(
        x.dims()[0],
        dy.dims()[0],
        "outer_per_example: {:?} and {:?} differ in examples",
        x.dims(),
        dy.dims()
    );
    Tensor::from_dispatch(Dispatch::fast_outer_per_example(
        x.into_dispatch(),
        dy.into_dispatch(),
    ))
}

/// Multi-head scaled dot-product attention in one fused, differentiable `flex` kernel:
/// per head `softmax(Q Kᵀ / √Dh + mask) V`, where `Q, K, V` are the head's column blocks of the
/// inputs (no projections; see `ops::multi_head_attention`, which calls this when [`super::supports`]
/// holds and there is no key-padding mask). The backward pass uses the saved probabilities.
///
/// # Shapes
/// - `q`: `[B, Tq, E]`, `k`, `v`: `[B, Tk, E]`, `E % heads == 0`
/// - output: `[B, Tq, E]`
///
/// # Example
/// ```
/// use duet_core::{burn::tensor::{Device, Tensor}, kernels::{attention, AttentionSpec}};
/// let dev = Device::flex();
/// let q = Tensor::<3>::zeros([1, 2, 2], &dev);
/// let v = Tensor::<3>::from_floats([[[1.0, 2.0], [3.0, 4.0]]], &dev);
/// // Equal scores: row 0 sees only key 0 under the causal mask, row 1 averages both.
/// let y = attention(q.clone(), q, v, AttentionSpec { heads: 1, causal: true });
/// assert_eq!(y.into_data().try_to_vec::<f32>().unwrap(), vec![1.0, 2.0, 2.0, 3.0]);
/// ```
pub fn attention(q: Tensor<3>, k: Tensor<3>, v: Tensor<3>, spec: AttentionSpec) -> Tensor<3> {
    let (out, _) = Dispatch::fast_attention(
        q.into_dispatch(),
        k.into_dispatch(),
        v.into_dispatch(),
        spec,
    );
    Tensor::from_dispatch(out)
}

/// Layer normalisation over the last axis in one fused, differentiable `flex` kernel:
/// `y = (x - μ) / √(σ² + ε) ∘ w + b` per row (biased variance, as PyTorch). Prefer
/// [`crate::ops::layer_norm`], which calls this when [`super::supports`] holds.
///
/// # Shapes
/// - `x`: `[..., F]` with `F > 0`, `w`, `b`: `[F]`
/// - output: the shape of `x`
///
/// # Example
/// ```
/// use duet_core::{burn::tensor::{Device, Tensor}, kernels::layer_norm};
/// let dev = Device::flex();
/// let x = Tensor::<2>::from_floats([[1.0, 3.0]], &dev);
/// let (w, b) = (Tensor::<1>::from_floats([2.0, 2.0], &dev), Tensor::<1>::from_floats([0.5, 0.5], &dev));
/// let y = layer_norm(x, w, b, 0.0).into_data().try_to_vec::<f32>().unwrap();
/// assert_eq!(y, vec![-1.5, 2.5]);
/// ```
pub fn layer_norm<const D: usize>(x: Tensor<D>, w: Tensor<1>, b: Tensor<1>, eps: f64) -> Tensor<D> {
    let (y, _, _) =
        Dispatch::fast_layer_norm(x.into_dispatch(), w.into_dispatch(), b.into_dispatch(), eps);
    Tensor::from_dispatch(y)
}

/// Batch normalisation in training mode in one fused, differentiable `flex` kernel: per channel
/// `y = (x - μ_c) / √(σ²_c + ε) w_c + b_c` with the batch's mean and biased variance over `N`
/// and every spatial position. Returns `y`, the batch means and the biased variances (for the
/// running statistics). Prefer [`crate::ops::batch_norm_train`], which calls this on `flex`.
///
/// # Shapes
/// - `x`: `[N, C, ...]`, `w`, `b`: `[C]`
/// - outputs: the shape of `x`, `[C]`, `[C]`
///
/// # Example
/// ```
/// use duet_core::{burn::tensor::{Device, Tensor}, kernels::batch_norm};
/// let dev = Device::flex();
/// let x = Tensor::<3>::from_floats([[[1.0, 3.0]], [[5.0, 7.0]]], &dev); // [2, 1, 2]
/// let (w, b) = (Tensor::<1>::ones([1], &dev), Tensor::<1>::zeros([1], &dev));
/// let (y, mean, var) = batch_norm(x, w, b, 0.0);
/// assert_eq!(mean.into_data().try_to_vec::<f32>().unwrap(), vec![4.0]);
/// assert_eq!(var.into_data().try_to_vec::<f32>().unwrap(), vec![5.0]);
/// let y = y.into_data().try_to_vec::<f32>().unwrap();
/// assert!((y[0] + 3.0 / 5f32.sqrt()).abs() < 1e-6 && (y[3] - 3.0 / 5f32.sqrt()).abs() < 1e-6);
/// ```
pub fn batch_norm<const D: usize>(
    x: Tensor<D>,
    w: Tensor<1>,
    b: Tensor<1>,
    eps: f64,
) -> (Tensor<D>, Tensor<1>, Tensor<1>) {
    let (y, mean, var) =
        Dispatch::fast_batch_norm(x.into_dispatch(), w.into_dispatch(), b.into_dispatch(), eps);
    (
        Tensor::from_dispatch(y),
        Tensor::from_dispatch(mean),
        Tensor::from_dispatch(var),
    )
}

/// The element-wise activations with fused `flex` kernels ([`FastCpuOps::fast_unary`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Unary {
    /// `ln(1 + eˣ)`.
    Softplus,
    /// Exact GELU, `x Φ(x)`.
    Gelu,
}

/// The weight gradient of a 2-D convolution for each image apart, on the fast kernels (parallel
/// over images; not differentiable). Prefer [`crate::ops::conv2d_weight_grad_per_example`],
/// which checks the shapes and runs elsewhere too.
///
/// # Shapes
/// - `x`: `[N, C_in, H, W]`, `dy`: `[N, C_out, H_out, W_out]`
/// - output: `[N, C_out, C_in / groups, kH, kW]`
///
/// # Example
/// ```
/// use duet_core::{burn::tensor::{Device, Tensor}, kernels::{conv2d_weight_grad_per_example, ConvGeom}};
/// let dev = Device::flex();
/// let x = Tensor::<1>::from_floats([1.0, 2.0, 3.0, 4.0, 1.0, 1.0, 1.0, 1.0], &dev).reshape([2, 1, 2, 2]);
/// let dy = Tensor::<4>::ones([2, 1, 1, 1], &dev);
/// let geom = ConvGeom { stride: [1, 1], pad: [(0, 0); 2], dilation: [1, 1], groups: 1 };
/// // A 2x2 kernel over 2x2 images: one output each, dw[n] = x[n].
/// let dw = conv2d_weight_grad_per_example(x, dy, geom, [2, 2]);
/// assert_eq!(dw.into_data().try_to_vec::<f32>().unwrap(), vec![1.0, 2.0, 3.0, 4.0, 1.0, 1.0, 1.0, 1.0]);
/// ```
pub fn conv2d_weight_grad_per_example(
    x: Tensor<4>,
    dy: Tensor<4>,
    geom: ConvGeom,
    k_hw: [usize; 2],
) -> Tensor<5> {
    Tensor::from_dispatch(Dispatch::fast_conv2d_per_example_dw(
        x.into_dispatch(),
        dy.into_dispatch(),
        geom,
        k_hw,
    ))
}
