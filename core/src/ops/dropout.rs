//! Dropout with an explicit key.

use crate::key::Key;
use burn::tensor::{Tensor, TensorData};

/// Inverted dropout: in training each element is zeroed with probability `p` and the survivors
/// are scaled by `1 / (1 - p)`, so the expectation is unchanged; in evaluation (`key = None`)
/// it is the identity.
///
/// The mask is drawn on the host from `key` and uploaded, so the same key gives the same mask on
/// every device and in both APIs.
///
/// # Shapes
/// Any shape; the output has the input's shape.
///
/// # Example
/// ```
/// use duet_core::{burn::tensor::{Device, Tensor}, ops::dropout, Key};
/// let x = Tensor::<1>::ones([1000], &Device::flex());
/// let y = dropout(x.clone(), 0.5, Some(Key::new(0))).into_data().try_to_vec::<f32>().unwrap();
/// assert!(y.iter().all(|&v| v == 0.0 || v == 2.0));
/// let kept = y.iter().filter(|&&v| v > 0.0).count();
/// assert!((400..600).contains(&kept));
/// assert_eq!(dropout(x.clone(), 0.5, None).into_data(), x.into_data()); // evaluation
/// ```
pub fn dropout<const D: usize>(x: Tensor<D>, p: f64, key: Option<Key>) -> Tensor<D> {
    assert!(
        (0.0..1.0).contains(&p),
        "dropout: probability {p} must be in [0, 1)"
    );
    match dropout_mask(&x.dims(), p, key) {
        Some(mask) => {
            let mask = Tensor::<D>::from_data(TensorData::new(mask, x.dims()), &x.device());
            x * mask
        }
        None => x,
    }
}

/// The inverted-dropout mask for a tensor of shape `dims` (row-major): each entry is `0` with
/// probability `p`, else `1 / (1 - p)`; `None` when nothing is dropped (no key, or `p == 0`).
pub fn dropout_mask(dims: &[usize], p: f64, key: Option<Key>) -> Option<Vec<f32>> {
    let key = key?;
    if p == 0.0 {
        return None;
    }
    let n: usize = dims.iter().product();
    let scale = (1.0 / (1.0 - p)) as f32;
    Some(
        key.bernoulli_vec(n, 1.0 - p)
            .into_iter()
            .map(|keep| if keep { scale } else { 0.0 })
            .collect(),
    )
}
