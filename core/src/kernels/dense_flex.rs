//! Dense layer on `flex` ([`super::dense`]): `y = x W + b` as one gemm into a buffer pre-filled
//! with the bias, and the gradients `dx = dy Wᵀ`, `dW = xᵀ dy` as gemms reading the transposes
//! in place through strides, `db` as column sums. burn's `linear` is a matmul (its output
//! allocated, then copied into an aligned buffer), a broadcast bias add, and in the backward pass
//! two transposed copies before the matmuls.

use super::conv_flex::{matmul_with, rows_of, slice, tensor};
use burn::backend::flex::FlexTensor;
use gemm::Parallelism;
use rayon::prelude::*;

/// Products at least this large (`m n k`) use both cores (burn-flex's threshold).
const PARALLEL: usize = 192 * 192 * 192;

fn rows(shape: &[usize]) -> (usize, usize) {
    rows_of(shape, "dense")
}

/// `dst[m, n] (+)= lhs[m, k] rhs[k, n]`, each operand by (row, column) strides into its slice:
/// OpenBLAS for large products with the `openblas` feature, the gemm crate otherwise (on both
/// cores for large ones).
fn product(
    (m, n, k): (usize, usize, usize),
    dst: &mut [f32],
    accumulate: bool,
    lhs: (&[f32], (usize, usize)),
    rhs: (&[f32], (usize, usize)),
) {
    if m == 0 || n == 0 {
        return;
    }
    let large = m.saturating_mul(n).saturating_mul(k) >= PARALLEL;
    #[cfg(feature = "openblas")]
    if large && super::blas::sgemm((m, n, k), dst, accumulate, lhs, rhs) {
        return;
    }
    let par = if large {
        Parallelism::Rayon(0)
    } else {
        Parallelism::None
    };
    matmul_with(par, (m, n, k), (dst, n), accumulate, lhs, rhs);
}

/// `y = x W + b`: `[..., K]`, `[K, N]`, `[N]` -> `[..., N]`.
pub(super) fn forward(x: FlexTensor, w: FlexTensor, b: FlexTensor) -> FlexTensor {
    let (x, w, b) = (x.to_contiguous(), w.to_contiguous(), b.to_contiguous());
    let mut shape = x.layout().shape().to_vec();
    let (m, k) = rows(&shape);
    let ws = w.layout().shape().to_vec();
    let n = ws[1];
    assert!(
        ws[0] == k && slice(&b).len() == n,
        "dense: input {shape:?}, weight {ws:?}, bias of {}",
        slice(&b).len()
    );
    let mut y = vec![0.0f32; m * n];
    let bv = slice(&b);
    if let Some(rows_per) = (1usize << 14).checked_div(n) {
        y.par_chunks_mut(rows_per.max(1) * n)
            .for_each(|c| c.chunks_mut(n).for_each(|r| r.copy_from_slice(bv)));
    }
    product(
        (m, n, k),
        &mut y,
        true,
        (slice(&x), (k, 1)),
        (slice(&w), (n, 1)),
    );
    *shape.last_mut().expect("rank >= 1") = n;
    tensor(y, shape)
}

/// `dx = dy Wᵀ`: `[..., N]`, `[K, N]` -> `[..., K]`.
pub(super) fn grad_input(dy: FlexTensor, w: FlexTensor) -> FlexTensor {
    let (dy, w) = (dy.to_contiguous(), w.to_contiguous());
    let mut shape = dy.layout().shape().to_vec();
    let (m, n) = rows(&shape);
    let k = w.layout().shape()[0];
    let mut dx = vec![0.0f32; m * k];
    product(
        (m, k, n),
        &mut dx,
        false,
        (slice(&dy), (n, 1)),
        (slice(&w), (1, n)),
    );
    *shape.last_mut().expect("rank >= 1") = k;
    tensor(dx, shape)
}

/// `dW = xᵀ dy`: `[..., K]`, `[..., N]` -> `[K, N]`.
pub(super) fn grad_weight(x: FlexTensor, dy: FlexTensor) -> FlexTensor {
    let (x, dy) = (x.to_contiguous(), dy.to_contiguous());
    let ((m, k), (m2, n)) = (rows(x.layout().shape()), rows(dy.layout().shape()));
    assert_eq!(m, m2, "dense dW: {m} input rows, {m2} gradient rows");
    let mut dw = vec![0.0f32; k * n];
    product(
        (k, n, m),
        &mut dw,
        false,
        (slice(&x), (1, k)),
        (slice(&dy), (n, 1)),
    );
    tensor(dw, vec![k, n])
}

/// `db = Σ_rows dy`: `[..., N]` -> `[N]`.
pub(super) fn grad_bias(dy: FlexTensor) -> FlexTensor {
    let dy = dy.to_contiguous();
    let (_, n) = rows(dy.layout().shape());
    let dys = slice(&dy);
    let rows_per = (1usize << 14).div_ceil(n.max(1));
    // Fixed blocks summed in parallel, then in block order: deterministic whatever the scheduling.
    let db = if n == 0 {
        vec![]
    } else {
        dys.par_chunks(rows_per * n)
            .map(|c| {
                let mut acc = vec![0.0f32; n];
                for r in c.chunks(n) {
                    acc.iter_mut().zip(r).for_each(|(a, v)| *a += v);
                }
                acc
            })
            .collect::<Vec<_>>()
            .into_iter()
            .reduce(|mut a, b| {
                a.iter_mut().zip(&b).for_each(|(a, b)| *a += b);
                a
            })
            .unwrap_or_else(|| vec![0.0f32; n])
    };
    tensor(db, vec![n])
}
