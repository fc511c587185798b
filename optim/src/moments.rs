//! Stateful scaling transforms: momentum ([`trace`]), Adam, RMSProp, Adagrad, Lion, and LAMB's
//! trust ratio. Each returns a *direction*; [`scale_by_learning_rate`](crate::scale_by_learning_rate)
//! turns it into a step.

use crate::state::OptState;
use crate::transform::{check, OptimError, Transform};
use duet_core::{DynTensor, Params};

fn zeros(p: &Params) -> Params {
    p.map(|t| t.without_autodiff().zeros_like())
}

fn get(tree: &Params, path: &str, what: &str) -> Result<DynTensor, OptimError> {
    tree.get_dyn(path)
        .cloned()
        .map_err(|_| OptimError::State(format!("no `{what}` moment for `{path}`")))
}

/// Momentum, PyTorch's SGD convention: `buf = m * buf + (1 - dampening) * g` (the first step sets
/// `buf = g`), then `u = buf`, or `u = g + m * buf` with Nesterov.
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
        let (m, d) = (self.momentum as f32, 1.0 - self.dampening as f32);
        let first = s.counter("count") == 0;
        let buf_old = s.tree("buf");
        let mut buf = Params::new();
        let mut u = Params::new();
        for (path, g) in g.iter() {
            let b = if first {
                g.clone()
            } else {
                get(&buf_old, path, "buf")? * m + g.clone() * d
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

/// Adam's direction: `m = b1 m + (1-b1) g`, `v = b2 v + (1-b2) g^2`,
/// `u = (m / (1-b1^t)) / (sqrt(v / (1-b2^t)) + eps)`; with AMSGrad `v` in the denominator is
/// the running maximum. PyTorch's placement of `eps` (outside the square root, after bias
/// correction); burn's default eps is 1e-5, PyTorch's and optax's 1e-8.
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
        let t = s.counter("count") + 1;
        let (b1, b2) = (self.b1 as f32, self.b2 as f32);
        let bc1 = 1.0 - self.b1.powi(t as i32);
        let bc2_sqrt = (1.0 - self.b2.powi(t as i32)).sqrt();
        let (mu_old, nu_old, max_old) = (s.tree("mu"), s.tree("nu"), s.tree("nu_max"));
        let (mut mu, mut nu, mut nu_max, mut u) =
            (Params::new(), Params::new(), Params::new(), Params::new());
        for (path, g) in g.iter() {
            let m = get(&mu_old, path, "mu")? * b1 + g.clone() * (1.0 - b1);
            let v = get(&nu_old, path, "nu")? * b2 + g.clone().square() * (1.0 - b2);
            let denom_v = if self.amsgrad {
                let vm = get(&max_old, path, "nu_max")?.max_pair(v.clone());
                nu_max.insert(path, vm.clone());
                vm
            } else {
                v.clone()
            };
            let denom = denom_v.sqrt() / bc2_sqrt as f32 + self.eps as f32;
            u.insert(path, m.clone() / denom / bc1 as f32);
            mu.insert(path, m);
            nu.insert(path, v);
        }
        let mut out = OptState::new();
        out.put_tree("mu", mu);
        out.put_tree("nu", nu);
        if self.amsgrad {
            out.put_tree("nu_max", nu_max);
        }
        out.set_counter("count", t);
        Ok((u, out))
    }
}

/// RMSProp's direction, PyTorch's convention: `v = a v + (1-a) g^2` (starting at zero; Trax
/// starts at ones), `d = sqrt(v) + eps` (centered: `sqrt(v - gbar^2) + eps` with
/// `gbar = a gbar + (1-a) g`), then `u = g / d`, or with momentum `buf = m buf + g / d`, `u = buf`.
/// Keras puts eps inside the square root and burn defaults to eps 1e-5 and momentum 0.9.
pub struct ScaleByRms {
    alpha: f64,
    eps: f64,
    centered: bool,
    momentum: f64,
}

/// RMSProp's direction (see [`ScaleByRms`]).
pub fn scale_by_rms(alpha: f64, eps: f64, centered: bool, momentum: f64) -> ScaleByRms {
    ScaleByRms {
        alpha,
        eps,
        centered,
        momentum,
    }
}

impl Transform for ScaleByRms {
    fn init(&self, p: &Params) -> OptState {
        let mut s = OptState::new();
        s.put_tree("nu", zeros(p));
        if self.centered {
            s.put_tree("gbar", zeros(p));
        }
        if self.momentum > 0.0 {
            s.put_tree("buf", zeros(p));
        }
        s
    }
    fn update(&self, g: Params, s: OptState, p: &Params) -> Result<(Params, OptState), OptimError> {
        check(&g, p)?;
        let a = self.alpha as f32;
        let (nu_old, gbar_old, buf_old) = (s.tree("nu"), s.tree("gbar"), s.tree("buf"));
        let mut out = OptState::new();
        let (mut nu, mut gbar, mut buf, mut u) =
            (Params::new(), Params::new(), Params::new(), Params::new());
        for (path, g) in g.iter() {
            let v = get(&nu_old, path, "nu")? * a + g.clone().square() * (1.0 - a);
            let var = if self.centered {
                let gb = get(&gbar_old, path, "gbar")? * a + g.clone() * (1.0 - a);
                gbar.insert(path, gb.clone());
                v.clone() - gb.square()
            } else {
                v.clone()
            };
            let d = g.clone() / (var.sqrt() + self.eps as f32);
            let step = if self.momentum > 0.0 {
                let b = get(&buf_old, path, "buf")? * self.momentum as f32 + d;
                buf.insert(path, b.clone());
                b
            } else {
                d
            };
            u.insert(path, step);
            nu.insert(path, v);
        }
        out.put_tree("nu", nu);
        if self.centered {
            out.put_tree("gbar", gbar);
        }
        if self.momentum > 0.0 {
            out.put_tree("buf", buf);
        }
        Ok((u, out))
    }
}

/// Adagrad's direction: `sum += g^2`, `u = g / (sqrt(sum) + eps)` (PyTorch: eps 1e-10, initial
/// accumulator 0; Keras starts at 0.1 and optax at 0.1).
pub struct ScaleByAdagrad {
    eps: f64,
    initial: f64,
}

/// Adagrad's direction (see [`ScaleByAdagrad`]).
pub fn scale_by_adagrad(eps: f64, initial_accumulator: f64) -> ScaleByAdagrad {
    ScaleByAdagrad {
        eps,
        initial: initial_accumulator,
    }
}

impl Transform for ScaleByAdagrad {
    fn init(&self, p: &Params) -> OptState {
        let mut s = OptState::new();
        s.put_tree(
            "sum",
            p.map(|t| t.without_autodiff().full_like(self.initial as f32)),
        );
        s
    }
    fn update(&self, g: Params, s: OptState, p: &Params) -> Result<(Params, OptState), OptimError> {
        check(&g, p)?;
        let old = s.tree("sum");
        let (mut sum, mut u) = (Params::new(), Params::new());
        for (path, g) in g.iter() {
            let acc = get(&old, path, "sum")? + g.clone().square();
            u.insert(path, g.clone() / (acc.clone().sqrt() + self.eps as f32));
            sum.insert(path, acc);
        }
        let mut out = OptState::new();
        out.put_tree("sum", sum);
        Ok((u, out))
    }
}

/// Lion's direction (Chen et al. 2023): `u = sign(b1 m + (1-b1) g)`, then `m = b2 m + (1-b2) g`.
pub struct ScaleByLion {
    b1: f64,
    b2: f64,
}

/// Lion's direction (see [`ScaleByLion`]); the paper's defaults are `b1 = 0.9`, `b2 = 0.99`.
pub fn scale_by_lion(b1: f64, b2: f64) -> ScaleByLion {
    ScaleByLion { b1, b2 }
}

impl Transform for ScaleByLion {
    fn init(&self, p: &Params) -> OptState {
        let mut s = OptState::new();
        s.put_tree("mu", zeros(p));
        s
    }
    fn update(&self, g: Params, s: OptState, p: &Params) -> Result<(Params, OptState), OptimError> {
        check(&g, p)?;
        let (b1, b2) = (self.b1 as f32, self.b2 as f32);
        let old = s.tree("mu");
        let (mut mu, mut u) = (Params::new(), Params::new());
        for (path, g) in g.iter() {
            let m = get(&old, path, "mu")?;
            u.insert(path, (m.clone() * b1 + g.clone() * (1.0 - b1)).sign());
            mu.insert(path, m * b2 + g.clone() * (1.0 - b2));
        }
        let mut out = OptState::new();
        out.put_tree("mu", mu);
        Ok((u, out))
    }
}

/// LAMB's layer-wise trust ratio: `u = u * (||p|| / ||u||)`, or `u` unchanged where either norm
/// is zero. Computed on the device.
pub struct ScaleByTrustRatio;

impl Transform for ScaleByTrustRatio {
    fn init(&self, _: &Params) -> OptState {
        OptState::new()
    }
    fn update(&self, u: Params, s: OptState, p: &Params) -> Result<(Params, OptState), OptimError> {
        let out = u.zip_map(p, |u, p| {
            let pn = p.without_autodiff().sum_squares().sqrt();
            let un = u.clone().sum_squares().sqrt();
            let both = pn
                .clone()
                .greater_elem(0.0)
                .bool_and(un.clone().greater_elem(0.0));
            let ratio = (pn / un.clamp_min(1e-30)).mask_where(
                both.bool_not(),
                duet_core::burn::tensor::Tensor::ones([1], &u.device()),
            );
            u.mul_scalar_tensor(ratio)
        })?;
        Ok((out, s))
    }
}
