//! Normalization: batch norm (train and eval), layer norm, group norm, RMS norm.

use burn::tensor::Tensor;

/// Reshapes `[N, C, ...]` to `[N, C, S]`.
fn to_ncs<const D: usize>(x: Tensor<D>, op: &str) -> (Tensor<3>, [usize; D]) {
    let dims = x.dims();
    assert!(D >= 2, "{op}: input must be [N, C, ...], got {dims:?}");
    let s: usize = dims[2..].iter().product();
    (x.reshape([dims[0], dims[1], s]), dims)
}

fn channel_param(p: Tensor<1>, x: &[usize], op: &str, name: &str) -> Tensor<3> {
    let c = x[1];
    assert!(
        p.dims()[0] == c,
        "{op}: {name} has shape {:?} but input {x:?} has {c} channels",
        p.dims()
    );
    p.reshape([1, c, 1])
}

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
    let (x3, dims) = to_ncs(x, "batch_norm");
    let [n, c, s] = x3.dims();
    let count = (n * s) as f64;
    assert!(
        count > 1.0,
        "batch_norm: training needs more than one value per channel, got input {dims:?}"
    );
    let mean = x3.clone().mean_dim(2).mean_dim(0); // [1, C, 1]
    let centered = x3 - mean.clone();
    let var = centered.clone().square().mean_dim(2).mean_dim(0);
    let y = centered / (var.clone() + eps).sqrt()
        * channel_param(weight, &dims, "batch_norm", "weight")
        + channel_param(bias, &dims, "batch_norm", "bias");
    for (name, t) in [
        ("running_mean", &running_mean),
        ("running_var", &running_var),
    ] {
        assert!(
            t.dims() == [c],
            "batch_norm: {name} has shape {:?} but input {dims:?} has {c} channels",
            t.dims()
        );
    }
    let m = momentum as f32;
    let batch_mean = mean.reshape([c]).without_autodiff();
    let unbiased = var.reshape([c]).without_autodiff() * (count / (count - 1.0)) as f32;
    let stats = BatchNormStats {
        running_mean: running_mean.without_autodiff() * (1.0 - m) + batch_mean * m,
        running_var: running_var.without_autodiff() * (1.0 - m) + unbiased * m,
    };
    (y.reshape(dims), stats)
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
    let (x3, dims) = to_ncs(x, "batch_norm");
    let mean = channel_param(running_mean, &dims, "batch_norm", "running_mean");
    let var = channel_param(running_var, &dims, "batch_norm", "running_var");
    let y = (x3 - mean) / (var + eps).sqrt() * channel_param(weight, &dims, "batch_norm", "weight")
        + channel_param(bias, &dims, "batch_norm", "bias");
    y.reshape(dims)
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
    let mean = x.clone().mean_dim(D - 1);
    let centered = x - mean;
    let var = centered.clone().square().mean_dim(D - 1);
    let y = centered / (var + eps).sqrt();
    affine_last(y, weight, bias, "layer_norm")
}

fn affine_last<const D: usize>(
    mut y: Tensor<D>,
    weight: Option<Tensor<1>>,
    bias: Option<Tensor<1>>,
    op: &str,
) -> Tensor<D> {
    let x = y.dims();
    let f = x[D - 1];
    let mut shape = [1usize; D];
    shape[D - 1] = f;
    if let Some(w) = weight {
        assert!(
            w.dims()[0] == f,
            "{op}: weight has shape {:?} but input {x:?} has {f} features",
            w.dims()
        );
        y = y * w.reshape(shape);
    }
    if let Some(b) = bias {
        assert!(
            b.dims()[0] == f,
            "{op}: bias has shape {:?} but input {x:?} has {f} features",
            b.dims()
        );
        y = y + b.reshape(shape);
    }
    y
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
    let (x3, dims) = to_ncs(x, "group_norm");
    let [n, c, s] = x3.dims();
    assert!(
        groups > 0 && c % groups == 0,
        "group_norm: {c} channels (input {dims:?}) do not split into {groups} groups"
    );
    let g = x3.reshape([n, groups, (c / groups) * s]);
    let mean = g.clone().mean_dim(2);
    let centered = g - mean;
    let var = centered.clone().square().mean_dim(2);
    let y = (centered / (var + eps).sqrt()).reshape([n, c, s]);
    let y = y * channel_param(weight, &dims, "group_norm", "weight")
        + channel_param(bias, &dims, "group_norm", "bias");
    y.reshape(dims)
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
    let rms = (x.clone().square().mean_dim(D - 1) + eps).sqrt();
    affine_last(x / rms, Some(weight), None, "rms_norm")
}
