//! RMSProp (plain, centered, with momentum): [`ScaleByRms`] and the [`rmsprop`] alias.

use crate::scale::{add_decayed_weights, scale_by_learning_rate};
use crate::schedule::Schedule;
use crate::state::{take_moment, zeros, OptState};
use crate::transform::{boxed, chain, check, Chain, OptimError, Transform};
use duet_core::kernels::rms_moments;
use duet_core::Params;

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
        let mut s = s;
        // `1 - alpha` in f64, then rounded (exact to the f32 ulp, unlike `1.0 - 0.99f32`).
        let (a, c, eps) = (
            self.alpha as f32,
            (1.0 - self.alpha) as f32,
            self.eps as f32,
        );
        // Moments are taken out of the state so the update can overwrite them in place.
        let (mut nu_old, mut gbar_old) = (s.take_tree("nu"), s.take_tree("gbar"));
        let mut buf_old = s.take_tree("buf");
        let mut out = OptState::new();
        let (mut nu, mut gbar, mut buf, mut u) =
            (Params::new(), Params::new(), Params::new(), Params::new());
        for (path, g) in g {
            let v_old = take_moment(&mut nu_old, &path, "nu")?;
            let (v, d) = if self.centered {
                let v = v_old * a + g.clone().square() * c;
                let gb = take_moment(&mut gbar_old, &path, "gbar")? * a + g.clone() * c;
                gbar.insert(path.clone(), gb.clone());
                let d = g / ((v.clone() - gb.square()).sqrt() + eps);
                (v, d)
            } else {
                // One fused pass on `flex`; the same arithmetic as tensor ops elsewhere.
                rms_moments(v_old, g, a, c, eps)
            };
            let step = if self.momentum > 0.0 {
                let b = take_moment(&mut buf_old, &path, "buf")? * self.momentum as f32 + d;
                buf.insert(path.clone(), b.clone());
                b
            } else {
                d
            };
            u.insert(path.clone(), step);
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

/// RMSProp options (PyTorch: alpha 0.99, eps 1e-8, not centered, no momentum).
#[derive(Clone, Copy, Debug)]
pub struct RmsProp {
    /// Decay of the squared-gradient average.
    pub alpha: f64,
    /// Added to the root.
    pub eps: f64,
    /// Normalize by the variance instead of the second moment.
    pub centered: bool,
    /// Momentum on the scaled gradient.
    pub momentum: f64,
    /// L2 penalty added to the gradient.
    pub weight_decay: f64,
}

impl Default for RmsProp {
    fn default() -> Self {
        RmsProp {
            alpha: 0.99,
            eps: 1e-8,
            centered: false,
            momentum: 0.0,
            weight_decay: 0.0,
        }
    }
}

/// RMSProp, as `torch.optim.RMSprop`: `g += wd p`, then [`ScaleByRms`], then `p -= lr * u`.
///
/// Swift for TensorFlow's `RMSProp(learningRate:rho:epsilon:decay:)` is
/// `rmsprop(InverseTimeDecay { lr, decay }, RmsProp { alpha: rho, .. })` (S4TF's defaults: lr
/// 1e-3, rho 0.9, eps 1e-8). Differences elsewhere: Keras puts eps inside the square root
/// (`sqrt(v + eps)`, eps 1e-7, rho 0.9); Trax starts `v` at ones (so early steps are small);
/// optax's `rmsprop` has decay 0.9 and eps 1e-8 outside the root; burn's `RmsPropConfig`
/// defaults to alpha 0.99, eps 1e-5 and momentum 0.9.
///
/// # Example
/// ```
/// use duet_optim::{rmsprop, Optimizer, RmsProp};
/// use duet_core::{burn::tensor::{Device, Tensor}, Params};
/// let dev = Device::flex();
/// let mut p = Params::new().with("w", Tensor::<1>::from_floats([1.0], &dev));
/// let mut opt = Optimizer::new(rmsprop(0.01, RmsProp::default()));
/// opt.update_params(&mut p, Params::new().with("w", Tensor::<1>::from_floats([2.0], &dev))).unwrap();
/// // v = 0.01 * 4, so the step is 0.01 * 2 / 0.2 = 0.1.
/// assert!((p.get_dyn("w").unwrap().to_vec()[0] - 0.9).abs() < 1e-6);
/// ```
pub fn rmsprop(lr: impl Schedule + 'static, o: RmsProp) -> Chain {
    chain(vec![
        boxed(add_decayed_weights(o.weight_decay)),
        boxed(scale_by_rms(o.alpha, o.eps, o.centered, o.momentum)),
        boxed(scale_by_learning_rate(lr)),
    ])
}
