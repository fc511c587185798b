//! Skip-if-not-finite: [`skip_not_finite`] drops and counts steps whose gradients hold a NaN or
//! an infinity (optax's `apply_if_finite`).

use crate::state::OptState;
use crate::transform::{check, OptimError, Transform};
use duet_core::Params;

/// Skips steps whose gradients hold a NaN or an infinity (zero updates, `inner`'s state kept)
/// and counts them in the counter `skipped`. Reads one scalar from the device per step.
pub struct SkipNotFinite<T> {
    inner: T,
}

/// Wraps `inner` so non-finite gradients are skipped and counted (see [`SkipNotFinite`]).
///
/// # Example
/// ```
/// use duet_optim::{skip_not_finite, scale, Transform};
/// use duet_core::{burn::tensor::{Device, Tensor}, Params};
/// let dev = Device::flex();
/// let p = Params::new().with("w", Tensor::<1>::zeros([1], &dev));
/// let tx = skip_not_finite(scale(-1.0));
/// let bad = Params::new().with("w", Tensor::<1>::from_floats([f32::NAN], &dev));
/// let (u, s) = tx.update(bad, tx.init(&p), &p).unwrap();
/// assert_eq!(u.get_dyn("w").unwrap().to_vec(), vec![0.0]);
/// assert_eq!(s.counter("skipped"), 1);
/// ```
pub fn skip_not_finite<T: Transform>(inner: T) -> SkipNotFinite<T> {
    SkipNotFinite { inner }
}

/// Whether every element of every tensor is finite (one scalar read from the device).
pub fn all_finite(tree: &Params) -> bool {
    // x - x is 0 for finite x and NaN for NaN or infinities; the sum is NaN if any is.
    let total = tree
        .iter()
        .map(|(_, t)| (t.clone() - t.clone()).sum())
        .reduce(|a, b| a + b);
    total.is_none_or(|t| t.into_scalar::<f32>().is_finite())
}

impl<T: Transform> Transform for SkipNotFinite<T> {
    fn init(&self, p: &Params) -> OptState {
        let mut s = OptState::new();
        s.nest("inner", self.inner.init(p));
        s.set_counter("skipped", 0);
        s
    }
    fn update(&self, g: Params, s: OptState, p: &Params) -> Result<(Params, OptState), OptimError> {
        check(&g, p)?;
        if !all_finite(&g) {
            let mut out = s;
            out.set_counter("skipped", out.counter("skipped") + 1);
            return Ok((g.map(|t| t.zeros_like()), out));
        }
        let (u, inner) = self.inner.update(g, s.sub("inner"), p)?;
        let mut out = OptState::new();
        out.nest("inner", inner);
        out.set_counter("skipped", s.counter("skipped"));
        Ok((u, out))
    }

    fn learning_rate(&self, state: &OptState) -> Option<f64> {
        self.inner.learning_rate(&state.sub("inner"))
    }
}
