//! Lion (Chen et al. 2023, "Symbolic Discovery of Optimization Algorithms"): [`ScaleByLion`]
//! and the [`lion`] alias.

use crate::scale::{add_decayed_weights, scale_by_learning_rate};
use crate::schedule::Schedule;
use crate::state::{moment, zeros, OptState};
use crate::transform::{boxed, chain, check, Chain, OptimError, Transform};
use duet_core::Params;

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
        let (c1, c2) = ((1.0 - self.b1) as f32, (1.0 - self.b2) as f32);
        let old = s.tree("mu");
        let (mut mu, mut u) = (Params::new(), Params::new());
        for (path, g) in g.iter() {
            let m = moment(&old, path, "mu")?;
            u.insert(path, (m.clone() * b1 + g.clone() * c1).sign());
            mu.insert(path, m * b2 + g.clone() * c2);
        }
        let mut out = OptState::new();
        out.put_tree("mu", mu);
        Ok((u, out))
    }
}

/// Lion (Chen et al. 2023): `p -= lr * (sign(b1 m + (1-b1) g) + wd p)`, then
/// `m = b2 m + (1-b2) g`. The paper's (and optax's) defaults: b1 0.9, b2 0.99; it suggests a
/// learning rate 3-10x smaller and a weight decay 3-10x larger than AdamW's. Not in `torch.optim`;
/// burn's `LionConfig` has the same defaults.
///
/// # Example
/// ```
/// use duet_optim::{lion, Optimizer};
/// use duet_core::{burn::tensor::{Device, Tensor}, Params};
/// let dev = Device::flex();
/// let mut p = Params::new().with("w", Tensor::<1>::from_floats([1.0, 1.0], &dev));
/// let mut opt = Optimizer::new(lion(0.1, 0.9, 0.99, 0.5));
/// opt.update_params(&mut p, Params::new().with("w", Tensor::<1>::from_floats([-5.0, 0.01], &dev))).unwrap();
/// // Only the sign of the gradient counts: 1 - 0.1 * (-1 + 0.5) and 1 - 0.1 * (1 + 0.5).
/// let w = p.get_dyn("w").unwrap().to_vec();
/// assert!((w[0] - 1.05).abs() < 1e-6 && (w[1] - 0.85).abs() < 1e-6);
/// ```
pub fn lion(lr: impl Schedule + 'static, b1: f64, b2: f64, weight_decay: f64) -> Chain {
    chain(vec![
        boxed(scale_by_lion(b1, b2)),
        boxed(add_decayed_weights(weight_decay)),
        boxed(scale_by_learning_rate(lr)),
    ])
}
