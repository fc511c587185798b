//! [`Ctx`]: the effect-handler stack a model runs under (NumPyro's primitives and handlers).
//!
//! A model is a plain Rust function `Fn(&mut Ctx) -> Result<T>` that calls
//! [`Ctx::sample`], [`Ctx::observe`] and [`Ctx::param`]. What those statements do is decided by
//! the handlers the caller wraps the model in, each a method taking the rest of the program as a
//! closure: [`Ctx::seed`] supplies randomness, [`Ctx::condition`] fixes sample values as
//! observations, [`Ctx::substitute`] fixes values (params from an optimizer), [`Ctx::replay`]
//! takes latent values from another trace (a guide's), [`Ctx::block`] hides sites from outer
//! handlers, [`Ctx::plate`] marks conditionally independent data and scales subsampled
//! log-densities, [`Ctx::scope`] prefixes names, and [`trace`] / [`Ctx::trace`] record the run.
//! There is no global state: the stack lives in the `Ctx` value.
//!
//! A statement is sent through the handlers from the innermost (the most recently entered)
//! outwards; a `block` stops it there. Then, if no handler gave it a value, a `sample` draws
//! (`rsample` when the distribution has it, so gradients flow) and a `param` takes its initial
//! value. Finally the handlers that saw it, `trace` among them, record the result.

use crate::distribution::Distribution;
use crate::error::{ProbError, Result};
use crate::trace::{Site, SiteKind, Trace};
use duet_core::{DynTensor, Key, Parameterized, Params};
use std::rc::Rc;

/// A statement on its way through the handlers.
struct Msg {
    name: String,
    dist: Option<Rc<dyn Distribution>>,
    value: Option<DynTensor>,
    observed: bool,
    key: Option<Key>,
    scale: f32,
    plates: Vec<String>,
    stop: bool,
}

/// One handler on the stack.
enum Messenger {
    Trace(Trace),
    Seed { key: Key, draws: u64 },
    Condition(Params),
    Substitute(Params),
    Replay(Trace),
    Block(Option<Vec<String>>),
    Plate { name: String, scale: f32 },
    Scope(String),
}

impl Messenger {
    fn process(&mut self, m: &mut Msg) {
        match self {
            Messenger::Seed { key, draws } => {
                if m.dist.is_some() && m.value.is_none() && m.key.is_none() {
                    m.key = Some(key.fold_in(*draws));
                    *draws += 1;
                }
            }
            Messenger::Condition(data) => {
                if m.dist.is_some() {
                    if let Ok(v) = data.get_dyn(&m.name) {
                        m.value = Some(v.clone());
                        m.observed = true;
                    }
                }
            }
            Messenger::Substitute(data) => {
                if let Ok(v) = data.get_dyn(&m.name) {
                    m.value = Some(v.clone());
                }
            }
            Messenger::Replay(tr) => {
                if m.dist.is_some() && !m.observed {
                    if let Some(s) = tr.get(&m.name).filter(|s| s.is_latent()) {
                        m.value = Some(s.value.clone());
                    }
                }
            }
            Messenger::Block(hide) => {
                m.stop = hide.as_ref().is_none_or(|names| names.contains(&m.name));
            }
            Messenger::Plate { name, scale } => {
                m.scale *= *scale;
                m.plates.insert(0, name.clone());
            }
            Messenger::Scope(prefix) => m.name = format!("{prefix}.{}", m.name),
            Messenger::Trace(_) => {}
        }
    }

    fn postprocess(&mut self, m: &Msg) -> Result<()> {
        if let Messenger::Trace(tr) = self {
            let value = m.value.clone().expect("a value after processing");
            tr.push(Site {
                name: m.name.clone(),
                kind: match &m.dist {
                    Some(d) => SiteKind::Sample {
                        dist: d.clone(),
                        observed: m.observed,
                    },
                    None => SiteKind::Param,
                },
                value,
                scale: m.scale,
                plates: m.plates.clone(),
            })?;
        }
        Ok(())
    }
}

/// The handler stack a model runs under (see the crate docs: models, handlers, SVI).
///
/// # Example
/// A model, conditioned on data and run under a seed, traced:
/// ```
/// use duet_prob::{trace, Ctx, Normal};
/// use duet_core::{burn::tensor::{Device, Tensor}, Key, Params};
/// let dev = Device::flex();
/// let model = |ctx: &mut Ctx| {
///     let mu = ctx.sample("mu", Normal::standard(&[1], &dev))?;
///     ctx.plate("data", 3, |ctx| {
///         ctx.sample("x", Normal::new(mu, Tensor::<1>::from_floats([1.0], &dev))?)
///     })
/// };
/// let data = Params::new().with("x", Tensor::<1>::from_floats([0.1, 0.2, 0.3], &dev));
/// let (x, tr) = trace(|ctx| ctx.seed(Key::new(1), |ctx| ctx.condition(&data, |ctx| model(ctx)))).unwrap();
/// assert_eq!(x.to_vec(), vec![0.1, 0.2, 0.3]);
/// let site = tr.get("x").unwrap();
/// assert!(site.is_observed() && site.plates == vec!["data".to_string()]);
/// ```
#[derive(Default)]
pub struct Ctx {
    stack: Vec<Messenger>,
}

impl std::fmt::Debug for Ctx {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Ctx({} handlers)", self.stack.len())
    }
}

/// Runs `model` and records its sites: NumPyro's `trace(model).get_trace()`.
///
/// # Example
/// See [`Ctx`] and [`Trace`].
pub fn trace<T>(model: impl FnOnce(&mut Ctx) -> Result<T>) -> Result<(T, Trace)> {
    Ctx::default().trace(model)
}

impl Ctx {
    /// A context without handlers.
    pub fn new() -> Self {
        Self::default()
    }

    fn send(&mut self, mut m: Msg) -> Result<DynTensor> {
        let n = self.stack.len();
        let mut reached = n;
        for i in (0..n).rev() {
            self.stack[i].process(&mut m);
            reached = i;
            if m.stop {
                break;
            }
        }
        if m.value.is_none() {
            let Some(d) = &m.dist else {
                unreachable!("params carry their initial value")
            };
            let key = m.key.ok_or_else(|| {
                ProbError::Model(format!(
                    "sample site '{}' has no value and no key: run the model under ctx.seed(key, ..)",
                    m.name
                ))
            })?;
            m.value = Some(if d.has_rsample() {
                d.rsample(key, &[])?
            } else {
                d.sample(key, &[])
            });
        }
        for i in (reached..n).rev() {
            self.stack[i].postprocess(&m)?;
        }
        Ok(m.value.expect("set above"))
    }

    fn with<T>(
        &mut self,
        h: Messenger,
        f: impl FnOnce(&mut Ctx) -> Result<T>,
    ) -> Result<(T, Messenger)> {
        self.stack.push(h);
        let out = f(self);
        let h = self.stack.pop().expect("pushed above");
        out.map(|t| (t, h))
    }

    /// Draws a value from `dist` at site `name` (or takes the value a handler supplies).
    ///
    /// # Shapes
    /// The result has the distribution's `[*batch, *event]` shape.
    pub fn sample(&mut self, name: &str, dist: impl Distribution) -> Result<DynTensor> {
        self.sample_rc(name, Rc::new(dist))
    }

    /// [`Ctx::sample`] for a distribution already behind an `Rc`.
    pub fn sample_rc(&mut self, name: &str, dist: Rc<dyn Distribution>) -> Result<DynTensor> {
        self.send(Msg {
            name: name.into(),
            dist: Some(dist),
            value: None,
            observed: false,
            key: None,
            scale: 1.0,
            plates: Vec::new(),
            stop: false,
        })
    }

    /// Scores the observed `value` under `dist` at site `name` (NumPyro's `sample(.., obs=)`).
    ///
    /// # Shapes
    /// `value`: `[*batch, *event]` of `dist`; returned as given.
    pub fn observe(
        &mut self,
        name: &str,
        dist: impl Distribution,
        value: &DynTensor,
    ) -> Result<DynTensor> {
        self.send(Msg {
            name: name.into(),
            dist: Some(Rc::new(dist)),
            value: Some(value.clone()),
            observed: true,
            key: None,
            scale: 1.0,
            plates: Vec::new(),
            stop: false,
        })
    }

    /// A learnable parameter: `init` unless a handler substitutes a value (the optimizer's).
    ///
    /// # Shapes
    /// The shape of `init`.
    pub fn param(&mut self, name: &str, init: impl Into<DynTensor>) -> Result<DynTensor> {
        self.send(Msg {
            name: name.into(),
            dist: None,
            value: Some(init.into()),
            observed: false,
            key: None,
            scale: 1.0,
            plates: Vec::new(),
            stop: false,
        })
    }

    /// Every tensor of `init` as a param site `prefix.<path>`; returns their values (substituted
    /// ones where a handler supplies them) as a tree with `init`'s paths: a functional model's
    /// params inside a model or guide (NumPyro's `flax_module`).
    ///
    /// # Example
    /// ```
    /// use duet_prob::trace;
    /// use duet_core::{burn::tensor::{Device, Tensor}, Params};
    /// let dev = Device::flex();
    /// let init = Params::new().with("w", Tensor::<1>::from_floats([1.0], &dev));
    /// let fixed = Params::new().with("net.w", Tensor::<1>::from_floats([5.0], &dev));
    /// let (p, tr) = trace(|c| c.substitute(&fixed, |c| c.param_tree("net", &init))).unwrap();
    /// assert_eq!(p.get_dyn("w").unwrap().to_vec(), vec![5.0]);
    /// assert_eq!(tr.names(), vec!["net.w"]);
    /// ```
    pub fn param_tree(&mut self, prefix: &str, init: &Params) -> Result<Params> {
        let mut out = Params::new();
        for (path, t) in init.iter() {
            out.insert(path, self.param(&format!("{prefix}.{path}"), t.clone())?);
        }
        Ok(out)
    }

    /// A module's params as param sites `prefix.<path>`; returns a copy of `module` holding
    /// their values, so its forward pass is differentiated with respect to them (NumPyro's
    /// `flax_module` for duet's module API).
    pub fn module<M: Parameterized + Clone>(&mut self, prefix: &str, module: &M) -> Result<M> {
        let values = self.param_tree(prefix, &module.params())?;
        let mut m = module.clone();
        m.load_params(&values)
            .map_err(|e| ProbError::Model(format!("module '{prefix}': {e}")))?;
        Ok(m)
    }

    /// Runs `f` with every sample site drawing from keys folded from `key` (one per draw).
    pub fn seed<T>(&mut self, key: Key, f: impl FnOnce(&mut Ctx) -> Result<T>) -> Result<T> {
        Ok(self.with(Messenger::Seed { key, draws: 0 }, f)?.0)
    }

    /// Runs `f` with the sample sites named in `data` observed at those values.
    pub fn condition<T>(
        &mut self,
        data: &Params,
        f: impl FnOnce(&mut Ctx) -> Result<T>,
    ) -> Result<T> {
        Ok(self.with(Messenger::Condition(data.clone()), f)?.0)
    }

    /// Runs `f` with the sites (params or samples) named in `values` fixed to them.
    pub fn substitute<T>(
        &mut self,
        values: &Params,
        f: impl FnOnce(&mut Ctx) -> Result<T>,
    ) -> Result<T> {
        Ok(self.with(Messenger::Substitute(values.clone()), f)?.0)
    }

    /// Runs `f` with latent sample sites taking their values from `guide` (a guide's trace).
    pub fn replay<T>(&mut self, guide: &Trace, f: impl FnOnce(&mut Ctx) -> Result<T>) -> Result<T> {
        Ok(self.with(Messenger::Replay(guide.clone()), f)?.0)
    }

    /// Runs `f` with the sites named in `hide` (every site when `None`) hidden from the handlers
    /// outside this one: an outer `trace` does not record them, and an outer `seed` does not
    /// reach them either (put the `seed` inside the `block`, as in NumPyro).
    pub fn block<T>(
        &mut self,
        hide: Option<&[&str]>,
        f: impl FnOnce(&mut Ctx) -> Result<T>,
    ) -> Result<T> {
        let hide = hide.map(|h| h.iter().map(|s| s.to_string()).collect());
        Ok(self.with(Messenger::Block(hide), f)?.0)
    }

    /// Runs `f` and returns its sites (the ones not blocked inside it), as [`trace`] does.
    pub fn trace<T>(&mut self, f: impl FnOnce(&mut Ctx) -> Result<T>) -> Result<(T, Trace)> {
        let (t, h) = self.with(Messenger::Trace(Trace::default()), f)?;
        match h {
            Messenger::Trace(tr) => Ok((t, tr)),
            _ => unreachable!("the trace messenger"),
        }
    }

    /// Runs `f` inside a plate of `size` conditionally independent elements (the data axis).
    /// Sites inside record the plate's name.
    pub fn plate<T>(
        &mut self,
        name: &str,
        size: usize,
        f: impl FnOnce(&mut Ctx) -> Result<T>,
    ) -> Result<T> {
        self.subsample(name, size, size, f)
    }

    /// A plate of `size` elements of which `f` sees a minibatch of `batch`: the log-densities of
    /// the sites inside are scaled by `size / batch`, so the ELBO stays an unbiased estimate of the
    /// full-data one.
    pub fn subsample<T>(
        &mut self,
        name: &str,
        size: usize,
        batch: usize,
        f: impl FnOnce(&mut Ctx) -> Result<T>,
    ) -> Result<T> {
        if batch == 0 || batch > size {
            return Err(ProbError::Model(format!(
                "plate '{name}': subsample of {batch} from {size} elements"
            )));
        }
        let plate = Messenger::Plate {
            name: name.into(),
            scale: size as f32 / batch as f32,
        };
        Ok(self.with(plate, f)?.0)
    }

    /// Runs `f` with its site names prefixed by `prefix.` (nested scopes join with dots), so a
    /// sub-model's params form a subtree.
    pub fn scope<T>(&mut self, prefix: &str, f: impl FnOnce(&mut Ctx) -> Result<T>) -> Result<T> {
        Ok(self.with(Messenger::Scope(prefix.into()), f)?.0)
    }
}
