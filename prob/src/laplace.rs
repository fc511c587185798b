//! [`Laplace`]: the double-exponential distribution.

use crate::distribution::{validated, Distribution};
use crate::error::Result;
use crate::shape::{broadcast2, finite, flat, positive, row, Batch};
use burn::tensor::{Device, Tensor};
use duet_core::{DynTensor, Key};
use std::any::Any;

/// The Laplace distribution with location `μ` and scale `b`.
///
/// - `log p(x) = -ln(2b) - |x - μ| / b`
/// - `H = 1 + ln(2b)`; mean `μ`; variance `2b²`
/// - `rsample = μ - b sign(ε) ln(1 - |ε|)`, `ε ~ U(-1, 1)` (as PyTorch)
///
/// # Shapes
/// `loc`, `scale`: the batch shape; values `[*sample, *batch]`.
///
/// # Example
/// ```
/// use duet_prob::{Distribution, Laplace};
/// use duet_core::burn::tensor::{Device, Tensor};
/// let dev = Device::flex();
/// let d = Laplace::new(Tensor::<1>::from_floats([1.0], &dev), Tensor::<1>::from_floats([0.5], &dev)).unwrap();
/// let lp = d.log_prob(&Tensor::<1>::from_floats([2.0], &dev).into()).unwrap().to_vec();
/// assert!((lp[0] - (-(1.0f32).ln() - 2.0)).abs() < 1e-6); // -ln(2·0.5) - 1/0.5
/// assert!((d.variance().unwrap().to_vec()[0] - 0.5).abs() < 1e-7);
/// ```
#[derive(Clone, Debug)]
pub struct Laplace {
    pub(crate) loc: Tensor<1>,
    pub(crate) scale: Tensor<1>,
    batch: Batch,
}

const NAME: &str = "Laplace";

impl Laplace {
    /// Laplace(`loc`, `scale`); the two broadcast when one has a single element.
    pub fn new(loc: impl Into<DynTensor>, scale: impl Into<DynTensor>) -> Result<Self> {
        let (loc, scale) = broadcast2(NAME, ["loc", "scale"], loc.into(), scale.into())?;
        validated(Laplace {
            batch: Batch::of(&loc),
            loc: flat(&loc),
            scale: flat(&scale),
        })
    }

    fn transform(&self, eps: Tensor<2>) -> Tensor<2> {
        let mag = (eps.clone().abs().neg()).log1p();
        row(&self.loc) - row(&self.scale) * eps.sign() * mag
    }
}

impl Distribution for Laplace {
    fn name(&self) -> &'static str {
        NAME
    }
    fn batch_shape(&self) -> Vec<usize> {
        self.batch.dims.clone()
    }
    fn device(&self) -> Device {
        self.loc.device()
    }
    fn log_prob(&self, value: &DynTensor) -> Result<DynTensor> {
        let (sample, x) = self.batch.read(NAME, value)?;
        let b = row(&self.scale);
        let lp = (x - row(&self.loc)).abs().neg() / b.clone() - (b * 2.0).log();
        Ok(self.batch.out(lp, &sample))
    }
    fn rsample(&self, key: Key, sample_shape: &[usize]) -> Result<DynTensor> {
        let (sb, dims) = self.batch.draw_shape(sample_shape);
        let eps = key.uniform(sb, f32::EPSILON - 1.0, 1.0, &self.device());
        Ok(DynTensor::from(self.transform(eps)).reshape(&dims))
    }
    /// `ε ~ U(-1, 1)`.
    fn rsample_from(&self, noise: &DynTensor) -> Result<DynTensor> {
        let (sample, eps) = self.batch.read(NAME, noise)?;
        Ok(self.batch.out(self.transform(eps), &sample))
    }
    fn has_rsample(&self) -> bool {
        true
    }
    fn entropy(&self) -> Result<DynTensor> {
        Ok(self.batch.stat((self.scale.clone() * 2.0).log() + 1.0))
    }
    fn mean(&self) -> Result<DynTensor> {
        Ok(self.batch.stat(self.loc.clone()))
    }
    fn variance(&self) -> Result<DynTensor> {
        Ok(self.batch.stat(self.scale.clone().square() * 2.0))
    }
    fn validate(&self) -> Result<()> {
        finite(NAME, "loc", &self.loc.clone().into())?;
        positive(NAME, "scale", &self.scale.clone().into())
    }
    fn as_any(&self) -> &dyn Any {
        self
    }
}
