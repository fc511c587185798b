//! Dense layers and flattening.

use burn::tensor::Tensor;

/// Dense (fully connected) layer: `y = x @ W + b` over the last axis.
///
/// duet's weight layout is `[in, out]` (burn's); PyTorch stores `[out, in]`.
///
/// # Shapes
/// - `x`: `[..., in]`
/// - `weight`: `[in, out]`, `bias`: `[out]`
/// - output: `[..., out]`
///
/// # Example
/// ```
/// use duet_core::{burn::tensor::{Device, Tensor}, ops::dense};
/// let dev = Device::flex();
/// let x = Tensor::<2>::from_floats([[1.0, 2.0]], &dev);
/// let w = Tensor::<2>::from_floats([[1.0, 0.0, 1.0], [0.0, 1.0, 1.0]], &dev);
/// let b = Tensor::<1>::from_floats([0.5, 0.5, 0.5], &dev);
/// let y = dense(x, w, Some(b));
/// assert_eq!(y.into_data().try_to_vec::<f32>().unwrap(), vec![1.5, 2.5, 3.5]);
/// ```
pub fn dense<const D: usize>(
    x: Tensor<D>,
    weight: Tensor<2>,
    bias: Option<Tensor<1>>,
) -> Tensor<D> {
    let (xd, wd) = (x.dims(), weight.dims());
    assert!(
        xd[D - 1] == wd[0],
        "dense: x has {} features (shape {xd:?}) but weight is {wd:?} ([in, out])",
        xd[D - 1]
    );
    if let Some(b) = &bias {
        assert!(
            b.dims()[0] == wd[1],
            "dense: bias {:?} does not match weight {wd:?}",
            b.dims()
        );
    }
    if crate::kernels::supports(&x) && xd[D - 1] > 0 {
        let bias = bias.unwrap_or_else(|| Tensor::zeros([wd[1]], &x.device()));
        return crate::kernels::dense(x, weight, bias);
    }
    burn::tensor::module::linear(x, weight, bias)
}

/// Flattens every axis from `start` on into one: `[N, C, H, W]` with `start = 1` -> `[N, C*H*W]`.
///
/// # Shapes
/// `[d0, ..., d_{start-1}, d_start, ...]` -> `[d0, ..., d_{start-1}, prod(rest)]` (rank `D2 = start + 1`).
///
/// # Example
/// ```
/// use duet_core::{burn::tensor::{Device, Tensor}, ops::flatten};
/// let x = Tensor::<4>::zeros([2, 3, 4, 5], &Device::flex());
/// assert_eq!(flatten::<4, 2>(x, 1).dims(), [2, 60]);
/// ```
pub fn flatten<const D: usize, const D2: usize>(x: Tensor<D>, start: usize) -> Tensor<D2> {
    assert!(
        start < D && D2 == start + 1,
        "flatten: start {start} of a rank-{D} tensor gives rank {}, not {D2}",
        start + 1
    );
    x.flatten(start, D - 1)
}
