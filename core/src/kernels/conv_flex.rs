//! The `flex` convolution kernels: im2col + gemm in NCHW, parallel over images; stride-1 layers
//! go to `conv_direct_flex` where it applies (see its `applies*` functions).

use super::{conv_direct_flex, ConvGeom};
use burn::backend::flex::{FlexTensor, Layout};
use burn::backend::Bytes;
use burn::tensor::{DType, Shape};
use gemm::{gemm, Parallelism};
use rayon::prelude::*;
use std::mem::MaybeUninit;

/// Sizes of one convolution, shared by the forward and both gradient kernels.
#[derive(Clone, Copy)]
pub(super) struct Dims {
    pub(super) n: usize,
    pub(super) c_in: usize,
    pub(super) h: usize,
    pub(super) w: usize,
    pub(super) c_out: usize,
    pub(super) kh: usize,
    pub(super) kw: usize,
    pub(super) oh: usize,
    pub(super) ow: usize,
    pub(super) g: ConvGeom,
}

impl Dims {
    pub(super) fn new(x: [usize; 4], w: [usize; 4], g: ConvGeom) -> Self {
        assert_eq!(
            x[1],
            w[1] * g.groups,
            "conv2d: channels of x {x:?} and w {w:?}"
        );
        let (oh, ow) = (g.out_len(0, x[2], w[2]), g.out_len(1, x[3], w[3]));
        Dims {
            n: x[0],
            c_in: x[1],
            h: x[2],
            w: x[3],
            c_out: w[0],
            kh: w[2],
            kw: w[3],
            oh,
            ow,
            g,
        }
    }
    /// Output pixels per channel.
    pub(super) fn p(&self) -> usize {
        self.oh * self.ow
    }
    /// Rows of one group's patch matrix: `C_in/groups * kH * kW`.
    pub(super) fn kg(&self) -> usize {
        self.c_in / self.g.groups * self.kh * self.kw
    }
    pub(super) fn cog(&self) -> usize {
        self.c_out / self.g.groups
    }
    /// Valid output columns `[lo, hi)` for kernel column `j`: those reading inside the input.
    fn col_range(&self, j: usize) -> (usize, usize) {
        let (s, off, pl) = (self.g.stride[1], j * self.g.dilation[1], self.g.pad[1].0);
        let lo = if pl > off { (pl - off).div_ceil(s) } else { 0 };
        let hi = if self.w + pl > off {
            (self.w + pl - off).div_ceil(s)
        } else {
            0
        };
        let hi = hi.min(self.ow);
        (lo.min(hi), hi)
    }
    /// Input row read by output row `o` and kernel row `i`, if inside the input.
    fn in_row(&self, o: usize, i: usize) -> Option<usize> {
        let r = (o * self.g.stride[0] + i * self.g.dilation[0]).checked_sub(self.g.pad[0].0)?;
        (r < self.h).then_some(r)
    }
    fn in_col(&self, o: usize, j: usize) -> usize {
        o * self.g.stride[1] + j * self.g.dilation[1] - self.g.pad[1].0
    }
}

/// Unfolds one image `[C_in, H, W]` into the columns `[off, off + H_out*W_out)` of `col`, a
/// `[C_in*kH*kW, ld]` row-major matrix.
pub(super) fn im2col(d: &Dims, x: &[f32], col: &mut [f32], ld: usize, off: usize) {
    let p = d.p();
    for c in 0..d.c_in {
        let plane = &x[c * d.h * d.w..][..d.h * d.w];
        for i in 0..d.kh {
            for j in 0..d.kw {
                let row = &mut col[((c * d.kh + i) * d.kw + j) * ld + off..][..p];
                let (lo, hi) = d.col_range(j);
                for o in 0..d.oh {
                    let dst = &mut row[o * d.ow..][..d.ow];
                    let Some(r) = d.in_row(o, i) else {
                        dst.fill(0.0);
                        continue;
                    };
                    let src = &plane[r * d.w..][..d.w];
                    dst[..lo].fill(0.0);
                    dst[hi..].fill(0.0);
                    if lo == hi {
                        continue;
                    }
                    if d.g.stride[1] == 1 {
                        let start = d.in_col(lo, j);
                        dst[lo..hi].copy_from_slice(&src[start..start + hi - lo]);
                    } else {
                        for (oc, v) in dst[lo..hi].iter_mut().enumerate() {
                            *v = src[d.in_col(lo + oc, j)];
                        }
                    }
                }
            }
        }
    }
}

/// Adds the columns `[off, off + H_out*W_out)` of `col` (`[C_in*kH*kW, ld]`) back onto image
/// `dx` `[C_in, H, W]`.
pub(super) fn col2im(d: &Dims, col: &[f32], dx: &mut [f32], ld: usize, off: usize) {
    let p = d.p();
    for c in 0..d.c_in {
        let plane = &mut dx[c * d.h * d.w..][..d.h * d.w];
        for i in 0..d.kh {
            for j in 0..d.kw {
                let row = &col[((c * d.kh + i) * d.kw + j) * ld + off..][..p];
                let (lo, hi) = d.col_range(j);
                if lo == hi {
                    continue;
                }
                for o in 0..d.oh {
                    let Some(r) = d.in_row(o, i) else { continue };
                    let src = &row[o * d.ow..][..d.ow];
                    let dst = &mut plane[r * d.w..][..d.w];
                    if d.g.stride[1] == 1 {
                        let start = d.in_col(lo, j);
                        for (a, b) in dst[start..start + hi - lo].iter_mut().zip(&src[lo..hi]) {
                            *a += b;
                        }
                    } else {
                        for oc in lo..hi {
                            dst[d.in_col(oc, j)] += src[oc];
                        }
                    }
                }
            }
        }
    }
}

/// Row-major `dst[m, n] (+)= lhs[m, k] @ rhs[k, n]` with explicit (row, column) strides, on the
/// calling thread (the kernels parallelise around it).
#[allow(clippy::too_many_arguments)]
pub(super) fn matmul(
    mnk: (usize, usize, usize),
    dst: &mut [f32],
    dst_rs: usize,
    accumulate: bool,
    lhs: &[f32],
    lhs_strides: (usize, usize),
    rhs: &[f32],
    rhs_strides: (usize, usize),
) {
    check_bounds(
        mnk,
        (dst.len(), dst_rs),
        (lhs.len(), lhs_strides),
        (rhs.len(), rhs_strides),
    );
    // SAFETY: `check_bounds` keeps every index inside the three slices; `dst` is borrowed
    // mutably so it aliases neither input.
    unsafe {
        matmul_raw(
            mnk,
            (dst.as_mut_ptr(), dst_rs),
            accumulate,
            (lhs.as_ptr(), lhs_strides),
            (rhs.as_ptr(), rhs_strides),
        )
    }
}

/// Panics unless a product `[m, n] = [m, k] [k, n]` with these (row, column) strides stays inside
/// buffers of these lengths (`dst` row-major with row stride `dst_rs`).
pub(super) fn check_bounds(
    (m, n, k): (usize, usize, usize),
    (dst_len, dst_rs): (usize, usize),
    (lhs_len, (lhs_rs, lhs_cs)): (usize, (usize, usize)),
    (rhs_len, (rhs_rs, rhs_cs)): (usize, (usize, usize)),
) {
    assert!(m == 0 || n == 0 || (m - 1) * dst_rs + n <= dst_len);
    assert!(m == 0 || k == 0 || (m - 1) * lhs_rs + (k - 1) * lhs_cs < lhs_len);
    assert!(k == 0 || n == 0 || (k - 1) * rhs_rs + (n - 1) * rhs_cs < rhs_len);
}

/// [`matmul`] on raw pointers.
///
/// # Safety
/// Every element the product reads or writes (as [`check_bounds`] counts them) lies inside live
/// allocations, and no other thread reads or writes the `dst` elements meanwhile.
pub(super) unsafe fn matmul_raw(
    (m, n, k): (usize, usize, usize),
    (dst, dst_rs): (*mut f32, usize),
    accumulate: bool,
    (lhs, (lhs_rs, lhs_cs)): (*const f32, (usize, usize)),
    (rhs, (rhs_rs, rhs_cs)): (*const f32, (usize, usize)),
) {
    // SAFETY: the caller's contract.
    unsafe {
        gemm(
            m,
            n,
            k,
            dst,
            1,
            dst_rs as isize,
            accumulate,
            lhs,
            lhs_cs as isize,
            lhs_rs as isize,
            rhs,
            rhs_cs as isize,
            rhs_rs as isize,
            1.0,
            1.0,
            false,
            false,
            false,
            Parallelism::None,
        )
    }
}

/// `[..., F]` as `(rows, F)`: a row-wise kernel's view of its input.
pub(super) fn rows_of(shape: &[usize], op: &str) -> (usize, usize) {
    let f = *shape
        .last()
        .unwrap_or_else(|| panic!("{op}: a scalar has no feature axis"));
    (shape.iter().product::<usize>() / f.max(1), f)
}

pub(super) fn f32_data(t: &FlexTensor) -> (FlexTensor, [usize; 4]) {
    let t = t.to_contiguous();
    let s = t.layout().shape();
    let dims = [s[0], s[1], s[2], s[3]];
    (t, dims)
}

pub(super) fn slice(t: &FlexTensor) -> &[f32] {
    t.as_slice::<f32>().expect("contiguous f32 tensor")
}

/// A vector of `len` elements that `fill` writes, every one of them, without a zero fill first.
///
/// Every caller passes a `fill` that writes all `len` elements (a product without `accumulate`,
/// a transposition, an element-wise pass); the unit tests check each output against its
/// definition.
pub(super) fn written(len: usize, fill: impl FnOnce(&mut [MaybeUninit<f32>])) -> Vec<f32> {
    let mut v = Vec::with_capacity(len);
    fill(&mut v.spare_capacity_mut()[..len]);
    // SAFETY: `fill` has initialized all `len` elements (the contract above), and `len` is within
    // the capacity.
    unsafe { v.set_len(len) };
    v
}

pub(super) fn tensor(data: Vec<f32>, shape: Vec<usize>) -> FlexTensor {
    FlexTensor::new(
        Bytes::from_elems(data),
        Layout::contiguous(Shape::from(shape)),
        DType::F32,
    )
}

/// Columns per forward gemm: several images share one call when their feature maps are small.
/// On AlexNet (8x8 maps) 256 measured ~3% faster than one image per call (883-909 vs 912-951 ms
/// per step; the VM's noise is about 5%).
const FORWARD_COLS: usize = 256;
/// Columns per gradient gemm. Batching images here measured *slower* on AlexNet (dW with 1024
/// columns: 1069-1110 vs 912-951 ms per step; dX with 256: 933 ms), so gradients go one image
/// per call; the chunked path is kept (and tested against the per-image one) for other shapes.
pub(super) const GRAD_COLS: usize = 1;

/// Images per gemm: enough that a chunk has at least `cols` output columns (small feature maps
/// make thin per-image matrices), at most an even share of the batch per thread.
fn chunk(d: &Dims, cols: usize) -> usize {
    let share = d.n.div_ceil(rayon::current_num_threads().max(1)).max(1);
    cols.div_ceil(d.p().max(1)).clamp(1, share)
}

/// `dst[o, b*P + p] = src[b, o, p]` for the `b` images of `src` (`[b, C, P]` -> `[C, b*P]`).
fn to_channel_major(src: &[f32], c: usize, p: usize, dst: &mut [f32]) {
    let b = src.len() / (c * p);
    for (img, s) in src.chunks(c * p).enumerate() {
        for (o, plane) in s.chunks(p).enumerate() {
            dst[o * b * p + img * p..][..p].copy_from_slice(plane);
        }
    }
}

/// `dy` of one or more images as `[C_out, images * P]`: the slice itself for one image (already
/// in that layout), else [`to_channel_major`] into `buf`.
fn channel_major<'a>(dy: &'a [f32], d: &Dims, buf: &'a mut [f32]) -> &'a [f32] {
    if dy.len() == d.c_out * d.p() {
        return dy;
    }
    to_channel_major(dy, d.c_out, d.p(), buf);
    buf
}

pub(super) fn forward(d: &Dims, x: &[f32], w: &[f32], b: &[f32]) -> Vec<f32> {
    if conv_direct_flex::applies(d) {
        return conv_direct_flex::forward(d, x, w, b);
    }
    let (p, kg, cog) = (d.p(), d.kg(), d.cog());
    let in_img = d.c_in * d.h * d.w;
    let mut out = vec![0.0f32; d.n * d.c_out * p];
    let per = chunk(d, FORWARD_COLS);
    out.par_chunks_mut(per * d.c_out * p)
        .enumerate()
        .for_each_init(
            || {
                (
                    vec![0.0f32; kg * d.g.groups * per * p],
                    vec![0.0f32; d.c_out * per * p],
                )
            },
            |(col, tmp), (ci, y)| {
                let imgs = y.len() / (d.c_out * p);
                let ld = imgs * p;
                let x = &x[ci * per * in_img..];
                for i in 0..imgs {
                    im2col(d, &x[i * in_img..][..in_img], col, ld, i * p);
                }
                // One image: y = bias, then y += W @ col in place. Several: tmp[o, b*P + p] =
                // W @ col, then scattered to y[b, o, p] with the bias.
                let (dst, accumulate) = if imgs == 1 {
                    for (o, row) in y.chunks_mut(p).enumerate() {
                        row.fill(b[o]);
                    }
                    (&mut *y, true)
                } else {
                    (&mut tmp[..], false)
                };
                for g in 0..d.g.groups {
                    let (lhs, rhs) = (&w[g * cog * kg..], &col[g * kg * ld..]);
                    let dst = &mut dst[g * cog * ld..];
                    matmul(
                        (cog, ld, kg),
                        dst,
                        ld,
                        accumulate,
                        lhs,
                        (kg, 1),
                        rhs,
                        (ld, 1),
                    );
                }
                if imgs == 1 {
                    return;
                }
                for (i, yi) in y.chunks_mut(d.c_out * p).enumerate() {
                    for (o, row) in yi.chunks_mut(p).enumerate() {
                        let src = &tmp[o * ld + i * p..][..p];
                        row.iter_mut().zip(src).for_each(|(r, s)| *r = s + b[o]);
                    }
                }
            },
        );
    out
}

pub(super) fn grad_input(d: &Dims, w: &[f32], dy: &[f32], cols: usize) -> Vec<f32> {
    if conv_direct_flex::applies_grad_input(d) {
        return conv_direct_flex::grad_input(d, w, dy);
    }
    let (p, kg, cog) = (d.p(), d.kg(), d.cog());
    let in_img = d.c_in * d.h * d.w;
    let mut dx = vec![0.0f32; d.n * in_img];
    let per = chunk(d, cols);
    dx.par_chunks_mut(per * in_img).enumerate().for_each_init(
        || {
            (
                vec![0.0f32; kg * d.g.groups * per * p],
                vec![0.0f32; d.c_out * per * p],
            )
        },
        |(col, dyt), (ci, dxc)| {
            let imgs = dxc.len() / in_img;
            let ld = imgs * p;
            let dyt = channel_major(&dy[ci * per * d.c_out * p..][..imgs * d.c_out * p], d, dyt);
            for g in 0..d.g.groups {
                let (lhs, rhs) = (&w[g * cog * kg..], &dyt[g * cog * ld..]);
                matmul(
                    (kg, ld, cog),
                    &mut col[g * kg * ld..],
                    ld,
                    false,
                    lhs,
                    (1, kg),
                    rhs,
                    (ld, 1),
                );
            }
            for (i, dxi) in dxc.chunks_mut(in_img).enumerate() {
                col2im(d, col, dxi, ld, i * p);
            }
        },
    );
    dx
}

pub(super) fn grad_weight(d: &Dims, x: &[f32], dy: &[f32], cols: usize) -> Vec<f32> {
    if conv_direct_flex::applies_grad_weight(d) {
        return conv_direct_flex::grad_weight(d, x, dy);
    }
    let (p, kg) = (d.p(), d.kg());
    let in_img = d.c_in * d.h * d.w;
    let size = d.c_out * kg;
    let threads = rayon::current_num_threads().clamp(1, d.n.max(1));
    let share = d.n.div_ceil(threads);
    let per = chunk(d, cols);
    (0..threads)
        .into_par_iter()
        .map(|t| {
            let mut acc = vec![0.0f32; size];
            let mut col = vec![0.0f32; kg * d.g.groups * per * p];
            let mut dyt = vec![0.0f32; d.c_out * per * p];
            let (start, end) = (t * share, ((t + 1) * share).min(d.n));
            for first in (start..end).step_by(per) {
                let imgs = per.min(end - first);
                let ld = imgs * p;
                for i in 0..imgs {
                    im2col(d, &x[(first + i) * in_img..][..in_img], &mut col, ld, i * p);
                }
                let dyt = channel_major(
                    &dy[first * d.c_out * p..][..imgs * d.c_out * p],
                    d,
                    &mut dyt,
                );
                weight_grad_t(d, dyt, &col, ld, &mut acc, true);
            }
            acc
        })
        .collect::<Vec<_>>()
        .into_iter()
        // Summed in thread order, whatever the scheduling: the gradient is deterministic.
        .reduce(|mut a, b| {
            a.iter_mut().zip(&b).for_each(|(a, b)| *a += b);
            a
        })
        .map(|acc_t| {
            let mut dw = vec![0.0f32; size];
            untranspose_weight_grad(d, &acc_t, &mut dw);
            dw
        })
        .unwrap_or_else(|| vec![0.0f32; size])
}

/// One chunk's weight gradient, transposed: `acc_t[g][kk, o] (+)= Σ_p col[g][kk, p] dy[g][o, p]`
/// (`[kg, cog]` per group; `col` and `dy` have `ld` columns). In this orientation the gemm crate
/// transposes (packs) only the thin `dy` panel; computing `dW = dy · colᵀ` directly made it
/// transpose the whole patch matrix, which took as long as the product (ResNet's 16-channel
/// 3x3 layers, `perf`).
pub(super) fn weight_grad_t(
    d: &Dims,
    dy: &[f32],
    col: &[f32],
    ld: usize,
    acc_t: &mut [f32],
    accumulate: bool,
) {
    let (kg, cog) = (d.kg(), d.cog());
    for g in 0..d.g.groups {
        let (lhs, rhs) = (&col[g * kg * ld..], &dy[g * cog * ld..]);
        let dst = &mut acc_t[g * kg * cog..];
        matmul(
            (kg, cog, ld),
            dst,
            cog,
            accumulate,
            lhs,
            (ld, 1),
            rhs,
            (1, ld),
        );
    }
}

/// [`weight_grad_t`]'s `[kg, cog]` blocks written into `dw`, the weight's
/// `[C_out, C_in/g * kH * kW]`.
pub(super) fn untranspose_weight_grad(d: &Dims, acc_t: &[f32], dw: &mut [f32]) {
    let (kg, cog) = (d.kg(), d.cog());
    for g in 0..d.g.groups {
        let (src, dst) = (
            &acc_t[g * kg * cog..][..kg * cog],
            &mut dw[g * cog * kg..][..cog * kg],
        );
        for (kk, row) in src.chunks_exact(cog).enumerate() {
            for (o, v) in row.iter().enumerate() {
                dst[o * kg + kk] = *v;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The chunked gradient paths (several images per gemm) agree with one image per call.
    #[test]
    fn chunked_gradients_match_per_image() {
        let g = ConvGeom {
            stride: [2, 1],
            pad: [(1, 0), (1, 1)],
            dilation: [1, 2],
            groups: 2,
        };
        let d = Dims::new([5, 4, 6, 7], [6, 2, 3, 2], g);
        let fill = |n: usize, k: f32| (0..n).map(|i| (i as f32 * k).sin()).collect::<Vec<_>>();
        let x = fill(d.n * d.c_in * d.h * d.w, 0.37);
        let w = fill(d.c_out * d.kg(), 0.71);
        let dy = fill(d.n * d.c_out * d.p(), 0.53);
        for cols in [64, 1 << 20] {
            let close = |a: &[f32], b: &[f32]| {
                a.len() == b.len()
                    && !a.is_empty()
                    && a.iter().zip(b).all(|(a, b)| (a - b).abs() < 1e-5)
            };
            assert!(close(
                &grad_input(&d, &w, &dy, cols),
                &grad_input(&d, &w, &dy, 1)
            ));
            assert!(close(
                &grad_weight(&d, &x, &dy, cols),
                &grad_weight(&d, &x, &dy, 1)
            ));
        }
    }
}
