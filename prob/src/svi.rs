//! [`Svi`]: stochastic variational inference over duet's optimizers.

use crate::ctx::Ctx;
use crate::elbo::{particle_traces, Elbo};
use crate::error::{ProbError, Result};
use duet_core::{value_and_grad_with_aux, Key, Params};
use duet_optim::{Optimizer, Transform};

/// Stochastic variational inference: maximise the [`Elbo`] of `model` and `guide` over the
/// params of both (their `param` sites) with one of duet's optimizers.
///
/// The params are a [`Params`] tree named by the sites, so they checkpoint with
/// `duet_core::checkpoint` like any model's; the optimizer state is the optimizer's.
///
/// # Example
/// Fit `N(μ, 1)` data with a Gaussian prior on `μ`: the guide's mean approaches the exact
/// posterior mean `Σx / (n + 1)`.
/// ```
/// use duet_prob::{AutoNormal, Ctx, Elbo, Normal, Svi};
/// use duet_core::{burn::tensor::{Device, Tensor}, Key};
/// let dev = Device::flex();
/// let x = Tensor::<1>::from_floats([1.0, 2.0, 1.5, 2.5], &dev);
/// let model = |ctx: &mut Ctx| {
///     let mu = ctx.sample("mu", Normal::standard(&[1], &dev))?;
///     ctx.observe("x", Normal::new(mu, Tensor::<1>::from_floats([1.0], &dev))?, &x.clone().into())
/// };
/// let auto = AutoNormal::new(&model, Key::new(0)).unwrap();
/// let guide = |ctx: &mut Ctx| auto.guide(ctx);
/// let mut svi = Svi::new(model, guide, duet_optim::adam(0.05, Default::default()), Elbo::default());
/// let mut params = svi.init(Key::new(1)).unwrap();
/// for step in 0..600 {
///     svi.step(&mut params, Key::new(2).fold_in(step)).unwrap();
/// }
/// let mu = params.get_dyn("auto.mu.loc").unwrap().to_vec()[0];
/// assert!((mu - 7.0 / 5.0).abs() < 0.05, "{mu}");
/// ```
pub struct Svi<M, G> {
    model: M,
    guide: G,
    elbo: Elbo,
    optimizer: Optimizer,
}

impl<M, G> std::fmt::Debug for Svi<M, G> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Svi({:?})", self.elbo)
    }
}

impl<A, B, M, G> Svi<M, G>
where
    M: Fn(&mut Ctx) -> Result<A>,
    G: Fn(&mut Ctx) -> Result<B>,
{
    /// SVI of `model` with `guide`, stepping with `optimizer` (any duet gradient transformation).
    pub fn new(model: M, guide: G, optimizer: impl Transform + 'static, elbo: Elbo) -> Self {
        Svi {
            model,
            guide,
            elbo,
            optimizer: Optimizer::new(optimizer),
        }
    }

    /// The initial params: every `param` site of the guide and of the model (the guide's draw
    /// replayed into it), at its initial value.
    pub fn init(&mut self, key: Key) -> Result<Params> {
        let (gt, mt) = particle_traces(&self.model, &self.guide, &Params::new(), key)?;
        let mut p = gt.params();
        for (k, v) in mt.params().iter() {
            if !p.contains(k) {
                p.insert(k, v.clone());
            }
        }
        if p.is_empty() {
            return Err(ProbError::Model(
                "SVI: neither the model nor the guide has a param site".into(),
            ));
        }
        self.optimizer.reset();
        Ok(p)
    }

    /// `-ELBO` at `params` (no update).
    pub fn loss(&self, params: &Params, key: Key) -> Result<f32> {
        let l = self.elbo.loss(&self.model, &self.guide, params, key)?;
        Ok(l.into_scalar::<f32>())
    }

    /// One optimizer step on `-ELBO`; returns the loss before the step.
    pub fn step(&mut self, params: &mut Params, key: Key) -> Result<f32> {
        if params.is_empty() {
            return Err(ProbError::Model(
                "SVI: no params to step (start from Svi::init)".into(),
            ));
        }
        let (model, guide, elbo) = (&self.model, &self.guide, self.elbo);
        let (loss, err, grads) = value_and_grad_with_aux(
            |p| match elbo.loss(model, guide, p, key) {
                Ok(l) => (l, None),
                // A zero that depends on the params, so the backward pass has a graph.
                Err(e) => (
                    p.iter().next().expect("non-empty params").1.clone().sum() * 0.0,
                    Some(e),
                ),
            },
            params,
        );
        if let Some(e) = err {
            return Err(e);
        }
        let loss = loss.into_scalar::<f32>();
        if !loss.is_finite() {
            return Err(ProbError::Model(format!(
                "SVI: the loss is {loss}; params left unchanged"
            )));
        }
        self.optimizer
            .update_params(params, grads)
            .map_err(|e| ProbError::Model(format!("SVI: {e}")))?;
        Ok(loss)
    }
}
