//! Gradient accumulation: [`multi_steps`] (optax's `MultiSteps`).

use crate::state::OptState;
use crate::transform::{check, OptimError, Transform};
use duet_core::Params;

/// Gradient accumulation (optax's `MultiSteps`): averages `k` calls' gradients and applies
/// `inner` on every `k`-th call; the other calls return zero updates.
pub struct MultiSteps<T> {
    k: u64,
    inner: T,
}

/// Accumulates `k` gradients per real update (see [`MultiSteps`]).
///
/// # Example
/// ```
/// use duet_optim::{multi_steps, scale, Transform};
/// use duet_core::{burn::tensor::{Device, Tensor}, Params};
/// let dev = Device::flex();
/// let p = Params::new().with("w", Tensor::<1>::zeros([1], &dev));
/// let g = |v: f32| Params::new().with("w", Tensor::<1>::from_floats([v], &dev));
/// let tx = multi_steps(2, scale(-1.0));
/// let (u1, s) = tx.update(g(1.0), tx.init(&p), &p).unwrap();
/// let (u2, _) = tx.update(g(3.0), s, &p).unwrap();
/// assert_eq!(u1.get_dyn("w").unwrap().to_vec(), vec![0.0]);
/// assert_eq!(u2.get_dyn("w").unwrap().to_vec(), vec![-2.0]); // mean of 1 and 3
/// ```
pub fn multi_steps<T: Transform>(k: u64, inner: T) -> MultiSteps<T> {
    assert!(k >= 1, "multi_steps: k must be at least 1");
    MultiSteps { k, inner }
}

impl<T: Transform> Transform for MultiSteps<T> {
    fn init(&self, p: &Params) -> OptState {
        let mut s = OptState::new();
        s.put_tree("acc", p.map(|t| t.without_autodiff().zeros_like()));
        s.nest("inner", self.inner.init(p));
        s
    }
    fn update(&self, g: Params, s: OptState, p: &Params) -> Result<(Params, OptState), OptimError> {
        check(&g, p)?;
        let acc = s.tree("acc").zip_map(&g, |a, g| a + g)?;
        let micro = s.counter("micro") + 1;
        let mut out = OptState::new();
        if micro < self.k {
            out.put_tree("acc", acc);
            out.nest("inner", s.sub("inner"));
            out.set_counter("micro", micro);
            return Ok((g.map(|t| t.zeros_like()), out));
        }
        let mean = acc.map(|a| a / self.k as f32);
        let (u, inner) = self.inner.update(mean, s.sub("inner"), p)?;
        out.put_tree("acc", p.map(|t| t.without_autodiff().zeros_like()));
        out.nest("inner", inner);
        out.set_counter("micro", 0);
        Ok((u, out))
    }

    fn learning_rate(&self, state: &OptState) -> Option<f64> {
        self.inner.learning_rate(&state.sub("inner"))
    }
}
