//! Transforms that wrap others: [`partition`] / [`freeze`], [`multi_steps`], [`skip_not_finite`].

use crate::state::OptState;
use crate::transform::{check, OptimError, Transform};
use duet_core::Params;

type PathPredicate = Box<dyn Fn(&str) -> bool + Send + Sync>;

/// Gives each subset of the params (chosen by path) its own transform; the first matching
/// predicate wins, the rest go to `default`. Child `i`'s state lives under `i.`.
pub struct Partition {
    groups: Vec<(PathPredicate, Box<dyn Transform>)>,
    default: Option<Box<dyn Transform>>,
}

/// Splits params by path among transforms; params matched by no group get `default`, or a zero
/// update when `default` is `None` (frozen).
///
/// # Example
/// ```
/// use duet_optim::{partition, scale, Transform};
/// use duet_core::{burn::tensor::{Device, Tensor}, Params};
/// let dev = Device::flex();
/// let p = Params::new().with("backbone.w", Tensor::<1>::ones([1], &dev)).with("head.w", Tensor::<1>::ones([1], &dev));
/// let tx = partition(vec![(Box::new(|path: &str| path.starts_with("head.")), Box::new(scale(-0.5)))], None);
/// let (u, _) = tx.update(p.clone(), tx.init(&p), &p).unwrap();
/// assert_eq!(u.get_dyn("head.w").unwrap().to_vec(), vec![-0.5]);
/// assert_eq!(u.get_dyn("backbone.w").unwrap().to_vec(), vec![0.0]); // frozen
/// ```
pub fn partition(
    groups: Vec<(PathPredicate, Box<dyn Transform>)>,
    default: Option<Box<dyn Transform>>,
) -> Partition {
    Partition { groups, default }
}

/// Freezes the params whose path satisfies `frozen` (zero updates) and applies `inner` to the rest.
pub fn freeze(
    frozen: impl Fn(&str) -> bool + Send + Sync + 'static,
    inner: impl Transform + 'static,
) -> Partition {
    partition(
        vec![(Box::new(move |p: &str| !frozen(p)), Box::new(inner))],
        None,
    )
}

impl Partition {
    fn group_of(&self, path: &str) -> Option<usize> {
        self.groups.iter().position(|(pred, _)| pred(path))
    }
    fn split(&self, tree: &Params, group: Option<usize>) -> Params {
        tree.filter(|path| self.group_of(path) == group)
    }
}

impl Transform for Partition {
    fn init(&self, p: &Params) -> OptState {
        let mut s = OptState::new();
        for (i, (_, t)) in self.groups.iter().enumerate() {
            s.nest(&i.to_string(), t.init(&self.split(p, Some(i))));
        }
        if let Some(d) = &self.default {
            s.nest("default", d.init(&self.split(p, None)));
        }
        s
    }
    fn update(&self, g: Params, s: OptState, p: &Params) -> Result<(Params, OptState), OptimError> {
        check(&g, p)?;
        let mut updates = Params::new();
        let mut out = OptState::new();
        let parts = self
            .groups
            .iter()
            .enumerate()
            .map(|(i, (_, t))| (Some(i), i.to_string(), Some(t.as_ref())));
        let default = std::iter::once((None, "default".to_string(), self.default.as_deref()));
        for (group, key, t) in parts.chain(default) {
            let (gs, ps) = (self.split(&g, group), self.split(p, group));
            match t {
                Some(t) => {
                    let (u, st) = t.update(gs, s.sub(&key), &ps)?;
                    updates.extend(u);
                    out.nest(&key, st);
                }
                None => updates.extend(gs.map(|t| t.zeros_like())),
            }
        }
        // Back to the params' order.
        Ok((
            p.map_with_path(|path, _| {
                updates
                    .get_dyn(path)
                    .expect("every path has an update")
                    .clone()
            }),
            out,
        ))
    }
}

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
}

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
}
