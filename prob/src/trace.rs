//! [`Trace`]: the record of a model run, site by site.

use crate::distribution::Distribution;
use crate::error::{ProbError, Result};
use burn::tensor::Tensor;
use duet_core::{DynTensor, Params};
use std::rc::Rc;

/// What a site is.
#[derive(Clone, Debug)]
pub enum SiteKind {
    /// A `sample` or `observe` statement with its distribution.
    Sample {
        /// The distribution the value was drawn from (or scored under).
        dist: Rc<dyn Distribution>,
        /// Whether the value was given (`observe`, or a `condition` handler).
        observed: bool,
    },
    /// A `param` statement.
    Param,
}

/// One named statement of a model run.
#[derive(Clone, Debug)]
pub struct Site {
    /// The site's path (`scope` prefixes joined by dots).
    pub name: String,
    /// Sample or param.
    pub kind: SiteKind,
    /// Its value (drawn, observed, substituted or initialised).
    pub value: DynTensor,
    /// The factor its log-density is multiplied by (the product of the enclosing plates'
    /// `size / subsample size`).
    pub scale: f32,
    /// The enclosing plates, outermost first.
    pub plates: Vec<String>,
}

impl Site {
    /// The distribution of a sample site.
    pub fn dist(&self) -> Option<&dyn Distribution> {
        match &self.kind {
            SiteKind::Sample { dist, .. } => Some(dist.as_ref()),
            SiteKind::Param => None,
        }
    }

    /// Whether this is a latent (sampled, not observed) site.
    pub fn is_latent(&self) -> bool {
        matches!(
            self.kind,
            SiteKind::Sample {
                observed: false,
                ..
            }
        )
    }

    /// Whether this is an observed site.
    pub fn is_observed(&self) -> bool {
        matches!(self.kind, SiteKind::Sample { observed: true, .. })
    }

    /// `scale · Σ log p(value)`, a one-element tensor (sample sites only).
    ///
    /// # Shapes
    /// `[1]`.
    pub fn log_prob_sum(&self) -> Result<Tensor<1>> {
        let d = self.dist().ok_or_else(|| {
            ProbError::Model(format!(
                "site '{}' is a param, it has no density",
                self.name
            ))
        })?;
        Ok(d.log_prob(&self.value)?.sum() * self.scale)
    }
}

/// The sites of one run of a model, in execution order (NumPyro's trace).
///
/// # Example
/// ```
/// use duet_prob::{trace, Ctx, Normal};
/// use duet_core::{burn::tensor::{Device, Tensor}, Key};
/// let dev = Device::flex();
/// let model = |ctx: &mut Ctx| {
///     let z = ctx.sample("z", Normal::standard(&[1], &dev))?;
///     ctx.observe("x", Normal::new(z, Tensor::<1>::from_floats([1.0], &dev))?, &Tensor::<1>::from_floats([0.5], &dev).into())
/// };
/// let (_, tr) = trace(|ctx| ctx.seed(Key::new(0), |ctx| model(ctx))).unwrap();
/// assert_eq!(tr.names(), vec!["z", "x"]);
/// assert!(tr.get("z").unwrap().is_latent() && tr.get("x").unwrap().is_observed());
/// let z = tr.get("z").unwrap().value.to_vec()[0];
/// // log p(z, x) = log N(z; 0, 1) + log N(0.5; z, 1)
/// let want = -0.5 * z * z - 0.5 * (0.5 - z) * (0.5 - z) - 2.0 * 0.918_938_5;
/// assert!((tr.log_joint().unwrap().into_scalar::<f32>() - want).abs() < 1e-5);
/// ```
#[derive(Clone, Debug, Default)]
pub struct Trace {
    sites: Vec<Site>,
}

impl Trace {
    /// Appends a site; a name seen before is an error.
    pub(crate) fn push(&mut self, site: Site) -> Result<()> {
        if self.get(&site.name).is_some() {
            return Err(ProbError::Model(format!(
                "site '{}' appears twice in one run (give each statement its own name, or use scope)",
                site.name
            )));
        }
        self.sites.push(site);
        Ok(())
    }

    /// The site called `name`.
    pub fn get(&self, name: &str) -> Option<&Site> {
        self.sites.iter().find(|s| s.name == name)
    }

    /// Every site, in execution order.
    pub fn sites(&self) -> &[Site] {
        &self.sites
    }

    /// The site names, in execution order.
    pub fn names(&self) -> Vec<&str> {
        self.sites.iter().map(|s| s.name.as_str()).collect()
    }

    /// `Σ_sites scale · log p(value)` over every sample site (latent and observed).
    ///
    /// # Shapes
    /// `[1]`.
    pub fn log_joint(&self) -> Result<Tensor<1>> {
        let mut total: Option<Tensor<1>> = None;
        for s in self.sites.iter().filter(|s| s.dist().is_some()) {
            let lp = s.log_prob_sum()?;
            total = Some(match total {
                None => lp,
                Some(t) => t + lp,
            });
        }
        total.ok_or_else(|| ProbError::Model("the trace has no sample site".into()))
    }

    /// The values of the param sites, as a tree (their names are its paths).
    pub fn params(&self) -> Params {
        let mut p = Params::new();
        for s in self
            .sites
            .iter()
            .filter(|s| matches!(s.kind, SiteKind::Param))
        {
            p.insert(s.name.clone(), s.value.clone());
        }
        p
    }
}
