//! The losses written once against [`Val`], so they run on plain tensors, on [`super::Dual`]
//! values (forward mode, Hessian-vector products) and on any later value type. Mean reduction
//! over every element (examples, and features for the pair losses), as PyTorch's default.

use super::{Act, Val};
use crate::ops::{CrossEntropy, Reduction};
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

/// Softmax cross-entropy of `logits` against class ids, with label smoothing `eps`: each
/// example's `l_i = (1 - eps) (-log p_i[y_i]) + eps mean_k (-log p_i[k])`, then reduced as
/// `opts.reduction` says (the mean, the sum, or none: the per-example losses that
/// [`crate::transform::per_example_grads`] takes).
///
/// # Shapes
/// `logits: [N, K]`, `labels: [N]` -> `[1]` (mean, sum) or `[N]` (none).
///
/// # Panics
/// An `ignore_index` (use `ops::cross_entropy`).
///
/// # Example
/// ```
/// use duet_core::{burn::tensor::{Device, Int, Tensor}, layers::cross_entropy, ops::{CrossEntropy, Reduction}, DynTensor};
/// let dev = Device::flex();
/// let logits = DynTensor::from_floats(vec![0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 1.0], &[2, 4], &dev);
/// let labels = Tensor::<1, Int>::from_ints([0, 3], &dev);
/// let l = cross_entropy(logits.clone(), labels.clone(), &Default::default());
/// let each = cross_entropy(logits, labels, &CrossEntropy { reduction: Reduction::None, ..Default::default() });
/// let want = [4f32.ln(), (3.0 + 1f32.exp()).ln() - 1.0];
/// assert!((l.to_vec()[0] - (want[0] + want[1]) / 2.0).abs() < 1e-6);
/// assert!(each.to_vec().iter().zip(want).all(|(g, w)| (g - w).abs() < 1e-6));
/// ```
pub fn cross_entropy<V: Val>(logits: V, labels: Tensor<1, Int>, opts: &CrossEntropy) -> V {
    assert!(
        opts.ignore_index.is_none(),
        "cross_entropy over Val: no ignore_index"
    );
    let n = logits.dims()[0];
    let logp = logits.act(Act::LogSoftmax);
    let eps = opts.label_smoothing;
    let mut l = logp.clone().pick(labels).reshape(&[n]).scale(-1.0);
    if eps != 0.0 {
        let uniform = logp.mean_dim(1).reshape(&[n]).scale(-1.0);
        l = l.scale(1.0 - eps).add(uniform.scale(eps));
    }
    match opts.reduction {
        Reduction::Mean => l.mean_dim(0),
        Reduction::Sum => l.sum_dim(0),
        Reduction::None => l,
    }
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
