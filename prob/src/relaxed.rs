//! Relaxed (Concrete / Gumbel-softmax) distributions: continuous, reparameterisable stand-ins for
//! [`Bernoulli`](crate::Bernoulli) and [`Categorical`](crate::Categorical).

use crate::distribution::{validated, Distribution, Support};
use crate::error::{ProbError, Result};
use crate::shape::{finite, flat, row, rows3, sample_dims, shaped, Batch};
use burn::tensor::activation::{log_softmax, sigmoid, softmax};
use burn::tensor::{Device, Tensor};
use duet_core::ops::activation::softplus;
use duet_core::{DynTensor, Key};
use std::any::Any;

fn check_temperature(dist: &str, t: f32) -> Result<()> {
    if t > 0.0 && t.is_finite() {
        Ok(())
    } else {
        Err(ProbError::Invalid {
            dist: dist.into(),
            param: "temperature".into(),
            rule: "> 0 and finite".into(),
            value: t,
            index: 0,
        })
    }
}

/// The relaxed Bernoulli (binary Concrete) distribution on `(0, 1)` with temperature `T`
/// (PyTorch's `RelaxedBernoulli`).
///
/// - `rsample = σ((ℓ + ln ε - ln(1 - ε)) / T)`, `ε ~ U(0, 1)` (logistic noise)
/// - with `x = logit(y)`, `d = ℓ - T x`: `log p(y) = ln T + d - 2 softplus(d) - ln y - ln(1 - y)`
/// - entropy, mean and variance are not defined (as in PyTorch)
///
/// # Shapes
/// `logits`: the batch shape; values `[*sample, *batch]`.
///
/// # Example
/// ```
/// use duet_prob::{Distribution, RelaxedBernoulli};
/// use duet_core::burn::tensor::{Device, Tensor};
/// let dev = Device::flex();
/// let d = RelaxedBernoulli::new(0.5, Tensor::<1>::from_floats([0.0], &dev)).unwrap();
/// // At y = ½ (x = 0, d = 0): ln ½ - 2 ln 2 + 2 ln 2 = ln ½
/// let lp = d.log_prob(&Tensor::<1>::from_floats([0.5], &dev).into()).unwrap().to_vec();
/// assert!((lp[0] - 0.5f32.ln()).abs() < 1e-6);
/// ```
#[derive(Clone, Debug)]
pub struct RelaxedBernoulli {
    temperature: f32,
    logits: Tensor<1>,
    batch: Batch,
}

impl RelaxedBernoulli {
    /// RelaxedBernoulli with temperature `T > 0` and `logits`.
    pub fn new(temperature: f32, logits: impl Into<DynTensor>) -> Result<Self> {
        check_temperature("RelaxedBernoulli", temperature)?;
        let logits = logits.into();
        validated(RelaxedBernoulli {
            temperature,
            batch: Batch::of(&logits),
            logits: flat(&logits),
        })
    }

    fn transform(&self, eps: Tensor<2>) -> Tensor<2> {
        let noise = eps.clone().log() - eps.neg().log1p();
        sigmoid((row(&self.logits) + noise) / self.temperature)
    }
}

impl Distribution for RelaxedBernoulli {
    fn name(&self) -> &'static str {
        "RelaxedBernoulli"
    }
    fn support(&self) -> Support {
        Support::UnitInterval
    }
    fn batch_shape(&self) -> Vec<usize> {
        self.batch.dims.clone()
    }
    fn device(&self) -> Device {
        self.logits.device()
    }
    fn log_prob(&self, value: &DynTensor) -> Result<DynTensor> {
        let (sample, y) = self.batch.read(self.name(), value)?;
        let (ln_y, ln_1my) = (y.clone().log(), y.neg().log1p());
        let x = ln_y.clone() - ln_1my.clone();
        let d = row(&self.logits) - x * self.temperature;
        let lp = d.clone() - softplus(d) * 2.0 + self.temperature.ln() - ln_y - ln_1my;
        Ok(self.batch.out(lp, &sample))
    }
    fn rsample(&self, key: Key, sample_shape: &[usize]) -> Result<DynTensor> {
        let (sb, dims) = self.batch.draw_shape(sample_shape);
        let tiny = f32::EPSILON;
        let eps = key.uniform(sb, tiny, 1.0 - tiny, &self.device());
        Ok(DynTensor::from(self.transform(eps)).reshape(&dims))
    }
    /// `ε ~ U(0, 1)`.
    fn rsample_from(&self, noise: &DynTensor) -> Result<DynTensor> {
        let (sample, eps) = self.batch.read(self.name(), noise)?;
        Ok(self.batch.out(self.transform(eps), &sample))
    }
    fn has_rsample(&self) -> bool {
        true
    }
    fn validate(&self) -> Result<()> {
        finite(self.name(), "logits", &self.logits.clone().into())
    }
    fn as_any(&self) -> &dyn Any {
        self
    }
}

/// The relaxed one-hot categorical (Concrete / Gumbel-softmax) distribution on the simplex with
/// temperature `T` (PyTorch's `RelaxedOneHotCategorical`).
///
/// - `rsample = softmax((ℓ + g) / T)`, `g ~ Gumbel(0, 1)` i.i.d. per class
/// - with `x = ln y`, `s = ℓ - T x`:
///   `log p(y) = ln Γ(K) + (K - 1) ln T + Σ_k (s_k - logsumexp(s)) - Σ_k x_k`
/// - entropy, mean and variance are not defined (as in PyTorch)
///
/// # Shapes
/// `logits`: `[*batch, K]`; values `[*sample, *batch, K]`.
///
/// # Example
/// ```
/// use duet_prob::{Distribution, RelaxedOneHotCategorical};
/// use duet_core::burn::tensor::{Device, Tensor};
/// let dev = Device::flex();
/// let d = RelaxedOneHotCategorical::new(1.0, Tensor::<1>::from_floats([0.0, 0.0], &dev)).unwrap();
/// // K = 2, T = 1, y = (½, ½): s = (ln 2, ln 2), log p = 0 + 0 + 2(ln 2 - ln 4) + 2 ln 2 = 0
/// let lp = d.log_prob(&Tensor::<1>::from_floats([0.5, 0.5], &dev).into()).unwrap().to_vec();
/// assert!(lp[0].abs() < 1e-6);
/// ```
#[derive(Clone, Debug)]
pub struct RelaxedOneHotCategorical {
    temperature: f32,
    /// `[B, K]`.
    logits: Tensor<2>,
    batch: Batch,
}

impl RelaxedOneHotCategorical {
    /// RelaxedOneHotCategorical with temperature `T > 0` and `logits` (last axis the classes).
    pub fn new(temperature: f32, logits: impl Into<DynTensor>) -> Result<Self> {
        check_temperature("RelaxedOneHotCategorical", temperature)?;
        let logits = logits.into();
        let mut dims = logits.dims();
        let k = dims.pop().unwrap_or(1);
        let b: usize = dims.iter().product();
        validated(RelaxedOneHotCategorical {
            temperature,
            logits: logits.reshape(&[b, k]).into_rank::<2>(),
            batch: Batch { dims },
        })
    }

    fn k(&self) -> usize {
        self.logits.dims()[1]
    }

    fn transform(&self, gumbel: Tensor<3>) -> Tensor<3> {
        softmax(
            (self.logits.clone().unsqueeze_dim::<3>(0) + gumbel) / self.temperature,
            2,
        )
    }

    fn lead(&self, sample: &[usize]) -> Vec<usize> {
        sample.iter().chain(&self.batch.dims).copied().collect()
    }
}

impl Distribution for RelaxedOneHotCategorical {
    fn name(&self) -> &'static str {
        "RelaxedOneHotCategorical"
    }
    fn support(&self) -> Support {
        Support::Simplex
    }
    fn batch_shape(&self) -> Vec<usize> {
        self.batch.dims.clone()
    }
    fn event_shape(&self) -> Vec<usize> {
        vec![self.k()]
    }
    fn device(&self) -> Device {
        self.logits.device()
    }
    fn log_prob(&self, value: &DynTensor) -> Result<DynTensor> {
        let (b, k) = (self.batch.len(), self.k());
        let suffix: Vec<usize> = self.batch.dims.iter().copied().chain([k]).collect();
        let sample = sample_dims(self.name(), value, &suffix, false)?;
        let x = rows3(value, b, k).log();
        let s = self.logits.clone().unsqueeze_dim::<3>(0) - x.clone() * self.temperature;
        let n = x.dims()[0];
        let kf = k as f32;
        let constant = crate::special::lgamma(Tensor::<1>::from_floats([kf], &self.device()))
            .into_scalar::<f32>()
            + (kf - 1.0) * self.temperature.ln();
        let lp = (log_softmax(s, 2) - x).sum_dim(2).reshape([n, b]) + constant;
        Ok(self.batch.out(lp, &sample))
    }
    fn rsample(&self, key: Key, sample_shape: &[usize]) -> Result<DynTensor> {
        let (b, k) = (self.batch.len(), self.k());
        let s: usize = sample_shape.iter().product();
        let tiny = f32::EPSILON;
        let u = key.uniform([s, b, k], tiny, 1.0 - tiny, &self.device());
        let gumbel = u.log().neg().log().neg();
        Ok(shaped(
            self.transform(gumbel),
            &self.lead(sample_shape),
            &[k],
        ))
    }
    /// `g ~ Gumbel(0, 1)` (PyTorch draws `-ln(-ln u)`, `u ~ U(0, 1)`).
    fn rsample_from(&self, noise: &DynTensor) -> Result<DynTensor> {
        let (b, k) = (self.batch.len(), self.k());
        let suffix: Vec<usize> = self.batch.dims.iter().copied().chain([k]).collect();
        let sample = sample_dims(self.name(), noise, &suffix, false)?;
        Ok(shaped(
            self.transform(rows3(noise, b, k)),
            &self.lead(&sample),
            &[k],
        ))
    }
    fn has_rsample(&self) -> bool {
        true
    }
    fn validate(&self) -> Result<()> {
        finite(self.name(), "logits", &self.logits.clone().into())
    }
    fn as_any(&self) -> &dyn Any {
        self
    }
}
