//! [`PerExample`]: a value whose params may hold one copy per example (JAX's `vmap(grad)`,
//! PyTorch's expanded weights), so one backward pass gives every example's own gradient.

use super::{Act, Val};
use crate::ops::{ConvSpec, ConvTransposeSpec, PoolSpec};
use crate::DynTensor;
use burn::tensor::{Device, Int, Tensor};

/// A plain value (`batched: false`: an activation with the batch on axis 0, or a shared param),
/// or a param with one copy per example (`batched: true`: shape `[B, ...param]`).
///
/// Dense layers with per-example weights run as one batched matrix product, convolutions as one
/// grouped convolution (`groups * B`); every other op runs on activations unchanged. A
/// per-example param anywhere else (a norm's scale) panics naming the op: such layers are not
/// supported by [`crate::transform::per_example_grads`] yet.
#[derive(Clone, Debug)]
pub struct PerExample {
    /// The tensor.
    pub value: DynTensor,
    /// Whether it is a per-example param (leading axis: the example).
    pub batched: bool,
}

impl PerExample {
    /// A plain value.
    pub fn plain(value: DynTensor) -> Self {
        PerExample {
            value,
            batched: false,
        }
    }

    fn unbatched(self, op: &str) -> DynTensor {
        assert!(
            !self.batched,
            "{op}: not supported under per_example_grads on a per-example param"
        );
        self.value
    }
}

fn plain(v: DynTensor) -> PerExample {
    PerExample::plain(v)
}

/// `y + b` with `b` a bias `[out]` (shared) or `[B, out]` (per example), `y: [B, out, 1...]`.
fn add_bias(y: DynTensor, b: Option<PerExample>) -> DynTensor {
    let Some(b) = b else { return y };
    let mut shape = vec![1; y.rank()];
    if b.batched {
        let d = b.value.dims();
        shape[0] = d[0];
        shape[1] = d[1];
    } else {
        shape[1] = b.value.num_elements();
    }
    Val::add(y, b.value.reshape(&shape))
}

impl Val for PerExample {
    fn dims(&self) -> Vec<usize> {
        self.value.dims()
    }
    fn device(&self) -> Device {
        self.value.device()
    }
    fn reshape(self, dims: &[usize]) -> Self {
        plain(self.unbatched("reshape").reshape(dims))
    }
    fn swap_dims(self, a: usize, b: usize) -> Self {
        plain(Val::swap_dims(self.unbatched("swap_dims"), a, b))
    }
    fn narrow(self, axis: usize, start: usize, len: usize) -> Self {
        plain(Val::narrow(self.unbatched("narrow"), axis, start, len))
    }
    fn cat(xs: Vec<Self>, axis: usize) -> Self {
        plain(DynTensor::cat(
            xs.into_iter().map(|x| x.unbatched("cat")).collect(),
            axis,
        ))
    }
    fn constant(t: DynTensor) -> Self {
        plain(t)
    }
    fn primal(&self) -> &DynTensor {
        &self.value
    }
    fn add(self, o: Self) -> Self {
        plain(Val::add(self.unbatched("add"), o.unbatched("add")))
    }
    fn sub(self, o: Self) -> Self {
        plain(Val::sub(self.unbatched("sub"), o.unbatched("sub")))
    }
    fn mul(self, o: Self) -> Self {
        plain(Val::mul(self.unbatched("mul"), o.unbatched("mul")))
    }
    fn div(self, o: Self) -> Self {
        plain(Val::div(self.unbatched("div"), o.unbatched("div")))
    }
    fn scale(self, s: f64) -> Self {
        plain(Val::scale(self.unbatched("scale"), s))
    }
    fn div_scalar(self, s: f64) -> Self {
        plain(Val::div_scalar(self.unbatched("div_scalar"), s))
    }
    fn shift(self, s: f64) -> Self {
        plain(Val::shift(self.unbatched("shift"), s))
    }
    fn sqrt(self) -> Self {
        plain(Val::sqrt(self.unbatched("sqrt")))
    }
    fn square(self) -> Self {
        plain(Val::square(self.unbatched("square")))
    }
    fn exp(self) -> Self {
        plain(Val::exp(self.unbatched("exp")))
    }
    fn log(self) -> Self {
        plain(Val::log(self.unbatched("log")))
    }
    fn erf(self) -> Self {
        plain(Val::erf(self.unbatched("erf")))
    }
    fn act(self, a: Act) -> Self {
        plain(self.unbatched("act").act(a))
    }
    fn sum_dim(self, axis: usize) -> Self {
        plain(Val::sum_dim(self.unbatched("sum_dim"), axis))
    }
    fn mean_dim(self, axis: usize) -> Self {
        plain(Val::mean_dim(self.unbatched("mean_dim"), axis))
    }
    fn matmul(self, rhs: Self) -> Self {
        plain(Val::matmul(
            self.unbatched("matmul"),
            rhs.unbatched("matmul"),
        ))
    }
    /// Per-example `w: [B, in, out]`: `[B, 1, in] @ [B, in, out]` for a `[B, in]` input.
    fn dense(self, w: Self, b: Option<Self>) -> Self {
        let x = self.unbatched("dense (input)");
        if !w.batched && !b.as_ref().is_some_and(|b| b.batched) {
            return plain(x.dense(w.value, b.map(|b| b.value)));
        }
        assert_eq!(
            x.rank(),
            2,
            "dense: per-example weights need a [B, in] input, got {:?}",
            x.dims()
        );
        let [n, i] = [x.dims()[0], x.dims()[1]];
        let y = if w.batched {
            let o = w.value.dims()[2];
            Val::matmul(x.reshape(&[n, 1, i]), w.value).reshape(&[n, o])
        } else {
            x.dense(w.value, None)
        };
        plain(add_bias(y, b))
    }
    /// Per-example `w: [B, O, C/g, kh, kw]`: [`crate::ops::conv2d_per_example`] (each image with
    /// its own weights; on other backends one convolution with `groups * B`).
    fn conv(self, w: Self, b: Option<Self>, spec: &ConvSpec) -> Self {
        let x = self.unbatched("conv (input)");
        if !w.batched && !b.as_ref().is_some_and(|b| b.batched) {
            return plain(x.conv(w.value, b.map(|b| b.value), spec));
        }
        let y = if w.batched {
            assert_eq!(
                x.rank(),
                4,
                "conv: per-example weights are supported for conv2d only"
            );
            let y = crate::ops::conv2d_per_example(x.into_rank(), w.value.into_rank(), spec);
            DynTensor::from(y)
        } else {
            x.conv(w.value, None, spec)
        };
        plain(add_bias(y, b))
    }
    fn conv_transpose2d(self, w: Self, b: Option<Self>, spec: &ConvTransposeSpec) -> Self {
        let b = b.map(|b| b.unbatched("conv_transpose2d"));
        let x = self.unbatched("conv_transpose2d");
        plain(x.conv_transpose2d(w.unbatched("conv_transpose2d"), b, spec))
    }
    fn max_pool2d(self, spec: &PoolSpec) -> Self {
        plain(self.unbatched("max_pool2d").max_pool2d(spec))
    }
    fn avg_pool2d(self, spec: &PoolSpec, count_include_pad: bool) -> Self {
        plain(
            self.unbatched("avg_pool2d")
                .avg_pool2d(spec, count_include_pad),
        )
    }
    fn adaptive_avg_pool2d(self, out: [usize; 2]) -> Self {
        plain(
            self.unbatched("adaptive_avg_pool2d")
                .adaptive_avg_pool2d(out),
        )
    }
    fn embedding(ids: Tensor<2, Int>, w: Self) -> Self {
        plain(DynTensor::embedding(ids, w.unbatched("embedding")))
    }
    fn pick(self, labels: Tensor<1, Int>) -> Self {
        plain(self.unbatched("pick").pick(labels))
    }
    fn gather_hw(self, indices: &Tensor<4, Int>) -> Self {
        plain(self.unbatched("gather_hw").gather_hw(indices))
    }
}
