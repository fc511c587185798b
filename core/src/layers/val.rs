//! [`Val`]: what layer maths runs on, and its implementation for [`DynTensor`].

use super::Act;
use crate::kernels::{self, AttentionSpec};
use crate::ops::{self, ConvSpec, ConvTransposeSpec, PoolSpec};
use crate::DynTensor;
use burn::tensor::{Device, Int, Tensor};

/// What layer maths runs on: [`DynTensor`] (plain values) today; a value carrying a tangent next
/// to its primal (forward-mode AD) or a batch of values later, without writing a layer twice.
///
/// Every layer's `apply` is generic over `V: Val` and monomorphised, so on `DynTensor` each
/// method is one `match` on the rank and then exactly the op duet calls without it (same kernels,
/// same autodiff graph, same numbers). Ranks and shapes are checked at run time, naming the op.
///
/// Element-wise methods take operands of the same rank; axes of size 1 broadcast. Reductions
/// keep the reduced axis (size 1).
pub trait Val: Clone + Send + Sync + Sized + 'static {
    /// The shape.
    fn dims(&self) -> Vec<usize>;
    /// The device the value lives on.
    fn device(&self) -> Device;
    /// The same elements in another shape.
    fn reshape(self, dims: &[usize]) -> Self;
    /// Swaps two axes.
    fn swap_dims(self, a: usize, b: usize) -> Self;
    /// `len` entries of `axis` from `start`.
    fn narrow(self, axis: usize, start: usize, len: usize) -> Self;
    /// Concatenates along `axis` (a stack is a reshape and a cat).
    fn cat(xs: Vec<Self>, axis: usize) -> Self;
    /// A constant: no tangent (dropout masks, initial states, attention masks).
    fn constant(t: DynTensor) -> Self;
    /// The plain part (running statistics, integer ids).
    fn primal(&self) -> &DynTensor;
    /// `self + o`.
    fn add(self, o: Self) -> Self;
    /// `self - o`.
    fn sub(self, o: Self) -> Self;
    /// `self * o`.
    fn mul(self, o: Self) -> Self;
    /// `self / o`.
    fn div(self, o: Self) -> Self;
    /// `self * s`.
    fn scale(self, s: f64) -> Self;
    /// `self / s` (not `scale(1 / s)`: the two round differently).
    fn div_scalar(self, s: f64) -> Self;
    /// `self + s`.
    fn shift(self, s: f64) -> Self;
    /// Element-wise square root.
    fn sqrt(self) -> Self;
    /// Element-wise square (not `mul(self, self)`: burn's kernel may round differently).
    fn square(self) -> Self;
    /// Element-wise `e^x`.
    fn exp(self) -> Self;
    /// Element-wise natural logarithm.
    fn log(self) -> Self;
    /// An activation; `Softmax`/`LogSoftmax` over the last axis.
    fn act(self, a: Act) -> Self;
    /// The sum over `axis` (kept, size 1).
    fn sum_dim(self, axis: usize) -> Self;
    /// The mean over `axis` (kept, size 1).
    fn mean_dim(self, axis: usize) -> Self;
    /// Batched matrix product over the last two axes.
    fn matmul(self, rhs: Self) -> Self;
    /// `x @ w + b` over the last axis (any rank >= 1; `w` is `[in, out]`).
    fn dense(self, w: Self, b: Option<Self>) -> Self;
    /// Convolution: rank 3 is `conv1d`, rank 4 `conv2d`.
    fn conv(self, w: Self, b: Option<Self>, spec: &ConvSpec) -> Self;
    /// 2-D transposed convolution.
    fn conv_transpose2d(self, w: Self, b: Option<Self>, spec: &ConvTransposeSpec) -> Self;
    /// 2-D max pooling.
    fn max_pool2d(self, spec: &PoolSpec) -> Self;
    /// 2-D average pooling.
    fn avg_pool2d(self, spec: &PoolSpec, count_include_pad: bool) -> Self;
    /// Adaptive 2-D average pooling to `out`.
    fn adaptive_avg_pool2d(self, out: [usize; 2]) -> Self;
    /// Rows of the table `w` at `ids`: `[B, T]` -> `[B, T, dim]`.
    fn embedding(ids: Tensor<2, Int>, w: Self) -> Self;
    /// `[N, K]` -> `[N, 1]`: the entry of each row at its label.
    fn pick(self, labels: Tensor<1, Int>) -> Self;
    /// Element-wise error function.
    fn erf(self) -> Self;
    /// `[N, C, H, W]` -> `[N, C, Ho, Wo]`: the entries of each `[n, c]` plane at the flat
    /// positions `indices` (`i * W + j`; a max pool's argmax).
    fn gather_hw(self, indices: &Tensor<4, Int>) -> Self;
    /// Max pooling's tangent map: the entries of `self` (`[N, C, H, W]`) at each window's first
    /// maximum of `x` (the primal being pooled), `[N, C, Ho, Wo]`. By default burn's argmax
    /// indices and [`Val::gather_hw`]; `DynTensor` on `flex` runs one fused kernel.
    fn pool_at_argmax(self, x: &DynTensor, spec: &PoolSpec) -> Self {
        self.gather_hw(&argmax_indices(x, spec))
    }
    /// Multi-head attention of `[B, T, E]` values by one fused kernel (see
    /// [`kernels::attention`]), or `None` when this kind of value has none here (the layer
    /// then composes it from the ops above). Only `DynTensor` on `flex` has one.
    fn fused_attention(_q: &Self, _k: &Self, _v: &Self, _spec: AttentionSpec) -> Option<Self> {
        None
    }
    /// Batch normalisation in training mode by one fused kernel (see [`kernels::batch_norm`]):
    /// the output and the batch's per-channel mean and biased variance (plain `[C]` tensors),
    /// or `None` as for [`Val::fused_attention`].
    fn fused_batch_norm(
        _x: &Self,
        _w: &Self,
        _b: &Self,
        _eps: f64,
    ) -> Option<(Self, Tensor<1>, Tensor<1>)> {
        None
    }
    /// Layer normalisation over the last axis by one fused kernel (see [`kernels::layer_norm`]),
    /// or `None` as for [`Val::fused_attention`].
    fn fused_layer_norm(_x: &Self, _w: &Self, _b: &Self, _eps: f64) -> Option<Self> {
        None
    }
}

/// Each max-pool window's first-maximum position in `x` (flat `i * W + j`), by burn's kernel.
fn argmax_indices(x: &DynTensor, spec: &PoolSpec) -> Tensor<4, Int> {
    let x: Tensor<4> = x.clone().without_autodiff().into_rank();
    let mut o = burn::tensor::ops::MaxPoolOptions::new([spec.kernel; 2]);
    o.stride = [spec.stride; 2];
    o.padding = [(spec.padding, spec.padding); 2];
    burn::tensor::module::max_pool2d_with_indices(x, o).1
}

/// Whether `t` is an `f32` value on `flex` (plain or autodiff), where the fused kernels run.
fn on_fast_kernels(t: &DynTensor) -> bool {
    t.dtype() == burn::tensor::DType::F32 && kernels::is_flex(&t.device())
}

/// Runs `$body` with `$x` bound to `$t` as a `Tensor<D>` of its rank, returning a `DynTensor`.
macro_rules! by_rank {
    ($t:expr, |$x:ident| $body:expr) => {{
        let t: DynTensor = $t;
        match t.rank() {
            1 => {
                let $x = t.into_rank::<1>();
                DynTensor::from($body)
            }
            2 => {
                let $x = t.into_rank::<2>();
                DynTensor::from($body)
            }
            3 => {
                let $x = t.into_rank::<3>();
                DynTensor::from($body)
            }
            4 => {
                let $x = t.into_rank::<4>();
                DynTensor::from($body)
            }
            5 => {
                let $x = t.into_rank::<5>();
                DynTensor::from($body)
            }
            _ => {
                let $x = t.into_rank::<6>();
                DynTensor::from($body)
            }
        }
    }};
}

/// As `by_rank!` over two operands of the same rank.
macro_rules! by_rank2 {
    ($a:expr, $b:expr, $op:literal, |$x:ident, $y:ident| $body:expr) => {{
        let (a, b): (DynTensor, DynTensor) = ($a, $b);
        if a.rank() != b.rank() {
            panic!("{}: rank mismatch, {:?} vs {:?}", $op, a.dims(), b.dims());
        }
        match a.rank() {
            1 => {
                let ($x, $y) = (a.into_rank::<1>(), b.into_rank::<1>());
                DynTensor::from($body)
            }
            2 => {
                let ($x, $y) = (a.into_rank::<2>(), b.into_rank::<2>());
                DynTensor::from($body)
            }
            3 => {
                let ($x, $y) = (a.into_rank::<3>(), b.into_rank::<3>());
                DynTensor::from($body)
            }
            4 => {
                let ($x, $y) = (a.into_rank::<4>(), b.into_rank::<4>());
                DynTensor::from($body)
            }
            5 => {
                let ($x, $y) = (a.into_rank::<5>(), b.into_rank::<5>());
                DynTensor::from($body)
            }
            _ => {
                let ($x, $y) = (a.into_rank::<6>(), b.into_rank::<6>());
                DynTensor::from($body)
            }
        }
    }};
}

fn bias1(b: Option<DynTensor>) -> Option<Tensor<1>> {
    b.map(DynTensor::into_rank::<1>)
}

impl Val for DynTensor {
    fn dims(&self) -> Vec<usize> {
        DynTensor::dims(self)
    }
    fn device(&self) -> Device {
        DynTensor::device(self)
    }
    fn reshape(self, dims: &[usize]) -> Self {
        DynTensor::reshape(self, dims)
    }
    fn swap_dims(self, a: usize, b: usize) -> Self {
        by_rank!(self, |x| x.swap_dims(a, b))
    }
    fn narrow(self, axis: usize, start: usize, len: usize) -> Self {
        by_rank!(self, |x| x.narrow(axis, start, len))
    }
    fn cat(xs: Vec<Self>, axis: usize) -> Self {
        DynTensor::cat(xs, axis)
    }
    fn constant(t: DynTensor) -> Self {
        t
    }
    fn primal(&self) -> &DynTensor {
        self
    }
    fn add(self, o: Self) -> Self {
        by_rank2!(self, o, "add", |x, y| x + y)
    }
    fn sub(self, o: Self) -> Self {
        by_rank2!(self, o, "sub", |x, y| x - y)
    }
    fn mul(self, o: Self) -> Self {
        by_rank2!(self, o, "mul", |x, y| x * y)
    }
    fn div(self, o: Self) -> Self {
        by_rank2!(self, o, "div", |x, y| x / y)
    }
    fn scale(self, s: f64) -> Self {
        by_rank!(self, |x| x * s)
    }
    fn div_scalar(self, s: f64) -> Self {
        by_rank!(self, |x| x / s)
    }
    fn shift(self, s: f64) -> Self {
        by_rank!(self, |x| x + s)
    }
    fn sqrt(self) -> Self {
        by_rank!(self, |x| x.sqrt())
    }
    fn square(self) -> Self {
        by_rank!(self, |x| x.square())
    }
    fn exp(self) -> Self {
        by_rank!(self, |x| x.exp())
    }
    fn log(self) -> Self {
        by_rank!(self, |x| x.log())
    }
    fn act(self, a: Act) -> Self {
        by_rank!(self, |x| a.apply_tensor(x))
    }
    fn sum_dim(self, axis: usize) -> Self {
        by_rank!(self, |x| x.sum_dim(axis))
    }
    fn mean_dim(self, axis: usize) -> Self {
        by_rank!(self, |x| x.mean_dim(axis))
    }
    fn matmul(self, rhs: Self) -> Self {
        by_rank2!(self, rhs, "matmul", |x, y| x.matmul(y))
    }
    fn dense(self, w: Self, b: Option<Self>) -> Self {
        let (w, b) = (w.into_rank::<2>(), bias1(b));
        match self.rank() {
            2 => ops::dense(self.into_rank::<2>(), w, b).into(),
            3 => ops::dense(self.into_rank::<3>(), w, b).into(),
            _ => {
                let mut dims = self.dims();
                let inp = *dims.last().expect("rank >= 1");
                let rows = self.num_elements() / inp;
                *dims.last_mut().expect("rank >= 1") = w.dims()[1];
                let y = ops::dense(self.flatten().reshape([rows, inp]), w, b);
                DynTensor::from(y).reshape(&dims)
            }
        }
    }
    fn conv(self, w: Self, b: Option<Self>, spec: &ConvSpec) -> Self {
        match self.rank() {
            3 => ops::conv1d(self.into_rank(), w.into_rank(), bias1(b), spec).into(),
            4 => ops::conv2d(self.into_rank(), w.into_rank(), bias1(b), spec).into(),
            r => panic!("conv: expected a rank-3 or rank-4 input, got rank {r}"),
        }
    }
    fn conv_transpose2d(self, w: Self, b: Option<Self>, spec: &ConvTransposeSpec) -> Self {
        ops::conv_transpose2d(self.into_rank(), w.into_rank(), bias1(b), spec).into()
    }
    fn max_pool2d(self, spec: &PoolSpec) -> Self {
        ops::max_pool2d(self.into_rank(), spec).into()
    }
    fn avg_pool2d(self, spec: &PoolSpec, count_include_pad: bool) -> Self {
        ops::avg_pool2d(self.into_rank(), spec, count_include_pad).into()
    }
    fn adaptive_avg_pool2d(self, out: [usize; 2]) -> Self {
        ops::adaptive_avg_pool2d(self.into_rank(), out).into()
    }
    fn embedding(ids: Tensor<2, Int>, w: Self) -> Self {
        ops::embedding(ids, w.into_rank()).into()
    }
    fn pick(self, labels: Tensor<1, Int>) -> Self {
        let x = self.into_rank::<2>();
        let n = labels.dims()[0];
        x.gather(1, labels.reshape([n, 1])).into()
    }
    fn erf(self) -> Self {
        by_rank!(self, |x| x.erf())
    }
    fn gather_hw(self, indices: &Tensor<4, Int>) -> Self {
        let [n, c, h, w] = self.dims()[..] else {
            panic!("gather_hw: expected a rank-4 value, got {:?}", self.dims())
        };
        let [_, _, ho, wo] = indices.dims();
        let x = self.into_rank::<4>().reshape([n, c, h * w]);
        let y = x.gather(2, indices.clone().reshape([n, c, ho * wo]));
        y.reshape([n, c, ho, wo]).into()
    }
    fn pool_at_argmax(self, x: &DynTensor, spec: &PoolSpec) -> Self {
        if spec.padding == 0 && on_fast_kernels(&self) && on_fast_kernels(x) && x.rank() == 4 {
            let x = x.clone().without_autodiff().into_rank::<4>();
            let (k, s) = ([spec.kernel; 2], [spec.stride; 2]);
            return kernels::max_pool2d_select(x, self.into_rank(), k, s).into();
        }
        self.gather_hw(&argmax_indices(x, spec))
    }
    fn fused_attention(q: &Self, k: &Self, v: &Self, spec: AttentionSpec) -> Option<Self> {
        let ok = [q, k, v]
            .iter()
            .all(|t| t.rank() == 3 && on_fast_kernels(t));
        ok.then(|| {
            let r = |t: &DynTensor| t.clone().into_rank::<3>();
            kernels::attention(r(q), r(k), r(v), spec).into()
        })
    }
    fn fused_batch_norm(
        x: &Self,
        w: &Self,
        b: &Self,
        eps: f64,
    ) -> Option<(Self, Tensor<1>, Tensor<1>)> {
        let d = x.dims();
        let ok = d.len() >= 2
            && d[0] * d[2..].iter().product::<usize>() > 1
            && w.dims() == [d[1]]
            && b.dims() == [d[1]]
            && [x, w, b].iter().all(|t| on_fast_kernels(t));
        if !ok {
            return None;
        }
        fn run<const D: usize>(
            x: &DynTensor,
            w: &DynTensor,
            b: &DynTensor,
            eps: f64,
        ) -> (DynTensor, Tensor<1>, Tensor<1>) {
            let r1 = |t: &DynTensor| t.clone().into_rank::<1>();
            let (y, m, v) = kernels::batch_norm(x.clone().into_rank::<D>(), r1(w), r1(b), eps);
            (y.into(), m.without_autodiff(), v.without_autodiff())
        }
        Some(match d.len() {
            2 => run::<2>(x, w, b, eps),
            3 => run::<3>(x, w, b, eps),
            4 => run::<4>(x, w, b, eps),
            5 => run::<5>(x, w, b, eps),
            _ => run::<6>(x, w, b, eps),
        })
    }
    fn fused_layer_norm(x: &Self, w: &Self, b: &Self, eps: f64) -> Option<Self> {
        let features = x.dims().last().copied().unwrap_or(0);
        let ok = features > 0
            && x.num_elements() > 0
            && w.dims() == [features]
            && b.dims() == [features]
            && [x, w, b].iter().all(|t| on_fast_kernels(t));
        let (w, b) = (w.clone().into_rank::<1>(), b.clone().into_rank::<1>());
        ok.then(|| by_rank!(x.clone(), |x| kernels::layer_norm(x, w, b, eps)))
    }
}
