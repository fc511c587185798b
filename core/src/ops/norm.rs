//! Normalization: batch norm (train and eval), layer norm, group norm, RMS norm.

use crate::layers;
use crate::DynTensor;
use burn::tensor::Tensor;

/// Batch statistics from training mode, to fold into the running statistics.
#[derive(Clone, Debug)]
pub struct BatchNormStats {
    /// The updated running mean: `(1 - momentum) * old + momentum * batch_mean`.
    pub running_mean: Tensor<1>,
    /// The updated running variance, from the *unbiased* batch variance (PyTorch's convention).
    pub running_var: Tensor<1>,
}

/// Batch normalization in training mode: normalizes with the batch's mean and (biased) variance
/// over every axis but the channel axis, then scales and shifts:
/// `y = (x - mean) / sqrt(var + eps) * weight + bias`. Returns the updated running statistics
/// (momentum 0.1 is PyTorch's default), detached from autodiff.
///
/// # Shapes
/// - `x`: `[N, C, ...]`; `weight`, `bias`, `running_mean`, `running_var`: `[C]`
/// - output: the shape of `x`
///
/// # Example
/// ```
/// use duet_core::{burn::tensor::{Device, Tensor}, ops::batch_norm_train};
/// let dev = Device::flex();
/// let x = Tensor::<2>::from_floats([[1.0], [3.0]], &dev);
/// let one = Tensor::<1>::ones([1], &dev);
/// let zero = Tensor::<1>::zeros([1], &dev);
/// let (y, s) = batch_norm_train(x, one.clone(), zero.clone(), zero, one, 0.1, 0.0);
/// assert_eq!(y.into_data().try_to_vec::<f32>().unwrap(), vec![-1.0, 1.0]);
/// // running mean 0.9*0 + 0.1*2; running var 0.9*1 + 0.1*2 (unbiased batch variance)
/// let rm = s.running_mean.into_scalar::<f32>();
/// assert!((rm - 0.2).abs() < 1e-6);
/// assert!((s.running_var.into_scalar::<f32>() - 1.1).abs() < 1e-6);
/// ```
#[allow(clippy::too_many_arguments)]
pub fn batch_norm_train<const D: usize>(
    x: Tensor<D>,
    weight: Tensor<1>,
    bias: Tensor<1>,
    running_mean: Tensor<1>,
    running_var: Tensor<1>,
    momentum: f64,
    eps: f64,
) -> (Tensor<D>, BatchNormStats) {
    let (y, stats) = layers::batch_norm_train(
        DynTensor::from(x),
        weight.into(),
        bias.into(),
        running_mean,
        running_var,
        momentum,
        eps,
    );
    (y.into_rank(), stats)
}

/// Batch normalization in evaluation mode: `y = (x - running_mean) / sqrt(running_var + eps) * weight + bias`.
///
/// # Shapes
/// `x`: `[N, C, ...]`; the four statistics and params `[C]`; output: the shape of `x`.
///
/// # Example
/// ```
/// use duet_core::{burn::tensor::{Device, Tensor}, ops::batch_norm_eval};
/// let dev = Device::flex();
/// let x = Tensor::<2>::from_floats([[3.0]], &dev);
/// let y = batch_norm_eval(x, Tensor::ones([1], &dev), Tensor::zeros([1], &dev),
///     Tensor::from_floats([1.0], &dev), Tensor::from_floats([4.0], &dev), 0.0);
/// assert_eq!(y.into_scalar::<f32>(), 1.0);
/// ```
pub fn batch_norm_eval<const D: usize>(
    x: Tensor<D>,
    weight: Tensor<1>,
    bias: Tensor<1>,
    running_mean: Tensor<1>,
    running_var: Tensor<1>,
    eps: f64,
) -> Tensor<D> {
    let (w, b) = (weight.into(), bias.into());
    layers::batch_norm_eval(DynTensor::from(x), w, b, running_mean, running_var, eps).into_rank()
}

/// Layer normalization over the last axis: `y = (x - mean) / sqrt(var + eps) * weight + bias`
/// (biased variance, as PyTorch).
///
/// # Shapes
/// `x`: `[..., F]`; `weight`, `bias`: `[F]`; output: the shape of `x`.
///
/// # Example
/// ```
/// use duet_core::{burn::tensor::{Device, Tensor}, ops::layer_norm};
/// let dev = Device::flex();
/// let y = layer_norm(Tensor::<2>::from_floats([[1.0, 3.0]], &dev), Some(Tensor::ones([2], &dev)), None, 0.0);
/// assert_eq!(y.into_data().try_to_vec::<f32>().unwrap(), vec![-1.0, 1.0]);
/// ```
pub fn layer_norm<const D: usize>(
    x: Tensor<D>,
    weight: Option<Tensor<1>>,
    bias: Option<Tensor<1>>,
    eps: f64,
) -> Tensor<D> {
    let (w, b) = (weight.map(DynTensor::from), bias.map(DynTensor::from));
    layers::layer_norm(DynTensor::from(x), w, b, eps).into_rank()
}

/// Group normalization: channels split into `groups`; each group of each sample is normalized
/// over its channels and positions, then a per-channel `weight` and `bias` are applied.
///
/// # Shapes
/// `x`: `[N, C, ...]` with `C % groups == 0`; `weight`, `bias`: `[C]`; output: the shape of `x`.
///
/// # Example
/// ```
/// use duet_core::{burn::tensor::{Device, Tensor}, ops::group_norm};
/// let dev = Device::flex();
/// let x = Tensor::<3>::from_floats([[[1.0], [3.0], [5.0], [7.0]]], &dev);
/// let y = group_norm(x, 2, Tensor::ones([4], &dev), Tensor::zeros([4], &dev), 0.0);
/// assert_eq!(y.into_data().try_to_vec::<f32>().unwrap(), vec![-1.0, 1.0, -1.0, 1.0]);
/// ```
pub fn group_norm<const D: usize>(
    x: Tensor<D>,
    groups: usize,
    weight: Tensor<1>,
    bias: Tensor<1>,
    eps: f64,
) -> Tensor<D> {
    let x = DynTensor::from(x);
    layers::group_norm(x, groups, weight.into(), bias.into(), eps).into_rank()
}

/// RMS normalization over the last axis: `y = x / sqrt(mean(x^2) + eps) * weight`.
///
/// # Shapes
/// `x`: `[..., F]`; `weight`: `[F]`; output: the shape of `x`.
///
/// # Example
/// ```
/// use duet_core::{burn::tensor::{Device, Tensor}, ops::rms_norm};
/// let dev = Device::flex();
/// let y = rms_norm(Tensor::<2>::from_floats([[3.0, 4.0]], &dev), Tensor::ones([2], &dev), 0.0);
/// let v = y.into_data().try_to_vec::<f32>().unwrap();
/// let r = (12.5f32).sqrt();
/// assert!((v[0] - 3.0 / r).abs() < 1e-6 && (v[1] - 4.0 / r).abs() < 1e-6);
/// ```
pub fn rms_norm<const D: usize>(x: Tensor<D>, weight: Tensor<1>, eps: f64) -> Tensor<D> {
    layers::rms_norm(DynTensor::from(x), weight.into(), eps).into_rank()
}
