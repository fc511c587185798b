//! Embedding lookup.

use burn::tensor::{Int, Tensor};

/// Looks up rows of `weight`: `y[b, t] = weight[ids[b, t]]`. The gradient flows to the rows used.
///
/// # Shapes
/// - `ids`: `[B, T]` integers in `0..vocab`
/// - `weight`: `[vocab, dim]`
/// - output: `[B, T, dim]`
///
/// # Example
/// ```
/// use duet_core::{burn::tensor::{Device, Int, Tensor}, ops::embedding};
/// let dev = Device::flex();
/// let w = Tensor::<2>::from_floats([[0.0, 0.5], [1.0, 1.5], [2.0, 2.5]], &dev);
/// let ids = Tensor::<2, Int>::from_ints([[2, 0]], &dev);
/// assert_eq!(embedding(ids, w).into_data().try_to_vec::<f32>().unwrap(), vec![2.0, 2.5, 0.0, 0.5]);
/// ```
///
/// Ids outside `0..vocab` are not checked on the host (that would need a device sync).
pub fn embedding(ids: Tensor<2, Int>, weight: Tensor<2>) -> Tensor<3> {
    burn::tensor::module::embedding(weight, ids)
}
