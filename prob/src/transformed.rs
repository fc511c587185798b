//! [`Transformed`] distributions (a base pushed through bijectors) and [`LogNormal`].

use crate::bijector::{Bijector, Exp};
use crate::distribution::{Distribution, Support};
use crate::error::Result;
use crate::normal::Normal;
use crate::shape::{or_one, rows};
use burn::tensor::{Device, Tensor};
use duet_core::{DynTensor, Key};
use std::any::Any;

/// The distribution of `y = f_n(... f_1(x))` for `x` from `base` and element-wise bijectors
/// `f_1, ..., f_n` (PyTorch's `TransformedDistribution`).
///
/// - `log p(y) = log p_base(x) - Σ_i Σ_event ln |f_i'(x_{i-1})|` with `x = f⁻¹(y)`
/// - `sample` / `rsample`: the base's, pushed forward; mean, variance and entropy are not
///   defined in general (see [`LogNormal`] for a case with closed forms)
///
/// # Shapes
/// The base's batch and event shapes.
///
/// # Example
/// ```
/// use duet_prob::{Distribution, Normal, Sigmoid, Transformed};
/// use duet_core::burn::tensor::{Device, Tensor};
/// let dev = Device::flex();
/// // A logit-normal: σ(N(0, 1)). At y = ½ (x = 0): log p = -½ ln 2π - ln(¼).
/// let d = Transformed::new(Normal::standard(&[1], &dev), vec![Box::new(Sigmoid)]);
/// let lp = d.log_prob(&Tensor::<1>::from_floats([0.5], &dev).into()).unwrap().to_vec();
/// assert!((lp[0] - (-0.918_938_5 - 0.25f32.ln())).abs() < 1e-5);
/// ```
#[derive(Debug)]
pub struct Transformed {
    base: Box<dyn Distribution>,
    bijectors: Vec<Box<dyn Bijector>>,
}

const NAME: &str = "Transformed";

impl Transformed {
    /// `base` pushed through `bijectors`, applied in order.
    pub fn new(base: impl Distribution, bijectors: Vec<Box<dyn Bijector>>) -> Self {
        Transformed {
            base: Box::new(base),
            bijectors,
        }
    }

    /// The base distribution.
    pub fn base(&self) -> &dyn Distribution {
        self.base.as_ref()
    }

    /// Elements per row of a value: `B·E`, or 1 when the base broadcasts as a scalar.
    fn width(&self) -> usize {
        let n: usize = self
            .base
            .batch_shape()
            .iter()
            .chain(&self.base.event_shape())
            .product();
        n.max(1)
    }

    fn push(&self, x: DynTensor) -> DynTensor {
        let dims = x.dims();
        let mut y = rows(&x, self.width());
        for b in &self.bijectors {
            y = b.forward(y);
        }
        DynTensor::from(y).reshape(&dims)
    }
}

impl Distribution for Transformed {
    fn name(&self) -> &'static str {
        NAME
    }
    fn support(&self) -> Support {
        Support::Unknown
    }
    fn batch_shape(&self) -> Vec<usize> {
        self.base.batch_shape()
    }
    fn event_shape(&self) -> Vec<usize> {
        self.base.event_shape()
    }
    fn device(&self) -> Device {
        self.base.device()
    }
    fn log_prob(&self, value: &DynTensor) -> Result<DynTensor> {
        let dims = value.dims();
        let mut y = rows(value, self.width());
        let mut ladj: Option<Tensor<2>> = None;
        for b in self.bijectors.iter().rev() {
            let x = b.inverse(y.clone());
            let term = b.log_abs_det_jacobian(x.clone(), y);
            ladj = Some(match ladj {
                None => term,
                Some(acc) => acc + term,
            });
            y = x;
        }
        let base_lp = self.base.log_prob(&DynTensor::from(y).reshape(&dims))?;
        let Some(ladj) = ladj else { return Ok(base_lp) };
        // Sum the log-Jacobians over the event dims: `[*sample, *batch]`, as `base_lp`.
        let event = self.base.event_shape();
        let e: usize = event.iter().product::<usize>().max(1);
        let [s, n] = ladj.dims();
        let per_event = ladj.reshape([s * n / e, e]).sum_dim(1);
        let lead = dims[..dims.len().saturating_sub(event.len())].to_vec();
        Ok(base_lp - DynTensor::from(per_event).reshape(&or_one(lead)))
    }
    fn sample(&self, key: Key, sample_shape: &[usize]) -> DynTensor {
        self.push(self.base.sample(key, sample_shape))
    }
    fn rsample(&self, key: Key, sample_shape: &[usize]) -> Result<DynTensor> {
        Ok(self.push(self.base.rsample(key, sample_shape)?))
    }
    fn rsample_from(&self, noise: &DynTensor) -> Result<DynTensor> {
        Ok(self.push(self.base.rsample_from(noise)?))
    }
    fn has_rsample(&self) -> bool {
        self.base.has_rsample()
    }
    fn validate(&self) -> Result<()> {
        self.base.validate()
    }
    fn as_any(&self) -> &dyn Any {
        self
    }
}

/// The log-normal distribution: `exp(N(μ, σ²))`, a [`Transformed`] normal with closed forms.
///
/// - `log p(y) = log N(ln y; μ, σ²) - ln y`
/// - `H = ½ + ½ ln 2π + ln σ + μ`; mean `exp(μ + σ²/2)`; variance `(exp(σ²) - 1) exp(2μ + σ²)`
/// - `rsample = exp(μ + σ ε)`, `ε ~ N(0, 1)`
///
/// # Shapes
/// `loc`, `scale`: the batch shape; values `[*sample, *batch]`.
///
/// # Example
/// ```
/// use duet_prob::{Distribution, LogNormal};
/// use duet_core::burn::tensor::{Device, Tensor};
/// let dev = Device::flex();
/// let d = LogNormal::new(Tensor::<1>::from_floats([0.0], &dev), Tensor::<1>::from_floats([1.0], &dev)).unwrap();
/// let lp = d.log_prob(&Tensor::<1>::from_floats([1.0], &dev).into()).unwrap().to_vec();
/// assert!((lp[0] + 0.918_938_5).abs() < 1e-6);
/// assert!((d.mean().unwrap().to_vec()[0] - 0.5f32.exp()).abs() < 1e-6);
/// ```
#[derive(Debug)]
pub struct LogNormal {
    normal: Normal,
    inner: Transformed,
}

impl LogNormal {
    /// `exp(N(loc, scale²))`.
    pub fn new(loc: impl Into<DynTensor>, scale: impl Into<DynTensor>) -> Result<Self> {
        let normal = Normal::new(loc, scale)?;
        Ok(LogNormal {
            inner: Transformed::new(normal.clone(), vec![Box::new(Exp)]),
            normal,
        })
    }

    /// The underlying normal `N(μ, σ²)` of `ln y`.
    pub fn base(&self) -> &Normal {
        &self.normal
    }
}

impl Distribution for LogNormal {
    fn name(&self) -> &'static str {
        "LogNormal"
    }
    fn support(&self) -> Support {
        Support::Positive
    }
    fn batch_shape(&self) -> Vec<usize> {
        self.normal.batch_shape()
    }
    fn device(&self) -> Device {
        self.normal.device()
    }
    fn log_prob(&self, value: &DynTensor) -> Result<DynTensor> {
        self.inner.log_prob(value)
    }
    fn sample(&self, key: Key, sample_shape: &[usize]) -> DynTensor {
        self.inner.sample(key, sample_shape)
    }
    fn rsample(&self, key: Key, sample_shape: &[usize]) -> Result<DynTensor> {
        self.inner.rsample(key, sample_shape)
    }
    /// `ε ~ N(0, 1)`.
    fn rsample_from(&self, noise: &DynTensor) -> Result<DynTensor> {
        self.inner.rsample_from(noise)
    }
    fn has_rsample(&self) -> bool {
        true
    }
    fn entropy(&self) -> Result<DynTensor> {
        let (mu, _) = self.normal.flat_params();
        let h = self.normal.entropy()?.flatten() + mu;
        Ok(DynTensor::from(h).reshape(&self.normal.loc().dims()))
    }
    fn mean(&self) -> Result<DynTensor> {
        let (mu, s) = self.normal.flat_params();
        let m = (mu + s.square() * 0.5).exp();
        Ok(DynTensor::from(m).reshape(&self.normal.loc().dims()))
    }
    fn variance(&self) -> Result<DynTensor> {
        let (mu, s) = self.normal.flat_params();
        let s2 = s.square();
        let v = (s2.clone().exp() - 1.0) * (mu * 2.0 + s2).exp();
        Ok(DynTensor::from(v).reshape(&self.normal.loc().dims()))
    }
    fn validate(&self) -> Result<()> {
        self.normal.validate()
    }
    fn as_any(&self) -> &dyn Any {
        self
    }
}
