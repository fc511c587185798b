//! Adagrad: [`ScaleByAdagrad`] and the [`adagrad`] alias.

use crate::scale::{add_decayed_weights, scale_by_learning_rate};
use crate::schedule::Schedule;
use crate::state::{moment, OptState};
use crate::transform::{boxed, chain, check, Chain, OptimError, Transform};
use duet_core::Params;

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
            let acc = moment(&old, path, "sum")? + g.clone().square();
            u.insert(path, g.clone() / (acc.clone().sqrt() + self.eps as f32));
            sum.insert(path, acc);
        }
        let mut out = OptState::new();
        out.put_tree("sum", sum);
        Ok((u, out))
    }
}

/// Adagrad options, PyTorch's defaults: eps 1e-10, initial accumulator 0, no weight decay, no
/// lr decay. Keras and optax start the accumulator at 0.1 and use eps 1e-7; burn's
/// `AdaGradConfig` uses eps 1e-5.
#[derive(Clone, Copy, Debug)]
pub struct Adagrad {
    /// Added to the root of the accumulator.
    pub eps: f64,
    /// The accumulator's initial value.
    pub initial_accumulator: f64,
    /// L2 penalty added to the gradient.
    pub weight_decay: f64,
    /// PyTorch's `lr_decay`: the `k`-th update (from 0) uses `lr / (1 + k * lr_decay)`.
    pub lr_decay: f64,
}

impl Default for Adagrad {
    fn default() -> Self {
        Adagrad {
            eps: 1e-10,
            initial_accumulator: 0.0,
            weight_decay: 0.0,
            lr_decay: 0.0,
        }
    }
}

/// `lr(k) / (1 + k * decay)`: PyTorch Adagrad's `lr_decay`.
struct AdagradLrDecay<S> {
    inner: S,
    decay: f64,
}

impl<S: Schedule> Schedule for AdagradLrDecay<S> {
    fn lr(&self, step: u64) -> f64 {
        self.inner.lr(step) / (1.0 + step as f64 * self.decay)
    }
}

/// Adagrad, as `torch.optim.Adagrad`: `g += wd p`, `sum += g^2`,
/// `p -= lr / (1 + k lr_decay) * g / (sqrt(sum) + eps)`.
///
/// # Example
/// ```
/// use duet_optim::{adagrad, Adagrad, Optimizer};
/// use duet_core::{burn::tensor::{Device, Tensor}, Params};
/// let dev = Device::flex();
/// let mut p = Params::new().with("w", Tensor::<1>::from_floats([1.0], &dev));
/// let mut opt = Optimizer::new(adagrad(0.1, Adagrad::default()));
/// let g = |v: f32| Params::new().with("w", Tensor::<1>::from_floats([v], &dev));
/// opt.update_params(&mut p, g(3.0)).unwrap(); // sum 9: moves by lr
/// opt.update_params(&mut p, g(4.0)).unwrap(); // sum 25: moves by 0.1 * 4 / 5
/// assert!((p.get_dyn("w").unwrap().to_vec()[0] - 0.82).abs() < 1e-6);
/// ```
pub fn adagrad(lr: impl Schedule + 'static, o: Adagrad) -> Chain {
    let lr: Box<dyn Transform> = if o.lr_decay != 0.0 {
        boxed(scale_by_learning_rate(AdagradLrDecay {
            inner: lr,
            decay: o.lr_decay,
        }))
    } else {
        boxed(scale_by_learning_rate(lr))
    };
    chain(vec![
        boxed(add_decayed_weights(o.weight_decay)),
        boxed(scale_by_adagrad(o.eps, o.initial_accumulator)),
        lr,
    ])
}
