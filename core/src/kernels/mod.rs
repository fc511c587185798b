//! Faster CPU kernels for the ops where burn's `flex` backend spends a training step.
//!
//! Profiling a LeNet step on `flex` (see `BENCHMARKS.md`) puts ~75% of the time in two
//! places: convolutions (burn's generic weight gradient runs a convolution with the *batch* as
//! channels and a 28x28 kernel) and max pooling (a scalar loop with NaN-aware index tracking).
//! This module replaces both on `flex`, forward and backward, through burn's own extension
//! point: [`FastCpuOps`] is a `#[backend_extension]` trait with a `Flex` implementation (the
//! kernels, in `conv_flex.rs` / `pool_flex.rs`) and an `Autodiff` implementation with
//! hand-written backward steps (`autodiff.rs`), so gradients flow into burn's autodiff graph as
//! for any built-in op.
//!
//! The optimizers' element-wise updates are the other per-step cost: [`adam_moments`] and
//! [`rms_moments`] compute Adam's and RMSProp's moments and direction in one pass per parameter
//! (through a second extension trait, [`FusedUpdateOps`], `flex` only), in place when the buffers
//! are uniquely owned, and as plain tensor ops with the same rounding on every other device.
//!
//! Design choices:
//! - **NCHW throughout, im2col + gemm.** Each image is unfolded into a `[C_in*kH*kW, H_out*W_out]`
//!   patch matrix and multiplied with the `gemm` crate (the one burn-flex uses), single-threaded
//!   per call; rayon parallelises over images (forward, dX) or over batch chunks whose partial
//!   weight gradients are then summed (dW). No layout conversions, no per-call weight re-layout.
//! - **Every conv2d geometry**: stride, asymmetric padding, dilation and groups.
//! - **Only where it is a win.** [`supports`] is true for `f32` tensors on the `flex` device (plain
//!   or autodiff); everything else (wgpu, CUDA, other dtypes) takes burn's kernels unchanged, so
//!   the results do not depend on which path ran beyond float rounding (the golden suite runs
//!   through these kernels at 1e-5).
//! - No double backward: the gradient kernels are not themselves differentiated.

/// Runs `$body` compiled for the widest vector unit the CPU has (AVX-512, AVX2, or the
/// baseline): the element-wise loops (division-, square-root- or polynomial-bound) scale with the width.
macro_rules! widest {
    ($body:ident($($arg:expr),*)) => {{
        #[cfg(target_arch = "x86_64")]
        {
            #[target_feature(enable = "avx512f")]
            fn avx512(f: impl FnOnce()) { f() }
            #[target_feature(enable = "avx2")]
            fn avx2(f: impl FnOnce()) { f() }
            if std::arch::is_x86_feature_detected!("avx512f") {
                // SAFETY: the CPU has AVX-512F (checked just above).
                unsafe { avx512(|| $body($($arg),*)) }
            } else if std::arch::is_x86_feature_detected!("avx2") {
                // SAFETY: the CPU has AVX2 (checked just above).
                unsafe { avx2(|| $body($($arg),*)) }
            } else {
                $body($($arg),*)
            }
        }
        #[cfg(not(target_arch = "x86_64"))]
        $body($($arg),*)
    }};
}

mod attention_flex;
mod autodiff;
mod batch_norm_flex;
#[cfg(feature = "openblas")]
mod blas;
mod conv_flex;
mod conv_pe_flex;
mod dense_flex;
mod norm_flex;
mod pool_flex;
mod unary_flex;
mod update;
mod update_flex;

pub use update::{adam_moments, rms_moments, AdamCoeffs};

use burn::backend::DispatchDevice;
use burn::backend::{backend_extension, tensor::FloatTensor, Backend, Dispatch};
use burn::tensor::{DType, Device, Tensor};

/// What runs the dense layers' large products on `flex`: `"openblas"` with the `openblas`
/// feature (the system library), the `gemm` crate otherwise.
///
/// # Example
/// ```
/// assert!(["openblas", "gemm crate"].contains(&duet_core::kernels::DENSE_GEMM));
/// ```
pub const DENSE_GEMM: &str = if cfg!(feature = "openblas") {
    "openblas"
} else {
    "gemm crate"
};

/// Geometry of a 2-D convolution: stride, padding (begin, end) per axis, dilation and groups.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ConvGeom {
    /// Stride `[sH, sW]`.
    pub stride: [usize; 2],
    /// Padding `[(top, bottom), (left, right)]`.
    pub pad: [(usize, usize); 2],
    /// Dilation `[dH, dW]`.
    pub dilation: [usize; 2],
    /// Number of groups.
    pub groups: usize,
}

impl ConvGeom {
    /// Output size of spatial axis `a` for input length `n` and kernel length `k`:
    /// `(n + pad_begin + pad_end - d*(k-1) - 1) / s + 1`.
    pub fn out_len(&self, a: usize, n: usize, k: usize) -> usize {
        let eff = self.dilation[a] * (k - 1) + 1;
        let padded = n + self.pad[a].0 + self.pad[a].1;
        assert!(
            padded >= eff,
            "conv2d: padded input {padded} shorter than kernel extent {eff}"
        );
        (padded - eff) / self.stride[a] + 1
    }
}

/// Backend operations with faster `flex` kernels; see the module docs.
///
/// Called through [`conv2d`] and [`max_pool2d`]; calling a method on a backend other than `flex`
/// (or autodiff over `flex`) panics, which [`supports`] guards against.
#[backend_extension(Flex, Autodiff)]
pub trait FastCpuOps: Backend {
    /// Convolution forward: `y = conv(x, w) + b`.
    fn fast_conv2d(
        x: FloatTensor<Self>,
        w: FloatTensor<Self>,
        b: FloatTensor<Self>,
        geom: ConvGeom,
    ) -> FloatTensor<Self>;
    /// Gradient with respect to the input, for an input of spatial size `in_hw`.
    fn fast_conv2d_dx(
        w: FloatTensor<Self>,
        dy: FloatTensor<Self>,
        geom: ConvGeom,
        in_hw: [usize; 2],
    ) -> FloatTensor<Self>;
    /// Gradient with respect to the weight, for a kernel of size `k_hw`.
    fn fast_conv2d_dw(
        x: FloatTensor<Self>,
        dy: FloatTensor<Self>,
        geom: ConvGeom,
        k_hw: [usize; 2],
    ) -> FloatTensor<Self>;
    /// Gradient with respect to the bias: `dy` summed over batch and space.
    fn fast_conv2d_db(dy: FloatTensor<Self>) -> FloatTensor<Self>;
    /// Max pooling without padding or dilation (NaN propagates, as in PyTorch).
    fn fast_max_pool2d(
        x: FloatTensor<Self>,
        kernel: [usize; 2],
        stride: [usize; 2],
    ) -> FloatTensor<Self>;
    /// Gradient of [`FastCpuOps::fast_max_pool2d`]: `dy` routed to the first maximum of each window.
    fn fast_max_pool2d_backward(
        x: FloatTensor<Self>,
        dy: FloatTensor<Self>,
        kernel: [usize; 2],
        stride: [usize; 2],
    ) -> FloatTensor<Self>;
    /// `t` at each window's first maximum of `x` (max pooling's tangent map), differentiable in
    /// `t` (its gradient is [`FastCpuOps::fast_max_pool2d_backward`] of `x`).
    fn fast_max_pool2d_select(
        x: FloatTensor<Self>,
        t: FloatTensor<Self>,
        kernel: [usize; 2],
        stride: [usize; 2],
    ) -> FloatTensor<Self>;
    /// The weight gradient of a convolution for each image apart, one `[O, C/g, kh, kw]` per
    /// image: `[N, C, H, W]`, `[N, O, oh, ow]` -> `[N, O, C/g, kh, kw]`.
    fn fast_conv2d_per_example_dw(
        x: FloatTensor<Self>,
        dy: FloatTensor<Self>,
        geom: ConvGeom,
        k_hw: [usize; 2],
    ) -> FloatTensor<Self>;
    /// Dense layer `y = x W + b`: `[..., K]`, `[K, N]`, `[N]` -> `[..., N]`.
    fn fast_dense(
        x: FloatTensor<Self>,
        w: FloatTensor<Self>,
        b: FloatTensor<Self>,
    ) -> FloatTensor<Self>;
    /// Its input gradient `dy Wᵀ`.
    fn fast_dense_dx(dy: FloatTensor<Self>, w: FloatTensor<Self>) -> FloatTensor<Self>;
    /// Its weight gradient `xᵀ dy` (rows of every leading axis summed).
    fn fast_dense_dw(x: FloatTensor<Self>, dy: FloatTensor<Self>) -> FloatTensor<Self>;
    /// Its bias gradient, `dy` summed over every leading axis.
    fn fast_dense_db(dy: FloatTensor<Self>) -> FloatTensor<Self>;
    /// Per-example outer products `out[n, i, o] = x[n, i] dy[n, o]`: `[N, I]`, `[N, O]` ->
    /// `[N, I, O]` (a dense layer's per-example weight gradients).
    fn fast_outer_per_example(x: FloatTensor<Self>, dy: FloatTensor<Self>) -> FloatTensor<Self>;
    /// An element-wise activation in one pass.
    fn fast_unary(x: FloatTensor<Self>, op: Unary) -> FloatTensor<Self>;
    /// `dy op'(x)`, the gradient of [`FastCpuOps::fast_unary`].
    fn fast_unary_backward(
        x: FloatTensor<Self>,
        dy: FloatTensor<Self>,
        op: Unary,
    ) -> FloatTensor<Self>;
    /// Scaled dot-product attention over `[B, T, E]` inputs split into heads:
    /// `(out [B, Tq, E], probabilities [B, H, Tq, Tk])`.
    fn fast_attention(
        q: FloatTensor<Self>,
        k: FloatTensor<Self>,
        v: FloatTensor<Self>,
        spec: AttentionSpec,
    ) -> (FloatTensor<Self>, FloatTensor<Self>);
    /// The gradients `(dq, dk, dv)` of [`FastCpuOps::fast_attention`] from its probabilities.
    fn fast_attention_backward(
        q: FloatTensor<Self>,
        k: FloatTensor<Self>,
        v: FloatTensor<Self>,
        probs: FloatTensor<Self>,
        dout: FloatTensor<Self>,
        spec: AttentionSpec,
    ) -> (FloatTensor<Self>, FloatTensor<Self>, FloatTensor<Self>);
    /// Layer normalisation over the last axis with weight and bias: `(y, mean, rstd)`, the
    /// last two one entry per row.
    fn fast_layer_norm(
        x: FloatTensor<Self>,
        w: FloatTensor<Self>,
        b: FloatTensor<Self>,
        eps: f64,
    ) -> (FloatTensor<Self>, FloatTensor<Self>, FloatTensor<Self>);
    /// Batch normalisation in training mode over `[N, C, ...]` with weight and bias:
    /// `(y, batch mean [C], biased batch variance [C])`.
    fn fast_batch_norm(
        x: FloatTensor<Self>,
        w: FloatTensor<Self>,
        b: FloatTensor<Self>,
        eps: f64,
    ) -> (FloatTensor<Self>, FloatTensor<Self>, FloatTensor<Self>);
    /// The gradients `(dx, dw, db)` of [`FastCpuOps::fast_batch_norm`].
    fn fast_batch_norm_backward(
        x: FloatTensor<Self>,
        w: FloatTensor<Self>,
        mean: FloatTensor<Self>,
        var: FloatTensor<Self>,
        dy: FloatTensor<Self>,
        eps: f64,
    ) -> (FloatTensor<Self>, FloatTensor<Self>, FloatTensor<Self>);
    /// The gradients `(dx, dw, db)` of [`FastCpuOps::fast_layer_norm`].
    fn fast_layer_norm_backward(
        x: FloatTensor<Self>,
        w: FloatTensor<Self>,
        mean: FloatTensor<Self>,
        rstd: FloatTensor<Self>,
        dy: FloatTensor<Self>,
    ) -> (FloatTensor<Self>, FloatTensor<Self>, FloatTensor<Self>);
}

/// Heads and masking of [`attention`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct AttentionSpec {
    /// Number of heads `H`; the feature axis `E` splits into `H` blocks of `Dh = E / H`.
    pub heads: usize,
    /// Query `i` attends only to keys `j <= i`.
    pub causal: bool,
}

/// Fused optimizer updates with a `flex` implementation; called through [`adam_moments`] and
/// [`rms_moments`], which fall back to tensor ops elsewhere. Optimizer state carries no autodiff,
/// so there is no `Autodiff` implementation.
#[backend_extension(Flex)]
pub trait FusedUpdateOps: Backend {
    /// Adam's moments and direction in one pass: `(m', v', u)`; see [`adam_moments`].
    fn fused_adam(
        m: FloatTensor<Self>,
        v: FloatTensor<Self>,
        g: FloatTensor<Self>,
        c: AdamCoeffs,
    ) -> (FloatTensor<Self>, FloatTensor<Self>, FloatTensor<Self>);
    /// RMSProp's second moment and direction in one pass: `(v', u)`; see [`rms_moments`].
    fn fused_rms(
        v: FloatTensor<Self>,
        g: FloatTensor<Self>,
        a: f32,
        c: f32,
        eps: f32,
    ) -> (FloatTensor<Self>, FloatTensor<Self>);
}

/// Whether the fast kernels handle this tensor: `f32` on the `flex` device, plain or autodiff.
///
/// # Example
/// ```
/// use duet_core::{burn::tensor::{Device, Tensor}, kernels::supports};
/// let x = Tensor::<2>::zeros([2, 2], &Device::flex());
/// assert!(supports(&x));
/// assert!(supports(&x.clone().to_device(&Device::flex().autodiff())));
/// assert!(!supports(&x.int().float().cast(burn::tensor::DType::F64)));
/// ```
pub fn supports<const D: usize>(x: &Tensor<D>) -> bool {
    x.dtype() == DType::F32 && is_flex(&x.device())
}

fn is_plain_flex(device: &Device) -> bool {
    matches!(device.as_dispatch(), DispatchDevice::Flex(_))
}

/// Whether `device` is `flex`, plain or autodiff.
pub fn is_flex(device: &Device) -> bool {
    match device.as_dispatch() {
        DispatchDevice::Flex(_) => true,
        DispatchDevice::Autodiff(inner) => matches!(**inner, DispatchDevice::Flex(_)),
        #[allow(unreachable_patterns)]
        _ => false,
    }
}

/// 2-D convolution on the fast kernels (differentiable). Prefer [`crate::ops::conv2d`], which
/// calls this when [`supports`] holds and burn's kernel otherwise.
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
/// kernels (differentiable: `d/dx = σ(x)`, one pass too). Prefer [`crate::ops::softplus`], which
/// calls this when [`supports`] holds and the tensor-op form otherwise.
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
/// [`crate::ops::activation::gelu`], which calls this when [`supports`] holds.
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
/// [`crate::ops::dense`], which calls this when [`supports`] holds.
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
/// inputs (no projections; see `ops::multi_head_attention`, which calls this when [`supports`]
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
/// [`crate::ops::layer_norm`], which calls this when [`supports`] holds.
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
