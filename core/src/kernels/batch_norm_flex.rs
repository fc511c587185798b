//! Batch normalisation in training mode on `flex` ([`super::batch_norm`]), forward and backward,
//! for `[N, C, S]` (any trailing spatial axes flattened to `S`).
//!
//! Forward: per channel (in parallel), `μ_c` and `σ²_c` over the `N S` values from sums shifted
//! by the channel's first value (one pass; a large common offset does not cancel),
//! `r_c = 1/√(σ²_c + ε)`; then per image (in parallel) `y = x a_c + b'_c` with `a_c = r_c w_c`,
//! `b'_c = b_c - μ_c a_c`.
//! Backward with `x̂ = (x - μ) r`: per channel `db_c = Σ dy`, `dw_c = Σ dy x̂`, then per image
//! `dx = w_c r_c (dy - db_c / M - x̂ dw_c / M)`, `M = N S`. Two passes each way where the
//! tensor-op form makes about ten forward and twenty backward.

use super::conv_flex::{slice, tensor, written};
use burn::backend::flex::FlexTensor;
use rayon::prelude::*;

/// `(N, C, S)` of an `[N, C, ...]` tensor.
fn ncs(shape: &[usize]) -> (usize, usize, usize) {
    assert!(
        shape.len() >= 2,
        "batch_norm: input {shape:?} is not [N, C, ...]"
    );
    (shape[0], shape[1], shape[2..].iter().product())
}

/// `f(channel plane of image n)` summed into `acc` for every image, per channel in parallel.
fn per_channel<const K: usize>(
    (n, c, s): (usize, usize, usize),
    f: impl Fn(usize, usize, &mut [f64; K]) + Sync,
) -> Vec<[f64; K]> {
    (0..c)
        .into_par_iter()
        .map(|ch| {
            let mut acc = [0.0f64; K];
            for img in 0..n {
                f(img * c * s + ch * s, ch, &mut acc);
            }
            acc
        })
        .collect()
}

/// Sums of a plane in f32 over eight lanes (vectorizes), returned in f64.
#[inline(always)]
fn lane_sums(len: usize, g: impl Fn(usize) -> (f32, f32)) -> (f64, f64) {
    let (mut a, mut b) = ([0.0f32; 8], [0.0f32; 8]);
    let full = len / 8 * 8;
    for i in (0..full).step_by(8) {
        for l in 0..8 {
            let (u, v) = g(i + l);
            a[l] += u;
            b[l] += v;
        }
    }
    let (mut sa, mut sb) = (0.0f64, 0.0f64);
    for i in full..len {
        let (u, v) = g(i);
        sa += u as f64;
        sb += v as f64;
    }
    (
        sa + a.iter().map(|&v| v as f64).sum::<f64>(),
        sb + b.iter().map(|&v| v as f64).sum::<f64>(),
    )
}

/// `y = x a_c + b_c` per image in parallel (`a`, `b` per channel).
fn affine((n, c, s): (usize, usize, usize), x: &[f32], a: &[f32], b: &[f32]) -> Vec<f32> {
    // Every element written (n c s = 0 when the loop does not run).
    written(n * c * s, |y| {
        if s > 0 && c > 0 {
            y.par_chunks_mut(c * s)
                .zip(x.par_chunks(c * s))
                .for_each(|(y, x)| {
                    for (((y, x), &a), &b) in y.chunks_mut(s).zip(x.chunks(s)).zip(a).zip(b) {
                        y.iter_mut().zip(x).for_each(|(y, &x)| {
                            y.write(x * a + b);
                        });
                    }
                });
        }
    })
}

/// `(y, mean [C], biased variance [C])`.
pub(super) fn forward(
    x: FlexTensor,
    w: FlexTensor,
    b: FlexTensor,
    eps: f64,
) -> (FlexTensor, FlexTensor, FlexTensor) {
    let (x, w, b) = (x.to_contiguous(), w.to_contiguous(), b.to_contiguous());
    let shape = x.layout().shape().to_vec();
    let d @ (n, c, s) = ncs(&shape);
    let (xs, ws, bs) = (slice(&x), slice(&w), slice(&b));
    assert!(
        ws.len() == c && bs.len() == c && n * s > 0,
        "batch_norm: weight {} / bias {} for input {shape:?}",
        ws.len(),
        bs.len()
    );
    let sums = per_channel::<2>(d, |off, ch, acc| {
        let (plane, shift) = (&xs[off..][..s], xs[ch * s]);
        let (s1, s2) = lane_sums(s, |i| {
            let v = plane[i] - shift;
            (v, v * v)
        });
        acc[0] += s1;
        acc[1] += s2;
    });
    let m = (n * s) as f64;
    let (mut mean, mut variance, mut a, mut sh) = (vec![], vec![], vec![], vec![]);
    for (ch, [s1, s2]) in sums.into_iter().enumerate() {
        let d = s1 / m;
        let var = (s2 / m - d * d).max(0.0);
        let mu = xs[ch * s] as f64 + d;
        let r = 1.0 / (var + eps).sqrt();
        let scale = r * ws[ch] as f64;
        mean.push(mu as f32);
        variance.push(var as f32);
        a.push(scale as f32);
        sh.push((bs[ch] as f64 - mu * scale) as f32);
    }
    let y = affine(d, xs, &a, &sh);
    (
        tensor(y, shape),
        tensor(mean, vec![c]),
        tensor(variance, vec![c]),
    )
}

/// `(dx, dw, db)`.
pub(super) fn backward(
    x: FlexTensor,
    w: FlexTensor,
    mean: FlexTensor,
    var: FlexTensor,
    dy: FlexTensor,
    eps: f64,
) -> (FlexTensor, FlexTensor, FlexTensor) {
    let (x, w, dy) = (x.to_contiguous(), w.to_contiguous(), dy.to_contiguous());
    let (mean, var) = (mean.to_contiguous(), var.to_contiguous());
    let rs: Vec<f32> = slice(&var)
        .iter()
        .map(|&v| (1.0 / (v as f64 + eps).sqrt()) as f32)
        .collect();
    let shape = x.layout().shape().to_vec();
    let d @ (n, c, s) = ncs(&shape);
    let (xs, ws, dys, ms) = (slice(&x), slice(&w), slice(&dy), slice(&mean));
    assert!(
        dys.len() == xs.len() && ws.len() == c && ms.len() == c && rs.len() == c,
        "batch_norm backward: shapes do not match the input {shape:?}"
    );
    let sums = per_channel::<2>(d, |off, ch, acc| {
        let (x, dy, mu) = (&xs[off..][..s], &dys[off..][..s], ms[ch]);
        let (s1, s2) = lane_sums(s, |i| (dy[i], dy[i] * (x[i] - mu)));
        acc[0] += s1;
        acc[1] += s2;
    });
    let m = (n * s) as f32;
    let (mut db, mut dw) = (vec![0.0f32; c], vec![0.0f32; c]);
    for (ch, [s1, s2]) in sums.into_iter().enumerate() {
        db[ch] = s1 as f32;
        dw[ch] = (s2 * rs[ch] as f64) as f32;
    }
    // dx = k (dy - db/M - (x - μ) r dw/M) with k = w r: per channel dy k + (x - μ) q + t.
    // Every element written (n c s = 0 when the loop does not run).
    let dx = written(n * c * s, |dx| {
        if s > 0 && c > 0 {
            dx.par_chunks_mut(c * s)
                .zip(xs.par_chunks(c * s).zip(dys.par_chunks(c * s)))
                .for_each(|(dx, (x, dy))| {
                    for (ch, ((dx, x), dy)) in dx
                        .chunks_mut(s)
                        .zip(x.chunks(s))
                        .zip(dy.chunks(s))
                        .enumerate()
                    {
                        let k = ws[ch] * rs[ch];
                        let q = -k * rs[ch] * dw[ch] / m;
                        let (t, mu) = (-k * db[ch] / m, ms[ch]);
                        for ((dx, &x), &dy) in dx.iter_mut().zip(x).zip(dy) {
                            dx.write(dy * k + (x - mu) * q + t);
                        }
                    }
                });
        }
    });
    (tensor(dx, shape), tensor(dw, vec![c]), tensor(db, vec![c]))
}
