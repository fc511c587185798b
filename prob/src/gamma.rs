//! [`Gamma`]: the gamma distribution, shape (concentration) and rate.

use crate::distribution::{validated, Distribution, Support};
use crate::error::Result;
use crate::shape::{broadcast2, flat, positive, row, Batch};
use crate::special::{digamma, lgamma};
use burn::tensor::{Device, Tensor, TensorData};
use duet_core::{DynTensor, Key};
use rand_distr::Distribution as _;
use std::any::Any;

/// The gamma distribution with concentration `α` and rate `β`.
///
/// - `log p(x) = α ln β + (α - 1) ln x - β x - ln Γ(α)`
/// - `H = α - ln β + ln Γ(α) + (1 - α) ψ(α)`; mean `α/β`; variance `α/β²`
/// - `sample` draws on the host (Marsaglia-Tsang, `rand_distr`); `rsample` (implicit
///   reparameterisation) is not provided
///
/// # Shapes
/// `concentration`, `rate`: the batch shape; values `[*sample, *batch]`.
///
/// # Example
/// ```
/// use duet_prob::{Distribution, Gamma};
/// use duet_core::burn::tensor::{Device, Tensor};
/// let dev = Device::flex();
/// // Gamma(1, 2) is Exponential(2).
/// let d = Gamma::new(Tensor::<1>::from_floats([1.0], &dev), Tensor::<1>::from_floats([2.0], &dev)).unwrap();
/// let lp = d.log_prob(&Tensor::<1>::from_floats([0.5], &dev).into()).unwrap().to_vec();
/// assert!((lp[0] - (2f32.ln() - 1.0)).abs() < 3e-6);
/// assert!((d.entropy().unwrap().to_vec()[0] - (1.0 - 2f32.ln())).abs() < 3e-6);
/// ```
#[derive(Clone, Debug)]
pub struct Gamma {
    pub(crate) concentration: Tensor<1>,
    pub(crate) rate: Tensor<1>,
    batch: Batch,
}

const NAME: &str = "Gamma";

impl Gamma {
    /// Gamma(`concentration`, `rate`); the two broadcast when one has a single element.
    pub fn new(concentration: impl Into<DynTensor>, rate: impl Into<DynTensor>) -> Result<Self> {
        let (a, b) = broadcast2(
            NAME,
            ["concentration", "rate"],
            concentration.into(),
            rate.into(),
        )?;
        validated(Gamma {
            batch: Batch::of(&a),
            concentration: flat(&a),
            rate: flat(&b),
        })
    }
}

/// Host draws from Gamma(`a[i]`, scale 1) for `s` samples of each of the `a.len()` entries.
pub(crate) fn standard_gamma(key: Key, a: &[f32], s: usize) -> Vec<f32> {
    let mut rng = key.host_rng();
    let dists: Vec<rand_distr::Gamma<f32>> = a
        .iter()
        .map(|&a| rand_distr::Gamma::new(a, 1.0).expect("validated concentration"))
        .collect();
    (0..s * a.len())
        .map(|i| dists[i % a.len()].sample(&mut rng).max(f32::MIN_POSITIVE))
        .collect()
}

impl Distribution for Gamma {
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
        let (a, b) = (row(&self.concentration), row(&self.rate));
        let lp =
            a.clone() * b.clone().log() + (a.clone() - 1.0) * x.clone().log() - b * x - lgamma(a);
        Ok(self.batch.out(lp, &sample))
    }
    fn sample(&self, key: Key, sample_shape: &[usize]) -> DynTensor {
        let a = crate::shape::host(&self.concentration);
        let ([s, b], dims) = self.batch.draw_shape(sample_shape);
        let g = standard_gamma(key, &a, s);
        let g = Tensor::<2>::from_data(TensorData::new(g, [s, b]), &self.device());
        DynTensor::from(g / row(&self.rate).detach()).reshape(&dims)
    }
    fn entropy(&self) -> Result<DynTensor> {
        let (a, b) = (self.concentration.clone(), self.rate.clone());
        let h = a.clone() - b.log() + lgamma(a.clone()) + (a.clone().neg() + 1.0) * digamma(a);
        Ok(self.batch.stat(h))
    }
    fn mean(&self) -> Result<DynTensor> {
        Ok(self
            .batch
            .stat(self.concentration.clone() / self.rate.clone()))
    }
    fn variance(&self) -> Result<DynTensor> {
        Ok(self
            .batch
            .stat(self.concentration.clone() / self.rate.clone().square()))
    }
    fn validate(&self) -> Result<()> {
        positive(NAME, "concentration", &self.concentration.clone().into())?;
        positive(NAME, "rate", &self.rate.clone().into())
    }
    fn as_any(&self) -> &dyn Any {
        self
    }
}
