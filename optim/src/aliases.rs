//! The usual optimizers as chains of transforms, with PyTorch's defaults.
//!
//! Each is `chain([weight decay?], direction, [decoupled decay?], scale_by_learning_rate(lr))`.
//! `lr` is any [`Schedule`]; a plain `f64` is a constant rate.

use crate::moments::{
    scale_by_adagrad, scale_by_adam, scale_by_lion, scale_by_rms, trace, ScaleByTrustRatio,
};
use crate::scale::{add_decayed_weights, scale_by_learning_rate};
use crate::schedule::Schedule;
use crate::transform::{chain, Chain, Transform};

fn boxed(t: impl Transform + 'static) -> Box<dyn Transform> {
    Box::new(t)
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

/// AdamW, as `torch.optim.AdamW`: decoupled decay `p -= lr * (adam(g) + wd * p)`;
/// `weight_decay` in the options (PyTorch's default 0.01).
pub fn adamw(lr: impl Schedule + 'static, o: Adam) -> Chain {
    chain(vec![
        boxed(scale_by_adam(o.b1, o.b2, o.eps, o.amsgrad)),
        boxed(add_decayed_weights(o.weight_decay)),
        boxed(scale_by_learning_rate(lr)),
    ])
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

/// RMSProp, as `torch.optim.RMSprop`. Swift for TensorFlow's `RMSProp(learningRate:rho:decay:)`
/// is `rmsprop(InverseTimeDecay { lr, decay }, RmsProp { alpha: rho, .. })`.
pub fn rmsprop(lr: impl Schedule + 'static, o: RmsProp) -> Chain {
    chain(vec![
        boxed(add_decayed_weights(o.weight_decay)),
        boxed(scale_by_rms(o.alpha, o.eps, o.centered, o.momentum)),
        boxed(scale_by_learning_rate(lr)),
    ])
}

/// Adagrad, as `torch.optim.Adagrad` (eps 1e-10, initial accumulator 0).
pub fn adagrad(lr: impl Schedule + 'static, eps: f64) -> Chain {
    chain(vec![
        boxed(scale_by_adagrad(eps, 0.0)),
        boxed(scale_by_learning_rate(lr)),
    ])
}

/// Lion (Chen et al. 2023): `p -= lr * (sign(b1 m + (1-b1) g) + wd p)`; defaults b1 0.9, b2 0.99.
pub fn lion(lr: impl Schedule + 'static, b1: f64, b2: f64, weight_decay: f64) -> Chain {
    chain(vec![
        boxed(scale_by_lion(b1, b2)),
        boxed(add_decayed_weights(weight_decay)),
        boxed(scale_by_learning_rate(lr)),
    ])
}

/// LAMB (You et al. 2019): Adam's direction plus decoupled decay, scaled per tensor by the trust
/// ratio `||p|| / ||u||`; eps 1e-6 as the paper.
pub fn lamb(lr: impl Schedule + 'static, b1: f64, b2: f64, weight_decay: f64) -> Chain {
    chain(vec![
        boxed(scale_by_adam(b1, b2, 1e-6, false)),
        boxed(add_decayed_weights(weight_decay)),
        boxed(ScaleByTrustRatio),
        boxed(scale_by_learning_rate(lr)),
    ])
}
