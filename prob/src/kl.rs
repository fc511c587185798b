//! KL divergences: a registry of analytic pairs and a Monte-Carlo estimator for the rest.

use crate::distribution::Distribution;
use crate::error::{ProbError, Result};
use crate::mvn::{solve_lower, MultivariateNormal};
use crate::shape::or_one;
use crate::special::{digamma, lgamma};
use crate::{
    Bernoulli, Beta, Categorical, Dirichlet, Exponential, Gamma, Independent, Laplace, Normal,
};
use burn::tensor::activation::softmax;
use burn::tensor::Tensor;
use duet_core::ops::activation::softplus;
use duet_core::{DynTensor, Key};
use std::any::{Any, TypeId};

type KlFn = Box<dyn Fn(&dyn Any, &dyn Any) -> Result<DynTensor>>;

/// Analytic `KL(p || q)` by the pair of concrete types, like `torch.distributions.kl`'s registry
/// but a value rather than global state: [`KlRegistry::default`] holds the built-in pairs and
/// [`KlRegistry::register`] adds more.
///
/// Built in: Normal, Laplace, Exponential, Gamma, Beta, Bernoulli, Categorical, Dirichlet,
/// MultivariateNormal (each with itself), and [`Independent`] pairs with the same number of
/// reinterpreted dims (the base KL summed over them).
///
/// # Shapes
/// `p` and `q` of one batch shape; the result has it.
///
/// # Example
/// ```
/// use duet_prob::{KlRegistry, Normal};
/// use duet_core::burn::tensor::{Device, Tensor};
/// let dev = Device::flex();
/// let p = Normal::new(Tensor::<1>::from_floats([1.0], &dev), Tensor::<1>::from_floats([1.0], &dev)).unwrap();
/// let q = Normal::standard(&[1], &dev);
/// let kl = KlRegistry::default().kl(&p, &q).unwrap().to_vec();
/// assert!((kl[0] - 0.5).abs() < 1e-6); // ½ (μ_p - μ_q)²
/// ```
pub struct KlRegistry {
    table: Vec<(TypeId, TypeId, KlFn)>,
}

impl std::fmt::Debug for KlRegistry {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "KlRegistry({} pairs)", self.table.len())
    }
}

impl KlRegistry {
    /// A registry without any pair.
    pub fn empty() -> Self {
        KlRegistry { table: Vec::new() }
    }

    /// Registers (or replaces) the analytic `KL(P || Q)`.
    pub fn register<P: Distribution, Q: Distribution>(
        &mut self,
        f: impl Fn(&P, &Q) -> Result<DynTensor> + 'static,
    ) {
        let (tp, tq) = (TypeId::of::<P>(), TypeId::of::<Q>());
        self.table.retain(|(a, b, _)| (*a, *b) != (tp, tq));
        self.table.push((
            tp,
            tq,
            Box::new(move |p: &dyn Any, q: &dyn Any| {
                f(
                    p.downcast_ref().expect("registered type"),
                    q.downcast_ref().expect("registered type"),
                )
            }),
        ));
    }

    /// Whether an analytic `KL(p || q)` is available.
    pub fn has(&self, p: &dyn Distribution, q: &dyn Distribution) -> bool {
        let (pa, qa) = (p.as_any(), q.as_any());
        if let (Some(ip), Some(iq)) = (
            pa.downcast_ref::<Independent>(),
            qa.downcast_ref::<Independent>(),
        ) {
            if ip.n == iq.n {
                return self.has(ip.base(), iq.base());
            }
        }
        let key = (pa.type_id(), qa.type_id());
        self.table.iter().any(|(a, b, _)| (*a, *b) == key)
    }

    /// `KL(p || q)`, or [`ProbError::NoKl`] when the pair is not registered.
    pub fn kl(&self, p: &dyn Distribution, q: &dyn Distribution) -> Result<DynTensor> {
        if p.batch_shape() != q.batch_shape() || p.event_shape() != q.event_shape() {
            return Err(ProbError::Shape {
                dist: format!("KL({} || {})", p.name(), q.name()),
                what: "q's batch and event shapes".into(),
                got: q.batch_shape().into_iter().chain(q.event_shape()).collect(),
                expected: format!("p's {:?} + {:?}", p.batch_shape(), p.event_shape()),
            });
        }
        let (pa, qa) = (p.as_any(), q.as_any());
        if let (Some(ip), Some(iq)) = (
            pa.downcast_ref::<Independent>(),
            qa.downcast_ref::<Independent>(),
        ) {
            if ip.n == iq.n {
                return Ok(ip.sum_reinterpreted(self.kl(ip.base(), iq.base())?));
            }
        }
        let key = (pa.type_id(), qa.type_id());
        match self.table.iter().find(|(a, b, _)| (*a, *b) == key) {
            Some((_, _, f)) => f(pa, qa),
            None => Err(ProbError::NoKl {
                p: p.name().into(),
                q: q.name().into(),
            }),
        }
    }
}

/// Reshapes a `[B]` (or `[B, 1]`) result to `p`'s batch shape.
fn batch_out<const D: usize>(t: Tensor<D>, p: &dyn Distribution) -> DynTensor {
    DynTensor::from(t).reshape(&or_one(p.batch_shape()))
}

impl Default for KlRegistry {
    fn default() -> Self {
        let mut r = KlRegistry::empty();
        r.register(|p: &Normal, q: &Normal| {
            let ((mp, sp), (mq, sq)) = (p.flat_params(), q.flat_params());
            let ratio = (sp / sq.clone()).square();
            let t = ((mp - mq) / sq).square();
            Ok(batch_out((ratio.clone() + t - 1.0 - ratio.log()) * 0.5, p))
        });
        r.register(|p: &Laplace, q: &Laplace| {
            let ratio = p.scale.clone() / q.scale.clone();
            let diff = (p.loc.clone() - q.loc.clone()).abs();
            let kl = ratio.clone().log().neg()
                + diff.clone() / q.scale.clone()
                + ratio * (diff.neg() / p.scale.clone()).exp()
                - 1.0;
            Ok(batch_out(kl, p))
        });
        r.register(|p: &Exponential, q: &Exponential| {
            let ratio = q.rate.clone() / p.rate.clone();
            Ok(batch_out(ratio.clone().log().neg() + ratio - 1.0, p))
        });
        r.register(|p: &Gamma, q: &Gamma| {
            let (ap, bp, aq, bq) = (
                p.concentration.clone(),
                p.rate.clone(),
                q.concentration.clone(),
                q.rate.clone(),
            );
            let kl = aq.clone() * (bp.clone() / bq.clone()).log() + lgamma(aq.clone())
                - lgamma(ap.clone())
                + (ap.clone() - aq) * digamma(ap.clone())
                + (bq - bp.clone()) * (ap / bp);
            Ok(batch_out(kl, p))
        });
        r.register(|p: &Beta, q: &Beta| {
            let (p1, p0, q1, q0) = (p.c1.clone(), p.c0.clone(), q.c1.clone(), q.c0.clone());
            let (sp, sq) = (p1.clone() + p0.clone(), q1.clone() + q0.clone());
            let t1 = lgamma(q1.clone()) + lgamma(q0.clone()) + lgamma(sp.clone());
            let t2 = lgamma(p1.clone()) + lgamma(p0.clone()) + lgamma(sq.clone());
            let t3 = (p1.clone() - q1) * digamma(p1);
            let t4 = (p0.clone() - q0) * digamma(p0);
            let t5 = (sq - sp.clone()) * digamma(sp);
            Ok(batch_out(t1 - t2 + t3 + t4 + t5, p))
        });
        r.register(|p: &Bernoulli, q: &Bernoulli| {
            let (lp, lq) = (p.logits.clone(), q.logits.clone());
            let pp = burn::tensor::activation::sigmoid(lp.clone());
            let t1 = pp.clone() * (softplus(lq.clone().neg()) - softplus(lp.clone().neg()));
            let t2 = (pp.neg() + 1.0) * (softplus(lq) - softplus(lp));
            Ok(batch_out(t1 + t2, p))
        });
        r.register(|p: &Categorical, q: &Categorical| {
            let (lp, lq) = (p.logits.clone(), q.logits.clone());
            let kl = (softmax(lp.clone(), 1) * (lp - lq)).sum_dim(1);
            Ok(batch_out(kl, p))
        });
        r.register(|p: &Dirichlet, q: &Dirichlet| {
            let (ap, aq) = (p.concentration.clone(), q.concentration.clone());
            let sp = ap.clone().sum_dim(1);
            let t1 = lgamma(sp.clone()) - lgamma(aq.clone().sum_dim(1));
            let t2 = (lgamma(ap.clone()) - lgamma(aq.clone())).sum_dim(1);
            let t34 = ((ap.clone() - aq) * (digamma(ap) - digamma(sp))).sum_dim(1);
            Ok(batch_out(t1 - t2 + t34, p))
        });
        r.register(|p: &MultivariateNormal, q: &MultivariateNormal| {
            let [b, e, _] = p.tril.dims();
            // ||Lq⁻¹ Lp||_F² + |Lq⁻¹ (μq - μp)|² - E + 2 Σ ln diag Lq - 2 Σ ln diag Lp, halved.
            let m = solve_lower(&q.tril, p.tril.clone().unsqueeze_dim::<4>(0));
            let trace = m.square().sum_dim(3).sum_dim(2).reshape([b]);
            let d = (q.loc.clone() - p.loc.clone()).reshape([1, b, e, 1]);
            let maha = solve_lower(&q.tril, d).square().sum_dim(2).reshape([b]);
            let logdet = (q.log_diag() - p.log_diag()).sum_dim(1).reshape([b]);
            Ok(batch_out((trace + maha - e as f32) * 0.5 + logdet, p))
        });
        r
    }
}

/// `KL(p || q)` from the built-in analytic pairs ([`KlRegistry::default`]).
///
/// # Shapes
/// `p` and `q` of one batch shape; the result has it.
///
/// # Example
/// ```
/// use duet_prob::{kl_divergence, Exponential};
/// use duet_core::burn::tensor::{Device, Tensor};
/// let dev = Device::flex();
/// let p = Exponential::new(Tensor::<1>::from_floats([1.0, 2.0], &dev)).unwrap();
/// let q = Exponential::new(Tensor::<1>::from_floats([2.0, 2.0], &dev)).unwrap();
/// // KL = ln(λp / λq) + λq / λp - 1
/// let kl = kl_divergence(&p, &q).unwrap().to_vec();
/// assert!((kl[0] - (0.5f32.ln() + 1.0)).abs() < 1e-6 && kl[1].abs() < 1e-6);
/// ```
pub fn kl_divergence(p: &dyn Distribution, q: &dyn Distribution) -> Result<DynTensor> {
    KlRegistry::default().kl(p, q)
}

/// The Monte-Carlo estimate `(1/n) Σ_i [log p(zᵢ) - log q(zᵢ)]`, `zᵢ ~ p`, for pairs without an
/// analytic form. It uses `rsample` when `p` has one (so gradients flow through the draws) and
/// `sample` otherwise (then gradients flow through the log-densities only: the score-function
/// term is not added).
///
/// # Shapes
/// `p` and `q` of one batch shape; the result has it.
///
/// # Example
/// ```
/// use duet_prob::{kl_divergence, kl_monte_carlo, Normal};
/// use duet_core::{burn::tensor::{Device, Tensor}, Key};
/// let dev = Device::flex();
/// let p = Normal::new(Tensor::<1>::from_floats([1.0], &dev), Tensor::<1>::from_floats([0.5], &dev)).unwrap();
/// let q = Normal::standard(&[1], &dev);
/// let exact = kl_divergence(&p, &q).unwrap().to_vec()[0];
/// let mc = kl_monte_carlo(&p, &q, Key::new(0), 20_000).unwrap().to_vec()[0];
/// assert!((mc - exact).abs() < 0.03, "{mc} vs {exact}");
/// ```
pub fn kl_monte_carlo(
    p: &dyn Distribution,
    q: &dyn Distribution,
    key: Key,
    n: usize,
) -> Result<DynTensor> {
    let z = if p.has_rsample() {
        p.rsample(key, &[n])?
    } else {
        p.sample(key, &[n])
    };
    let diff = p.log_prob(&z)? - q.log_prob(&z)?;
    let rest = diff.num_elements() / n;
    let mean = diff.reshape(&[n, rest]).into_rank::<2>().mean_dim(0);
    Ok(DynTensor::from(mean).reshape(&or_one(p.batch_shape())))
}
