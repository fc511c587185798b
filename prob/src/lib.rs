//! # duet-prob
//!
//! Probabilistic programming over burn tensors and duet's [`Key`](duet_core::Key)s: the
//! distributions of `torch.distributions` / NumPyro with batch and event shapes, bijectors and
//! transformed distributions, a registry of analytic KL divergences, and the special functions
//! they need (`ln Γ`, `ψ`; burn has neither).
//!
//! Parameters are ordinary tensors, so everything differentiates under
//! [`duet_core::value_and_grad`]: `log_prob`, `entropy`, reparameterised samples (`rsample`)
//! and KL divergences all carry gradients to the parameters. Every result is checked against
//! `torch.distributions` in `tests/golden.rs`.
//!
//! Invalid parameters (a negative scale, probabilities outside `[0, 1]`, a `scale_tril` that is
//! not lower triangular) are refused with one line naming the distribution, the parameter and
//! the first bad value whenever [`VALIDATE_DEFAULT`] is on (debug builds), never a silent NaN;
//! [`Distribution::validate`] checks explicitly in release builds.
//!
//! On top sits a small effect-handler language in NumPyro's style: a model is a Rust function
//! over a [`Ctx`] that calls `sample`, `observe`, `param` and `plate`; handlers (`seed`,
//! `condition`, `substitute`, `replay`, `block`, `scope`, [`trace`]) decide what those
//! statements do; [`Svi`] maximises an [`Elbo`] with duet's optimizers, with [`AutoNormal`] as
//! a ready-made mean-field guide.

mod auto_normal;
mod bernoulli;
mod beta;
pub mod bijector;
mod categorical;
mod ctx;
mod dirichlet;
mod distribution;
mod elbo;
mod error;
mod exponential;
mod gamma;
mod independent;
mod kl;
mod laplace;
mod mvn;
mod normal;
mod relaxed;
mod shape;
pub mod special;
mod svi;
mod trace;
mod transformed;
mod uniform;

pub use auto_normal::AutoNormal;
pub use bernoulli::Bernoulli;
pub use beta::Beta;
pub use bijector::{Affine, Bijector, Exp, Sigmoid, Tanh};
pub use categorical::Categorical;
pub use ctx::{trace, Ctx};
pub use dirichlet::Dirichlet;
pub use distribution::{Distribution, Support};
pub use elbo::Elbo;
pub use error::{ProbError, Result};
pub use exponential::Exponential;
pub use gamma::Gamma;
pub use independent::Independent;
pub use kl::{kl_divergence, kl_monte_carlo, KlRegistry};
pub use laplace::Laplace;
pub use mvn::MultivariateNormal;
pub use normal::Normal;
pub use relaxed::{RelaxedBernoulli, RelaxedOneHotCategorical};
pub use shape::VALIDATE_DEFAULT;
pub use svi::Svi;
pub use trace::{Site, SiteKind, Trace};
pub use transformed::{LogNormal, Transformed};
pub use uniform::Uniform;

/// `½ ln(2π)`.
pub(crate) const HALF_LN_2PI: f32 = 0.918_938_5;
