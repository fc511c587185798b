//! Adam, AMSGrad and AdamW: [`ScaleByAdam`] and the [`adam`] / [`adamw`] aliases.

use crate::scale::{add_decayed_weights, scale_by_learning_rate};
use crate::schedule::Schedule;
use crate::state::{take_moment, zeros, OptState};
use crate::transform::{boxed, chain, check, update_then_add, Chain, OptimError, Transform};
use duet_core::kernels::{adam_moments, adam_step, AdamCoeffs};
use duet_core::{DynTensor, Params};

/// A pass's per-parameter result: the new moments and the pass's output.
type Triple = (DynTensor, DynTensor, DynTensor);

/// Adam's direction: `m = b1 m + (1-b1) g`, `v = b2 v + (1-b2) g^2`,
/// `u = (m / (1-b1^t)) / (sqrt(v / (1-b2^t)) + eps)`; with AMSGrad `v` in the denominator is
/// the running maximum of `v` (PyTorch's AMSGrad; `t` counts updates from 1).
///
/// `eps` is placed as PyTorch and optax place it: outside the square root, *after* bias
/// correction, default 1e-8. burn's `Adam` places it the same way but defaults to 1e-5. Trax and
/// Keras fold the bias corrections into the step size and add `eps` to the uncorrected
/// `sqrt(v)` (the paper's "epsilon hat"; Trax eps 1e-5, Keras 1e-7), which differs from this in
/// early steps.
pub struct ScaleByAdam {
    b1: f64,
    b2: f64,
    eps: f64,
    amsgrad: bool,
}

/// Adam's direction (see [`ScaleByAdam`]).
pub fn scale_by_adam(b1: f64, b2: f64, eps: f64, amsgrad: bool) -> ScaleByAdam {
    ScaleByAdam {
        b1,
        b2,
        eps,
        amsgrad,
    }
}

impl Transform for ScaleByAdam {
    fn init(&self, p: &Params) -> OptState {
        let mut s = OptState::new();
        s.put_tree("mu", zeros(p));
        s.put_tree("nu", zeros(p));
        if self.amsgrad {
            s.put_tree("nu_max", zeros(p));
        }
        s
    }
    fn update(&self, g: Params, s: OptState, p: &Params) -> Result<(Params, OptState), OptimError> {
        check(&g, p)?;
        let mut s = s;
        let mut max_old = s.take_tree("nu_max");
        let mut nu_max = Params::new();
        let (u, mut out) = self.pass(g, s, |path, m, v, g, c| {
            if !self.amsgrad {
                // One fused pass on `flex`; the same arithmetic as tensor ops elsewhere.
                return Ok(adam_moments(m, v, g, c));
            }
            let m = m * c.b1 + g.clone() * c.c1;
            let v = v * c.b2 + g.square() * c.c2;
            let vm = take_moment(&mut max_old, path, "nu_max")?.max_pair(v.clone());
            nu_max.insert(path.to_string(), vm.clone());
            let step = m.clone() / (vm.sqrt() / c.bc2_sqrt + c.eps) / c.bc1;
            Ok((m, v, step))
        })?;
        if self.amsgrad {
            out.put_tree("nu_max", nu_max);
        }
        Ok((u, out))
    }

    /// Adam's pass also writes the params (`kernels::adam_step`); AMSGrad takes the two-step
    /// default.
    fn step(
        &self,
        g: Params,
        s: OptState,
        p: Params,
        a: f32,
    ) -> Result<(Params, OptState), OptimError> {
        if self.amsgrad {
            return update_then_add(self, g, s, p, a);
        }
        check(&g, &p)?;
        let mut p = p;
        self.pass(g, s, |path, m, v, g, c| {
            let p = p.remove(path).expect("checked: same structure");
            let (p, m, v) = adam_step(p, m, v, g, c, a);
            Ok((m, v, p))
        })
    }
}

impl ScaleByAdam {
    /// One pass over the gradients: `f(path, m, v, g, coeffs) -> (m', v', out)` for each, with the
    /// moments taken out of the state (so the pass can overwrite them in place) and put back, and
    /// the update count advanced. Returns the `out` tree and the new state.
    fn pass(
        &self,
        g: Params,
        s: OptState,
        mut f: impl FnMut(
            &str,
            DynTensor,
            DynTensor,
            DynTensor,
            AdamCoeffs,
        ) -> Result<Triple, OptimError>,
    ) -> Result<(Params, OptState), OptimError> {
        let mut s = s;
        let t = s.counter("count") + 1;
        let c = self.coeffs(t);
        let (mut mu_old, mut nu_old) = (s.take_tree("mu"), s.take_tree("nu"));
        let (mut mu, mut nu, mut out) = (Params::new(), Params::new(), Params::new());
        for (path, g) in g {
            let m = take_moment(&mut mu_old, &path, "mu")?;
            let v = take_moment(&mut nu_old, &path, "nu")?;
            let (m, v, o) = f(&path, m, v, g, c)?;
            out.insert(path.clone(), o);
            mu.insert(path.clone(), m);
            nu.insert(path, v);
        }
        let mut state = OptState::new();
        state.put_tree("mu", mu);
        state.put_tree("nu", nu);
        state.set_counter("count", t);
        Ok((out, state))
    }

    /// The step's scalars for update `t` (from 1). `1 - b` in f64, then rounded: `1.0 - 0.999f32`
    /// is off by 1.3e-5 relative.
    fn coeffs(&self, t: u64) -> AdamCoeffs {
        AdamCoeffs {
            b1: self.b1 as f32,
            c1: (1.0 - self.b1) as f32,
            b2: self.b2 as f32,
            c2: (1.0 - self.b2) as f32,
            bc1: (1.0 - self.b1.powi(t as i32)) as f32,
            bc2_sqrt: (1.0 - self.b2.powi(t as i32)).sqrt() as f32,
            eps: self.eps as f32,
        }
    }
}

/// Adam options (PyTorch: betas (0.9, 0.999), eps 1e-8; burn's eps default is 1e-5).
#[derive(Clone, Copy, Debug)]
pub struct Adam {
    /// First-moment decay.
    pub b1: f64,
    /// Second-moment decay.
    pub b2: f64,
    /// Added to the denominator after bias correction.
    pub eps: f64,
    /// L2 penalty added to the gradient (not decoupled; see [`adamw`]).
    pub weight_decay: f64,
    /// Use the running maximum of the second moment.
    pub amsgrad: bool,
}

impl Adam {
    /// PyTorch's AdamW defaults: Adam's, with `weight_decay = 0.01`.
    pub fn adamw_default() -> Self {
        Adam {
            weight_decay: 1e-2,
            ..Adam::default()
        }
    }
}

impl Default for Adam {
    fn default() -> Self {
        Adam {
            b1: 0.9,
            b2: 0.999,
            eps: 1e-8,
            weight_decay: 0.0,
            amsgrad: false,
        }
    }
}

/// Adam, as `torch.optim.Adam` (weight decay as L2 added to the gradient).
///
/// # Example
/// ```
/// use duet_optim::{adam, Adam, Optimizer};
/// use duet_core::{burn::tensor::{Device, Tensor}, Params};
/// let dev = Device::flex();
/// let mut p = Params::new().with("w", Tensor::<1>::from_floats([1.0], &dev));
/// let mut opt = Optimizer::new(adam(0.1, Adam::default()));
/// opt.update_params(&mut p, Params::new().with("w", Tensor::<1>::from_floats([3.0], &dev))).unwrap();
/// // The first Adam step moves by lr in the sign of the gradient.
/// assert!((p.get_dyn("w").unwrap().to_vec()[0] - 0.9).abs() < 1e-6);
/// ```
pub fn adam(lr: impl Schedule + 'static, o: Adam) -> Chain {
    chain(vec![
        boxed(add_decayed_weights(o.weight_decay)),
        boxed(scale_by_adam(o.b1, o.b2, o.eps, o.amsgrad)),
        boxed(scale_by_learning_rate(lr)),
    ])
}

/// AdamW, as `torch.optim.AdamW`: decoupled decay `p -= lr * (adam(g) + wd * p)`.
///
/// PyTorch's AdamW defaults to `weight_decay = 0.01` ([`Adam::adamw_default`]); optax's
/// `adamw` to 1e-4 (and multiplies the decay by the learning rate as here); Keras' `AdamW` to
/// 0.004. burn's `AdamWConfig` defaults to 1e-4 with eps 1e-5.
///
/// # Example
/// ```
/// use duet_optim::{adamw, Adam, Optimizer};
/// use duet_core::{burn::tensor::{Device, Tensor}, Params};
/// let dev = Device::flex();
/// let mut p = Params::new().with("w", Tensor::<1>::from_floats([1.0], &dev));
/// let mut opt = Optimizer::new(adamw(0.1, Adam { weight_decay: 0.1, ..Adam::default() }));
/// opt.update_params(&mut p, Params::new().with("w", Tensor::<1>::from_floats([3.0], &dev))).unwrap();
/// // Adam's first step is lr * sign(g) = 0.1, plus the decoupled decay lr * wd * p = 0.01.
/// assert!((p.get_dyn("w").unwrap().to_vec()[0] - 0.89).abs() < 1e-6);
/// ```
pub fn adamw(lr: impl Schedule + 'static, o: Adam) -> Chain {
    chain(vec![
        boxed(scale_by_adam(o.b1, o.b2, o.eps, o.amsgrad)),
        boxed(add_decayed_weights(o.weight_decay)),
        boxed(scale_by_learning_rate(lr)),
    ])
}
