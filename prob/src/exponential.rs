//! [`Exponential`]: waiting times of a Poisson process.

use crate::distribution::{validated, Distribution, Support};
use crate::error::Result;
use crate::shape::{flat, positive, row, Batch};
use burn::tensor::{Device, Tensor};
use duet_core::{DynTensor, Key};
use std::any::Any;

/// The exponential distribution with rate `λ`.
///
/// - `log p(x) = ln λ - λ x` for `x >= 0`
/// - `H = 1 - ln λ`; mean `1/λ`; variance `1/λ²`
/// - `rsample = -ln(1 - ε) / λ`, `ε ~ U(0, 1)`
///
/// # Shapes
/// `rate`: the batch shape; values `[*sample, *batch]`.
///
/// # Example
/// ```
/// use duet_prob::{Distribution, Exponential};
/// use duet_core::burn::tensor::{Device, Tensor};
/// let dev = Device::flex();
/// let d = Exponential::new(Tensor::<1>::from_floats([2.0], &dev)).unwrap();
/// let lp = d.log_prob(&Tensor::<1>::from_floats([0.5], &dev).into()).unwrap().to_vec();
/// assert!((lp[0] - (2f32.ln() - 1.0)).abs() < 1e-6);
/// assert_eq!(d.mean().unwrap().to_vec(), vec![0.5]);
/// ```
#[derive(Clone, Debug)]
pub struct Exponential {
    pub(crate) rate: Tensor<1>,
    batch: Batch,
}

const NAME: &str = "Exponential";

impl Exponential {
    /// Exponential(`rate`).
    pub fn new(rate: impl Into<DynTensor>) -> Result<Self> {
        let rate = rate.into();
        validated(Exponential {
            batch: Batch::of(&rate),
            rate: flat(&rate),
        })
    }

    fn transform(&self, eps: Tensor<2>) -> Tensor<2> {
        eps.neg().log1p().neg() / row(&self.rate)
    }
}

impl Distribution for Exponential {
    fn name(&self) -> &'static str {
        NAME
    }
    fn support(&self) -> Support {
        Support::Positive
    }
    fn batch_shape(&self) -> Vec<usize> {
        self.batch.dims.clone()
    }
    fn device(&self) -> Device {
        self.rate.device()
    }
    fn log_prob(&self, value: &DynTensor) -> Result<DynTensor> {
        let (sample, x) = self.batch.read(NAME, value)?;
        let lp = row(&self.rate).log() - row(&self.rate) * x;
        Ok(self.batch.out(lp, &sample))
    }
    fn rsample(&self, key: Key, sample_shape: &[usize]) -> Result<DynTensor> {
        let (sb, dims) = self.batch.draw_shape(sample_shape);
        let eps = key.uniform(sb, 0.0, 1.0, &self.device());
        Ok(DynTensor::from(self.transform(eps)).reshape(&dims))
    }
    /// `ε ~ U(0, 1)`.
    fn rsample_from(&self, noise: &DynTensor) -> Result<DynTensor> {
        let (sample, eps) = self.batch.read(NAME, noise)?;
        Ok(self.batch.out(self.transform(eps), &sample))
    }
    fn has_rsample(&self) -> bool {
        true
    }
    fn entropy(&self) -> Result<DynTensor> {
        Ok(self.batch.stat(self.rate.clone().log().neg() + 1.0))
    }
    fn mean(&self) -> Result<DynTensor> {
        Ok(self.batch.stat(self.rate.clone().recip()))
    }
    fn variance(&self) -> Result<DynTensor> {
        Ok(self.batch.stat(self.rate.clone().square().recip()))
    }
    fn validate(&self) -> Result<()> {
        positive(NAME, "rate", &self.rate.clone().into())
    }
    fn as_any(&self) -> &dyn Any {
        self
    }
}
