//! The losses written once against [`Val`], so they run on plain tensors, on [`super::Dual`]
//! values (forward mode, Hessian-vector products) and on any later value type. Mean reduction
//! over every element (examples, and features for the pair losses), as PyTorch's default.

use super::{Act, Val};
use crate::ops::CrossEntropy;
use burn::tensor::{Int, Tensor};

/// All elements as one axis, then their mean: `[1]`.
fn mean_all<V: Val>(x: V) -> V {
    let n: usize = x.dims().iter().product();
    x.reshape(&[n]).mean_dim(0)
}

/// `|x|`, with the sign taken from the plain primal (the derivative of `|x|` is `sign(x)`).
fn abs<V: Val>(x: V) -> V {
    let sign = x.primal().clone().without_autodiff().map_flat(|t| t.sign());
    x.mul(V::constant(sign))
}

/// Softmax cross-entropy of `logits` against class ids, with label smoothing `eps`:
/// `mean_i [(1 - eps) (-log p_i[y_i]) + eps mean_k (-log p_i[k])]`.
///
/// # Shapes
/// `logits: [N, K]`, `labels: [N]` -> `[1]`.
///
/// # Panics
/// An `ignore_index` or a reduction other than the mean (use `ops::cross_entropy`).
///
/// # Example
/// ```
/// use duet_core::{burn::tensor::{Device, Int, Tensor}, layers::cross_entropy, DynTensor};
/// let dev = Device::flex();
/// let logits = DynTensor::zeros(&[2, 4], &dev);
/// let labels = Tensor::<1, Int>::from_ints([0, 3], &dev);
/// let l = cross_entropy(logits, labels, &Default::default());
/// assert!((l.to_vec()[0] - 4f32.ln()).abs() < 1e-6);
/// ```
pub fn cross_entropy<V: Val>(logits: V, labels: Tensor<1, Int>, opts: &CrossEntropy) -> V {
    assert!(
        opts.ignore_index.is_none() && opts.reduction == crate::ops::Reduction::Mean,
        "cross_entropy over Val: only the mean without ignore_index"
    );
    let logp = logits.act(Act::LogSoftmax);
    let eps = opts.label_smoothing;
    let nll = logp
        .clone()
        .pick(labels)
        .mean_dim(0)
        .scale(-1.0)
        .reshape(&[1]);
    if eps == 0.0 {
        return nll;
    }
    let uniform = mean_all(logp).scale(-1.0);
    nll.scale(1.0 - eps).add(uniform.scale(eps))
}

/// Mean squared error `mean((a - b)^2)`.
///
/// # Shapes
/// `a`, `b` of one shape -> `[1]`.
pub fn mse<V: Val>(a: V, b: V) -> V {
    mean_all(a.sub(b).square())
}

/// Mean absolute error `mean(|a - b|)`.
///
/// # Shapes
/// `a`, `b` of one shape -> `[1]`.
pub fn l1<V: Val>(a: V, b: V) -> V {
    mean_all(abs(a.sub(b)))
}

/// Huber: `0.5 r^2` where `|r| < delta`, else `delta (|r| - 0.5 delta)`, `r = a - b`; the mean.
///
/// # Shapes
/// `a`, `b` of one shape -> `[1]`.
pub fn huber<V: Val>(a: V, b: V, delta: f64) -> V {
    let r = a.sub(b);
    let inside = r
        .primal()
        .clone()
        .without_autodiff()
        .map_flat(|t| t.abs().lower_elem(delta).float());
    let outside = inside.clone().map_flat(|t| t.neg() + 1.0);
    let quad = r.clone().square().scale(0.5).mul(V::constant(inside));
    let lin = abs(r)
        .shift(-0.5 * delta)
        .scale(delta)
        .mul(V::constant(outside));
    mean_all(quad.add(lin))
}

/// Binary cross-entropy with logits: `mean(softplus(x) - x z)`.
///
/// # Shapes
/// `x` (logits), `z` (targets in `[0, 1]`) of one shape -> `[1]`.
pub fn bce_with_logits<V: Val>(x: V, z: V) -> V {
    mean_all(x.clone().act(Act::Softplus).sub(x.mul(z)))
}
