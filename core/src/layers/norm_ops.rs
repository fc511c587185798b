//! The normalization maths, written once over [`Val`]: batch norm (train and eval), layer norm,
//! group norm, RMS norm. The configs in `norm.rs` and `duet_core::ops`' typed functions call these.

use super::Val;
use crate::ops::BatchNormStats;
use crate::DynTensor;
use burn::tensor::Tensor;

/// Reshapes `[N, C, ...]` to `[N, C, S]`.
fn to_ncs<V: Val>(x: V, op: &str) -> (V, Vec<usize>) {
    let dims = x.dims();
    assert!(
        dims.len() >= 2,
        "{op}: input must be [N, C, ...], got {dims:?}"
    );
    let s: usize = dims[2..].iter().product();
    (x.reshape(&[dims[0], dims[1], s]), dims)
}

fn channel_param<V: Val>(p: V, x: &[usize], op: &str, name: &str) -> V {
    let c = x[1];
    let pd = p.dims();
    assert!(
        pd[0] == c,
        "{op}: {name} has shape {pd:?} but input {x:?} has {c} channels"
    );
    p.reshape(&[1, c, 1])
}

/// Batch normalization in training mode over any value (see `ops::batch_norm_train`); the
/// running statistics are updated from the primal, detached. Values with a fused kernel
/// ([`Val::fused_batch_norm`]: tensors on `flex`) run it instead of the op-by-op form.
///
/// # Shapes
/// `x`: `[N, C, ...]`; `weight`, `bias`, the statistics: `[C]`; output: the shape of `x`.
#[allow(clippy::too_many_arguments)]
pub fn batch_norm_train<V: Val>(
    x: V,
    weight: V,
    bias: V,
    running_mean: Tensor<1>,
    running_var: Tensor<1>,
    momentum: f64,
    eps: f64,
) -> (V, BatchNormStats) {
    let dims = x.dims();
    assert!(
        dims.len() >= 2,
        "batch_norm: input must be [N, C, ...], got {dims:?}"
    );
    let (n, c, s) = (dims[0], dims[1], dims[2..].iter().product::<usize>());
    let count = (n * s) as f64;
    assert!(
        count > 1.0,
        "batch_norm: training needs more than one value per channel, got input {dims:?}"
    );
    let (y, batch_mean, batch_var) = match V::fused_batch_norm(&x, &weight, &bias, eps) {
        Some(fused) => fused,
        None => {
            let (x3, _) = to_ncs(x, "batch_norm");
            let mean = x3.clone().mean_dim(2).mean_dim(0); // [1, C, 1]
            let centered = x3.sub(mean.clone());
            let var = centered.clone().square().mean_dim(2).mean_dim(0);
            let y = centered
                .div(var.clone().shift(eps).sqrt())
                .mul(channel_param(weight, &dims, "batch_norm", "weight"))
                .add(channel_param(bias, &dims, "batch_norm", "bias"));
            let plain = |v: &V| {
                v.primal()
                    .clone()
                    .into_rank::<3>()
                    .reshape([c])
                    .without_autodiff()
            };
            (y.reshape(&dims), plain(&mean), plain(&var))
        }
    };
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
    let unbiased = batch_var * (count / (count - 1.0)) as f32;
    let stats = BatchNormStats {
        running_mean: running_mean.without_autodiff() * (1.0 - m) + batch_mean * m,
        running_var: running_var.without_autodiff() * (1.0 - m) + unbiased * m,
    };
    (y, stats)
}

/// Batch normalization in evaluation mode over any value (see `ops::batch_norm_eval`).
///
/// # Shapes
/// `x`: `[N, C, ...]`; the statistics and params `[C]`; output: the shape of `x`.
pub fn batch_norm_eval<V: Val>(
    x: V,
    weight: V,
    bias: V,
    running_mean: Tensor<1>,
    running_var: Tensor<1>,
    eps: f64,
) -> V {
    let (x3, dims) = to_ncs(x, "batch_norm");
    let stat = |t: Tensor<1>| V::constant(DynTensor::from(t));
    let mean = channel_param(stat(running_mean), &dims, "batch_norm", "running_mean");
    let var = channel_param(stat(running_var), &dims, "batch_norm", "running_var");
    let y = x3
        .sub(mean)
        .div(var.shift(eps).sqrt())
        .mul(channel_param(weight, &dims, "batch_norm", "weight"))
        .add(channel_param(bias, &dims, "batch_norm", "bias"));
    y.reshape(&dims)
}

fn affine_last<V: Val>(mut y: V, weight: Option<V>, bias: Option<V>, op: &str) -> V {
    let x = y.dims();
    let f = x[x.len() - 1];
    let mut shape = vec![1usize; x.len()];
    shape[x.len() - 1] = f;
    for (name, p, is_weight) in [("weight", weight, true), ("bias", bias, false)] {
        if let Some(p) = p {
            let pd = p.dims();
            assert!(
                pd[0] == f,
                "{op}: {name} has shape {pd:?} but input {x:?} has {f} features"
            );
            let p = p.reshape(&shape);
            y = if is_weight { y.mul(p) } else { y.add(p) };
        }
    }
    y
}

/// Layer normalization over the last axis, over any value (see `ops::layer_norm`); with both
/// weight and bias, values with a fused kernel ([`Val::fused_layer_norm`]) run it instead.
///
/// # Shapes
/// `x`: `[..., F]`; `weight`, `bias`: `[F]`; output: the shape of `x`.
pub fn layer_norm<V: Val>(x: V, weight: Option<V>, bias: Option<V>, eps: f64) -> V {
    if let (Some(w), Some(b)) = (&weight, &bias) {
        if let Some(y) = V::fused_layer_norm(&x, w, b, eps) {
            return y;
        }
    }
    let last = x.dims().len() - 1;
    let mean = x.clone().mean_dim(last);
    let centered = x.sub(mean);
    let var = centered.clone().square().mean_dim(last);
    let y = centered.div(var.shift(eps).sqrt());
    affine_last(y, weight, bias, "layer_norm")
}

/// Group normalization over any value (see `ops::group_norm`).
///
/// # Shapes
/// `x`: `[N, C, ...]` with `C % groups == 0`; `weight`, `bias`: `[C]`; output: the shape of `x`.
pub fn group_norm<V: Val>(x: V, groups: usize, weight: V, bias: V, eps: f64) -> V {
    let (x3, dims) = to_ncs(x, "group_norm");
    let (n, c, s) = (dims[0], dims[1], dims[2..].iter().product::<usize>());
    assert!(
        groups > 0 && c.is_multiple_of(groups),
        "group_norm: {c} channels (input {dims:?}) do not split into {groups} groups"
    );
    let g = x3.reshape(&[n, groups, (c / groups) * s]);
    let mean = g.clone().mean_dim(2);
    let centered = g.sub(mean);
    let var = centered.clone().square().mean_dim(2);
    let y = centered.div(var.shift(eps).sqrt()).reshape(&[n, c, s]);
    let y = y
        .mul(channel_param(weight, &dims, "group_norm", "weight"))
        .add(channel_param(bias, &dims, "group_norm", "bias"));
    y.reshape(&dims)
}

/// RMS normalization over the last axis, over any value (see `ops::rms_norm`).
///
/// # Shapes
/// `x`: `[..., F]`; `weight`: `[F]`; output: the shape of `x`.
pub fn rms_norm<V: Val>(x: V, weight: V, eps: f64) -> V {
    let last = x.dims().len() - 1;
    let rms = x.clone().square().mean_dim(last).shift(eps).sqrt();
    affine_last(x.div(rms), Some(weight), None, "rms_norm")
}
