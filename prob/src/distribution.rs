//! The [`Distribution`] trait every distribution implements.

use crate::error::{ProbError, Result};
use burn::tensor::Device;
use duet_core::{DynTensor, Key};
use std::any::Any;
use std::fmt::Debug;

/// Where a distribution puts its mass (what [`AutoNormal`](crate::AutoNormal) needs to map a
/// Gaussian onto it).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Support {
    /// The real line (or `R^E`).
    Real,
    /// `(0, ∞)`.
    Positive,
    /// `(0, 1)`.
    UnitInterval,
    /// An interval `(low, high)` given by the parameters.
    Interval,
    /// The probability simplex.
    Simplex,
    /// Integers (classes, counts, `{0, 1}`).
    Discrete,
    /// Not known (a user-transformed distribution).
    Unknown,
}

/// A probability distribution over tensors, batched like `torch.distributions`.
///
/// A distribution has a *batch shape* (independent, differently parameterised copies) and an
/// *event shape* (the shape of one draw: `[]` for scalar distributions, `[K]` for a Dirichlet).
/// Values are `[*sample, *batch, *event]`; `log_prob` returns `[*sample, *batch]`. Tensors have
/// rank >= 1, so a distribution with one-element parameters (batch `[1]`) broadcasts over a value
/// of any shape, and an empty result shape is returned as `[1]`.
///
/// Parameters are ordinary (autodiff) tensors, so `log_prob`, `entropy`, `rsample` and the KL
/// divergences differentiate with respect to them under [`duet_core::value_and_grad`].
///
/// # Shapes
/// - `log_prob(value)`: `[*sample, *batch, *event] -> [*sample, *batch]`
/// - `sample(key, sample_shape)`, `rsample(..)`: `[*sample_shape, *batch, *event]`
/// - `entropy()`: `[*batch]`; `mean()`, `variance()`: `[*batch, *event]`
pub trait Distribution: Debug + 'static {
    /// The distribution's name, as errors print it (`Normal`, `Dirichlet`, ...).
    fn name(&self) -> &'static str;

    /// The batch shape.
    fn batch_shape(&self) -> Vec<usize>;

    /// The event shape (`[]` for scalar events).
    fn event_shape(&self) -> Vec<usize> {
        Vec::new()
    }

    /// The support of one draw (default: the real line).
    fn support(&self) -> Support {
        Support::Real
    }

    /// The device of the parameters.
    fn device(&self) -> Device;

    /// `log p(value)`, summed over the event dims.
    fn log_prob(&self, value: &DynTensor) -> Result<DynTensor>;

    /// A draw, without gradient (detached from the parameters). The default detaches
    /// [`Distribution::rsample`]; a distribution without `rsample` implements `sample` itself.
    fn sample(&self, key: Key, sample_shape: &[usize]) -> DynTensor {
        self.rsample(key, sample_shape)
            .unwrap_or_else(|e| panic!("{e}: a distribution without rsample implements sample"))
            .detach()
    }

    /// A reparameterised draw `g(params, noise)` that gradients flow through.
    fn rsample(&self, key: Key, sample_shape: &[usize]) -> Result<DynTensor> {
        let _ = (key, sample_shape);
        Err(ProbError::NotReparameterized(self.name().into()))
    }

    /// The reparameterisation `g(params, noise)` applied to given base noise (each distribution
    /// documents its noise: `N(0, 1)` for a normal, `U(0, 1)` for an exponential, ...), so a
    /// draw can be replayed or shared between distributions. `rsample` is `rsample_from` of
    /// fresh noise.
    ///
    /// # Shapes
    /// `noise`: `[*sample, *batch, *event]` -> the same.
    fn rsample_from(&self, noise: &DynTensor) -> Result<DynTensor> {
        let _ = noise;
        Err(ProbError::NotReparameterized(self.name().into()))
    }

    /// Whether [`Distribution::rsample`] is available.
    fn has_rsample(&self) -> bool {
        false
    }

    /// The differential (or Shannon) entropy, in nats.
    fn entropy(&self) -> Result<DynTensor> {
        Err(self.undefined("entropy"))
    }

    /// The mean.
    fn mean(&self) -> Result<DynTensor> {
        Err(self.undefined("mean"))
    }

    /// The variance.
    fn variance(&self) -> Result<DynTensor> {
        Err(self.undefined("variance"))
    }

    /// Checks the parameters' values against their domains (the constructors call it when
    /// [`VALIDATE_DEFAULT`](crate::VALIDATE_DEFAULT) is on).
    fn validate(&self) -> Result<()>;

    /// `self` as `Any`, for the KL registry's pair lookup.
    fn as_any(&self) -> &dyn Any;

    /// The error for a statistic this distribution does not define.
    fn undefined(&self, what: &str) -> ProbError {
        ProbError::Undefined {
            dist: self.name().into(),
            what: what.into(),
        }
    }
}

/// Runs [`Distribution::validate`] when validation is on by default, then returns `d`.
pub(crate) fn validated<T: Distribution>(d: T) -> Result<T> {
    if crate::VALIDATE_DEFAULT {
        d.validate()?;
    }
    Ok(d)
}
