//! SGD, as `torch.optim.SGD`: the momentum [`Trace`] and the [`sgd`] alias.

use crate::scale::{add_decayed_weights, scale_by_learning_rate};
use crate::schedule::Schedule;
use crate::state::{moment, zeros, OptState};
use crate::transform::{boxed, chain, check, Chain, OptimError, Transform};
use duet_core::Params;

/// Momentum, PyTorch's SGD convention: `buf = m * buf + (1 - dampening) * g` (the first step sets
/// `buf = g`), then `u = buf`, or `u = g + m * buf` with Nesterov.
///
/// optax's `trace` starts from `buf = 0` and has no dampening; Keras' SGD momentum keeps a
/// velocity `v = m v - lr g` (the learning rate inside the trace, which differs from this when the
/// learning rate changes); burn's `MomentumConfig` follows PyTorch.
pub struct Trace {
    momentum: f64,
    dampening: f64,
    nesterov: bool,
}

/// Momentum (see [`Trace`]).
pub fn trace(momentum: f64, dampening: f64, nesterov: bool) -> Trace {
    Trace {
        momentum,
        dampening,
        nesterov,
    }
}

impl Transform for Trace {
    fn init(&self, p: &Params) -> OptState {
        let mut s = OptState::new();
        s.put_tree("buf", zeros(p));
        s
    }
    fn update(&self, g: Params, s: OptState, p: &Params) -> Result<(Params, OptState), OptimError> {
        check(&g, p)?;
        let (m, d) = (self.momentum as f32, (1.0 - self.dampening) as f32);
        let first = s.counter("count") == 0;
        let buf_old = s.tree("buf");
        let mut buf = Params::new();
        let mut u = Params::new();
        for (path, g) in g.iter() {
            let b = if first {
                g.clone()
            } else {
                moment(&buf_old, path, "buf")? * m + g.clone() * d
            };
            u.insert(
                path,
                if self.nesterov {
                    g.clone() + b.clone() * m
                } else {
                    b.clone()
                },
            );
            buf.insert(path, b);
        }
        let mut out = OptState::new();
        out.put_tree("buf", buf);
        out.set_counter("count", s.counter("count") + 1);
        Ok((u, out))
    }
}

/// SGD options (PyTorch's defaults: no momentum, no dampening, no Nesterov, no weight decay).
#[derive(Clone, Copy, Debug, Default)]
pub struct Sgd {
    /// Momentum factor.
    pub momentum: f64,
    /// Dampening of the momentum's gradient term.
    pub dampening: f64,
    /// Nesterov momentum.
    pub nesterov: bool,
    /// L2 penalty added to the gradient.
    pub weight_decay: f64,
}

/// SGD: `p -= lr * (momentum-traced (g + wd p))`, as `torch.optim.SGD`.
///
/// # Example
/// ```
/// use duet_optim::{sgd, Optimizer, Sgd};
/// use duet_core::{burn::tensor::{Device, Tensor}, Params};
/// let dev = Device::flex();
/// let mut p = Params::new().with("w", Tensor::<1>::from_floats([1.0], &dev));
/// let mut opt = Optimizer::new(sgd(0.1, Sgd::default()));
/// opt.update_params(&mut p, Params::new().with("w", Tensor::<1>::from_floats([2.0], &dev))).unwrap();
/// assert!((p.get_dyn("w").unwrap().to_vec()[0] - 0.8).abs() < 1e-7);
/// ```
pub fn sgd(lr: impl Schedule + 'static, o: Sgd) -> Chain {
    let mut v = vec![boxed(add_decayed_weights(o.weight_decay))];
    if o.momentum > 0.0 {
        v.push(boxed(trace(o.momentum, o.dampening, o.nesterov)));
    }
    v.push(boxed(scale_by_learning_rate(lr)));
    chain(v)
}
