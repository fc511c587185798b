//! Fused layer normalisation on `flex` ([`super::layer_norm`]), forward and backward, over rows
//! of the last axis, in parallel over row blocks.
//!
//! Forward per row `x` of `F` features: `μ = mean(x)`, `σ² = mean((x - μ)²)` (two passes over
//! the row, which is in cache), `r = 1/√(σ² + ε)`, `y = (x - μ) r w + b`; `μ` and `r` are saved.
//! Backward with `x̂ = (x - μ) r` and `g = dy ∘ w`:
//! `dx = r (g - mean(g) - x̂ mean(g ∘ x̂))`, `dw = Σ_rows dy ∘ x̂`, `db = Σ_rows dy`
//! (per-block partial sums, then added). The tensor-op form makes about eight passes forward
//! and fifteen backward, each allocating.

use super::conv_flex::{rows_of, slice, tensor};
use burn::backend::flex::FlexTensor;
use rayon::prelude::*;

/// Rows per parallel block.
const ROWS: usize = 64;

fn rows_and_features(x: &FlexTensor) -> (usize, usize) {
    rows_of(x.layout().shape(), "layer_norm")
}

/// `Σ g(xᵢ)` over eight interleaved partial sums: vectorizes, and rounds like a pairwise sum
/// of depth `n / 8` instead of a running one.
#[inline(always)]
fn lanes_sum(x: &[f32], g: impl Fn(f32) -> f32) -> f32 {
    let mut acc = [0.0f32; 8];
    let mut chunks = x.chunks_exact(8);
    for c in &mut chunks {
        for (a, &x) in acc.iter_mut().zip(c) {
            *a += g(x);
        }
    }
    let tail: f32 = chunks.remainder().iter().map(|&x| g(x)).sum();
    acc.iter().sum::<f32>() + tail
}

#[inline(always)]
fn forward_rows(
    x: &[f32],
    w: &[f32],
    b: &[f32],
    eps: f32,
    y: &mut [f32],
    mean: &mut [f32],
    rstd: &mut [f32],
) {
    let f = w.len();
    for (((x, y), m), r) in x
        .chunks(f)
        .zip(y.chunks_mut(f))
        .zip(mean.iter_mut())
        .zip(rstd.iter_mut())
    {
        // Shifted by the row's first entry, so a large common offset does not cancel.
        let x0 = x[0];
        let mu = x0 + lanes_sum(x, |x| x - x0) / f as f32;
        let var = lanes_sum(x, |x| (x - mu) * (x - mu)) / f as f32;
        let rs = 1.0 / (var + eps).sqrt();
        for (((y, &x), &w), &b) in y.iter_mut().zip(x).zip(w).zip(b) {
            *y = (x - mu) * rs * w + b;
        }
        (*m, *r) = (mu, rs);
    }
}

/// `(y, mean [rows], rstd [rows])`.
pub(super) fn forward(
    x: FlexTensor,
    w: FlexTensor,
    b: FlexTensor,
    eps: f64,
) -> (FlexTensor, FlexTensor, FlexTensor) {
    let (x, w, b) = (x.to_contiguous(), w.to_contiguous(), b.to_contiguous());
    let shape = x.layout().shape().to_vec();
    let (rows, f) = rows_and_features(&x);
    let (xs, ws, bs) = (slice(&x), slice(&w), slice(&b));
    assert!(
        ws.len() == f && bs.len() == f,
        "layer_norm: weight {} / bias {} for {f} features",
        ws.len(),
        bs.len()
    );
    let (mut y, mut mean, mut rstd) = (vec![0.0f32; rows * f], vec![0.0; rows], vec![0.0; rows]);
    y.par_chunks_mut(ROWS * f)
        .zip(mean.par_chunks_mut(ROWS))
        .zip(rstd.par_chunks_mut(ROWS))
        .enumerate()
        .for_each(|(i, ((y, m), r))| {
            let x = &xs[i * ROWS * f..][..y.len()];
            widest!(forward_rows(x, ws, bs, eps as f32, y, m, r))
        });
    (
        tensor(y, shape),
        tensor(mean, vec![rows]),
        tensor(rstd, vec![rows]),
    )
}

#[inline(always)]
#[allow(clippy::too_many_arguments)]
fn backward_rows(
    x: &[f32],
    w: &[f32],
    dy: &[f32],
    mean: &[f32],
    rstd: &[f32],
    dx: &mut [f32],
    dw: &mut [f32],
    db: &mut [f32],
) {
    let f = w.len();
    for ((((x, dy), dx), &mu), &rs) in x
        .chunks(f)
        .zip(dy.chunks(f))
        .zip(dx.chunks_mut(f))
        .zip(mean)
        .zip(rstd)
    {
        let (mut sum_g, mut sum_gx) = (0.0f32, 0.0f32);
        for (((&x, &dy), &w), (dw, db)) in x
            .iter()
            .zip(dy)
            .zip(w)
            .zip(dw.iter_mut().zip(db.iter_mut()))
        {
            let xhat = (x - mu) * rs;
            let g = dy * w;
            sum_g += g;
            sum_gx += g * xhat;
            *dw += dy * xhat;
            *db += dy;
        }
        let (mg, mgx) = (sum_g / f as f32, sum_gx / f as f32);
        for (((dx, &x), &dy), &w) in dx.iter_mut().zip(x).zip(dy).zip(w) {
            let xhat = (x - mu) * rs;
            *dx = rs * (dy * w - mg - xhat * mgx);
        }
    }
}

/// `(dx, dw, db)`.
pub(super) fn backward(
    x: FlexTensor,
    w: FlexTensor,
    mean: FlexTensor,
    rstd: FlexTensor,
    dy: FlexTensor,
) -> (FlexTensor, FlexTensor, FlexTensor) {
    let (x, w, dy) = (x.to_contiguous(), w.to_contiguous(), dy.to_contiguous());
    let (mean, rstd) = (mean.to_contiguous(), rstd.to_contiguous());
    let shape = x.layout().shape().to_vec();
    let (rows, f) = rows_and_features(&x);
    let (xs, ws, dys, ms, rs) = (slice(&x), slice(&w), slice(&dy), slice(&mean), slice(&rstd));
    assert!(
        dys.len() == xs.len() && ws.len() == f && ms.len() == rows && rs.len() == rows,
        "layer_norm backward: shapes do not match the input {shape:?}"
    );
    let mut dx = vec![0.0f32; rows * f];
    // Per-block partial sums of dw and db in parallel, then added in block order: deterministic
    // whatever the scheduling.
    let partials: Vec<(Vec<f32>, Vec<f32>)> = dx
        .par_chunks_mut(ROWS * f)
        .enumerate()
        .map(|(i, dx)| {
            let (mut dw, mut db) = (vec![0.0f32; f], vec![0.0f32; f]);
            let (r0, n) = (i * ROWS, dx.len() / f.max(1));
            let (x, dy) = (&xs[r0 * f..][..dx.len()], &dys[r0 * f..][..dx.len()]);
            let (m, r) = (&ms[r0..][..n], &rs[r0..][..n]);
            widest!(backward_rows(x, ws, dy, m, r, dx, &mut dw, &mut db));
            (dw, db)
        })
        .collect();
    let (mut dw, mut db) = (vec![0.0f32; f], vec![0.0f32; f]);
    for (pw, pb) in partials {
        dw.iter_mut().zip(&pw).for_each(|(a, b)| *a += b);
        db.iter_mut().zip(&pb).for_each(|(a, b)| *a += b);
    }
    (tensor(dx, shape), tensor(dw, vec![f]), tensor(db, vec![f]))
}
