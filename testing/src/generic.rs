//! [`Counting`]: a second value type for the layer maths, to prove every config is generic over
//! `Val` (the seam forward-mode AD uses): it forwards each op to `DynTensor` and counts it.

use duet_core::burn::tensor::{Device, Int, Tensor};
use duet_core::kernels::AttentionSpec;
use duet_core::layers::{Ctx, LayerConfig, ParamTree};
use duet_core::ops::{ConvSpec, ConvTransposeSpec, PoolSpec};
use duet_core::{Act, DynTensor, Key, Mode, Params, Val};
use std::cell::Cell;
use std::collections::BTreeMap;

thread_local!(static OPS: Cell<usize> = const { Cell::new(0) });

/// A `DynTensor` that counts the ops applied to it (per thread).
#[derive(Clone, Debug)]
pub struct Counting(pub DynTensor);

fn count<T>(t: T) -> T {
    OPS.with(|c| c.set(c.get() + 1));
    t
}

impl Val for Counting {
    fn dims(&self) -> Vec<usize> {
        self.0.dims()
    }
    fn device(&self) -> Device {
        self.0.device()
    }
    fn reshape(self, d: &[usize]) -> Self {
        count(Counting(Val::reshape(self.0, d)))
    }
    fn swap_dims(self, a: usize, b: usize) -> Self {
        count(Counting(self.0.swap_dims(a, b)))
    }
    fn narrow(self, axis: usize, start: usize, len: usize) -> Self {
        count(Counting(self.0.narrow(axis, start, len)))
    }
    fn cat(xs: Vec<Self>, axis: usize) -> Self {
        count(Counting(Val::cat(
            xs.into_iter().map(|x| x.0).collect(),
            axis,
        )))
    }
    fn constant(t: DynTensor) -> Self {
        Counting(t)
    }
    fn primal(&self) -> &DynTensor {
        &self.0
    }
    fn add(self, o: Self) -> Self {
        count(Counting(Val::add(self.0, o.0)))
    }
    fn sub(self, o: Self) -> Self {
        count(Counting(Val::sub(self.0, o.0)))
    }
    fn mul(self, o: Self) -> Self {
        count(Counting(Val::mul(self.0, o.0)))
    }
    fn div(self, o: Self) -> Self {
        count(Counting(Val::div(self.0, o.0)))
    }
    fn scale(self, s: f64) -> Self {
        count(Counting(self.0.scale(s)))
    }
    fn div_scalar(self, s: f64) -> Self {
        count(Counting(Val::div_scalar(self.0, s)))
    }
    fn shift(self, s: f64) -> Self {
        count(Counting(self.0.shift(s)))
    }
    fn sqrt(self) -> Self {
        count(Counting(Val::sqrt(self.0)))
    }
    fn square(self) -> Self {
        count(Counting(Val::square(self.0)))
    }
    fn exp(self) -> Self {
        count(Counting(Val::exp(self.0)))
    }
    fn log(self) -> Self {
        count(Counting(Val::log(self.0)))
    }
    fn act(self, a: Act) -> Self {
        count(Counting(self.0.act(a)))
    }
    fn sum_dim(self, axis: usize) -> Self {
        count(Counting(self.0.sum_dim(axis)))
    }
    fn mean_dim(self, axis: usize) -> Self {
        count(Counting(self.0.mean_dim(axis)))
    }
    fn matmul(self, rhs: Self) -> Self {
        count(Counting(self.0.matmul(rhs.0)))
    }
    fn dense(self, w: Self, b: Option<Self>) -> Self {
        count(Counting(self.0.dense(w.0, b.map(|b| b.0))))
    }
    fn conv(self, w: Self, b: Option<Self>, spec: &ConvSpec) -> Self {
        count(Counting(self.0.conv(w.0, b.map(|b| b.0), spec)))
    }
    fn conv_transpose2d(self, w: Self, b: Option<Self>, spec: &ConvTransposeSpec) -> Self {
        count(Counting(self.0.conv_transpose2d(w.0, b.map(|b| b.0), spec)))
    }
    fn max_pool2d(self, spec: &PoolSpec) -> Self {
        count(Counting(self.0.max_pool2d(spec)))
    }
    fn avg_pool2d(self, spec: &PoolSpec, include: bool) -> Self {
        count(Counting(self.0.avg_pool2d(spec, include)))
    }
    fn adaptive_avg_pool2d(self, out: [usize; 2]) -> Self {
        count(Counting(self.0.adaptive_avg_pool2d(out)))
    }
    fn embedding(ids: Tensor<2, Int>, w: Self) -> Self {
        count(Counting(DynTensor::embedding(ids, w.0)))
    }
    fn pick(self, labels: Tensor<1, Int>) -> Self {
        count(Counting(self.0.pick(labels)))
    }
    fn erf(self) -> Self {
        count(Counting(self.0.erf()))
    }
    fn gather_hw(self, indices: &Tensor<4, Int>) -> Self {
        count(Counting(self.0.gather_hw(indices)))
    }
    fn pool_at_argmax(self, x: &DynTensor, spec: &PoolSpec) -> Self {
        count(Counting(self.0.pool_at_argmax(x, spec)))
    }
    fn fused_attention(q: &Self, k: &Self, v: &Self, spec: AttentionSpec) -> Option<Self> {
        DynTensor::fused_attention(&q.0, &k.0, &v.0, spec).map(|y| count(Counting(y)))
    }
    fn fused_batch_norm(
        x: &Self,
        w: &Self,
        b: &Self,
        eps: f64,
    ) -> Option<(Self, Tensor<1>, Tensor<1>)> {
        DynTensor::fused_batch_norm(&x.0, &w.0, &b.0, eps)
            .map(|(y, m, v)| (count(Counting(y)), m, v))
    }
    fn fused_layer_norm(x: &Self, w: &Self, b: &Self, eps: f64) -> Option<Self> {
        DynTensor::fused_layer_norm(&x.0, &w.0, &b.0, eps).map(|y| count(Counting(y)))
    }
}

/// Runs `c` on plain tensors and on [`Counting`] for an input of shape `input`, in `mode`:
/// both outputs and the number of ops counted.
///
/// # Panics
/// An input the config refuses, or an output shape other than `output_shape`'s.
pub fn both<C: LayerConfig>(c: &C, input: &[usize], mode: Mode) -> (Vec<f32>, Vec<f32>, usize) {
    let dev = Device::flex();
    let d_in = c
        .input_size(input)
        .unwrap_or_else(|e| panic!("{}: {e}", c.name()));
    let (p, state) = c.init(d_in, Key::new(3), &dev);
    let n: usize = input.iter().product();
    let x = DynTensor::from_floats(
        (0..n).map(|i| (i % 7) as f32 * 0.3 - 0.8).collect(),
        input,
        &dev,
    );
    let mut leaves = BTreeMap::new();
    p.clone().write(&mut |name, t| {
        leaves.insert(name.to_string(), t);
    });
    let pc = C::Params::<Counting>::read(&mut |name| leaves.get(name).cloned().map(Counting))
        .expect("the params just written");
    let mut s1: Params = state.clone();
    let plain = c.apply(
        &p,
        x.clone(),
        &mut Ctx {
            mode,
            state: &mut s1,
        },
    );
    OPS.with(|o| o.set(0));
    let mut s2 = state;
    let counted = c.apply(
        &pc,
        Counting(x),
        &mut Ctx {
            mode,
            state: &mut s2,
        },
    );
    assert_eq!(
        c.output_shape(input).expect("a valid input"),
        plain.dims(),
        "{}: output shape",
        c.name()
    );
    (plain.to_vec(), counted.0.to_vec(), OPS.with(|o| o.get()))
}

/// Checks that `c` gives the same numbers on [`Counting`] as on plain tensors, in evaluation and
/// training mode, and calls at least one `Val` op.
///
/// # Panics
/// A difference, or a config that calls no op (its maths bypasses `Val`).
pub fn check_generic<C: LayerConfig>(c: &C, input: &[usize]) {
    let mut ops = 0;
    for mode in [Mode::Eval, Mode::Train(Key::new(9))] {
        let (a, b, n) = both(c, input, mode);
        assert_eq!(a, b, "{}", c.name());
        ops += n;
    }
    assert!(ops >= 1, "{} called no Val op", c.name());
}
