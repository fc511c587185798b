//! `duet bench --gemm`: single-precision matrix products of the benchmark workloads' shapes, one
//! JSON line per shape, each as a training step computes it: the dense layers' products through
//! duet's dense kernel (which splits them over the threads and forms `dx = dy Wᵀ` transposed for
//! small batches), the convolutions' through one `gemm` crate call (what the convolution kernels
//! and burn-flex's matmul call). `benchmarks/gemm_numpy.py` times the same shapes with numpy's
//! BLAS (OpenBLAS from PyPI), so the efficiency column is against the machine's real ceiling.

use super::args::BenchArgs;
use super::bench::{median, time_steps};
use super::CliError;
use duet_core::burn::backend::Dispatch;
use duet_core::burn::tensor::{Device, Tensor, TensorData};
use duet_core::kernels::FastCpuOps;
use duet_core::Key;
use gemm::{gemm, Parallelism};

/// A product `C[m, n] = op(A)[m, k] op(B)[k, n]` of a workload, `op` a transpose where flagged.
#[derive(Clone, Copy, Debug)]
pub struct GemmShape {
    /// Where the product comes from.
    pub name: &'static str,
    /// Rows of `C`.
    pub m: usize,
    /// Columns of `C`.
    pub n: usize,
    /// The contracted dimension.
    pub k: usize,
    /// `A` is stored `[k, m]` (transposed).
    pub ta: bool,
    /// `B` is stored `[n, k]` (transposed).
    pub tb: bool,
    /// A dense layer's product, timed through duet's dense kernel (`ta`: the weight gradient
    /// `xᵀ dy`, `tb`: the input gradient `dy Wᵀ`, neither: the forward `x W` with a zero bias).
    pub dense: bool,
}

const fn shape(name: &'static str, m: usize, n: usize, k: usize, ta: bool, tb: bool) -> GemmShape {
    GemmShape {
        name,
        m,
        n,
        k,
        ta,
        tb,
        dense: false,
    }
}

const fn dense(name: &'static str, m: usize, n: usize, k: usize, ta: bool, tb: bool) -> GemmShape {
    GemmShape {
        dense: true,
        ..shape(name, m, n, k, ta, tb)
    }
}

/// The shapes timed: the MLP's dense layers (W3, batch 128) forward and both gradients, LeNet's
/// and AlexNet's im2col convolution products (weights x patch columns, as `kernels::conv2d`
/// issues them per chunk of images) and AlexNet's classifier, plus square products for the ceiling.
pub const SHAPES: [GemmShape; 15] = [
    dense("W3 fc1 forward x W", 128, 512, 784, false, false),
    dense("W3 fc1 dW = x^T dy", 784, 512, 128, true, false),
    dense("W3 fc2 dx = dy W^T", 128, 512, 512, false, true),
    shape("W1 conv1 forward W col", 6, 784, 75, false, false),
    shape("W1 conv2 forward W col", 16, 300, 150, false, false),
    shape("W2 conv 3x3 256->256 forward", 256, 256, 2304, false, false),
    shape(
        "W2 conv 3x3 256->256 dW = dy col^T",
        256,
        2304,
        64,
        false,
        true,
    ),
    shape(
        "W2 conv 3x3 256->256 dcol = W^T dy",
        2304,
        64,
        256,
        true,
        false,
    ),
    dense("W2 fc 4096->1024 forward", 128, 1024, 4096, false, false),
    shape("W6 conv 3x3 16->16 forward", 16, 1024, 144, false, false),
    dense("W7 mlp fc forward x W", 4096, 768, 192, false, false),
    dense("W7 mlp fc dx = dy W^T", 4096, 192, 768, false, true),
    dense("W7 mlp fc dW = x^T dy", 192, 768, 4096, true, false),
    shape("square 1024", 1024, 1024, 1024, false, false),
    shape("square 2048", 2048, 2048, 2048, false, false),
];

/// The operands of a dense layer's product (`s.dense`) as `flex` tensors: `(x, W)` for the
/// forward, `(dy, W)` for `dx`, `(x, dy)` for `dW`.
fn dense_operands(s: &GemmShape, a: &[f32], b: &[f32]) -> (Tensor<2>, Tensor<2>) {
    let dev = Device::flex();
    let t = |v: &[f32], shape: [usize; 2]| {
        Tensor::<2>::from_data(TensorData::new(v.to_vec(), shape), &dev)
    };
    let (m, n, k) = (s.m, s.n, s.k);
    match (s.ta, s.tb) {
        // dW = xᵀ dy: x [k, m], dy [k, n].
        (true, _) => (t(a, [k, m]), t(b, [k, n])),
        // dx = dy Wᵀ: dy [m, k], W [n, k].
        (false, true) => (t(a, [m, k]), t(b, [n, k])),
        // y = x W: x [m, k], W [k, n].
        (false, false) => (t(a, [m, k]), t(b, [k, n])),
    }
}

/// `C = op(A) op(B)` through duet's dense kernel, as the layer's forward or backward pass runs it.
fn dense_product(s: &GemmShape, (a, b): &(Tensor<2>, Tensor<2>)) -> Tensor<2> {
    let (a, b) = (a.clone().into_dispatch(), b.clone().into_dispatch());
    Tensor::from_dispatch(match (s.ta, s.tb) {
        (true, _) => Dispatch::fast_dense_dw(a, b),
        (false, true) => Dispatch::fast_dense_dx(a, b),
        (false, false) => {
            let zero = Tensor::<1>::zeros([s.n], &Device::flex()).into_dispatch();
            Dispatch::fast_dense(a, b, zero)
        }
    })
}

/// `C = op(A) op(B)` with the gemm crate on all threads.
fn product(s: &GemmShape, a: &[f32], b: &[f32], c: &mut [f32]) {
    let (m, n, k) = (s.m, s.n, s.k);
    // (column stride, row stride) of each operand in row-major storage.
    let (a_cs, a_rs) = if s.ta { (m, 1) } else { (1, k) };
    let (b_cs, b_rs) = if s.tb { (k, 1) } else { (1, n) };
    assert!(a.len() >= m * k && b.len() >= k * n && c.len() >= m * n);
    // SAFETY: the strides above address exactly the m*k, k*n and m*n elements of the three
    // buffers (checked just above); `c` is borrowed mutably, so it aliases neither input.
    unsafe {
        gemm(
            m,
            n,
            k,
            c.as_mut_ptr(),
            1,
            n as isize,
            false,
            a.as_ptr(),
            a_cs as isize,
            a_rs as isize,
            b.as_ptr(),
            b_cs as isize,
            b_rs as isize,
            0.0,
            1.0,
            false,
            false,
            false,
            Parallelism::Rayon(0),
        )
    }
}

/// Runs `duet bench --gemm`: one JSON line per shape of [`SHAPES`].
pub fn run(args: &BenchArgs) -> Result<(), CliError> {
    for s in SHAPES {
        let a = Key::new(1).uniform_vec(s.m * s.k, -1.0, 1.0);
        let b = Key::new(2).uniform_vec(s.k * s.n, -1.0, 1.0);
        let mut c = vec![0.0f32; s.m * s.n];
        let operands = s.dense.then(|| dense_operands(&s, &a, &b));
        let times = time_steps(args.warmup, args.steps, || match &operands {
            // `flex` runs eagerly: the product is done when the call returns.
            Some(ab) => dense_product(&s, ab).dims()[0] as f32,
            None => {
                product(&s, &a, &b, &mut c);
                c[0]
            }
        });
        let route = if s.dense {
            "duet (dense kernel)"
        } else {
            "duet (gemm crate)"
        };
        let ms = median(&times);
        let line = serde_json::json!({
            "kind": "gemm", "impl": route, "name": s.name, "m": s.m, "n": s.n,
            "k": s.k, "ta": s.ta, "tb": s.tb, "median_ms": ms,
            "gflops": 2.0 * (s.m * s.n * s.k) as f64 / (ms / 1e3) / 1e9,
        });
        println!("{line}");
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn transposed_operands_are_read_as_stored() {
        // A = [[1, 2], [3, 4]] stored transposed, B = [[5, 6], [7, 8]] stored transposed.
        let s = shape("t", 2, 2, 2, true, true);
        let a_t = [1.0, 3.0, 2.0, 4.0];
        let b_t = [5.0, 7.0, 6.0, 8.0];
        let mut c = [0.0; 4];
        product(&s, &a_t, &b_t, &mut c);
        assert_eq!(c, [19.0, 22.0, 43.0, 50.0]);
    }

    #[test]
    fn dense_kernel_operands_match_the_gemm_call() {
        // The forward, dx and dW layouts, each against the gemm crate on the same buffers.
        for (ta, tb) in [(false, false), (false, true), (true, false)] {
            let s = dense("t", 3, 5, 4, ta, tb);
            let a = Key::new(1).uniform_vec(s.m * s.k, -1.0, 1.0);
            let b = Key::new(2).uniform_vec(s.k * s.n, -1.0, 1.0);
            let mut want = vec![0.0f32; s.m * s.n];
            product(&s, &a, &b, &mut want);
            let got = dense_product(&s, &dense_operands(&s, &a, &b));
            assert_eq!(got.dims(), [s.m, s.n], "ta {ta}, tb {tb}");
            let got = got.into_data().try_to_vec::<f32>().unwrap();
            for (g, w) in got.iter().zip(&want) {
                assert!(
                    (g - w).abs() <= 1e-5 * (1.0 + w.abs()),
                    "ta {ta}, tb {tb}: {g} vs {w}"
                );
            }
        }
    }
}
