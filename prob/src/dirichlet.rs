//! [`Dirichlet`]: distributions over the probability simplex.

use crate::distribution::{validated, Distribution, Support};
use crate::error::Result;
use crate::gamma::standard_gamma;
use crate::shape::{positive, rows3, sample_dims, shaped, Batch};
use crate::special::{digamma, lgamma};
use burn::tensor::{Device, Tensor, TensorData};
use duet_core::{DynTensor, Key};
use std::any::Any;

/// The Dirichlet distribution with concentration `α ∈ (0, ∞)^K`, `α₀ = Σ_k α_k`.
///
/// - `log p(x) = Σ_k (α_k - 1) ln x_k + ln Γ(α₀) - Σ_k ln Γ(α_k)`
/// - `H = Σ_k ln Γ(α_k) - ln Γ(α₀) + (α₀ - K) ψ(α₀) - Σ_k (α_k - 1) ψ(α_k)`
/// - mean `α / α₀`; variance `α_k (α₀ - α_k) / (α₀² (α₀ + 1))`
/// - `sample` normalises host gamma draws; `rsample` is not provided
///
/// # Shapes
/// `concentration`: `[*batch, K]`; values `[*sample, *batch, K]`.
///
/// # Example
/// ```
/// use duet_prob::{Dirichlet, Distribution};
/// use duet_core::burn::tensor::{Device, Tensor};
/// let dev = Device::flex();
/// // Dirichlet(1, 1, 1) is uniform on the simplex: density Γ(3) = 2.
/// let d = Dirichlet::new(Tensor::<1>::from_floats([1.0, 1.0, 1.0], &dev)).unwrap();
/// let lp = d.log_prob(&Tensor::<1>::from_floats([0.2, 0.3, 0.5], &dev).into()).unwrap().to_vec();
/// assert!((lp[0] - 2f32.ln()).abs() < 3e-6);
/// assert_eq!(d.event_shape(), vec![3]);
/// ```
#[derive(Clone, Debug)]
pub struct Dirichlet {
    /// `[B, K]`.
    pub(crate) concentration: Tensor<2>,
    batch: Batch,
}

const NAME: &str = "Dirichlet";

impl Dirichlet {
    /// Dirichlet(`concentration`), the last axis the simplex.
    pub fn new(concentration: impl Into<DynTensor>) -> Result<Self> {
        let c = concentration.into();
        let mut dims = c.dims();
        let k = dims.pop().unwrap_or(1);
        let b: usize = dims.iter().product();
        validated(Dirichlet {
            concentration: c.reshape(&[b, k]).into_rank::<2>(),
            batch: Batch { dims },
        })
    }

    fn k(&self) -> usize {
        self.concentration.dims()[1]
    }

    fn event_stat(&self, t: Tensor<2>) -> DynTensor {
        shaped(t, &self.batch.dims, &[self.k()])
    }
}

impl Distribution for Dirichlet {
    fn name(&self) -> &'static str {
        NAME
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
        self.concentration.device()
    }
    fn log_prob(&self, value: &DynTensor) -> Result<DynTensor> {
        let (b, k) = (self.batch.len(), self.k());
        let suffix: Vec<usize> = self.batch.dims.iter().copied().chain([k]).collect();
        let sample = sample_dims(NAME, value, &suffix, false)?;
        let x = rows3(value, b, k);
        let a = self.concentration.clone();
        let norm = lgamma(a.clone().sum_dim(1)) - lgamma(a.clone()).sum_dim(1); // [B, 1]
        let s = x.dims()[0];
        let lp = ((a.unsqueeze_dim::<3>(0) - 1.0) * x.log())
            .sum_dim(2)
            .reshape([s, b])
            + norm.reshape([1, b]);
        Ok(self.batch.out(lp, &sample))
    }
    fn sample(&self, key: Key, sample_shape: &[usize]) -> DynTensor {
        let (b, k) = (self.batch.len(), self.k());
        let a = crate::shape::host(&self.concentration);
        let s: usize = sample_shape.iter().product();
        let mut g = standard_gamma(key, &a, s);
        for chunk in g.chunks_mut(k) {
            let total: f32 = chunk.iter().sum();
            chunk.iter_mut().for_each(|v| *v /= total);
        }
        let t = Tensor::<3>::from_data(TensorData::new(g, [s, b, k]), &self.device());
        let lead: Vec<usize> = sample_shape
            .iter()
            .chain(&self.batch.dims)
            .copied()
            .collect();
        shaped(t, &lead, &[k])
    }
    fn entropy(&self) -> Result<DynTensor> {
        let a = self.concentration.clone();
        let k = self.k() as f32;
        let a0 = a.clone().sum_dim(1);
        let h = lgamma(a.clone()).sum_dim(1) - lgamma(a0.clone()) + (a0.clone() - k) * digamma(a0)
            - ((a.clone() - 1.0) * digamma(a)).sum_dim(1);
        Ok(self.batch.stat(h.reshape([self.batch.len()])))
    }
    fn mean(&self) -> Result<DynTensor> {
        let a = self.concentration.clone();
        Ok(self.event_stat(a.clone() / a.sum_dim(1)))
    }
    fn variance(&self) -> Result<DynTensor> {
        let a = self.concentration.clone();
        let a0 = a.clone().sum_dim(1);
        let v = a.clone() * (a0.clone() - a) / (a0.clone().square() * (a0 + 1.0));
        Ok(self.event_stat(v))
    }
    fn validate(&self) -> Result<()> {
        positive(NAME, "concentration", &self.concentration.clone().into())
    }
    fn as_any(&self) -> &dyn Any {
        self
    }
}
