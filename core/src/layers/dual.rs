//! [`Dual`]: a value with a tangent next to it (forward-mode AD, PyTorch's dual tensors, JAX's
//! `jvp`), itself a [`Val`], so every layer's maths runs on it unchanged.

use super::dual_act::act_tangent;
use super::{Act, Val};
use crate::ops::{ConvSpec, ConvTransposeSpec, PoolSpec};
use crate::DynTensor;
use burn::tensor::{Device, Int, Tensor};

/// A value and its tangent: `f(Dual(x, t)) = Dual(f(x), f'(x) t)` for every [`Val`] op.
///
/// `tangent: None` is a zero tangent (constants, params that are not perturbed); no work is
/// done for it. The tangent rules are written with `V`'s own ops, so:
/// - on an autodiff `DynTensor`, the tangent is differentiable with respect to the primal's
///   leaves: the gradient of `<tangent, u>` is a Hessian-vector product (reverse over forward);
/// - `Dual<Dual<V>>` nests (forward over forward: `u_x`, `u_xx` with respect to an input).
///
/// Ops whose derivative is piecewise constant (relu, max pooling, hard activations) use the
/// primal to pick the branch, as PyTorch's forward AD does; the value of their second
/// derivative is 0 almost everywhere.
///
/// # Example
/// `tanh` at 0.5 with tangent 1 is `(tanh 0.5, 1 - tanh^2 0.5)`; nested, the inner tangent of
/// the outer tangent is the second derivative `-2 tanh(x) (1 - tanh^2 x)`:
/// ```
/// use duet_core::{Act, DynTensor, Val};
/// use duet_core::layers::Dual;
/// use duet_core::burn::tensor::Device;
/// let dev = Device::flex();
/// let c = |v: f32| DynTensor::from_floats(vec![v], &[1], &dev);
/// let x = Dual::new(Dual::new(c(0.5), c(1.0)), Dual::new(c(1.0), c(0.0)));
/// let y = x.act(Act::Tanh);
/// let t = 0.5f32.tanh();
/// let read = |v: &DynTensor| v.clone().to_vec()[0];
/// assert!((read(&y.value.value) - t).abs() < 1e-6);
/// assert!((read(&y.tangent.as_ref().unwrap().value) - (1.0 - t * t)).abs() < 1e-6);
/// let second = read(y.tangent.as_ref().unwrap().tangent.as_ref().unwrap());
/// assert!((second - (-2.0 * t * (1.0 - t * t))).abs() < 1e-6);
/// ```
#[derive(Clone, Debug)]
pub struct Dual<V> {
    /// The primal value.
    pub value: V,
    /// The tangent (`None`: zero).
    pub tangent: Option<V>,
}

impl<V: Val> Dual<V> {
    /// `value` with tangent `tangent` (same shape).
    ///
    /// # Panics
    /// When the shapes differ.
    pub fn new(value: V, tangent: V) -> Self {
        assert_eq!(
            value.dims(),
            tangent.dims(),
            "Dual: the tangent's shape differs from the value's"
        );
        Dual {
            value,
            tangent: Some(tangent),
        }
    }

    /// `value` with a zero tangent.
    pub fn zero_tangent(value: V) -> Self {
        Dual {
            value,
            tangent: None,
        }
    }

    /// The tangent, zeros when there is none.
    pub fn tangent_or_zeros(&self) -> V {
        self.tangent.clone().unwrap_or_else(|| zeros(&self.value))
    }

    /// A linear op applied to the value and the tangent.
    fn linear(self, f: impl Fn(V) -> V) -> Self {
        Dual {
            tangent: self.tangent.map(&f),
            value: f(self.value),
        }
    }
}

fn zeros<V: Val>(like: &V) -> V {
    V::constant(DynTensor::zeros(&like.dims(), &like.device()))
}

fn add_opt<V: Val>(a: Option<V>, b: Option<V>) -> Option<V> {
    match (a, b) {
        (Some(a), Some(b)) => Some(a.add(b)),
        (a, None) => a,
        (None, b) => b,
    }
}

impl<V: Val> Val for Dual<V> {
    fn dims(&self) -> Vec<usize> {
        self.value.dims()
    }
    fn device(&self) -> Device {
        self.value.device()
    }
    fn reshape(self, dims: &[usize]) -> Self {
        self.linear(|v| v.reshape(dims))
    }
    fn swap_dims(self, a: usize, b: usize) -> Self {
        self.linear(|v| v.swap_dims(a, b))
    }
    fn narrow(self, axis: usize, start: usize, len: usize) -> Self {
        self.linear(|v| v.narrow(axis, start, len))
    }
    fn cat(xs: Vec<Self>, axis: usize) -> Self {
        let any = xs.iter().any(|x| x.tangent.is_some());
        let tangent = any.then(|| V::cat(xs.iter().map(Dual::tangent_or_zeros).collect(), axis));
        Dual {
            value: V::cat(xs.into_iter().map(|x| x.value).collect(), axis),
            tangent,
        }
    }
    fn constant(t: DynTensor) -> Self {
        Dual::zero_tangent(V::constant(t))
    }
    fn primal(&self) -> &DynTensor {
        self.value.primal()
    }
    fn add(self, o: Self) -> Self {
        Dual {
            value: self.value.add(o.value),
            tangent: add_opt(self.tangent, o.tangent),
        }
    }
    fn sub(self, o: Self) -> Self {
        let tangent = match (self.tangent, o.tangent) {
            (a, Some(b)) => Some(match a {
                Some(a) => a.sub(b),
                None => b.scale(-1.0),
            }),
            (a, None) => a,
        };
        Dual {
            value: self.value.sub(o.value),
            tangent,
        }
    }
    fn mul(self, o: Self) -> Self {
        let ta = self.tangent.map(|t| t.mul(o.value.clone()));
        let tb = o.tangent.map(|t| self.value.clone().mul(t));
        Dual {
            value: self.value.mul(o.value),
            tangent: add_opt(ta, tb),
        }
    }
    /// `(ta - y tb) / b` with `y = a / b`.
    fn div(self, o: Self) -> Self {
        let y = self.value.div(o.value.clone());
        let num = match (self.tangent, o.tangent) {
            (None, None) => None,
            (a, b) => {
                let yb = b.map(|b| y.clone().mul(b));
                Some(match (a, yb) {
                    (Some(a), Some(yb)) => a.sub(yb),
                    (Some(a), None) => a,
                    (None, Some(yb)) => yb.scale(-1.0),
                    (None, None) => unreachable!(),
                })
            }
        };
        Dual {
            tangent: num.map(|n| n.div(o.value)),
            value: y,
        }
    }
    fn scale(self, s: f64) -> Self {
        self.linear(|v| v.scale(s))
    }
    fn div_scalar(self, s: f64) -> Self {
        self.linear(|v| v.div_scalar(s))
    }
    fn shift(self, s: f64) -> Self {
        Dual {
            value: self.value.shift(s),
            tangent: self.tangent,
        }
    }
    fn sqrt(self) -> Self {
        let y = self.value.sqrt();
        let tangent = self.tangent.map(|t| t.div(y.clone().scale(2.0)));
        Dual { value: y, tangent }
    }
    fn square(self) -> Self {
        let tangent = self.tangent.map(|t| t.mul(self.value.clone()).scale(2.0));
        Dual {
            value: self.value.square(),
            tangent,
        }
    }
    fn exp(self) -> Self {
        let y = self.value.exp();
        Dual {
            tangent: self.tangent.map(|t| t.mul(y.clone())),
            value: y,
        }
    }
    fn log(self) -> Self {
        let tangent = self.tangent.map(|t| t.div(self.value.clone()));
        Dual {
            value: self.value.log(),
            tangent,
        }
    }
    /// `2 / sqrt(pi) e^(-x^2) t`.
    fn erf(self) -> Self {
        let d = self
            .value
            .clone()
            .square()
            .scale(-1.0)
            .exp()
            .scale(std::f64::consts::FRAC_2_SQRT_PI);
        Dual {
            tangent: self.tangent.map(|t| t.mul(d)),
            value: self.value.erf(),
        }
    }
    fn act(self, a: Act) -> Self {
        let y = self.value.clone().act(a);
        let tangent = self
            .tangent
            .map(|t| act_tangent(a, self.value, y.clone(), t));
        Dual { value: y, tangent }
    }
    fn sum_dim(self, axis: usize) -> Self {
        self.linear(|v| v.sum_dim(axis))
    }
    fn mean_dim(self, axis: usize) -> Self {
        self.linear(|v| v.mean_dim(axis))
    }
    fn matmul(self, rhs: Self) -> Self {
        let ta = self.tangent.map(|t| t.matmul(rhs.value.clone()));
        let tb = rhs.tangent.map(|t| self.value.clone().matmul(t));
        Dual {
            value: self.value.matmul(rhs.value),
            tangent: add_opt(ta, tb),
        }
    }
    /// `dx w + x dw + db`: the bias tangent rides on the first term's bias slot.
    fn dense(self, w: Self, b: Option<Self>) -> Self {
        let (b, tb) = split_bias(b);
        let tx = match (self.tangent, tb) {
            (Some(t), tb) => Some(t.dense(w.value.clone(), tb)),
            (None, Some(tb)) => Some(zeros(&self.value).dense(w.value.clone(), Some(tb))),
            (None, None) => None,
        };
        let tw = w.tangent.map(|t| self.value.clone().dense(t, None));
        Dual {
            value: self.value.dense(w.value, b),
            tangent: add_opt(tx, tw),
        }
    }
    fn conv(self, w: Self, b: Option<Self>, spec: &ConvSpec) -> Self {
        let (b, tb) = split_bias(b);
        let tx = match (self.tangent, tb) {
            (Some(t), tb) => Some(t.conv(w.value.clone(), tb, spec)),
            (None, Some(tb)) => Some(zeros(&self.value).conv(w.value.clone(), Some(tb), spec)),
            (None, None) => None,
        };
        let tw = w.tangent.map(|t| self.value.clone().conv(t, None, spec));
        Dual {
            value: self.value.conv(w.value, b, spec),
            tangent: add_opt(tx, tw),
        }
    }
    fn conv_transpose2d(self, w: Self, b: Option<Self>, spec: &ConvTransposeSpec) -> Self {
        let (b, tb) = split_bias(b);
        let tx = match (self.tangent, tb) {
            (Some(t), tb) => Some(t.conv_transpose2d(w.value.clone(), tb, spec)),
            (None, Some(tb)) => {
                Some(zeros(&self.value).conv_transpose2d(w.value.clone(), Some(tb), spec))
            }
            (None, None) => None,
        };
        let tw = w
            .tangent
            .map(|t| self.value.clone().conv_transpose2d(t, None, spec));
        Dual {
            value: self.value.conv_transpose2d(w.value, b, spec),
            tangent: add_opt(tx, tw),
        }
    }
    /// The tangent at each window's maximum (the first one on ties).
    fn max_pool2d(self, spec: &PoolSpec) -> Self {
        let tangent = self
            .tangent
            .map(|t| t.pool_at_argmax(self.value.primal(), spec));
        Dual {
            value: self.value.max_pool2d(spec),
            tangent,
        }
    }
    fn avg_pool2d(self, spec: &PoolSpec, count_include_pad: bool) -> Self {
        self.linear(|v| v.avg_pool2d(spec, count_include_pad))
    }
    fn adaptive_avg_pool2d(self, out: [usize; 2]) -> Self {
        self.linear(|v| v.adaptive_avg_pool2d(out))
    }
    fn embedding(ids: Tensor<2, Int>, w: Self) -> Self {
        let tangent = w.tangent.map(|t| V::embedding(ids.clone(), t));
        Dual {
            value: V::embedding(ids, w.value),
            tangent,
        }
    }
    fn pick(self, labels: Tensor<1, Int>) -> Self {
        self.linear(|v| v.pick(labels.clone()))
    }
    fn gather_hw(self, indices: &Tensor<4, Int>) -> Self {
        self.linear(|v| v.gather_hw(indices))
    }
}

fn split_bias<V: Val>(b: Option<Dual<V>>) -> (Option<V>, Option<V>) {
    match b {
        Some(b) => (Some(b.value), b.tangent),
        None => (None, None),
    }
}
