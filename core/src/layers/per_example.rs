//! [`PerExample`]: the value [`crate::transform::per_example_grads`] runs a function on (JAX's
//! `vmap(grad)`, Opacus' per-sample gradients), so one forward and one backward pass give every
//! example's own gradient.
//!
//! Dense and convolution layers whose params are taken per example add a zero *probe* `z` to
//! their output, `y = layer(x; w, b) + z` (`z: [B, ...]`, an autodiff leaf), and record the input
//! `x`. The backward pass of the summed loss then yields `∂l_n/∂y_n` for every example `n` as the
//! probe's gradient, without copying any param, and the per-example param gradients follow from
//! the recorded inputs: `dw_n = x_nᵀ ∂l_n/∂y_n` for a dense layer (one outer product per example),
//! each image's convolution weight gradient for a convolution
//! ([`crate::ops::conv2d_weight_grad_per_example`]), and `db_n = ∂l_n/∂y_n` summed over positions.
//! This is exact because example `n`'s loss depends only on `y_n`.

use super::{Act, Val};
use crate::ops::{ConvSpec, ConvTransposeSpec, PoolSpec};
use crate::DynTensor;
use burn::tensor::{Device, Int, Tensor};
use std::sync::{Arc, Mutex};

/// A value of a function under [`crate::transform::per_example_grads`]: an activation (batch on
/// axis 0) or a param. A param handed out by [`crate::transform::PerExampleParams`] is tapped:
/// the dense or convolution layer that uses it records what its per-example gradient needs.
/// Any other op on a tapped param (a norm's scale) panics naming the op: such layers are not
/// supported by `per_example_grads` yet.
#[derive(Clone, Debug)]
pub struct PerExample {
    /// The tensor.
    pub value: DynTensor,
    tap: Option<ParamTap>,
}

/// Which param a value is, and where its layer records itself.
#[derive(Clone, Debug)]
struct ParamTap {
    path: Arc<str>,
    taps: Taps,
}

/// The layers a forward pass ran with tapped params (shared by every clone).
#[derive(Clone, Debug, Default)]
pub(crate) struct Taps(Arc<Mutex<Vec<Tap>>>);

/// One dense or convolution layer's record: its probe, its input, its params' paths.
#[derive(Clone, Debug)]
pub(crate) struct Tap {
    /// The zero leaf added to the layer's output; its gradient is `∂l_n/∂y_n`.
    pub probe: DynTensor,
    /// The layer's input (its values, no autodiff graph).
    pub input: DynTensor,
    /// The weight's path, if it is tapped.
    pub weight: Option<Arc<str>>,
    /// The bias's path, if it is tapped.
    pub bias: Option<Arc<str>>,
    /// Dense, or a 2-D convolution of this spec and kernel size.
    pub conv: Option<(ConvSpec, [usize; 2])>,
}

impl Taps {
    /// The param `value` at `path`, tapped into these records.
    pub(crate) fn param(&self, path: &str, value: DynTensor) -> PerExample {
        PerExample {
            value,
            tap: Some(ParamTap {
                path: path.into(),
                taps: self.clone(),
            }),
        }
    }

    /// The records so far.
    pub(crate) fn take(&self) -> Vec<Tap> {
        std::mem::take(&mut *self.0.lock().expect("per-example taps"))
    }

    /// `y + z` with a fresh zero leaf `z`, recorded with the layer's input and params.
    fn probe(
        &self,
        y: DynTensor,
        input: DynTensor,
        w: &PerExample,
        b: &Option<PerExample>,
        conv: Option<(ConvSpec, [usize; 2])>,
    ) -> PerExample {
        let probe = DynTensor::zeros(&y.dims(), &y.device()).as_grad_leaf();
        let path = |p: &PerExample| p.tap.as_ref().map(|t| t.path.clone());
        self.0.lock().expect("per-example taps").push(Tap {
            probe: probe.clone(),
            input: input.without_autodiff(),
            weight: path(w),
            bias: b.as_ref().and_then(path),
            conv,
        });
        PerExample::plain(Val::add(y, probe))
    }
}

impl PerExample {
    /// A plain value (an activation, or a param whose per-example gradient is not wanted).
    pub fn plain(value: DynTensor) -> Self {
        PerExample { value, tap: None }
    }

    /// Whether this is a param whose per-example gradient is being taken.
    pub fn is_tapped(&self) -> bool {
        self.tap.is_some()
    }

    fn unbatched(self, op: &str) -> DynTensor {
        assert!(
            self.tap.is_none(),
            "{op}: not supported under per_example_grads on a per-example param"
        );
        self.value
    }

    /// The taps of a layer's weight or bias, if either is tapped.
    fn taps(w: &PerExample, b: &Option<PerExample>) -> Option<Taps> {
        w.tap
            .as_ref()
            .or(b.as_ref().and_then(|b| b.tap.as_ref()))
            .map(|t| t.taps.clone())
    }
}

fn plain(v: DynTensor) -> PerExample {
    PerExample::plain(v)
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
    /// With a tapped weight or bias: `x w + b + z` with a probe `z: [B, out]` (see the module docs).
    fn dense(self, w: Self, b: Option<Self>) -> Self {
        let x = self.unbatched("dense (input)");
        let Some(taps) = PerExample::taps(&w, &b) else {
            return plain(x.dense(w.value, b.map(|b| b.value)));
        };
        assert_eq!(
            x.rank(),
            2,
            "dense: per-example gradients need a [B, in] input, got {:?}",
            x.dims()
        );
        let y = x
            .clone()
            .dense(w.value.clone(), b.as_ref().map(|b| b.value.clone()));
        taps.probe(y, x, &w, &b, None)
    }
    /// With a tapped weight or bias (2-D convolutions only): `conv(x, w) + b + z` with a probe
    /// `z: [B, O, oh, ow]` (see the module docs).
    fn conv(self, w: Self, b: Option<Self>, spec: &ConvSpec) -> Self {
        let x = self.unbatched("conv (input)");
        let Some(taps) = PerExample::taps(&w, &b) else {
            return plain(x.conv(w.value, b.map(|b| b.value), spec));
        };
        let wd = w.value.dims();
        assert_eq!(
            x.rank(),
            4,
            "conv: per-example gradients are supported for conv2d only, got input {:?}",
            x.dims()
        );
        let y = x
            .clone()
            .conv(w.value.clone(), b.as_ref().map(|b| b.value.clone()), spec);
        taps.probe(y, x, &w, &b, Some((*spec, [wd[2], wd[3]])))
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
