//! The direct convolution's two AVX-512 register blocks: the AVX2 blocks' loops
//! (`super::avx2`) on 16-float vectors, with twice the output channels (forward: 12 channels x 32
//! positions) or `dy` rows (weight gradient: 4 x 6 input channels, 16 lanes per weight) per
//! block, as AVX-512 has 32 vector registers.

use super::{Blocks, Grid, WArgs};
use std::arch::x86_64::*;

/// Output channels per forward block: 2 x 12 accumulators, two input vectors, one broadcast.
const CB: usize = 12;
/// Input channels per weight-gradient block: 4 x 6 accumulators, four `dy` vectors, one input.
const IB: usize = 6;
/// `dy` rows (output channels) per weight-gradient block.
const OB: usize = 4;

/// 12 output channels x 32 positions forward; 4 `dy` rows x 6 input channels, 16 lanes per
/// weight.
pub(super) const BLOCKS: Blocks = Blocks {
    cb: CB,
    ob: OB,
    ib: IB,
    lanes: 16,
};

/// One forward register block of `V` vectors (16 positions each): `out[c * len + j] =
/// Σ_{i, u, v} w[i][u][v][c] · x[i * plane + u * wp + v + j]` for `c < C`, `j < 16 V` (`w`
/// packed [`CB`] channels wide, its first `C` used). `V = 2`, `C = 12`: 24 accumulators, two
/// input vectors, one broadcast; per tap and input channel 2 loads, 12 broadcasts, 24 FMAs.
///
/// # Safety
/// AVX-512F present; `x` readable up to `(c - 1) * plane + (kh - 1) * wp + kw - 1 + 16 V`, `w`
/// for `c * kh * kw * CB` floats, `out` writable at `(C - 1) * len + 16 V`.
#[target_feature(enable = "avx512f")]
unsafe fn block<const C: usize, const V: usize>(
    g: &Grid,
    x: *const f32,
    w: *const f32,
    out: *mut f32,
) {
    let mut acc = [[_mm512_setzero_ps(); V]; C];
    let mut w = w;
    for i in 0..g.c {
        let xi = x.add(i * g.plane);
        for u in 0..g.k[0] {
            let xr = xi.add(u * g.wp);
            for v in 0..g.k[1] {
                let s = xr.add(v);
                let xv: [__m512; V] = std::array::from_fn(|p| _mm512_loadu_ps(s.add(16 * p)));
                for (c, a) in acc.iter_mut().enumerate() {
                    let t = _mm512_set1_ps(*w.add(c));
                    for (a, &xv) in a.iter_mut().zip(&xv) {
                        *a = _mm512_fmadd_ps(t, xv, *a);
                    }
                }
                w = w.add(CB);
            }
        }
    }
    for (c, a) in acc.iter().enumerate() {
        for (p, a) in a.iter().enumerate() {
            _mm512_storeu_ps(out.add(c * g.len + 16 * p), *a);
        }
    }
}

/// [`block`] for `c` (1 to [`CB`]) channels and `V` vectors.
///
/// # Safety
/// As [`block`].
unsafe fn block_v<const V: usize>(c: usize, g: &Grid, x: *const f32, w: *const f32, o: *mut f32) {
    match c {
        1 => block::<1, V>(g, x, w, o),
        2 => block::<2, V>(g, x, w, o),
        3 => block::<3, V>(g, x, w, o),
        4 => block::<4, V>(g, x, w, o),
        5 => block::<5, V>(g, x, w, o),
        6 => block::<6, V>(g, x, w, o),
        7 => block::<7, V>(g, x, w, o),
        8 => block::<8, V>(g, x, w, o),
        9 => block::<9, V>(g, x, w, o),
        10 => block::<10, V>(g, x, w, o),
        11 => block::<11, V>(g, x, w, o),
        _ => block::<CB, V>(g, x, w, o),
    }
}

/// Runs [`block`] for `c` (1 to [`CB`]) channels over the positions `q..` of the wide grid:
/// 32 of them when `q + 32 <= len`, else 16. Returns how many.
///
/// # Safety
/// As [`block`], for the positions covered.
pub(super) unsafe fn block_of(
    c: usize,
    (g, q): (&Grid, usize),
    x: *const f32,
    w: *const f32,
    o: *mut f32,
) -> usize {
    if q + 32 <= g.len {
        block_v::<2>(c, g, x, w, o);
        32
    } else {
        block_v::<1>(c, g, x, w, o);
        16
    }
}

/// One weight-gradient register block of [`OB`] `dy` rows and `I` input channels, added into
/// `acc` with 16 lanes per weight: `acc[o * ald + i * 16 + l] += Σ_j dy[o * dy_rs + 16j + l] ·
/// x[i * plane + 16j + l]` for `o < OB`, `i < I`, `l < 16`, `j < count / 16`. Per 16
/// positions: 4 + I loads, 4 I FMAs.
///
/// # Safety
/// AVX-512F present; `dy` readable for `(OB - 1) dy_rs + count` floats, `x` up to `(I - 1) *
/// plane + count`, `acc` writable at `(OB - 1) * ald + I * 16`; `count` a multiple of 16.
#[target_feature(enable = "avx512f")]
unsafe fn wblock<const I: usize>((dy, dy_rs, count, x, plane, acc, ald): WArgs) {
    // Fresh sums per call (one image, one pass of positions), added into `acc` at the end: a
    // blocked summation, as in the AVX2 block, rather than one running sum over the batch.
    let at = |o: usize, i: usize| acc.add(o * ald + i * 16);
    let mut a = [[_mm512_setzero_ps(); I]; OB];
    for j in (0..count).step_by(16) {
        let d: [__m512; OB] = std::array::from_fn(|o| _mm512_loadu_ps(dy.add(o * dy_rs + j)));
        for i in 0..I {
            let xv = _mm512_loadu_ps(x.add(i * plane + j));
            for (a, &d) in a.iter_mut().zip(&d) {
                a[i] = _mm512_fmadd_ps(d, xv, a[i]);
            }
        }
    }
    for (o, row) in a.iter().enumerate() {
        for (i, v) in row.iter().enumerate() {
            _mm512_storeu_ps(at(o, i), _mm512_add_ps(_mm512_loadu_ps(at(o, i)), *v));
        }
    }
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
