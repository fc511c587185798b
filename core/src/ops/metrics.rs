//! Classification metrics, computed on the device (one scalar is read back).

use burn::tensor::{Int, Tensor};

/// The number of rows whose largest logit is at the label, as a device scalar (no host sync).
///
/// # Shapes
/// `logits`: `[N, K]`, `labels`: `[N]` -> `[1]`
pub fn correct(logits: Tensor<2>, labels: Tensor<1, Int>) -> Tensor<1> {
    let n = logits.dims()[0];
    assert!(
        labels.dims()[0] == n,
        "accuracy: logits {:?} but labels {:?}",
        logits.dims(),
        labels.dims()
    );
    logits.argmax(1).reshape([n]).equal(labels).float().sum()
}

/// Top-1 accuracy in `[0, 1]`.
///
/// # Shapes
/// `logits`: `[N, K]`, `labels`: `[N]`.
///
/// # Example
/// ```
/// use duet_core::{burn::tensor::{Device, Int, Tensor}, ops::accuracy};
/// let dev = Device::flex();
/// let logits = Tensor::<2>::from_floats([[0.1, 0.9], [0.8, 0.2]], &dev);
/// assert_eq!(accuracy(logits, Tensor::<1, Int>::from_ints([1, 1], &dev)), 0.5);
/// ```
pub fn accuracy(logits: Tensor<2>, labels: Tensor<1, Int>) -> f32 {
    let n = logits.dims()[0].max(1) as f32;
    correct(logits, labels).into_scalar::<f32>() / n
}

/// Top-k accuracy: the fraction of rows whose label is among the `k` largest logits.
///
/// # Shapes
/// `logits`: `[N, K]` with `k <= K`, `labels`: `[N]`.
///
/// # Example
/// ```
/// use duet_core::{burn::tensor::{Device, Int, Tensor}, ops::top_k_accuracy};
/// let dev = Device::flex();
/// let logits = Tensor::<2>::from_floats([[0.5, 0.3, 0.2], [0.1, 0.2, 0.7]], &dev);
/// let labels = Tensor::<1, Int>::from_ints([1, 0], &dev);
/// assert_eq!(top_k_accuracy(logits.clone(), labels.clone(), 2), 0.5);
/// assert_eq!(top_k_accuracy(logits, labels, 3), 1.0);
/// ```
pub fn top_k_accuracy(logits: Tensor<2>, labels: Tensor<1, Int>, k: usize) -> f32 {
    let [n, classes] = logits.dims();
    assert!(
        k >= 1 && k <= classes,
        "top_k_accuracy: k = {k} for {classes} classes"
    );
    let top = logits.topk_with_indices(k, 1).1; // [N, k]
    let hits = top
        .equal(labels.reshape([n, 1]).expand([n, k]))
        .int()
        .sum_dim(1)
        .clamp_max(1);
    hits.sum().float().into_scalar::<f32>() / n.max(1) as f32
}
