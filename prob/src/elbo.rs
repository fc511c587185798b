//! [`Elbo`]: the evidence lower bound of a model and a guide, estimated by sampling the guide.

use crate::ctx::{trace, Ctx};
use crate::error::{ProbError, Result};
use crate::kl::KlRegistry;
use crate::trace::Trace;
use burn::tensor::Tensor;
use duet_core::{Key, Params};

/// The ELBO estimator `E_q[log p(x, z) - log q(z)]` (Pyro's `Trace_ELBO`; with `analytic_kl`,
/// `TraceMeanField_ELBO`: for each latent site whose guide and prior pair has an analytic KL in
/// the [`KlRegistry`], the term `log p(z) - log q(z)` is replaced by its expectation
/// `-KL(q || p)`, which removes its sampling noise; this assumes the prior's parameters do not
/// depend on other latent sites in a way the pairwise replacement ignores, as Pyro's does).
///
/// Each particle runs the guide under `substitute(params)` and a seed, then the model with the
/// guide's latent values replayed into it. Gradients reach the params through `rsample`
/// (reparameterised draws) and the log-densities; sites without `rsample` contribute no
/// score-function term (use reparameterisable guides).
///
/// # Example
/// A guide equal to the posterior makes the ELBO the log evidence: `z ~ N(0, 1)`, `x ~ N(z, 1)`,
/// `x = 1` has posterior `N(½, ½)` and evidence `N(1; 0, 2)`, and with the analytic KL the
/// estimate is exact up to the one draw's likelihood term.
/// ```
/// use duet_prob::{Ctx, Elbo, Normal};
/// use duet_core::{burn::tensor::{Device, Tensor}, Key, Params};
/// let dev = Device::flex();
/// let t = |v: f32| Tensor::<1>::from_floats([v], &dev);
/// let model = |ctx: &mut Ctx| {
///     let z = ctx.sample("z", Normal::new(t(0.0), t(1.0))?)?;
///     ctx.observe("x", Normal::new(z, t(1.0))?, &t(1.0).into())
/// };
/// let guide = |ctx: &mut Ctx| ctx.sample("z", Normal::new(t(0.5), t(0.5f32.sqrt()))?);
/// let elbo = Elbo { particles: 4000, analytic_kl: true };
/// let e = elbo.elbo(&model, &guide, &Params::new(), Key::new(0)).unwrap().into_scalar::<f32>();
/// let log_evidence = -0.25 - 0.5 * (4.0 * std::f32::consts::PI).ln();
/// assert!((e - log_evidence).abs() < 0.02, "{e} vs {log_evidence}");
/// ```
#[derive(Clone, Copy, Debug)]
pub struct Elbo {
    /// Guide draws averaged per estimate.
    pub particles: usize,
    /// Use analytic KL divergences where the registry has them.
    pub analytic_kl: bool,
}

impl Default for Elbo {
    /// One particle, analytic KL on.
    fn default() -> Self {
        Elbo {
            particles: 1,
            analytic_kl: true,
        }
    }
}

/// The guide's and the model's traces of one particle.
pub fn particle_traces<A, B>(
    model: &impl Fn(&mut Ctx) -> Result<A>,
    guide: &impl Fn(&mut Ctx) -> Result<B>,
    params: &Params,
    key: Key,
) -> Result<(Trace, Trace)> {
    let [kg, km] = key.split2();
    let (_, gt) = trace(|c| c.substitute(params, |c| c.seed(kg, guide)))?;
    let (_, mt) = trace(|c| c.substitute(params, |c| c.seed(km, |c| c.replay(&gt, model))))?;
    Ok((gt, mt))
}

impl Elbo {
    /// The ELBO estimate (averaged over `particles` guide draws).
    ///
    /// # Shapes
    /// `[1]`.
    pub fn elbo<A, B>(
        &self,
        model: &impl Fn(&mut Ctx) -> Result<A>,
        guide: &impl Fn(&mut Ctx) -> Result<B>,
        params: &Params,
        key: Key,
    ) -> Result<Tensor<1>> {
        let registry = KlRegistry::default();
        let n = self.particles.max(1);
        let mut total: Option<Tensor<1>> = None;
        for i in 0..n {
            let (gt, mt) = particle_traces(model, guide, params, key.fold_in(i as u64))?;
            let e = self.particle(&registry, &gt, &mt)?;
            total = Some(match total {
                None => e,
                Some(t) => t + e,
            });
        }
        Ok(total.expect("at least one particle") / n as f32)
    }

    /// `-ELBO`, the loss SVI minimises.
    ///
    /// # Shapes
    /// `[1]`.
    pub fn loss<A, B>(
        &self,
        model: &impl Fn(&mut Ctx) -> Result<A>,
        guide: &impl Fn(&mut Ctx) -> Result<B>,
        params: &Params,
        key: Key,
    ) -> Result<Tensor<1>> {
        Ok(self.elbo(model, guide, params, key)?.neg())
    }

    fn particle(&self, registry: &KlRegistry, gt: &Trace, mt: &Trace) -> Result<Tensor<1>> {
        let mut total: Option<Tensor<1>> = None;
        let mut add = |t: Tensor<1>| {
            total = Some(match total.take() {
                None => t,
                Some(acc) => acc + t,
            })
        };
        for site in mt.sites() {
            let Some(p) = site.dist() else { continue };
            if site.is_observed() {
                add(site.log_prob_sum()?);
                continue;
            }
            let g = gt
                .get(&site.name)
                .filter(|g| g.is_latent())
                .ok_or_else(|| {
                    ProbError::Model(format!(
                        "the model's latent site '{}' has no sample site in the guide",
                        site.name
                    ))
                })?;
            let q = g.dist().expect("a sample site");
            if self.analytic_kl && registry.has(q, p) {
                add(registry.kl(q, p)?.sum() * -site.scale);
            } else {
                add(site.log_prob_sum()? - g.log_prob_sum()?);
            }
        }
        for g in gt.sites().iter().filter(|g| g.is_latent()) {
            if mt.get(&g.name).is_none_or(|s| !s.is_latent()) {
                return Err(ProbError::Model(format!(
                    "the guide samples '{}', which is not a latent site of the model",
                    g.name
                )));
            }
        }
        total.ok_or_else(|| ProbError::Model("the model has no sample site".into()))
    }
}
