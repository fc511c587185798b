//! [`Normal`]: the Gaussian `N(loc, scale²)`.

use crate::distribution::{validated, Distribution};
use crate::error::Result;
use crate::shape::{broadcast2, finite, flat, positive, row, Batch};
use crate::HALF_LN_2PI;
use burn::tensor::{Device, Tensor};
use duet_core::{DynTensor, Key};
use std::any::Any;

/// The normal distribution `N(loc, scale²)`.
///
/// - `log p(x) = -(x - μ)² / (2σ²) - ln σ - ½ ln 2π`
/// - `H = ½ + ½ ln 2π + ln σ`; mean `μ`; variance `σ²`
/// - `rsample = μ + σ ε`, `ε ~ N(0, 1)`
///
/// # Shapes
/// `loc` and `scale`: the batch shape (or one of them one element); values `[*sample, *batch]`.
///
/// # Example
/// ```
/// use duet_prob::{Distribution, Normal};
/// use duet_core::burn::tensor::{Device, Tensor};
/// let dev = Device::flex();
/// let d = Normal::new(
///     Tensor::<1>::from_floats([0.0, 1.0], &dev),
///     Tensor::<1>::from_floats([1.0, 2.0], &dev),
/// )
/// .unwrap();
/// let lp = d.log_prob(&Tensor::<1>::from_floats([0.0, 3.0], &dev).into()).unwrap().to_vec();
/// // -½ ln 2π and -½ - ln 2 - ½ ln 2π
/// assert!((lp[0] + 0.918_938_5).abs() < 1e-6);
/// assert!((lp[1] + 0.5 + 2f32.ln() + 0.918_938_5).abs() < 1e-6);
/// // A negative scale is refused, naming the parameter.
/// let bad = Normal::new(Tensor::<1>::from_floats([0.0], &dev), Tensor::<1>::from_floats([-1.0], &dev));
/// assert!(bad.unwrap_err().to_string().contains("scale must be > 0"));
/// ```
#[derive(Clone, Debug)]
pub struct Normal {
    loc: Tensor<1>,
    scale: Tensor<1>,
    batch: Batch,
}

const NAME: &str = "Normal";

impl Normal {
    /// `N(loc, scale²)`; the two broadcast when one has a single element.
    pub fn new(loc: impl Into<DynTensor>, scale: impl Into<DynTensor>) -> Result<Self> {
        let (loc, scale) = broadcast2(NAME, ["loc", "scale"], loc.into(), scale.into())?;
        validated(Normal {
            batch: Batch::of(&loc),
            loc: flat(&loc),
            scale: flat(&scale),
        })
    }

    /// `N(0, 1)` with the given batch shape.
    pub fn standard(batch: &[usize], device: &Device) -> Self {
        let n: usize = batch.iter().product();
        Normal {
            loc: Tensor::zeros([n], device),
            scale: Tensor::ones([n], device),
            batch: Batch {
                dims: batch.to_vec(),
            },
        }
    }

    /// `μ`, in the batch shape.
    pub fn loc(&self) -> DynTensor {
        self.batch.stat(self.loc.clone())
    }

    /// `σ`, in the batch shape.
    pub fn scale(&self) -> DynTensor {
        self.batch.stat(self.scale.clone())
    }

    pub(crate) fn flat_params(&self) -> (Tensor<1>, Tensor<1>) {
        (self.loc.clone(), self.scale.clone())
    }
}

impl Distribution for Normal {
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
        let z = (x - row(&self.loc)) / row(&self.scale);
        let lp = z.square() * -0.5 - row(&self.scale).log() - HALF_LN_2PI;
        Ok(self.batch.out(lp, &sample))
    }
    fn rsample(&self, key: Key, sample_shape: &[usize]) -> Result<DynTensor> {
        let (sb, dims) = self.batch.draw_shape(sample_shape);
        let eps = key.normal(sb, 0.0, 1.0, &self.device());
        Ok(DynTensor::from(row(&self.loc) + row(&self.scale) * eps).reshape(&dims))
    }
    /// `μ + σ ε` for `ε ~ N(0, 1)`.
    fn rsample_from(&self, noise: &DynTensor) -> Result<DynTensor> {
        let (sample, eps) = self.batch.read(NAME, noise)?;
        Ok(self
            .batch
            .out(row(&self.loc) + row(&self.scale) * eps, &sample))
    }
    fn has_rsample(&self) -> bool {
        true
    }
    fn entropy(&self) -> Result<DynTensor> {
        Ok(self
            .batch
            .stat(self.scale.clone().log() + 0.5 + HALF_LN_2PI))
    }
    fn mean(&self) -> Result<DynTensor> {
        Ok(self.loc())
    }
    fn variance(&self) -> Result<DynTensor> {
        Ok(self.batch.stat(self.scale.clone().square()))
    }
    fn validate(&self) -> Result<()> {
        finite(NAME, "loc", &self.loc.clone().into())?;
        positive(NAME, "scale", &self.scale.clone().into())
    }
    fn as_any(&self) -> &dyn Any {
        self
    }
}
