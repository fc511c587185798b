//! Faster CPU kernels for the ops where burn's `flex` backend spends a training step.
//!
//! Profiling a LeNet step on `flex` (see `BENCHMARKS.md`) puts ~75% of the time in two
//! places: convolutions (burn's generic weight gradient runs a convolution with the *batch* as
//! channels and a 28x28 kernel) and max pooling (a scalar loop with NaN-aware index tracking).
//! This module replaces both on `flex`, forward and backward, through burn's own extension
//! point: [`FastCpuOps`] is a `#[backend_extension]` trait with a `Flex` implementation
//! (`flex.rs`, calling the kernels in `*_flex.rs`) and an `Autodiff` implementation
//! (`autodiff.rs`) whose hand-written backward steps (`backward.rs`) register gradients in burn's
//! autodiff graph as for any built-in op; `entry.rs` holds the tensor-level entry points.
//! The same route serves the transformer's and ResNet's hot spots: fused multi-head attention,
//! layer and batch norm, the dense layer (optionally through OpenBLAS, `blas.rs`), GELU and
//! softplus in one pass each way, and per-example gradient products.
//!
//! The optimizers' element-wise updates are the other per-step cost: [`adam_moments`] and
//! [`rms_moments`] compute Adam's and RMSProp's moments and direction in one pass per parameter
//! (through a second extension trait, [`FusedUpdateOps`], `flex` only), in place when the buffers
//! are uniquely owned, and as plain tensor ops with the same rounding on every other device.
//!
//! Design choices:
//! - **NCHW throughout; direct stride-1 convolutions, im2col + gemm for the rest.** A stride-1,
//!   undilated, ungrouped layer on an AVX2 CPU runs `conv_direct_flex`: each image is copied once,
//!   zero-padded, and read on its *wide grid* (output `q = r Wp + c` reads input `q + u Wp + v`),
//!   so a register block of 6 output channels x 16 positions is one unaligned load per tap and
//!   nothing is unfolded; the input gradient is the same correlation of `dy` with the flipped,
//!   transposed kernel (for "same" or wider padding), the weight gradient a per-tap product over
//!   the grid (where its accumulator fits in L2). Wide 3x3 layers (at least 64 channels each way
//!   and 8192 channel pairs: AlexNet's, ResNet-18's) take Winograd F(2x2, 3x3) instead, forward
//!   and input gradient, and F(3x3, 2x2) for the weight gradient (`conv_direct_flex/winograd.rs`):
//!   16 gemm products over channels-last transformed tiles, 2.25x fewer multiplications than
//!   the direct loop, which already ran at the FMA peak there. Everything else unfolds each image into a
//!   `[C_in*kH*kW, H_out*W_out]` patch matrix multiplied with the `gemm` crate (the one burn-flex
//!   uses), single-threaded per call; rayon parallelises over images (forward, dX) or over batch
//!   chunks whose partial weight gradients are then summed (dW). No per-call weight re-layout
//!   beyond the direct kernel's packing. dW is formed transposed, `dWᵀ = col · dyᵀ`, so that the
//!   gemm crate packs the thin `dy` panel rather than transposing the whole patch matrix
//!   (`conv_flex::weight_grad_t`).
//! - **Max pooling** 2x2/stride 2 (LeNet's, AlexNet's): a branch-free forward and an AVX2 gradient
//!   over blocks of eight windows; other windows take a scalar argmax loop.
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
mod backward;
mod batch_norm_flex;
#[cfg(feature = "openblas")]
mod blas;
mod conv_direct_flex;
mod conv_flex;
mod conv_pe_flex;
mod dense_flex;
mod entry;
mod flex;
mod norm_flex;
mod pool_flex;
mod unary_flex;
mod update;
mod update_flex;

pub use entry::{
    attention, batch_norm, conv2d, conv2d_weight_grad_per_example, dense, gelu, layer_norm,
    max_pool2d, max_pool2d_select, outer_per_example, softplus, Unary,
};
pub use update::{adam_moments, adam_step, add_scaled, rms_moments, scale_by, AdamCoeffs};

use burn::backend::DispatchDevice;
use burn::backend::{backend_extension, tensor::FloatTensor, Backend};
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

/// The kernels the system's OpenBLAS chose at load time (`Some("SkylakeX")`, `Some("Haswell")`, ...)
/// with the `openblas` feature, `None` without it. `OPENBLAS_CORETYPE`, set before the process
/// starts, overrides OpenBLAS's own detection.
///
/// # Example
/// ```
/// let core = duet_core::kernels::blas_core();
/// assert_eq!(core.is_some(), duet_core::kernels::DENSE_GEMM == "openblas");
/// ```
pub fn blas_core() -> Option<String> {
    #[cfg(feature = "openblas")]
    return Some(blas::core_name());
    #[cfg(not(feature = "openblas"))]
    None
}

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

/// Fused optimizer updates with a `flex` implementation; called through [`adam_moments`],
/// [`adam_step`], [`rms_moments`], [`scale_by`] and [`add_scaled`], which fall back to tensor ops
/// elsewhere. Optimizer state carries no autodiff, so there is no `Autodiff` implementation.
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
    /// `a t` in one parallel pass; see [`scale_by`].
    fn fused_scale(t: FloatTensor<Self>, a: f32) -> FloatTensor<Self>;
    /// `p + a u` in one parallel pass; see [`add_scaled`].
    fn fused_add_scaled(p: FloatTensor<Self>, u: FloatTensor<Self>, a: f32) -> FloatTensor<Self>;
    /// An Adam step applied to the parameter in one pass: `(p', m', v')`; see [`adam_step`].
    fn fused_adam_step(
        p: FloatTensor<Self>,
        m: FloatTensor<Self>,
        v: FloatTensor<Self>,
        g: FloatTensor<Self>,
        c: AdamCoeffs,
        a: f32,
    ) -> (FloatTensor<Self>, FloatTensor<Self>, FloatTensor<Self>);
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
