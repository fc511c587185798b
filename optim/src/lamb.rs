//! LAMB (You et al. 2019, "Large Batch Optimization for Deep Learning"): the layer-wise
//! [`ScaleByTrustRatio`] and the [`lamb`] alias.

use crate::adam::scale_by_adam;
use crate::scale::{add_decayed_weights, scale_by_learning_rate};
use crate::schedule::Schedule;
use crate::state::OptState;
use crate::transform::{boxed, chain, Chain, OptimError, Transform};
use duet_core::Params;

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

/// LAMB (You et al. 2019): Adam's direction plus decoupled decay, scaled per tensor by the trust
/// ratio: `u = adam(g) + wd p`, `p -= lr * (||p|| / ||u||) * u`. eps 1e-6 as the paper and
/// optax's `lamb`; not in `torch.optim`; burn's `LambConfig` has the same defaults.
///
/// # Example
/// ```
/// use duet_optim::{lamb, Optimizer};
/// use duet_core::{burn::tensor::{Device, Tensor}, Params};
/// let dev = Device::flex();
/// let mut p = Params::new().with("w", Tensor::<1>::from_floats([3.0, 4.0], &dev)); // ||p|| = 5
/// let mut opt = Optimizer::new(lamb(0.01, 0.9, 0.999, 0.0));
/// opt.update_params(&mut p, Params::new().with("w", Tensor::<1>::from_floats([2.0, 0.0], &dev))).unwrap();
/// // Adam's first direction is (1, 0), scaled by ||p|| / ||u|| = 5.
/// let w = p.get_dyn("w").unwrap().to_vec();
/// assert!((w[0] - 2.95).abs() < 1e-5 && w[1] == 4.0);
/// ```
pub fn lamb(lr: impl Schedule + 'static, b1: f64, b2: f64, weight_decay: f64) -> Chain {
    chain(vec![
        boxed(scale_by_adam(b1, b2, 1e-6, false)),
        boxed(add_decayed_weights(weight_decay)),
        boxed(ScaleByTrustRatio),
        boxed(scale_by_learning_rate(lr)),
    ])
}
