//! Dense layer on `flex` ([`super::dense`]): `y = x W + b` as one gemm into a buffer pre-filled
//! with the bias, and the gradients `dx = dy Wᵀ`, `dW = xᵀ dy` as gemms reading the transposes
//! in place through strides, `db` as column sums. burn's `linear` is a matmul (its output
//! allocated, then copied into an aligned buffer), a broadcast bias add, and in the backward pass
//! two transposed copies before the matmuls.

use super::conv_flex::{check_bounds, matmul_raw, rows_of, slice, tensor, written};
use burn::backend::flex::FlexTensor;
use rayon::prelude::*;
use std::mem::MaybeUninit;

/// Products at least this large (`m n k`) are split over the threads. burn-flex's threshold is
/// 192³; 64³ put the MLP's last layer (128 x 10 x 512) on both cores: W3 1.32-1.37 -> 1.26-1.29 ms,
/// LeNet's training step 2.93-2.96 -> 2.85-2.87 ms (A/B, 3 rounds).
const PARALLEL: usize = 64 * 64 * 64;

fn rows(shape: &[usize]) -> (usize, usize) {
    rows_of(shape, "dense")
}

/// A pointer the parts of one product share; each part writes its own rows or columns.
#[derive(Clone, Copy)]
struct Shared<T>(T);
// SAFETY: only ever wraps the buffers of one product, which outlive the parallel loop; the
// parts write disjoint elements of `dst` and only read the operands.
unsafe impl<T> Send for Shared<T> {}
unsafe impl<T> Sync for Shared<T> {}

impl<T: Copy> Shared<T> {
    fn get(self) -> T {
        self.0
    }
}

/// `dst[m, n] (+)= lhs[m, k] rhs[k, n]`, each operand by (row, column) strides into its slice:
/// OpenBLAS for large products with the `openblas` feature, the gemm crate otherwise.
///
/// A large product is cut into one part per thread along the longer side of `dst` (columns in
/// multiples of 16), each part one single-threaded gemm call: each thread packs only the operand
/// panels its part reads. On 2 cores this beat the gemm crate's own threading on the MLP's
/// products, most on `dx = dy Wᵀ` (128 x 512 x 512: 348 -> 216-254 µs), and matched it on
/// GPT's (4096 rows); `BENCHMARKS.md` has the runs.
///
/// `dst` may be uninitialized unless `accumulate`: without it every element is written (the gemm
/// crate and BLAS write `dst` without reading it, and zeros for `k = 0`), so the outputs skip a
/// zero fill (a `memset` on the calling thread, 1.2% of the MLP's step).
fn product(
    (m, n, k): (usize, usize, usize),
    dst: &mut [MaybeUninit<f32>],
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
    let threads = if large {
        rayon::current_num_threads()
    } else {
        1
    };
    let (by_rows, len, align) = if m >= n { (true, m, 1) } else { (false, n, 16) };
    let step = len.div_ceil(threads).next_multiple_of(align);
    let ((l, ls), (r, rs)) = (lhs, rhs);
    check_bounds((m, n, k), (dst.len(), n), (l.len(), ls), (r.len(), rs));
    let (d, l, r) = (
        Shared(dst.as_mut_ptr().cast::<f32>()),
        Shared(l.as_ptr()),
        Shared(r.as_ptr()),
    );
    (0..len.div_ceil(step)).into_par_iter().for_each(|p| {
        let (a, b) = (p * step, ((p + 1) * step).min(len));
        let (mnk, d_off, l_off, r_off) = if by_rows {
            ((b - a, n, k), a * n, a * ls.0, 0)
        } else {
            ((m, b - a, k), a, 0, a * rs.1)
        };
        // SAFETY: `check_bounds` covers the whole product and each part is a sub-block of it;
        // the parts write disjoint rows (or columns) of `dst`, which `dst`'s mutable borrow keeps
        // from everyone else until the loop ends; `dst` is read only when `accumulate`, when the
        // caller has initialized it. (One part, `step >= len`, runs on this thread.)
        unsafe {
            matmul_raw(
                mnk,
                (d.get().add(d_off), n),
                accumulate,
                (l.get().add(l_off), ls),
                (r.get().add(r_off), rs),
            )
        }
    });
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
    let bv = slice(&b);
    let y = written(m * n, |y| {
        if let Some(rows_per) = (1usize << 14).checked_div(n) {
            y.par_chunks_mut(rows_per.max(1) * n).for_each(|c| {
                for r in c.chunks_mut(n) {
                    r.iter_mut().zip(bv).for_each(|(y, b)| {
                        y.write(*b);
                    });
                }
            });
        }
        product((m, n, k), y, true, (slice(&x), (k, 1)), (slice(&w), (n, 1)));
    });
    *shape.last_mut().expect("rank >= 1") = n;
    tensor(y, shape)
}

/// `dx = dy Wᵀ`: `[..., N]`, `[K, N]` -> `[..., K]`.
pub(super) fn grad_input(dy: FlexTensor, w: FlexTensor) -> FlexTensor {
    let (dy, w) = (dy.to_contiguous(), w.to_contiguous());
    let mut shape = dy.layout().shape().to_vec();
    let (m, n) = rows(&shape);
    let k = w.layout().shape()[0];
    let dx = written(m * k, |dx| {
        if transposed_pays((m, n, k)) {
            grad_input_transposed((m, n, k), dx, slice(&dy), slice(&w));
        } else {
            product(
                (m, k, n),
                dx,
                false,
                (slice(&dy), (n, 1)),
                (slice(&w), (1, n)),
            );
        }
    });
    *shape.last_mut().expect("rank >= 1") = k;
    tensor(dx, shape)
}

/// Whether `dx = dy Wᵀ` (`m x k`, contracting `n`) is faster formed transposed. The gemm crate
/// packs its left operand by gathering along rows when that operand is read transposed: formed
/// directly that is all of `W` (`k n` elements), formed as `dxᵀ = W dyᵀ` it is `dy` (`m n`) plus
/// a transposition of the result (`m k`), less for a small batch. Measured on the MLP's
/// 128 x 512 x 512: 216-254 µs directly, 187-189 µs transposed (a scratch crate; 2 threads).
fn transposed_pays((m, n, k): (usize, usize, usize)) -> bool {
    m.saturating_mul(n).saturating_mul(k) >= PARALLEL
        && m.saturating_mul(n + k) < k.saturating_mul(n)
}

/// `dx = dy Wᵀ` by blocks of rows, one per thread: `dxᵀ` of the block (`[k, rows]`, a scratch
/// buffer) `= W dy_blockᵀ`, then transposed into place.
fn grad_input_transposed(
    (m, n, k): (usize, usize, usize),
    dx: &mut [MaybeUninit<f32>],
    dy: &[f32],
    w: &[f32],
) {
    if m == 0 || k == 0 {
        return;
    }
    let step = m.div_ceil(rayon::current_num_threads()).max(1);
    dx.par_chunks_mut(step * k)
        .zip(dy.par_chunks(step * n))
        .for_each(|(dx, dy)| {
            let r = dy.len() / n;
            let t = written(k * r, |t| {
                product((k, r, n), t, false, (w, (n, 1)), (dy, (1, n)));
            });
            transpose((k, r), &t, dx);
        });
}

/// `dW = xᵀ dy`: `[..., K]`, `[..., N]` -> `[K, N]`.
pub(super) fn grad_weight(x: FlexTensor, dy: FlexTensor) -> FlexTensor {
    let (x, dy) = (x.to_contiguous(), dy.to_contiguous());
    let ((m, k), (m2, n)) = (rows(x.layout().shape()), rows(dy.layout().shape()));
    assert_eq!(m, m2, "dense dW: {m} input rows, {m2} gradient rows");
    let dw = written(k * n, |dw| {
        product(
            (k, n, m),
            dw,
            false,
            (slice(&x), (1, k)),
            (slice(&dy), (n, 1)),
        );
    });
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

/// `dst[c, r] = src[r, c]` for a row-major `src` of `rows x cols`, by 8 x 8 blocks read row by
/// row into registers (the compiler turns a full block into shuffles).
fn transpose((rows, cols): (usize, usize), src: &[f32], dst: &mut [MaybeUninit<f32>]) {
    const B: usize = 8;
    assert!(src.len() == rows * cols && dst.len() == rows * cols);
    for r0 in (0..rows).step_by(B) {
        for c0 in (0..cols).step_by(B) {
            if r0 + B <= rows && c0 + B <= cols {
                let mut t = [[0.0f32; B]; B];
                for (r, t) in t.iter_mut().enumerate() {
                    t.copy_from_slice(&src[(r0 + r) * cols + c0..][..B]);
                }
                for c in 0..B {
                    let d = &mut dst[(c0 + c) * rows + r0..][..B];
                    for (d, t) in d.iter_mut().zip(&t) {
                        d.write(t[c]);
                    }
                }
            } else {
                for r in r0..(r0 + B).min(rows) {
                    for c in c0..(c0 + B).min(cols) {
                        dst[c * rows + r].write(src[r * cols + c]);
                    }
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A deterministic, sign-varying fill.
    fn fill(n: usize, seed: usize) -> Vec<f32> {
        (0..n)
            .map(|i| (((i * 7919 + seed * 104729) % 1009) as f32 / 1009.0 - 0.5) * 2.0)
            .collect()
    }

    /// `a[m, k] b[k, n]` (each element through `at`) in f64, with `Σ |a| |b|` per element to
    /// scale the tolerance by.
    fn reference(
        (m, n, k): (usize, usize, usize),
        a: impl Fn(usize, usize) -> f32,
        b: impl Fn(usize, usize) -> f32,
    ) -> Vec<(f64, f64)> {
        let mut out = Vec::with_capacity(m * n);
        for i in 0..m {
            for j in 0..n {
                let (mut s, mut mag) = (0.0f64, 0.0f64);
                for p in 0..k {
                    let t = f64::from(a(i, p)) * f64::from(b(p, j));
                    s += t;
                    mag += t.abs();
                }
                out.push((s, mag));
            }
        }
        out
    }

    fn assert_close(what: &str, got: &FlexTensor, want: &[(f64, f64)]) {
        let got = slice(got);
        assert_eq!(got.len(), want.len(), "{what}: length");
        for (i, (g, (w, mag))) in got.iter().zip(want).enumerate() {
            let err = (f64::from(*g) - w).abs();
            assert!(
                err <= 1e-5 * mag + 1e-7,
                "{what}[{i}]: {g} vs {w} (error {err:e})"
            );
        }
    }

    #[test]
    fn every_split_matches_the_definition() {
        // Columns split (m < n), transposed input gradient; rows split (m > n), direct one.
        for (m, n, k, transposed) in [(37, 300, 700, true), (500, 40, 400, false)] {
            assert_eq!(transposed_pays((m, n, k)), transposed, "{m}x{n}x{k}");
            let (x, w, b, dy) = (fill(m * k, 1), fill(k * n, 2), fill(n, 3), fill(m * n, 4));
            let y_ref: Vec<(f64, f64)> =
                reference((m, n, k), |i, p| x[i * k + p], |p, j| w[p * n + j])
                    .into_iter()
                    .enumerate()
                    .map(|(i, (s, mag))| (s + f64::from(b[i % n]), mag + f64::from(b[i % n].abs())))
                    .collect();
            let dx_ref = reference((m, k, n), |i, p| dy[i * n + p], |p, j| w[j * n + p]);
            let dw_ref = reference((k, n, m), |i, p| x[p * k + i], |p, j| dy[p * n + j]);
            // One part, two, and three uneven ones.
            for threads in [1, 2, 3] {
                let pool = rayon::ThreadPoolBuilder::new()
                    .num_threads(threads)
                    .build()
                    .unwrap();
                pool.install(|| {
                    let t = |v: &Vec<f32>, s: &[usize]| tensor(v.clone(), s.to_vec());
                    let at = format!("{m}x{n}x{k} on {threads} threads");
                    let y = forward(t(&x, &[m, k]), t(&w, &[k, n]), t(&b, &[n]));
                    assert_close(&format!("y, {at}"), &y, &y_ref);
                    let dx = grad_input(t(&dy, &[m, n]), t(&w, &[k, n]));
                    assert_close(&format!("dx, {at}"), &dx, &dx_ref);
                    let dw = grad_weight(t(&x, &[m, k]), t(&dy, &[m, n]));
                    assert_close(&format!("dW, {at}"), &dw, &dw_ref);
                });
            }
        }
    }

    #[test]
    fn transpose_handles_partial_blocks() {
        for (rows, cols) in [(8, 8), (13, 21), (1, 9), (17, 1), (16, 24)] {
            let src = fill(rows * cols, 5);
            let dst = written(rows * cols, |d| transpose((rows, cols), &src, d));
            for r in 0..rows {
                for c in 0..cols {
                    assert_eq!(
                        dst[c * rows + r],
                        src[r * cols + c],
                        "{rows}x{cols} at ({r}, {c})"
                    );
                }
            }
        }
    }
}
