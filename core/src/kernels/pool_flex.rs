//! The `flex` max-pool kernels (no padding, no dilation), parallel over planes.

use super::conv_flex::{f32_data as contiguous4, slice as f32_slice, tensor as new_tensor};
use burn::backend::flex::FlexTensor;
use rayon::prelude::*;

/// Whether `v` replaces the running maximum `m`: larger, or NaN (NaN propagates, first one wins).
#[inline(always)]
fn beats(v: f32, m: f32) -> bool {
    v > m || (v.is_nan() && !m.is_nan())
}

fn out_len(n: usize, k: usize, s: usize) -> usize {
    (n - k) / s + 1
}

/// For each output of one plane, calls `f(output index, flat input index of the window's first
/// maximum)`.
#[inline(always)]
fn argmax_plane(
    plane: &[f32],
    (h, w): (usize, usize),
    (kh, kw): (usize, usize),
    (sh, sw): (usize, usize),
    mut f: impl FnMut(usize, usize),
) {
    let (oh, ow) = (out_len(h, kh, sh), out_len(w, kw, sw));
    for o in 0..oh {
        for q in 0..ow {
            let base = o * sh * w + q * sw;
            let (mut best, mut m) = (base, plane[base]);
            for i in 0..kh {
                let row = &plane[base + i * w..][..kw];
                for (j, &v) in row.iter().enumerate() {
                    if beats(v, m) {
                        m = v;
                        best = base + i * w + j;
                    }
                }
            }
            f(o * ow + q, best);
        }
    }
}

pub(super) fn max_pool2d(x: FlexTensor, kernel: [usize; 2], stride: [usize; 2]) -> FlexTensor {
    let (x, [n, c, h, w]) = contiguous4(&x);
    let (oh, ow) = (
        out_len(h, kernel[0], stride[0]),
        out_len(w, kernel[1], stride[1]),
    );
    let xs = f32_slice(&x);
    let mut out = vec![0.0f32; n * c * oh * ow];
    let k = (kernel[0], kernel[1]);
    out.par_chunks_mut(oh * ow).enumerate().for_each(|(pi, y)| {
        let plane = &xs[pi * h * w..][..h * w];
        if k == (2, 2) && stride == [2, 2] {
            // The common case, without the window loop.
            for (o, yrow) in y.chunks_mut(ow).enumerate() {
                let (r0, r1) = (&plane[2 * o * w..][..w], &plane[(2 * o + 1) * w..][..w]);
                for (q, v) in yrow.iter_mut().enumerate() {
                    let mut m = r0[2 * q];
                    for c in [r0[2 * q + 1], r1[2 * q], r1[2 * q + 1]] {
                        if beats(c, m) {
                            m = c;
                        }
                    }
                    *v = m;
                }
            }
        } else {
            argmax_plane(plane, (h, w), k, (stride[0], stride[1]), |o, i| {
                y[o] = plane[i]
            });
        }
    });
    new_tensor(out, vec![n, c, oh, ow])
}

pub(super) fn max_pool2d_backward(
    x: FlexTensor,
    dy: FlexTensor,
    kernel: [usize; 2],
    stride: [usize; 2],
) -> FlexTensor {
    let (x, [n, c, h, w]) = contiguous4(&x);
    let (dy, [_, _, oh, ow]) = contiguous4(&dy);
    let (xs, gs) = (f32_slice(&x), f32_slice(&dy));
    let mut dx = vec![0.0f32; n * c * h * w];
    dx.par_chunks_mut(h * w).enumerate().for_each(|(pi, dxp)| {
        let plane = &xs[pi * h * w..][..h * w];
        let g = &gs[pi * oh * ow..][..oh * ow];
        argmax_plane(
            plane,
            (h, w),
            (kernel[0], kernel[1]),
            (stride[0], stride[1]),
            |o, i| dxp[i] += g[o],
        );
    });
    new_tensor(dx, vec![n, c, h, w])
}

/// `t` at the position of each window's first maximum of `x` (max pooling's tangent map).
pub(super) fn max_pool2d_select(
    x: FlexTensor,
    t: FlexTensor,
    kernel: [usize; 2],
    stride: [usize; 2],
) -> FlexTensor {
    let (x, [n, c, h, w]) = contiguous4(&x);
    let (t, ts) = contiguous4(&t);
    assert_eq!(
        ts,
        [n, c, h, w],
        "max_pool2d_select: tangent and input differ in shape"
    );
    let (oh, ow) = (
        out_len(h, kernel[0], stride[0]),
        out_len(w, kernel[1], stride[1]),
    );
    let (xs, tv) = (f32_slice(&x), f32_slice(&t));
    let mut out = vec![0.0f32; n * c * oh * ow];
    out.par_chunks_mut(oh * ow).enumerate().for_each(|(pi, y)| {
        let (plane, tp) = (&xs[pi * h * w..][..h * w], &tv[pi * h * w..][..h * w]);
        argmax_plane(
            plane,
            (h, w),
            (kernel[0], kernel[1]),
            (stride[0], stride[1]),
            |o, i| y[o] = tp[i],
        );
    });
    new_tensor(out, vec![n, c, oh, ow])
}
