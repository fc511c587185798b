//! Losses. Each takes a [`Reduction`]: `Mean` and `Sum` give a one-element tensor; `None` gives
//! the per-sample (classification) or per-element (regression, flattened) losses.

use burn::tensor::activation::log_softmax;
use burn::tensor::{Int, Tensor};

/// How per-sample losses are combined.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default, serde::Serialize, serde::Deserialize)]
pub enum Reduction {
    /// The mean (over the samples that count, for losses with an ignore index).
    #[default]
    Mean,
    /// The sum.
    Sum,
    /// No reduction.
    None,
}

impl Reduction {
    /// Reduces per-sample losses `l` (`[M]`); `count` is the number that count for the mean.
    fn apply(self, l: Tensor<1>, count: Option<Tensor<1>>) -> Tensor<1> {
        match (self, count) {
            (Reduction::None, _) => l,
            (Reduction::Sum, _) => l.sum(),
            (Reduction::Mean, None) => l.mean(),
            (Reduction::Mean, Some(c)) => l.sum() / c.clamp_min(1.0),
        }
    }
}

/// Options of [`cross_entropy`].
#[derive(Clone, Copy, Debug, PartialEq, Default, serde::Serialize, serde::Deserialize)]
pub struct CrossEntropy {
    /// Label smoothing `eps`: the target is `(1 - eps) * one_hot + eps / K`.
    pub label_smoothing: f64,
    /// Samples with this label contribute nothing and are not counted in the mean.
    pub ignore_index: Option<i64>,
    /// Reduction.
    pub reduction: Reduction,
}

/// Softmax cross-entropy with integer labels:
/// `l_n = -(1 - eps) * log p_n[y_n] - (eps / K) * sum_k log p_n[k]`, `p = softmax(logits)`.
///
/// # Shapes
/// `logits`: `[N, K]`, `labels`: `[N]` in `0..K` -> `[1]` (`Mean`/`Sum`) or `[N]` (`None`).
///
/// # Example
/// ```
/// use duet_core::{burn::tensor::{Device, Int, Tensor}, ops::{cross_entropy, CrossEntropy}};
/// let dev = Device::flex();
/// let logits = Tensor::<2>::zeros([2, 4], &dev);
/// let labels = Tensor::<1, Int>::from_ints([0, 3], &dev);
/// let l = cross_entropy(logits, labels, &CrossEntropy::default()).into_scalar::<f32>();
/// assert!((l - 4f32.ln()).abs() < 1e-6);
/// ```
pub fn cross_entropy(logits: Tensor<2>, labels: Tensor<1, Int>, opts: &CrossEntropy) -> Tensor<1> {
    let [n, k] = logits.dims();
    assert!(
        labels.dims()[0] == n,
        "cross_entropy: logits {:?} but labels {:?}",
        logits.dims(),
        labels.dims()
    );
    let logp = log_softmax(logits, 1);
    let (safe_labels, keep) = match opts.ignore_index {
        Some(ig) => {
            let keep = labels.clone().not_equal_elem(ig);
            (
                labels.mask_fill(keep.clone().bool_not(), 0),
                Some(keep.float()),
            )
        }
        None => (labels, None),
    };
    let picked = logp
        .clone()
        .gather(1, safe_labels.reshape([n, 1]))
        .reshape([n]);
    let eps = opts.label_smoothing;
    let mut l = -picked * (1.0 - eps);
    if eps > 0.0 {
        l = l - logp.sum_dim(1).reshape([n]) * (eps / k as f64);
    }
    if let Some(keep) = &keep {
        l = l * keep.clone();
    }
    opts.reduction.apply(l, keep.map(|k| k.sum()))
}

/// Softmax cross-entropy against target probabilities, with optional label smoothing `eps`:
/// `q' = (1 - eps) q + eps / K`, `l_n = -sum_k q'_n[k] log p_n[k]`, `p = softmax(logits)`
/// (PyTorch's `cross_entropy` with probability targets).
///
/// # Shapes
/// `logits`, `probs`: `[N, K]` -> `[1]` (`Mean`/`Sum`) or `[N]` (`None`).
///
/// # Example
/// ```
/// use duet_core::{burn::tensor::{Device, Tensor}, ops::{cross_entropy_probs, Reduction}};
/// let dev = Device::flex();
/// let l = cross_entropy_probs(Tensor::zeros([1, 2], &dev), Tensor::from_floats([[0.5, 0.5]], &dev), 0.0, Reduction::Mean);
/// assert!((l.into_scalar::<f32>() - 2f32.ln()).abs() < 1e-6);
/// // Smoothing a one-hot target by 0.2 over 2 classes gives [0.9, 0.1].
/// let logits = Tensor::<2>::from_floats([[1.0, 0.0]], &dev);
/// let a = cross_entropy_probs(logits.clone(), Tensor::from_floats([[1.0, 0.0]], &dev), 0.2, Reduction::Sum);
/// let b = cross_entropy_probs(logits, Tensor::from_floats([[0.9, 0.1]], &dev), 0.0, Reduction::Sum);
/// assert!((a.into_scalar::<f32>() - b.into_scalar::<f32>()).abs() < 1e-6);
/// ```
pub fn cross_entropy_probs(
    logits: Tensor<2>,
    probs: Tensor<2>,
    label_smoothing: f64,
    reduction: Reduction,
) -> Tensor<1> {
    assert_eq!(
        logits.dims(),
        probs.dims(),
        "cross_entropy_probs: logits {:?} vs probs {:?}",
        logits.dims(),
        probs.dims()
    );
    let [n, k] = logits.dims();
    let logp = log_softmax(logits, 1);
    let mut l = -(logp.clone() * probs).sum_dim(1).reshape([n]);
    if label_smoothing > 0.0 {
        l = l * (1.0 - label_smoothing)
            - logp.sum_dim(1).reshape([n]) * (label_smoothing / k as f64);
    }
    reduction.apply(l, None)
}

/// Negative log-likelihood of log-probabilities: `l_n = -logp_n[y_n]`.
///
/// # Shapes
/// `logp`: `[N, K]`, `labels`: `[N]` -> `[1]` or `[N]`.
///
/// # Example
/// ```
/// use duet_core::{burn::tensor::{Device, Int, Tensor}, ops::{nll, Reduction}};
/// let dev = Device::flex();
/// let logp = Tensor::<2>::from_floats([[-1.0, -2.0]], &dev);
/// assert_eq!(nll(logp, Tensor::from_ints([1], &dev), Reduction::Sum).into_scalar::<f32>(), 2.0);
/// ```
pub fn nll(logp: Tensor<2>, labels: Tensor<1, Int>, reduction: Reduction) -> Tensor<1> {
    let n = logp.dims()[0];
    assert!(
        labels.dims()[0] == n,
        "nll: log-probs {:?} but labels {:?}",
        logp.dims(),
        labels.dims()
    );
    let l = -logp.gather(1, labels.reshape([n, 1])).reshape([n]);
    reduction.apply(l, None)
}

fn flat_pair<const D: usize>(op: &str, a: Tensor<D>, b: Tensor<D>) -> (Tensor<1>, Tensor<1>) {
    assert_eq!(
        a.dims(),
        b.dims(),
        "{op}: prediction {:?} vs target {:?}",
        a.dims(),
        b.dims()
    );
    let n: usize = a.dims().iter().product();
    (a.reshape([n]), b.reshape([n]))
}

/// Binary cross-entropy with logits, stably: `l = max(x, 0) - x*t + log(1 + e^{-|x|})`.
///
/// # Shapes
/// `logits`, `targets` (in `[0, 1]`): any equal shapes -> `[1]`, or flattened elements for `None`.
///
/// # Example
/// ```
/// use duet_core::{burn::tensor::{Device, Tensor}, ops::{bce_with_logits, Reduction}};
/// let dev = Device::flex();
/// let l = bce_with_logits(Tensor::<1>::zeros([2], &dev), Tensor::from_floats([0.0, 1.0], &dev), Reduction::Mean);
/// assert!((l.into_scalar::<f32>() - 2f32.ln()).abs() < 1e-6);
/// ```
pub fn bce_with_logits<const D: usize>(
    logits: Tensor<D>,
    targets: Tensor<D>,
    reduction: Reduction,
) -> Tensor<1> {
    let (x, t) = flat_pair("bce_with_logits", logits, targets);
    // softplus(x) - x t = max(x, 0) - x t + ln(1 + e^{-|x|}).
    let l = crate::ops::activation::softplus(x.clone()) - x * t;
    reduction.apply(l, None)
}

/// Mean squared error: `l = (pred - target)^2`.
///
/// # Shapes
/// Equal shapes -> `[1]`, or flattened elements for `None`.
///
/// # Example
/// ```
/// use duet_core::{burn::tensor::{Device, Tensor}, ops::{mse, Reduction}};
/// let dev = Device::flex();
/// let l = mse(Tensor::<1>::from_floats([1.0, 3.0], &dev), Tensor::zeros([2], &dev), Reduction::Mean);
/// assert_eq!(l.into_scalar::<f32>(), 5.0);
/// ```
pub fn mse<const D: usize>(pred: Tensor<D>, target: Tensor<D>, reduction: Reduction) -> Tensor<1> {
    let (p, t) = flat_pair("mse", pred, target);
    reduction.apply((p - t).square(), None)
}

/// Mean absolute error: `l = |pred - target|`.
///
/// # Shapes
/// Equal shapes -> `[1]`, or flattened elements for `None`.
///
/// # Example
/// ```
/// use duet_core::{burn::tensor::{Device, Tensor}, ops::{l1, Reduction}};
/// let dev = Device::flex();
/// let l = l1(Tensor::<1>::from_floats([1.0, -3.0], &dev), Tensor::zeros([2], &dev), Reduction::Sum);
/// assert_eq!(l.into_scalar::<f32>(), 4.0);
/// ```
pub fn l1<const D: usize>(pred: Tensor<D>, target: Tensor<D>, reduction: Reduction) -> Tensor<1> {
    let (p, t) = flat_pair("l1", pred, target);
    reduction.apply((p - t).abs(), None)
}

/// Huber loss: `0.5 d^2` where `|d| < delta`, else `delta (|d| - 0.5 delta)`, with `d = pred - target`.
///
/// # Shapes
/// Equal shapes -> `[1]`, or flattened elements for `None`.
///
/// # Example
/// ```
/// use duet_core::{burn::tensor::{Device, Tensor}, ops::{huber, Reduction}};
/// let dev = Device::flex();
/// let l = huber(Tensor::<1>::from_floats([0.5, 3.0], &dev), Tensor::zeros([2], &dev), 1.0, Reduction::None);
/// assert_eq!(l.into_data().try_to_vec::<f32>().unwrap(), vec![0.125, 2.5]);
/// ```
pub fn huber<const D: usize>(
    pred: Tensor<D>,
    target: Tensor<D>,
    delta: f64,
    reduction: Reduction,
) -> Tensor<1> {
    let (p, t) = flat_pair("huber", pred, target);
    let d = (p - t).abs();
    let quad = d.clone().clamp_max(delta);
    // 0.5*q^2 + delta*(d - q): equals 0.5 d^2 inside, delta*(d - 0.5 delta) outside.
    let l = quad.clone().square() * 0.5 + (d - quad) * delta;
    reduction.apply(l, None)
}

/// Smooth L1 (PyTorch's): `huber(pred, target, beta) / beta`.
///
/// # Shapes
/// Equal shapes -> `[1]`, or flattened elements for `None`.
///
/// # Example
/// ```
/// use duet_core::{burn::tensor::{Device, Tensor}, ops::{smooth_l1, Reduction}};
/// let dev = Device::flex();
/// let l = smooth_l1(Tensor::<1>::from_floats([3.0], &dev), Tensor::zeros([1], &dev), 2.0, Reduction::Sum);
/// assert_eq!(l.into_scalar::<f32>(), 2.0);
/// ```
pub fn smooth_l1<const D: usize>(
    pred: Tensor<D>,
    target: Tensor<D>,
    beta: f64,
    reduction: Reduction,
) -> Tensor<1> {
    huber(pred, target, beta, reduction) / beta
}

/// KL divergence as PyTorch's `kl_div(input, target)`: `l = target * (log target - input)` where
/// `input` holds log-probabilities; terms with `target = 0` are 0. `Mean` averages over
/// elements; PyTorch's `batchmean` is `Sum` divided by the batch size.
///
/// # Shapes
/// Equal shapes -> `[1]`, or flattened elements for `None`.
///
/// # Example
/// ```
/// use duet_core::{burn::tensor::{Device, Tensor}, ops::{kl_div, Reduction}};
/// let dev = Device::flex();
/// let q = Tensor::<1>::from_floats([0.5, 0.5], &dev);
/// let l = kl_div(q.clone().log(), q, Reduction::Sum);
/// assert!(l.into_scalar::<f32>().abs() < 1e-7);
/// ```
pub fn kl_div<const D: usize>(
    log_pred: Tensor<D>,
    target: Tensor<D>,
    reduction: Reduction,
) -> Tensor<1> {
    let (x, t) = flat_pair("kl_div", log_pred, target);
    let pos = t.clone().greater_elem(0.0);
    let log_t = t.clone().mask_fill(pos.clone().bool_not(), 1.0).log();
    let l = (t * (log_t - x)).mask_fill(pos.bool_not(), 0.0);
    reduction.apply(l, None)
}
