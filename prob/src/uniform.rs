//! [`Uniform`]: the continuous uniform distribution on `[low, high)`.

use crate::distribution::{validated, Distribution, Support};
use crate::error::{ProbError, Result};
use crate::shape::{broadcast2, finite, flat, row, Batch};
use burn::tensor::{Device, Tensor};
use duet_core::{DynTensor, Key};
use std::any::Any;

/// The uniform distribution on `[low, high)`.
///
/// - `log p(x) = -ln(high - low)` inside, `-∞` outside
/// - `H = ln(high - low)`; mean `(low + high) / 2`; variance `(high - low)² / 12`
/// - `rsample = low + ε (high - low)`, `ε ~ U(0, 1)`
///
/// # Shapes
/// `low`, `high`: the batch shape; values `[*sample, *batch]`.
///
/// # Example
/// ```
/// use duet_prob::{Distribution, Uniform};
/// use duet_core::burn::tensor::{Device, Tensor};
/// let dev = Device::flex();
/// let d = Uniform::new(Tensor::<1>::from_floats([0.0], &dev), Tensor::<1>::from_floats([4.0], &dev)).unwrap();
/// let lp = d.log_prob(&Tensor::<1>::from_floats([1.0, 5.0], &dev).into()).unwrap().to_vec();
/// assert!((lp[0] + 4f32.ln()).abs() < 1e-6);
/// assert_eq!(lp[1], f32::NEG_INFINITY);
/// ```
#[derive(Clone, Debug)]
pub struct Uniform {
    low: Tensor<1>,
    high: Tensor<1>,
    batch: Batch,
}

const NAME: &str = "Uniform";

impl Uniform {
    /// U(`low`, `high`); the two broadcast when one has a single element.
    pub fn new(low: impl Into<DynTensor>, high: impl Into<DynTensor>) -> Result<Self> {
        let (low, high) = broadcast2(NAME, ["low", "high"], low.into(), high.into())?;
        validated(Uniform {
            batch: Batch::of(&low),
            low: flat(&low),
            high: flat(&high),
        })
    }

    fn width(&self) -> Tensor<1> {
        self.high.clone() - self.low.clone()
    }
}

impl Distribution for Uniform {
    fn name(&self) -> &'static str {
        NAME
    }
    fn support(&self) -> Support {
        Support::Interval
    }
    fn batch_shape(&self) -> Vec<usize> {
        self.batch.dims.clone()
    }
    fn device(&self) -> Device {
        self.low.device()
    }
    fn log_prob(&self, value: &DynTensor) -> Result<DynTensor> {
        let (sample, x) = self.batch.read(NAME, value)?;
        let inside = x
            .clone()
            .greater_equal(row(&self.low).expand(x.shape()))
            .bool_and(x.clone().lower(row(&self.high).expand(x.shape())));
        let lp = (x.zeros_like() - row(&self.width()).log())
            .mask_fill(inside.bool_not(), f32::NEG_INFINITY);
        Ok(self.batch.out(lp, &sample))
    }
    fn rsample(&self, key: Key, sample_shape: &[usize]) -> Result<DynTensor> {
        let (sb, dims) = self.batch.draw_shape(sample_shape);
        let eps = key.uniform(sb, 0.0, 1.0, &self.device());
        Ok(DynTensor::from(row(&self.low) + eps * row(&self.width())).reshape(&dims))
    }
    /// `ε ~ U(0, 1)`.
    fn rsample_from(&self, noise: &DynTensor) -> Result<DynTensor> {
        let (sample, eps) = self.batch.read(NAME, noise)?;
        Ok(self
            .batch
            .out(row(&self.low) + eps * row(&self.width()), &sample))
    }
    fn has_rsample(&self) -> bool {
        true
    }
    fn entropy(&self) -> Result<DynTensor> {
        Ok(self.batch.stat(self.width().log()))
    }
    fn mean(&self) -> Result<DynTensor> {
        Ok(self
            .batch
            .stat((self.low.clone() + self.high.clone()) * 0.5))
    }
    fn variance(&self) -> Result<DynTensor> {
        Ok(self.batch.stat(self.width().square() / 12.0))
    }
    fn validate(&self) -> Result<()> {
        finite(NAME, "low", &self.low.clone().into())?;
        finite(NAME, "high", &self.high.clone().into())?;
        let (lo, hi) = (
            crate::shape::host(&self.low),
            crate::shape::host(&self.high),
        );
        match lo.iter().zip(&hi).position(|(l, h)| l >= h) {
            None => Ok(()),
            Some(index) => Err(ProbError::Invalid {
                dist: NAME.into(),
                param: "high".into(),
                rule: "> low".into(),
                value: hi[index],
                index,
            }),
        }
    }
    fn as_any(&self) -> &dyn Any {
        self
    }
}
