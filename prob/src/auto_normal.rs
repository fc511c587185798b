//! [`AutoNormal`]: a mean-field Gaussian guide built from a model's latent sites.

use crate::bijector::{Bijector, Exp, Sigmoid};
use crate::ctx::{trace, Ctx};
use crate::distribution::Support;
use crate::error::{ProbError, Result};
use crate::independent::Independent;
use crate::normal::Normal;
use crate::transformed::Transformed;
use duet_core::ops::activation::softplus;
use duet_core::{DynTensor, Key, Params};

/// One latent site of the model, as the guide sees it.
#[derive(Clone, Debug)]
struct Latent {
    name: String,
    shape: Vec<usize>,
    support: Support,
    /// The traced prior draw mapped to the unconstrained space (the initial `loc`).
    init: Vec<f32>,
    device: duet_core::burn::tensor::Device,
}

/// NumPyro's `AutoNormal`: for every latent site `z` of the model, an independent Gaussian in
/// the unconstrained space, pushed onto the site's support (`exp` for positive sites, the
/// logistic sigmoid for `(0, 1)`).
///
/// Params (paths, so they form a tree the optimizers and checkpoints understand):
/// `auto.<site>.loc` and `auto.<site>.raw_scale`, with `scale = softplus(raw_scale)`. `loc`
/// starts at the unconstrained value of a prior draw, `scale` at `init_scale` (0.1 by default,
/// as NumPyro).
///
/// # Example
/// See [`Svi`](crate::Svi).
#[derive(Clone, Debug)]
pub struct AutoNormal {
    latents: Vec<Latent>,
    init_scale: f32,
}

impl AutoNormal {
    /// Traces `model` once under `key` (its prior) to find its latent sites and their shapes.
    pub fn new<T>(model: &impl Fn(&mut Ctx) -> Result<T>, key: Key) -> Result<Self> {
        let (_, tr) = trace(|c| c.seed(key, model))?;
        let mut latents = Vec::new();
        for s in tr.sites().iter().filter(|s| s.is_latent()) {
            let support = s.dist().expect("sample site").support();
            let v = s.value.to_vec();
            let init = match support {
                Support::Real => v,
                Support::Positive => v.iter().map(|x| x.max(1e-6).ln()).collect(),
                Support::UnitInterval => v
                    .iter()
                    .map(|x| {
                        let x = x.clamp(1e-6, 1.0 - 1e-6);
                        (x / (1.0 - x)).ln()
                    })
                    .collect(),
                other => {
                    return Err(ProbError::Model(format!(
                        "AutoNormal: latent site '{}' has support {other:?}; it handles Real, Positive and UnitInterval sites",
                        s.name
                    )))
                }
            };
            latents.push(Latent {
                name: s.name.clone(),
                shape: s.value.dims(),
                support,
                init,
                device: s.value.device(),
            });
        }
        Ok(AutoNormal {
            latents,
            init_scale: 0.1,
        })
    }

    /// The initial scale of every site (default 0.1).
    pub fn with_init_scale(mut self, scale: f32) -> Self {
        self.init_scale = scale;
        self
    }

    /// The latent site names, in the model's order.
    pub fn sites(&self) -> Vec<&str> {
        self.latents.iter().map(|l| l.name.as_str()).collect()
    }

    /// The guide: call it as a model (`|ctx| auto.guide(ctx)`).
    pub fn guide(&self, ctx: &mut Ctx) -> Result<()> {
        for l in &self.latents {
            let (loc, scale) = self.loc_scale_params(ctx, l)?;
            let rank = l.shape.len();
            let base = Independent::new(Normal::new(loc, scale)?, rank)?;
            match l.support {
                Support::Real => ctx.sample(&l.name, base)?,
                Support::Positive => {
                    ctx.sample(&l.name, Transformed::new(base, vec![Box::new(Exp)]))?
                }
                _ => ctx.sample(&l.name, Transformed::new(base, vec![Box::new(Sigmoid)]))?,
            };
        }
        Ok(())
    }

    fn loc_scale_params(&self, ctx: &mut Ctx, l: &Latent) -> Result<(DynTensor, DynTensor)> {
        let dev = &l.device;
        let n = l.init.len();
        // softplus⁻¹(s) = ln(eˢ - 1)
        let raw0 = (self.init_scale.exp() - 1.0).ln();
        let loc = ctx.param(
            &format!("auto.{}.loc", l.name),
            DynTensor::from_floats(l.init.clone(), &l.shape, dev),
        )?;
        let raw = ctx.param(
            &format!("auto.{}.raw_scale", l.name),
            DynTensor::from_floats(vec![raw0; n], &l.shape, dev),
        )?;
        let scale = DynTensor::from(softplus(raw.clone().flatten())).reshape(&raw.dims());
        Ok((loc, scale))
    }

    /// The guide's location and scale of `site` in the unconstrained space, from `params`.
    ///
    /// # Shapes
    /// Both have the site's shape.
    pub fn loc_scale(&self, params: &Params, site: &str) -> Result<(DynTensor, DynTensor)> {
        let get = |k: &str| {
            params
                .get_dyn(&format!("auto.{site}.{k}"))
                .cloned()
                .map_err(|e| ProbError::Model(format!("AutoNormal: {e}")))
        };
        let raw = get("raw_scale")?;
        let scale = DynTensor::from(softplus(raw.clone().flatten())).reshape(&raw.dims());
        Ok((get("loc")?, scale))
    }

    /// The guide's median of `site` on the site's support (`loc` pushed through its bijector).
    ///
    /// # Shapes
    /// The site's shape.
    pub fn median(&self, params: &Params, site: &str) -> Result<DynTensor> {
        let l = self
            .latents
            .iter()
            .find(|l| l.name == site)
            .ok_or_else(|| ProbError::Model(format!("AutoNormal: no latent site '{site}'")))?;
        let (loc, _) = self.loc_scale(params, site)?;
        let dims = loc.dims();
        let rows = loc.reshape(&[1, dims.iter().product()]).into_rank::<2>();
        let y = match l.support {
            Support::Real => rows,
            Support::Positive => Exp.forward(rows),
            _ => Sigmoid.forward(rows),
        };
        Ok(DynTensor::from(y).reshape(&dims))
    }
}
