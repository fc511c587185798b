//! [`Categorical`]: one of `K` classes, parameterised by logits.

use crate::distribution::{validated, Distribution, Support};
use crate::error::{ProbError, Result};
use crate::shape::{finite, rows, sample_dims, shaped, Batch};
use burn::tensor::activation::{log_softmax, softmax};
use burn::tensor::{Device, Int, Tensor, TensorData};
use duet_core::{DynTensor, Key};
use rand::Rng;
use std::any::Any;

/// The categorical distribution over `{0, ..., K-1}` with `P(k) = softmax(logits)_k`.
///
/// - `log p(k) = ℓ_k - logsumexp(ℓ)`
/// - `H = -Σ_k p_k ln p_k`; mean and variance are not defined (as in PyTorch)
/// - not reparameterisable (`sample` only; see
///   [`RelaxedOneHotCategorical`](crate::RelaxedOneHotCategorical) for a relaxation)
///
/// Values are class indices stored as floats.
///
/// # Shapes
/// `logits`: `[*batch, K]`; values `[*sample, *batch]`.
///
/// # Example
/// ```
/// use duet_prob::{Categorical, Distribution};
/// use duet_core::burn::tensor::{Device, Tensor};
/// let dev = Device::flex();
/// let d = Categorical::new(Tensor::<1>::from_floats([0.0, 0.0, 2f32.ln()], &dev)).unwrap();
/// let lp = d.log_prob(&Tensor::<1>::from_floats([2.0, 0.0], &dev).into()).unwrap().to_vec();
/// assert!((lp[0] - 0.5f32.ln()).abs() < 1e-6 && (lp[1] - 0.25f32.ln()).abs() < 1e-6);
/// ```
#[derive(Clone, Debug)]
pub struct Categorical {
    /// `[B, K]`, normalised (`logsumexp = 0` per row).
    pub(crate) logits: Tensor<2>,
    batch: Batch,
}

const NAME: &str = "Categorical";

impl Categorical {
    /// Categorical with unnormalised `logits` (last axis the classes).
    pub fn new(logits: impl Into<DynTensor>) -> Result<Self> {
        let logits = logits.into();
        let mut dims = logits.dims();
        let k = dims.pop().unwrap_or(1);
        let b: usize = dims.iter().product();
        let raw = logits.reshape(&[b, k]).into_rank::<2>();
        validated(Categorical {
            logits: log_softmax(raw, 1),
            batch: Batch { dims },
        })
    }

    /// The number of classes `K`.
    pub fn classes(&self) -> usize {
        self.logits.dims()[1]
    }

    /// The normalised probabilities, `[*batch, K]`.
    pub fn probs(&self) -> DynTensor {
        shaped(
            softmax(self.logits.clone(), 1),
            &self.batch.dims,
            &[self.classes()],
        )
    }
}

impl Distribution for Categorical {
    fn name(&self) -> &'static str {
        NAME
    }
    fn support(&self) -> Support {
        Support::Discrete
    }
    fn batch_shape(&self) -> Vec<usize> {
        self.batch.dims.clone()
    }
    fn device(&self) -> Device {
        self.logits.device()
    }
    fn log_prob(&self, value: &DynTensor) -> Result<DynTensor> {
        let b = self.batch.len();
        let sample = sample_dims(NAME, value, &self.batch.dims, self.batch.dims.is_empty())?;
        let k = self.classes();
        let v = value.to_vec();
        if let Some(i) = v
            .iter()
            .position(|x| !(x.fract() == 0.0 && *x >= 0.0 && *x < k as f32))
        {
            return Err(ProbError::Invalid {
                dist: NAME.into(),
                param: "value".into(),
                rule: format!("a class index in 0..{k}"),
                value: v[i],
                index: i,
            });
        }
        let x = rows(value, b);
        let s = x.dims()[0];
        let idx: Tensor<3, Int> = x.int().reshape([s, b, 1]);
        let table = self.logits.clone().unsqueeze_dim::<3>(0).expand([s, b, k]);
        let lp = table.gather(2, idx).reshape([s, b]);
        Ok(self.batch.out(lp, &sample))
    }
    fn sample(&self, key: Key, sample_shape: &[usize]) -> DynTensor {
        let p = crate::shape::host(&softmax(self.logits.clone(), 1));
        let k = self.classes();
        let ([s, b], dims) = self.batch.draw_shape(sample_shape);
        let mut rng = key.host_rng();
        let v: Vec<f32> = (0..s * b)
            .map(|i| {
                let probs = &p[(i % b) * k..(i % b + 1) * k];
                let u: f32 = rng.random();
                let mut acc = 0.0;
                let pick = probs.iter().position(|q| {
                    acc += q;
                    u < acc
                });
                pick.unwrap_or(k - 1) as f32
            })
            .collect();
        DynTensor::from(Tensor::<1>::from_data(
            TensorData::new(v, [s * b]),
            &self.device(),
        ))
        .reshape(&crate::shape::or_one(dims))
    }
    fn entropy(&self) -> Result<DynTensor> {
        let l = self.logits.clone();
        let h = (softmax(l.clone(), 1) * l).sum_dim(1).neg();
        Ok(self.batch.stat(h.reshape([self.batch.len()])))
    }
    fn validate(&self) -> Result<()> {
        finite(NAME, "logits", &self.logits.clone().into())
    }
    fn as_any(&self) -> &dyn Any {
        self
    }
}
