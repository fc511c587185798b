//! The `flex` max-pool kernels (no padding, no dilation), parallel over planes.

use super::conv_flex::{f32_data as contiguous4, slice as f32_slice, tensor as new_tensor};
use burn::backend::flex::FlexTensor;
use rayon::prelude::*;

/// Whether `v` replaces the running maximum `m`: larger, or NaN (NaN propagates, first one wins).
/// Non-short-circuit, so window loops compile to selects rather than data-dependent branches.
#[inline(always)]
fn beats(v: f32, m: f32) -> bool {
    (v > m) | (v.is_nan() & !m.is_nan())
}

/// Which of the 2x2 window `[a, b; c, d]` (row-major) holds its first maximum, as four masks,
/// and the maximum; branch- and index-free so that the row loops vectorize.
#[inline(always)]
fn max4(a: f32, b: f32, c: f32, d: f32) -> ([bool; 4], f32) {
    let tb = beats(b, a);
    let m = if tb { b } else { a };
    let tc = beats(c, m);
    let m = if tc { c } else { m };
    let td = beats(d, m);
    let m = if td { d } else { m };
    let (sc, sb) = (tc & !td, tb & !tc & !td);
    ([!(tb | tc | td), sb, sc, td], m)
}

/// 2x2, stride-2 pooling of one plane: `y` (`[H/2, W/2]`) from `x` (`[H, W]`), branch-free
/// so the row loop vectorizes (inlined into [`widest!`]'s wide-vector copies).
#[inline(always)]
fn pool_plane_2x2(x: &[f32], w: usize, y: &mut [f32]) {
    let ow = w / 2;
    for (o, yrow) in y.chunks_exact_mut(ow).enumerate() {
        let (r0, r1) = (&x[2 * o * w..][..2 * ow], &x[(2 * o + 1) * w..][..2 * ow]);
        let pairs = r0.chunks_exact(2).zip(r1.chunks_exact(2));
        for (v, (a, b)) in yrow.iter_mut().zip(pairs) {
            *v = max4(a[0], a[1], b[0], b[1]).1;
        }
    }
}

/// The gradient of [`pool_plane_2x2`]: each window's `dy` written to its first maximum, zeros
/// to the other three (the windows are disjoint, so nothing accumulates; the odd last row and
/// column of `dx`, zeroed by the caller, stay so).
fn unpool_plane_2x2(x: &[f32], w: usize, dy: &[f32], dx: &mut [f32]) {
    let ow = w / 2;
    #[cfg(target_arch = "x86_64")]
    let avx2 = ow >= 8 && std::arch::is_x86_feature_detected!("avx2");
    for (o, g) in dy.chunks_exact(ow).enumerate() {
        let (r0, r1) = (&x[2 * o * w..][..2 * ow], &x[(2 * o + 1) * w..][..2 * ow]);
        let (d0, d1) = dx[2 * o * w..][..2 * w].split_at_mut(w);
        #[cfg(target_arch = "x86_64")]
        if avx2 {
            // SAFETY: the CPU has AVX2 (checked before the loop).
            unsafe { unpool_row_avx2([r0, r1], g, [d0, d1]) };
            continue;
        }
        for q in 0..ow {
            let ([sa, sb, sc, sd], _) = max4(r0[2 * q], r0[2 * q + 1], r1[2 * q], r1[2 * q + 1]);
            let pick = |s: bool| if s { g[q] } else { 0.0 };
            (d0[2 * q], d0[2 * q + 1]) = (pick(sa), pick(sb));
            (d1[2 * q], d1[2 * q + 1]) = (pick(sc), pick(sd));
        }
    }
}

/// [`unpool_plane_2x2`]'s row of `g.len() >= 8` windows, eight at a time. (LLVM leaves this loop
/// scalar, or vectorizes it only for rows far longer than pooling's, whose scalar remainder then
/// dominates.) The last block is shifted back to end at the row's end: recomputing a few windows
/// writes the same values again.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2")]
fn unpool_row_avx2([r0, r1]: [&[f32]; 2], g: &[f32], [d0, d1]: [&mut [f32]; 2]) {
    use std::arch::x86_64::*;
    let ow = g.len();
    assert!(ow >= 8 && r0.len() >= 2 * ow && r1.len() >= 2 * ow);
    assert!(d0.len() >= 2 * ow && d1.len() >= 2 * ow);
    // beats(v, m) lane-wise: v > m, or v NaN and m not.
    let beats = |v: __m256, m: __m256| {
        let nan_v = _mm256_cmp_ps::<_CMP_UNORD_Q>(v, v);
        let num_m = _mm256_cmp_ps::<_CMP_ORD_Q>(m, m);
        _mm256_or_ps(
            _mm256_cmp_ps::<_CMP_GT_OQ>(v, m),
            _mm256_and_ps(nan_v, num_m),
        )
    };
    let mut q = 0;
    while q < ow {
        let at = q.min(ow - 8);
        // SAFETY: the asserts above keep windows at..at + 8 (inputs 2 at..2 at + 16) in bounds.
        unsafe {
            let load = |s: &[f32], i: usize| _mm256_loadu_ps(s.as_ptr().add(2 * at + i));
            // Even/odd columns of 16 inputs: windows in the order [0 1 4 5 | 2 3 6 7], which
            // unpacklo/hi below turn back into 16 consecutive outputs.
            let split = |s: &[f32]| {
                let (lo, hi) = (load(s, 0), load(s, 8));
                (
                    _mm256_shuffle_ps::<0b10_00_10_00>(lo, hi),
                    _mm256_shuffle_ps::<0b11_01_11_01>(lo, hi),
                )
            };
            let ((a, b), (c, d)) = (split(r0), split(r1));
            let gv = _mm256_loadu_ps(g.as_ptr().add(at));
            let gv = _mm256_castpd_ps(_mm256_permute4x64_pd::<0b11_01_10_00>(_mm256_castps_pd(gv)));
            let tb = beats(b, a);
            let m = _mm256_blendv_ps(a, b, tb);
            let tc = beats(c, m);
            let m = _mm256_blendv_ps(m, c, tc);
            let td = beats(d, m);
            let sc = _mm256_andnot_ps(td, tc);
            let sb = _mm256_andnot_ps(_mm256_or_ps(tc, td), tb);
            let moved = _mm256_or_ps(_mm256_or_ps(tb, tc), td);
            let (ga, gb) = (_mm256_andnot_ps(moved, gv), _mm256_and_ps(sb, gv));
            let (gc, gd) = (_mm256_and_ps(sc, gv), _mm256_and_ps(td, gv));
            let store = |s: &mut [f32], i: usize, v: __m256| {
                _mm256_storeu_ps(s.as_mut_ptr().add(2 * at + i), v)
            };
            store(d0, 0, _mm256_unpacklo_ps(ga, gb));
            store(d0, 8, _mm256_unpackhi_ps(ga, gb));
            store(d1, 0, _mm256_unpacklo_ps(gc, gd));
            store(d1, 8, _mm256_unpackhi_ps(gc, gd));
        }
        q = at + 8;
    }
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
            widest!(pool_plane_2x2(plane, w, y));
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
        if kernel == [2, 2] && stride == [2, 2] {
            return unpool_plane_2x2(plane, w, g, dxp);
        }
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
