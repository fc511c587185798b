//! Convolutions: conv1d, conv2d, conv_transpose2d.
//!
//! Weight layouts follow PyTorch and burn: conv `[out, in/groups, k...]`, transposed conv
//! `[in, out/groups, k...]`.

use crate::kernels::ConvGeom;
use burn::tensor::ops::{ConvOptions, ConvTransposeOptions};
use burn::tensor::Tensor;

/// How a convolution pads its input.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub enum Padding {
    /// No padding.
    Valid,
    /// Output spatial size = `ceil(input / stride)` (TensorFlow's "same"); extra padding goes
    /// at the end when the total is odd.
    Same,
    /// The same explicit padding on both sides of each spatial axis.
    Explicit(usize),
}

impl Padding {
    /// `(begin, end)` padding for one axis of length `n` with kernel `k`, stride `s`, dilation `d`.
    pub fn resolve(self, n: usize, k: usize, s: usize, d: usize) -> (usize, usize) {
        match self {
            Padding::Valid => (0, 0),
            Padding::Explicit(p) => (p, p),
            Padding::Same => {
                let out = n.div_ceil(s);
                let eff = d * (k - 1) + 1;
                let total = ((out - 1) * s + eff).saturating_sub(n);
                (total / 2, total - total / 2)
            }
        }
    }
}

/// Options of a convolution.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct ConvSpec {
    /// Stride (same for every spatial axis).
    pub stride: usize,
    /// Padding.
    pub padding: Padding,
    /// Dilation.
    pub dilation: usize,
    /// Groups: `in` and `out` channels are split into this many independent groups.
    pub groups: usize,
}

impl Default for ConvSpec {
    fn default() -> Self {
        ConvSpec {
            stride: 1,
            padding: Padding::Valid,
            dilation: 1,
            groups: 1,
        }
    }
}

impl ConvSpec {
    /// Output length of one spatial axis: `floor((n + pad - d*(k-1) - 1) / s) + 1`.
    pub fn out_len(&self, n: usize, k: usize) -> usize {
        let (a, b) = self.padding.resolve(n, k, self.stride, self.dilation);
        let eff = self.dilation * (k - 1) + 1;
        assert!(
            n + a + b >= eff,
            "convolution: input length {n} (+ padding {}) is shorter than the kernel extent {eff}",
            a + b
        );
        (n + a + b - eff) / self.stride + 1
    }
}

fn check(op: &str, x: &[usize], w: &[usize], groups: usize, bias: Option<&Tensor<1>>) {
    if let Some(b) = bias {
        assert!(
            b.dims()[0] == w[0],
            "{op}: bias has shape {:?} but weight {w:?} has {} output channels",
            b.dims(),
            w[0]
        );
    }
    assert!(
        groups > 0 && x[1] == w[1] * groups && w[0].is_multiple_of(groups),
        "{op}: input {x:?} has {} channels but weight {w:?} with groups {groups} expects {}",
        x[1],
        w[1] * groups
    );
}

/// 2-D convolution (cross-correlation, as PyTorch): `y[n, o] = b[o] + sum_{c,i,j} w[o, c, i, j] * x[n, g(o)*C/G + c, s*h + d*i, s*w + d*j]`.
///
/// # Shapes
/// - `x`: `[N, C_in, H, W]`
/// - `weight`: `[C_out, C_in / groups, kH, kW]`, `bias`: `[C_out]`
/// - output: `[N, C_out, H_out, W_out]` with `H_out = floor((H + pad - dilation*(kH-1) - 1) / stride) + 1`
///
/// # Example
/// ```
/// use duet_core::{burn::tensor::{Device, Tensor}, ops::{conv2d, ConvSpec, Padding}};
/// let dev = Device::flex();
/// let x = Tensor::<4>::ones([1, 1, 4, 4], &dev);
/// let w = Tensor::<4>::ones([1, 1, 3, 3], &dev);
/// let y = conv2d(x.clone(), w.clone(), None, &ConvSpec::default());
/// assert_eq!(y.into_data().try_to_vec::<f32>().unwrap(), vec![9.0; 4]);
/// let same = conv2d(x, w, None, &ConvSpec { padding: Padding::Same, ..Default::default() });
/// assert_eq!(same.dims(), [1, 1, 4, 4]);
/// ```
pub fn conv2d(
    x: Tensor<4>,
    weight: Tensor<4>,
    bias: Option<Tensor<1>>,
    spec: &ConvSpec,
) -> Tensor<4> {
    let (xd, wd) = (x.dims(), weight.dims());
    check("conv2d", &xd, &wd, spec.groups, bias.as_ref());
    let geom = geom2d(spec, [xd[2], xd[3]], [wd[2], wd[3]]);
    if crate::kernels::supports(&x) {
        let bias = bias.unwrap_or_else(|| Tensor::zeros([wd[0]], &x.device()));
        return crate::kernels::conv2d(x, weight, bias, geom);
    }
    let opts =
        ConvOptions::new_with_padding([spec.stride; 2], geom.pad, [spec.dilation; 2], spec.groups);
    burn::tensor::module::conv2d(x, weight, bias, opts)
}

/// The fast kernels' geometry of a 2-D convolution of `spec` over an `in_hw` input with a `k_hw`
/// kernel (padding resolved).
fn geom2d(spec: &ConvSpec, in_hw: [usize; 2], k_hw: [usize; 2]) -> ConvGeom {
    ConvGeom {
        stride: [spec.stride; 2],
        pad: [0, 1].map(|a| {
            spec.padding
                .resolve(in_hw[a], k_hw[a], spec.stride, spec.dilation)
        }),
        dilation: [spec.dilation; 2],
        groups: spec.groups,
    }
}

/// The weight gradient of a 2-D convolution for each image apart: for `y = conv2d(x, w)` and an
/// upstream gradient `dy`, `dw[n] = ∂⟨y[n], dy[n]⟩ / ∂w` (the batch gradient is `Σ_n dw[n]`). The
/// building block of `transform::per_example_grads` for convolutions. On `flex` it runs the
/// per-example kernel (parallel over images, each image's `im2col(x[n]) · dy[n]ᵀ` kept apart);
/// elsewhere burn's weight gradient with the batch folded into `groups * N` channel groups.
///
/// # Shapes
/// `x`: `[N, C_in, H, W]`, `dy`: `[N, C_out, H_out, W_out]`, `k_hw`: the kernel's `[kH, kW]`
/// -> `[N, C_out, C_in / groups, kH, kW]`.
///
/// # Example
/// ```
/// use duet_core::{burn::tensor::{Device, Tensor}, ops::{conv2d_weight_grad_per_example, ConvSpec}};
/// let dev = Device::flex();
/// // A 1x1 kernel over 2x2 images: dw[n] = sum of x[n] * dy[n].
/// let x = Tensor::<1>::from_floats([1.0, 2.0, 3.0, 4.0, 1.0, 1.0, 1.0, 1.0], &dev).reshape([2, 1, 2, 2]);
/// let dy = Tensor::<4>::ones([2, 1, 2, 2], &dev);
/// let dw = conv2d_weight_grad_per_example(x, dy, &ConvSpec::default(), [1, 1]);
/// assert_eq!(dw.dims(), [2, 1, 1, 1, 1]);
/// assert_eq!(dw.into_data().try_to_vec::<f32>().unwrap(), vec![10.0, 4.0]);
/// ```
pub fn conv2d_weight_grad_per_example(
    x: Tensor<4>,
    dy: Tensor<4>,
    spec: &ConvSpec,
    k_hw: [usize; 2],
) -> Tensor<5> {
    let (xd, yd) = (x.dims(), dy.dims());
    let (n, o) = (xd[0], yd[1]);
    assert!(
        yd[0] == n && spec.groups > 0 && xd[1] % spec.groups == 0 && o % spec.groups == 0,
        "conv2d_weight_grad_per_example: input {xd:?} and output gradient {yd:?} with {} groups",
        spec.groups
    );
    let geom = geom2d(spec, [xd[2], xd[3]], k_hw);
    let expect = [0, 1].map(|a| geom.out_len(a, xd[2 + a], k_hw[a]));
    assert_eq!(
        [yd[2], yd[3]],
        expect,
        "conv2d_weight_grad_per_example: output gradient {yd:?} for input {xd:?}"
    );
    let cg = xd[1] / spec.groups;
    if crate::kernels::supports(&x) {
        return crate::kernels::conv2d_weight_grad_per_example(x, dy, geom, k_hw);
    }
    let x = x.reshape([1, n * xd[1], xd[2], xd[3]]);
    let dy = dy.reshape([1, n * o, yd[2], yd[3]]);
    let w = Tensor::<4>::zeros([n * o, cg, k_hw[0], k_hw[1]], &x.device());
    let opts = ConvOptions::new_with_padding(
        [spec.stride; 2],
        geom.pad,
        [spec.dilation; 2],
        spec.groups * n,
    );
    burn::tensor::module::conv2d_weight_backward(x, w, dy, opts)
        .reshape([n, o, cg, k_hw[0], k_hw[1]])
}

/// 1-D convolution, as [`conv2d`] over one spatial axis.
///
/// # Shapes
/// - `x`: `[N, C_in, L]`, `weight`: `[C_out, C_in / groups, k]`, `bias`: `[C_out]`
/// - output: `[N, C_out, L_out]`
///
/// # Example
/// ```
/// use duet_core::{burn::tensor::{Device, Tensor}, ops::{conv1d, ConvSpec}};
/// let dev = Device::flex();
/// let x = Tensor::<3>::from_floats([[[1.0, 2.0, 3.0, 4.0]]], &dev);
/// let w = Tensor::<3>::from_floats([[[1.0, -1.0]]], &dev);
/// let y = conv1d(x, w, None, &ConvSpec::default());
/// assert_eq!(y.into_data().try_to_vec::<f32>().unwrap(), vec![-1.0, -1.0, -1.0]);
/// ```
pub fn conv1d(
    x: Tensor<3>,
    weight: Tensor<3>,
    bias: Option<Tensor<1>>,
    spec: &ConvSpec,
) -> Tensor<3> {
    let (xd, wd) = (x.dims(), weight.dims());
    check("conv1d", &xd, &wd, spec.groups, bias.as_ref());
    let pad = [spec
        .padding
        .resolve(xd[2], wd[2], spec.stride, spec.dilation)];
    if crate::kernels::supports(&x) {
        // A 1-D convolution is a 2-D one over a height-1 image: the fast kernels apply.
        let geom = ConvGeom {
            stride: [1, spec.stride],
            pad: [(0, 0), pad[0]],
            dilation: [1, spec.dilation],
            groups: spec.groups,
        };
        let bias = bias.unwrap_or_else(|| Tensor::zeros([wd[0]], &x.device()));
        let y = crate::kernels::conv2d(x.unsqueeze_dim(2), weight.unsqueeze_dim(2), bias, geom);
        return y.squeeze_dim(2);
    }
    let opts = ConvOptions::new_with_padding([spec.stride], pad, [spec.dilation], spec.groups);
    burn::tensor::module::conv1d(x, weight, bias, opts)
}

/// Options of a transposed convolution (PyTorch's `ConvTranspose2d` arguments).
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct ConvTransposeSpec {
    /// Stride.
    pub stride: usize,
    /// Padding removed from each side of the output.
    pub padding: usize,
    /// Extra size added to one side of the output.
    pub output_padding: usize,
    /// Dilation.
    pub dilation: usize,
    /// Groups.
    pub groups: usize,
}

impl Default for ConvTransposeSpec {
    fn default() -> Self {
        ConvTransposeSpec {
            stride: 1,
            padding: 0,
            output_padding: 0,
            dilation: 1,
            groups: 1,
        }
    }
}

impl ConvTransposeSpec {
    /// Output length: `(n - 1)*s - 2p + d*(k - 1) + output_padding + 1`.
    pub fn out_len(&self, n: usize, k: usize) -> usize {
        let full =
            (n.max(1) - 1) * self.stride + self.dilation * (k.max(1) - 1) + self.output_padding + 1;
        assert!(
            full > 2 * self.padding,
            "conv_transpose2d: input length {n} with kernel {k} and {self:?} gives an empty output"
        );
        full - 2 * self.padding
    }
}

/// 2-D transposed convolution (the gradient of [`conv2d`] with respect to its input).
///
/// # Shapes
/// - `x`: `[N, C_in, H, W]`, `weight`: `[C_in, C_out / groups, kH, kW]`, `bias`: `[C_out]`
/// - output: `[N, C_out, H_out, W_out]`, `H_out = (H-1)*stride - 2*padding + dilation*(kH-1) + output_padding + 1`
///
/// # Example
/// ```
/// use duet_core::{burn::tensor::{Device, Tensor}, ops::{conv_transpose2d, ConvTransposeSpec}};
/// let dev = Device::flex();
/// let x = Tensor::<4>::ones([1, 1, 2, 2], &dev);
/// let w = Tensor::<4>::ones([1, 1, 2, 2], &dev);
/// let y = conv_transpose2d(x, w, None, &ConvTransposeSpec { stride: 2, ..Default::default() });
/// assert_eq!(y.dims(), [1, 1, 4, 4]);
/// assert_eq!(y.sum().into_scalar::<f32>(), 16.0);
/// ```
pub fn conv_transpose2d(
    x: Tensor<4>,
    weight: Tensor<4>,
    bias: Option<Tensor<1>>,
    spec: &ConvTransposeSpec,
) -> Tensor<4> {
    let (xd, wd) = (x.dims(), weight.dims());
    assert!(
        xd[1] == wd[0] && wd[0].is_multiple_of(spec.groups),
        "conv_transpose2d: input {xd:?} has {} channels but weight {wd:?} ([in, out/groups, kh, kw]) expects {}",
        xd[1],
        wd[0]
    );
    if let Some(b) = &bias {
        assert!(
            b.dims()[0] == wd[1] * spec.groups,
            "conv_transpose2d: bias has shape {:?} but weight {wd:?} with groups {} has {} output channels",
            b.dims(),
            spec.groups,
            wd[1] * spec.groups
        );
    }
    let opts = ConvTransposeOptions::new(
        [spec.stride; 2],
        [spec.padding; 2],
        [spec.output_padding; 2],
        [spec.dilation; 2],
        spec.groups,
    );
    burn::tensor::module::conv_transpose2d(x, weight, bias, opts)
}
