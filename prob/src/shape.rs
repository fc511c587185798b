//! Shape bookkeeping shared by the distributions: parameters are stored batch-flattened, values
//! are split into leading sample dims and the trailing `batch ++ event` dims.

use crate::error::{ProbError, Result};
use burn::tensor::Tensor;
use duet_core::DynTensor;

/// Whether parameter values are checked when a distribution is built: on in debug builds, off in
/// release builds, like PyTorch's `validate_args` default under `python -O`. Call
/// [`Distribution::validate`](crate::Distribution::validate) to check explicitly.
pub const VALIDATE_DEFAULT: bool = cfg!(debug_assertions);

/// `dims` as the shape users see (`[1]` when empty, since tensors have rank >= 1).
pub(crate) fn or_one(dims: Vec<usize>) -> Vec<usize> {
    if dims.is_empty() {
        vec![1]
    } else {
        dims
    }
}

/// The leading sample dims of `value`, whose trailing dims must be `suffix`. When the
/// distribution holds one element and has no event dims (`scalar`), every dim of `value` is a
/// sample dim (a scalar distribution broadcasts over any value).
pub(crate) fn sample_dims(
    dist: &str,
    value: &DynTensor,
    suffix: &[usize],
    scalar: bool,
) -> Result<Vec<usize>> {
    let d = value.dims();
    if scalar {
        return Ok(d);
    }
    if d.len() < suffix.len() || d[d.len() - suffix.len()..] != *suffix {
        return Err(ProbError::Shape {
            dist: dist.into(),
            what: "value".into(),
            got: d,
            expected: format!("[..., {}]", join(suffix)),
        });
    }
    Ok(d[..d.len() - suffix.len()].to_vec())
}

/// `value` as `[S, n]` (`S` = the product of the sample dims).
pub(crate) fn rows(value: &DynTensor, n: usize) -> Tensor<2> {
    let s = value.num_elements() / n.max(1);
    value.clone().reshape(&[s, n]).into_rank::<2>()
}

/// `value` as `[S, b, k]`.
pub(crate) fn rows3(value: &DynTensor, b: usize, k: usize) -> Tensor<3> {
    let s = value.num_elements() / (b * k).max(1);
    value.clone().reshape(&[s, b, k]).into_rank::<3>()
}

/// A computed tensor reshaped to `lead ++ rest` (`[1]` when both are empty).
pub(crate) fn shaped<const D: usize>(t: Tensor<D>, lead: &[usize], rest: &[usize]) -> DynTensor {
    let dims: Vec<usize> = lead.iter().chain(rest).copied().collect();
    DynTensor::from(t).reshape(&or_one(dims))
}

/// Broadcasts two parameters to one shape: equal shapes, or one of them a single element.
pub(crate) fn broadcast2(
    dist: &str,
    names: [&str; 2],
    a: DynTensor,
    b: DynTensor,
) -> Result<(DynTensor, DynTensor)> {
    let (da, db) = (a.dims(), b.dims());
    if da == db {
        return Ok((a, b));
    }
    if a.num_elements() == 1 {
        let a = full_as(a, &db);
        return Ok((a, b));
    }
    if b.num_elements() == 1 {
        let b = full_as(b, &da);
        return Ok((a, b));
    }
    Err(ProbError::Shape {
        dist: dist.into(),
        what: names[1].into(),
        got: db,
        expected: format!("[{}] like {} (or one element)", join(&da), names[0]),
    })
}

/// A one-element tensor repeated to `dims` (differentiable).
fn full_as(one: DynTensor, dims: &[usize]) -> DynTensor {
    let n: usize = dims.iter().product();
    let flat: Tensor<1> = one.flatten().expand([n]);
    DynTensor::from(flat).reshape(dims)
}

pub(crate) fn join(d: &[usize]) -> String {
    d.iter()
        .map(usize::to_string)
        .collect::<Vec<_>>()
        .join(", ")
}

/// Checks every element of `t` against `ok`, naming the first that fails.
pub(crate) fn check(
    dist: &str,
    param: &str,
    rule: &str,
    t: &DynTensor,
    ok: impl Fn(f32) -> bool,
) -> Result<()> {
    match t.to_vec().into_iter().enumerate().find(|(_, v)| !ok(*v)) {
        None => Ok(()),
        Some((index, value)) => Err(ProbError::Invalid {
            dist: dist.into(),
            param: param.into(),
            rule: rule.into(),
            value,
            index,
        }),
    }
}

/// `> 0` and finite.
pub(crate) fn positive(dist: &str, param: &str, t: &DynTensor) -> Result<()> {
    check(dist, param, "> 0 and finite", t, |v| {
        v > 0.0 && v.is_finite()
    })
}

/// Finite.
pub(crate) fn finite(dist: &str, param: &str, t: &DynTensor) -> Result<()> {
    check(dist, param, "finite", t, f32::is_finite)
}

/// The batch of an element-wise distribution (scalar events): parameters are stored flattened
/// to `[B]` and values are read as `[S, B]`.
#[derive(Clone, Debug)]
pub(crate) struct Batch {
    /// The parameters' shape.
    pub dims: Vec<usize>,
}

impl Batch {
    pub fn of(t: &DynTensor) -> Self {
        Batch { dims: t.dims() }
    }

    /// `B`.
    pub fn len(&self) -> usize {
        self.dims.iter().product()
    }

    /// The sample dims of `value` and the value as `[S, B]` (`[S, 1]` for a one-element batch,
    /// which broadcasts over any value).
    pub fn read(&self, dist: &str, value: &DynTensor) -> Result<(Vec<usize>, Tensor<2>)> {
        let scalar = self.len() == 1;
        let sample = sample_dims(dist, value, &self.dims, scalar)?;
        let n = if scalar { 1 } else { self.len() };
        Ok((sample, rows(value, n)))
    }

    /// An `[S, B]` result (from [`Batch::read`]) as `[*sample, *batch]`.
    pub fn out(&self, t: Tensor<2>, sample: &[usize]) -> DynTensor {
        if self.len() == 1 {
            shaped(t, sample, &[])
        } else {
            shaped(t, sample, &self.dims)
        }
    }

    /// A `[B]` statistic in the batch shape.
    pub fn stat(&self, t: Tensor<1>) -> DynTensor {
        DynTensor::from(t).reshape(&or_one(self.dims.clone()))
    }

    /// `[S, B]` for a draw of `sample_shape`, and that shape followed by the batch dims.
    pub fn draw_shape(&self, sample_shape: &[usize]) -> ([usize; 2], Vec<usize>) {
        let s: usize = sample_shape.iter().product();
        let dims = sample_shape.iter().chain(&self.dims).copied().collect();
        ([s, self.len()], dims)
    }
}

/// A parameter flattened to `[B]`.
pub(crate) fn flat(t: &DynTensor) -> Tensor<1> {
    t.clone().flatten()
}

/// `[B]` parameter as `[1, B]`, to broadcast against `[S, B]` values.
pub(crate) fn row(t: &Tensor<1>) -> Tensor<2> {
    t.clone().unsqueeze_dim::<2>(0)
}

/// A tensor's values on the host.
pub(crate) fn host<const D: usize>(t: &Tensor<D>) -> Vec<f32> {
    DynTensor::from(t.clone()).to_vec()
}
