//! Masking and partitioning by path: [`partition`] gives subsets of the params their own
//! transform, [`freeze`] gives a subset zero updates (optax's `masked` / `multi_transform`).

use crate::state::OptState;
use crate::transform::{check, OptimError, Transform};
use duet_core::Params;

/// Chooses params by path (`|path| path.starts_with("head.")`).
pub type PathPredicate = Box<dyn Fn(&str) -> bool + Send + Sync>;

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

    /// The first group's rate.
    fn learning_rate(&self, state: &OptState) -> Option<f64> {
        let groups = self.groups.iter().enumerate();
        let mut rates = groups.map(|(i, (_, t))| t.learning_rate(&state.sub(&i.to_string())));
        rates.find_map(|r| r).or_else(|| {
            let d = self.default.as_ref()?;
            d.learning_rate(&state.sub("default"))
        })
    }
}
