//! [`Beta`]: the beta distribution on `(0, 1)`.

use crate::distribution::{validated, Distribution, Support};
use crate::error::Result;
use crate::gamma::standard_gamma;
use crate::shape::{broadcast2, flat, positive, row, Batch};
use crate::special::{digamma, lbeta};
use burn::tensor::{Device, Tensor, TensorData};
use duet_core::{DynTensor, Key};
use std::any::Any;

/// The beta distribution with concentrations `a` (`concentration1`) and `b`
/// (`concentration0`), PyTorch's argument order.
///
/// - `log p(x) = (a - 1) ln x + (b - 1) ln(1 - x) - ln B(a, b)`
/// - `H = ln B(a, b) - (a - 1) ψ(a) - (b - 1) ψ(b) + (a + b - 2) ψ(a + b)`
/// - mean `a / (a + b)`; variance `a b / ((a + b)² (a + b + 1))`
/// - `sample` draws two gammas on the host; `rsample` is not provided
///
/// # Shapes
/// `concentration1`, `concentration0`: the batch shape; values `[*sample, *batch]`.
///
/// # Example
/// ```
/// use duet_prob::{Beta, Distribution};
/// use duet_core::burn::tensor::{Device, Tensor};
/// let dev = Device::flex();
/// // Beta(2, 1) has density 2x.
/// let d = Beta::new(Tensor::<1>::from_floats([2.0], &dev), Tensor::<1>::from_floats([1.0], &dev)).unwrap();
/// let lp = d.log_prob(&Tensor::<1>::from_floats([0.25], &dev).into()).unwrap().to_vec();
/// assert!((lp[0] - 0.5f32.ln()).abs() < 3e-6);
/// assert!((d.mean().unwrap().to_vec()[0] - 2.0 / 3.0).abs() < 1e-6);
/// ```
#[derive(Clone, Debug)]
pub struct Beta {
    pub(crate) c1: Tensor<1>,
    pub(crate) c0: Tensor<1>,
    batch: Batch,
}

const NAME: &str = "Beta";

impl Beta {
    /// Beta(`concentration1`, `concentration0`); the two broadcast when one has a single element.
    pub fn new(
        concentration1: impl Into<DynTensor>,
        concentration0: impl Into<DynTensor>,
    ) -> Result<Self> {
        let (a, b) = broadcast2(
            NAME,
            ["concentration1", "concentration0"],
            concentration1.into(),
            concentration0.into(),
        )?;
        validated(Beta {
            batch: Batch::of(&a),
            c1: flat(&a),
            c0: flat(&b),
        })
    }
}

impl Distribution for Beta {
    fn name(&self) -> &'static str {
        NAME
    }
    fn support(&self) -> Support {
        Support::UnitInterval
    }
    fn batch_shape(&self) -> Vec<usize> {
        self.batch.dims.clone()
    }
    fn device(&self) -> Device {
        self.c1.device()
    }
    fn log_prob(&self, value: &DynTensor) -> Result<DynTensor> {
        let (sample, x) = self.batch.read(NAME, value)?;
        let (a, b) = (row(&self.c1), row(&self.c0));
        let lp =
            (a.clone() - 1.0) * x.clone().log() + (b.clone() - 1.0) * x.neg().log1p() - lbeta(a, b);
        Ok(self.batch.out(lp, &sample))
    }
    fn sample(&self, key: Key, sample_shape: &[usize]) -> DynTensor {
        let [ka, kb] = key.split2();
        let a = crate::shape::host(&self.c1);
        let b = crate::shape::host(&self.c0);
        let ([s, n], dims) = self.batch.draw_shape(sample_shape);
        let (ga, gb) = (standard_gamma(ka, &a, s), standard_gamma(kb, &b, s));
        let v: Vec<f32> = ga.iter().zip(&gb).map(|(x, y)| x / (x + y)).collect();
        let t = Tensor::<2>::from_data(TensorData::new(v, [s, n]), &self.device());
        DynTensor::from(t).reshape(&dims)
    }
    fn entropy(&self) -> Result<DynTensor> {
        let (a, b) = (self.c1.clone(), self.c0.clone());
        let s = a.clone() + b.clone();
        let h = lbeta(a.clone(), b.clone())
            - (a.clone() - 1.0) * digamma(a)
            - (b.clone() - 1.0) * digamma(b)
            + (s.clone() - 2.0) * digamma(s);
        Ok(self.batch.stat(h))
    }
    fn mean(&self) -> Result<DynTensor> {
        let (a, b) = (self.c1.clone(), self.c0.clone());
        Ok(self.batch.stat(a.clone() / (a + b)))
    }
    fn variance(&self) -> Result<DynTensor> {
        let (a, b) = (self.c1.clone(), self.c0.clone());
        let s = a.clone() + b.clone();
        Ok(self.batch.stat(a * b / (s.clone().square() * (s + 1.0))))
    }
    fn validate(&self) -> Result<()> {
        positive(NAME, "concentration1", &self.c1.clone().into())?;
        positive(NAME, "concentration0", &self.c0.clone().into())
    }
    fn as_any(&self) -> &dyn Any {
        self
    }
}
