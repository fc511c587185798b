//! The direct convolution's two AVX2 register blocks (the loops of `conv_direct_flex`).

use super::{Blocks, Grid, WArgs};
use std::arch::x86_64::*;

/// Output channels per forward block.
const CB: usize = 6;
/// Input channels per weight-gradient block.
const IB: usize = 6;

/// 6 output channels x 16 positions forward; 2 `dy` rows x 6 input channels, 8 lanes per weight.
pub(super) const BLOCKS: Blocks = Blocks {
    cb: CB,
    ob: 2,
    ib: IB,
    lanes: 8,
};

/// One forward register block: `out[c * len + j] = Σ_{i, u, v} w[i][u][v][c] · x[i * plane +
/// u * wp + v + j]` for `c < C`, `j < 16` (`w` packed `CB` channels wide, its first `C` used).
///
/// # Safety
/// AVX2 and FMA present; `x` readable up to `(c - 1) * plane + (kh - 1) * wp + kw - 1 + 16`,
/// `w` for `c * kh * kw * CB` floats, `out` writable at `(C - 1) * len + 16`.
#[target_feature(enable = "avx2,fma")]
unsafe fn block<const C: usize>(g: &Grid, x: *const f32, w: *const f32, out: *mut f32) {
    // 2 x C accumulators, two input vectors and one broadcast: 15 of the 16 registers for
    // C = 6. (4 x 3 needed all 16: LLVM then rotated the accumulators through spare registers
    // every iteration and spilled one, `perf annotate`.)
    let mut acc = [[_mm256_setzero_ps(); 2]; C];
    let mut w = w;
    for i in 0..g.c {
        let xi = x.add(i * g.plane);
        for u in 0..g.k[0] {
            let xr = xi.add(u * g.wp);
            for v in 0..g.k[1] {
                let s = xr.add(v);
                let (x0, x1) = (_mm256_loadu_ps(s), _mm256_loadu_ps(s.add(8)));
                for (c, a) in acc.iter_mut().enumerate() {
                    let t = _mm256_broadcast_ss(&*w.add(c));
                    a[0] = _mm256_fmadd_ps(t, x0, a[0]);
                    a[1] = _mm256_fmadd_ps(t, x1, a[1]);
                }
                w = w.add(CB);
            }
        }
    }
    for (c, a) in acc.iter().enumerate() {
        _mm256_storeu_ps(out.add(c * g.len), a[0]);
        _mm256_storeu_ps(out.add(c * g.len + 8), a[1]);
    }
}

/// One weight-gradient register block, added into `acc`: `acc[o * ald + i * 8 + l] +=
/// Σ_j dy[o * dy_rs + 8j + l] · x[i * plane + 8j + l]` for `o < 2`, `i < I`, lanes `l < 8`,
/// `j < count / 8`.
///
/// # Safety
/// AVX2 and FMA present; `dy` readable for `dy_rs + count` floats, `x` up to `(I - 1) * plane
/// + count`, `acc` writable at `ald + I * 8`; `count` a multiple of 8.
#[target_feature(enable = "avx2,fma")]
unsafe fn wblock<const I: usize>((dy, dy_rs, count, x, plane, acc, ald): WArgs) {
    // 2 x I accumulators, two `dy` vectors and one input vector: 15 registers for I = 6.
    let mut a = [[_mm256_setzero_ps(); I]; 2];
    for j in (0..count).step_by(8) {
        let (d0, d1) = (
            _mm256_loadu_ps(dy.add(j)),
            _mm256_loadu_ps(dy.add(dy_rs + j)),
        );
        let [a0, a1] = &mut a;
        for (i, (s0, s1)) in a0.iter_mut().zip(a1).enumerate() {
            let xv = _mm256_loadu_ps(x.add(i * plane + j));
            *s0 = _mm256_fmadd_ps(d0, xv, *s0);
            *s1 = _mm256_fmadd_ps(d1, xv, *s1);
        }
    }
    for (o, row) in a.iter().enumerate() {
        for (i, v) in row.iter().enumerate() {
            let p = acc.add(o * ald + i * 8);
            _mm256_storeu_ps(p, _mm256_add_ps(_mm256_loadu_ps(p), *v));
        }
    }
}

/// [`block`] for `c` (1 to [`CB`]) channels over the 16 positions from `q`; returns 16.
///
/// # Safety
/// As [`block`].
pub(super) unsafe fn block_of(
    c: usize,
    (g, _q): (&Grid, usize),
    x: *const f32,
    w: *const f32,
    o: *mut f32,
) -> usize {
    match c {
        1 => block::<1>(g, x, w, o),
        2 => block::<2>(g, x, w, o),
        3 => block::<3>(g, x, w, o),
        4 => block::<4>(g, x, w, o),
        5 => block::<5>(g, x, w, o),
        _ => block::<CB>(g, x, w, o),
    }
    16
}

/// [`wblock`] for `i` (1 to [`IB`]) input channels.
///
/// # Safety
/// As [`wblock`].
pub(super) unsafe fn wblock_of(i: usize, args: WArgs) {
    match i {
        1 => wblock::<1>(args),
        2 => wblock::<2>(args),
        3 => wblock::<3>(args),
        4 => wblock::<4>(args),
        5 => wblock::<5>(args),
        _ => wblock::<IB>(args),
    }
}
