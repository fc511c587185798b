//! [`Bernoulli`]: a coin flip, parameterised by logits.

use crate::distribution::{validated, Distribution, Support};
use crate::error::Result;
use crate::shape::{check, finite, flat, row, Batch};
use burn::tensor::activation::sigmoid;
use burn::tensor::{Device, Tensor, TensorData};
use duet_core::ops::activation::softplus;
use duet_core::{DynTensor, Key};
use rand::Rng;
use std::any::Any;

/// The Bernoulli distribution on `{0, 1}` with `P(1) = p = σ(logits)`.
///
/// - `log p(x) = x ℓ - softplus(ℓ)` (ℓ the logits; the negated binary cross-entropy)
/// - `H = softplus(ℓ) - ℓ p`; mean `p`; variance `p (1 - p)`
/// - not reparameterisable (`sample` only)
///
/// # Shapes
/// `logits` (or `probs`): the batch shape; values `[*sample, *batch]` in `{0, 1}`.
///
/// # Example
/// ```
/// use duet_prob::{Bernoulli, Distribution};
/// use duet_core::burn::tensor::{Device, Tensor};
/// let dev = Device::flex();
/// let d = Bernoulli::from_probs(Tensor::<1>::from_floats([0.25], &dev)).unwrap();
/// let lp = d.log_prob(&Tensor::<1>::from_floats([1.0, 0.0], &dev).into()).unwrap().to_vec();
/// assert!((lp[0] - 0.25f32.ln()).abs() < 1e-6 && (lp[1] - 0.75f32.ln()).abs() < 1e-6);
/// // Probabilities outside [0, 1] are refused.
/// assert!(Bernoulli::from_probs(Tensor::<1>::from_floats([1.5], &dev)).is_err());
/// ```
#[derive(Clone, Debug)]
pub struct Bernoulli {
    pub(crate) logits: Tensor<1>,
    batch: Batch,
}

const NAME: &str = "Bernoulli";

impl Bernoulli {
    /// Bernoulli with `P(1) = σ(logits)`.
    pub fn new(logits: impl Into<DynTensor>) -> Result<Self> {
        let logits = logits.into();
        validated(Bernoulli {
            batch: Batch::of(&logits),
            logits: flat(&logits),
        })
    }

    /// Bernoulli with `P(1) = probs` (logits `ln p - ln(1 - p)`, p clamped to `[ε, 1 - ε]` as
    /// PyTorch does).
    pub fn from_probs(probs: impl Into<DynTensor>) -> Result<Self> {
        let probs = probs.into();
        if crate::VALIDATE_DEFAULT {
            check(NAME, "probs", "in [0, 1]", &probs, |p| {
                (0.0..=1.0).contains(&p)
            })?;
        }
        let eps = f32::EPSILON;
        let p = flat(&probs).clamp(eps, 1.0 - eps);
        let logits = p.clone().log() - p.neg().log1p();
        Self::new(DynTensor::from(logits).reshape(&probs.dims()))
    }

    /// `σ(logits)` in the batch shape.
    pub fn probs(&self) -> DynTensor {
        self.batch.stat(sigmoid(self.logits.clone()))
    }
}

impl Distribution for Bernoulli {
    fn name(&self) -> &'static str {
        NAME
    }
    fn support(&self) -> Support {
        Support::Discrete
    }
    fn batch_shape(&self) -> Vec<usize> {
        self.batch.dims.clone()
    }
    fn device(&self) -> Device {
        self.logits.device()
    }
    fn log_prob(&self, value: &DynTensor) -> Result<DynTensor> {
        let (sample, x) = self.batch.read(NAME, value)?;
        let l = row(&self.logits);
        let lp = x * l.clone() - softplus(l);
        Ok(self.batch.out(lp, &sample))
    }
    fn sample(&self, key: Key, sample_shape: &[usize]) -> DynTensor {
        let p = crate::shape::host(&sigmoid(self.logits.clone()));
        let ([s, b], dims) = self.batch.draw_shape(sample_shape);
        let mut rng = key.host_rng();
        let v: Vec<f32> = (0..s * b)
            .map(|i| f32::from(u8::from(rng.random::<f32>() < p[i % b])))
            .collect();
        DynTensor::from(Tensor::<1>::from_data(
            TensorData::new(v, [s * b]),
            &self.device(),
        ))
        .reshape(&dims)
    }
    fn entropy(&self) -> Result<DynTensor> {
        let l = self.logits.clone();
        Ok(self
            .batch
            .stat(softplus(l.clone()) - l.clone() * sigmoid(l)))
    }
    fn mean(&self) -> Result<DynTensor> {
        Ok(self.probs())
    }
    fn variance(&self) -> Result<DynTensor> {
        let p = sigmoid(self.logits.clone());
        Ok(self.batch.stat(p.clone() * (p.neg() + 1.0)))
    }
    fn validate(&self) -> Result<()> {
        finite(NAME, "logits", &self.logits.clone().into())
    }
    fn as_any(&self) -> &dyn Any {
        self
    }
}
