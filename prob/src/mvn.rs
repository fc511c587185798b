//! [`MultivariateNormal`]: the Gaussian with a full covariance `L Lᵀ`.

use crate::distribution::{validated, Distribution};
use crate::error::{ProbError, Result};
use crate::shape::{finite, join, rows3, sample_dims, shaped, Batch};
use crate::HALF_LN_2PI;
use burn::tensor::{Device, Tensor};
use duet_core::{DynTensor, Key};
use std::any::Any;

/// The multivariate normal `N(μ, L Lᵀ)` with `L` lower triangular, positive diagonal
/// (PyTorch's `scale_tril`). Only the lower triangle of `L` is read, so the gradient with respect
/// to the upper triangle is zero.
///
/// - `log p(x) = -½ |L⁻¹(x - μ)|² - Σ_i ln L_ii - (E/2) ln 2π`
/// - `H = (E/2)(1 + ln 2π) + Σ_i ln L_ii`; mean `μ`; variance `Σ_j L_ij²`
/// - `rsample = μ + L ε`, `ε ~ N(0, I)`
///
/// `L⁻¹` is applied by forward substitution, one row at a time (E steps of tensor ops, all
/// differentiable).
///
/// # Shapes
/// `loc`: `[*batch, E]`; `scale_tril`: `[*batch, E, E]`; values `[*sample, *batch, E]`.
///
/// # Example
/// ```
/// use duet_prob::{Distribution, MultivariateNormal};
/// use duet_core::burn::tensor::{Device, Tensor};
/// let dev = Device::flex();
/// let d = MultivariateNormal::new(
///     Tensor::<1>::from_floats([0.0, 0.0], &dev),
///     Tensor::<2>::from_floats([[2.0, 0.0], [1.0, 1.0]], &dev),
/// )
/// .unwrap();
/// // x = L [1, 1] = [2, 2]: log p = -½·2 - ln 2 - ln 2π
/// let lp = d.log_prob(&Tensor::<1>::from_floats([2.0, 2.0], &dev).into()).unwrap().to_vec();
/// assert!((lp[0] - (-1.0 - 2f32.ln() - 2.0 * 0.918_938_5)).abs() < 1e-5);
/// assert_eq!(d.variance().unwrap().to_vec(), vec![4.0, 2.0]);
/// // An upper-triangular entry is refused.
/// let bad = MultivariateNormal::new(
///     Tensor::<1>::from_floats([0.0, 0.0], &dev),
///     Tensor::<2>::from_floats([[1.0, 0.5], [0.0, 1.0]], &dev),
/// );
/// assert!(bad.unwrap_err().to_string().contains("lower triangular"));
/// ```
#[derive(Clone, Debug)]
pub struct MultivariateNormal {
    /// `[B, E]`.
    pub(crate) loc: Tensor<2>,
    /// `[B, E, E]`, upper triangle zeroed.
    pub(crate) tril: Tensor<3>,
    /// As given (validation looks at the upper triangle).
    raw: Tensor<3>,
    batch: Batch,
}

const NAME: &str = "MultivariateNormal";

impl MultivariateNormal {
    /// `N(loc, scale_tril scale_trilᵀ)`.
    pub fn new(loc: impl Into<DynTensor>, scale_tril: impl Into<DynTensor>) -> Result<Self> {
        let (loc, l) = (loc.into(), scale_tril.into());
        let mut dims = loc.dims();
        let e = dims.pop().unwrap_or(1);
        let want: Vec<usize> = dims.iter().copied().chain([e, e]).collect();
        if l.dims() != want {
            return Err(ProbError::Shape {
                dist: NAME.into(),
                what: "scale_tril".into(),
                got: l.dims(),
                expected: format!("[{}] (loc's batch, then E x E)", join(&want)),
            });
        }
        let b: usize = dims.iter().product();
        let raw = l.reshape(&[b, e, e]).into_rank::<3>();
        validated(MultivariateNormal {
            loc: loc.reshape(&[b, e]).into_rank::<2>(),
            tril: raw.clone().tril(0),
            raw,
            batch: Batch { dims },
        })
    }

    pub(crate) fn e(&self) -> usize {
        self.loc.dims()[1]
    }

    /// `ln L_ii`, `[B, E]`.
    pub(crate) fn log_diag(&self) -> Tensor<2> {
        diag(self.tril.clone()).log()
    }

    fn lead(&self) -> Vec<usize> {
        self.batch.dims.clone()
    }
}

/// The diagonals of `[B, E, E]` matrices, `[B, E]`.
pub(crate) fn diag(m: Tensor<3>) -> Tensor<2> {
    let [b, e, _] = m.dims();
    let eye: Tensor<2> = Tensor::eye(e, &m.device());
    (m * eye.unsqueeze_dim::<3>(0)).sum_dim(2).reshape([b, e])
}

/// Solves `L z = r` for lower-triangular `L` `[B, E, E]` and right-hand sides `r` `[S, B, E, M]`
/// by forward substitution (row `i`: `z_i = (r_i - L[i, :i] z[:i]) / L_ii`).
pub(crate) fn solve_lower(l: &Tensor<3>, r: Tensor<4>) -> Tensor<4> {
    let [s, b, e, m] = r.dims();
    let l4 = l.clone().unsqueeze_dim::<4>(0); // [1, B, E, E]
    let mut rows: Vec<Tensor<4>> = Vec::with_capacity(e);
    for i in 0..e {
        let mut num = r.clone().slice([0..s, 0..b, i..i + 1, 0..m]);
        if i > 0 {
            let done = Tensor::cat(rows.clone(), 2); // [S, B, i, M]
            let li = l4.clone().slice([0..1, 0..b, i..i + 1, 0..i]); // [1, B, 1, i]
            let dot = (li.swap_dims(2, 3) * done).sum_dim(2); // [S, B, 1, M]
            num = num - dot;
        }
        let lii = l4.clone().slice([0..1, 0..b, i..i + 1, i..i + 1]);
        rows.push(num / lii);
    }
    Tensor::cat(rows, 2)
}

impl Distribution for MultivariateNormal {
    fn name(&self) -> &'static str {
        NAME
    }
    fn batch_shape(&self) -> Vec<usize> {
        self.batch.dims.clone()
    }
    fn event_shape(&self) -> Vec<usize> {
        vec![self.e()]
    }
    fn device(&self) -> Device {
        self.loc.device()
    }
    fn log_prob(&self, value: &DynTensor) -> Result<DynTensor> {
        let (b, e) = (self.batch.len(), self.e());
        let suffix: Vec<usize> = self.lead().into_iter().chain([e]).collect();
        let sample = sample_dims(NAME, value, &suffix, false)?;
        let x = rows3(value, b, e);
        let s = x.dims()[0];
        let r = (x - self.loc.clone().unsqueeze_dim::<3>(0)).reshape([s, b, e, 1]);
        let z = solve_lower(&self.tril, r);
        let maha = z.square().sum_dim(2).reshape([s, b]);
        let half_log_det = self.log_diag().sum_dim(1).reshape([1, b]);
        let lp = maha * -0.5 - half_log_det - HALF_LN_2PI * e as f32;
        Ok(self.batch.out(lp, &sample))
    }
    fn rsample(&self, key: Key, sample_shape: &[usize]) -> Result<DynTensor> {
        let (b, e) = (self.batch.len(), self.e());
        let s: usize = sample_shape.iter().product();
        let eps = key.normal([s, b, e], 0.0, 1.0, &self.device());
        let lead: Vec<usize> = sample_shape
            .iter()
            .chain(&self.batch.dims)
            .copied()
            .collect();
        Ok(shaped(self.transform(eps), &lead, &[e]))
    }
    /// `ε ~ N(0, I)`.
    fn rsample_from(&self, noise: &DynTensor) -> Result<DynTensor> {
        let (b, e) = (self.batch.len(), self.e());
        let suffix: Vec<usize> = self.lead().into_iter().chain([e]).collect();
        let sample = sample_dims(NAME, noise, &suffix, false)?;
        let lead: Vec<usize> = sample.iter().chain(&self.batch.dims).copied().collect();
        Ok(shaped(self.transform(rows3(noise, b, e)), &lead, &[e]))
    }
    fn has_rsample(&self) -> bool {
        true
    }
    fn entropy(&self) -> Result<DynTensor> {
        let e = self.e() as f32;
        let h = self.log_diag().sum_dim(1) + e * (0.5 + HALF_LN_2PI);
        Ok(self.batch.stat(h.reshape([self.batch.len()])))
    }
    fn mean(&self) -> Result<DynTensor> {
        Ok(shaped(self.loc.clone(), &self.lead(), &[self.e()]))
    }
    fn variance(&self) -> Result<DynTensor> {
        let [b, e, _] = self.tril.dims();
        let v = self.tril.clone().square().sum_dim(2).reshape([b, e]);
        Ok(shaped(v, &self.lead(), &[e]))
    }
    fn validate(&self) -> Result<()> {
        finite(NAME, "loc", &self.loc.clone().into())?;
        let e = self.e();
        let l = crate::shape::host(&self.raw);
        for (index, &value) in l.iter().enumerate() {
            let (i, j) = ((index / e) % e, index % e);
            let rule = match () {
                _ if j > i && value != 0.0 => "lower triangular (0 above the diagonal)",
                _ if i == j && !(value > 0.0 && value.is_finite()) => "> 0 on the diagonal",
                _ if !value.is_finite() => "finite",
                _ => continue,
            };
            return Err(ProbError::Invalid {
                dist: NAME.into(),
                param: "scale_tril".into(),
                rule: rule.into(),
                value,
                index,
            });
        }
        Ok(())
    }
    fn as_any(&self) -> &dyn Any {
        self
    }
}

impl MultivariateNormal {
    /// `μ + L ε` for `ε` `[S, B, E]`.
    fn transform(&self, eps: Tensor<3>) -> Tensor<3> {
        let [s, b, e] = eps.dims();
        let le = (self.tril.clone().unsqueeze_dim::<4>(0) * eps.reshape([s, b, 1, e])).sum_dim(3);
        le.reshape([s, b, e]) + self.loc.clone().unsqueeze_dim::<3>(0)
    }
}
