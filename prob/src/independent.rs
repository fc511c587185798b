//! [`Independent`]: reinterprets batch dims of a distribution as event dims.

use crate::distribution::{Distribution, Support};
use crate::error::{ProbError, Result};
use crate::shape::or_one;
use burn::tensor::Device;
use duet_core::{DynTensor, Key};
use std::any::Any;

/// Reinterprets the last `n` batch dims of `base` as event dims, so `log_prob` sums over them
/// (PyTorch's `Independent(base, n)`, NumPyro's `to_event(n)`): a diagonal Gaussian over vectors
/// is `Independent::new(Normal::new(loc, scale)?, 1)`.
///
/// - `log p(x) = Σ_{reinterpreted dims} log p_base(x)`; `H` the same sum of the base entropy
/// - mean, variance, `sample`, `rsample`: the base's
///
/// # Shapes
/// base batch `[*batch, *reinterpreted]` -> batch `[*batch]`, event `[*reinterpreted, *base_event]`.
///
/// # Example
/// ```
/// use duet_prob::{Distribution, Independent, Normal};
/// use duet_core::burn::tensor::{Device, Tensor};
/// let dev = Device::flex();
/// let base = Normal::new(Tensor::<2>::zeros([3, 4], &dev), Tensor::<2>::ones([3, 4], &dev)).unwrap();
/// let d = Independent::new(base, 1).unwrap();
/// assert_eq!((d.batch_shape(), d.event_shape()), (vec![3], vec![4]));
/// let lp = d.log_prob(&Tensor::<2>::zeros([3, 4], &dev).into()).unwrap();
/// assert_eq!(lp.dims(), vec![3]);
/// assert!((lp.to_vec()[0] + 4.0 * 0.918_938_5).abs() < 1e-5);
/// ```
#[derive(Debug)]
pub struct Independent {
    pub(crate) base: Box<dyn Distribution>,
    pub(crate) n: usize,
}

const NAME: &str = "Independent";

impl Independent {
    /// Reinterprets the last `n` batch dims of `base` as event dims.
    pub fn new(base: impl Distribution, n: usize) -> Result<Self> {
        Self::boxed(Box::new(base), n)
    }

    /// [`Independent::new`] for a boxed base.
    pub fn boxed(base: Box<dyn Distribution>, n: usize) -> Result<Self> {
        let b = base.batch_shape();
        if n > b.len() {
            return Err(ProbError::Shape {
                dist: NAME.into(),
                what: format!("the base {}'s batch", base.name()),
                got: b,
                expected: format!("at least {n} dims to reinterpret"),
            });
        }
        Ok(Independent { base, n })
    }

    /// The base distribution.
    pub fn base(&self) -> &dyn Distribution {
        self.base.as_ref()
    }

    /// Sums the last `n` dims of a `[*lead, *reinterpreted]` tensor.
    pub(crate) fn sum_reinterpreted(&self, t: DynTensor) -> DynTensor {
        let d = t.dims();
        let b = self.base.batch_shape();
        let r: usize = b[b.len() - self.n..].iter().product();
        if self.n == 0 || d.len() < self.n {
            return t;
        }
        let lead = d[..d.len() - self.n].to_vec();
        let rows = t.num_elements() / r.max(1);
        let summed = t.reshape(&[rows, r]).into_rank::<2>().sum_dim(1);
        DynTensor::from(summed).reshape(&or_one(lead))
    }
}

impl Distribution for Independent {
    fn name(&self) -> &'static str {
        NAME
    }
    fn support(&self) -> Support {
        self.base.support()
    }
    fn batch_shape(&self) -> Vec<usize> {
        let b = self.base.batch_shape();
        b[..b.len() - self.n].to_vec()
    }
    fn event_shape(&self) -> Vec<usize> {
        let b = self.base.batch_shape();
        b[b.len() - self.n..]
            .iter()
            .copied()
            .chain(self.base.event_shape())
            .collect()
    }
    fn device(&self) -> Device {
        self.base.device()
    }
    fn log_prob(&self, value: &DynTensor) -> Result<DynTensor> {
        Ok(self.sum_reinterpreted(self.base.log_prob(value)?))
    }
    fn sample(&self, key: Key, sample_shape: &[usize]) -> DynTensor {
        self.base.sample(key, sample_shape)
    }
    fn rsample(&self, key: Key, sample_shape: &[usize]) -> Result<DynTensor> {
        self.base.rsample(key, sample_shape)
    }
    fn rsample_from(&self, noise: &DynTensor) -> Result<DynTensor> {
        self.base.rsample_from(noise)
    }
    fn has_rsample(&self) -> bool {
        self.base.has_rsample()
    }
    fn entropy(&self) -> Result<DynTensor> {
        Ok(self.sum_reinterpreted(self.base.entropy()?))
    }
    fn mean(&self) -> Result<DynTensor> {
        self.base.mean()
    }
    fn variance(&self) -> Result<DynTensor> {
        self.base.variance()
    }
    fn validate(&self) -> Result<()> {
        self.base.validate()
    }
    fn as_any(&self) -> &dyn Any {
        self
    }
}
