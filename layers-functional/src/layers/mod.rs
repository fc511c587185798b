//! Layers over `duet_core::ops`. Each infers its weight shapes from the input signature.
//!
//! Parameter names and layouts are shared with duet-module: `weight` (dense `[in, out]`, conv
//! `[out, in/groups, k..]`, conv-transpose `[in, out/groups, kh, kw]`, embedding `[vocab, dim]`),
//! `bias`; batch norm keeps `running_mean` and `running_var` in the state tree; recurrent layers
//! use `weight_ih`, `weight_hh`, `bias_ih`, `bias_hh`; attention `q_proj`, `k_proj`, `v_proj`,
//! `out_proj` (each `weight` + `bias`).

mod activation;
mod attention;
mod conv;
mod dense;
mod dropout;
mod embedding;
mod loss;
mod norm;
mod pool;
mod recurrent;
mod reshape;

pub use activation::{
    Elu, Gelu, GeluTanh, HardSigmoid, HardSwish, LeakyRelu, LogSigmoid, LogSoftmax, Mish, Relu,
    Relu6, Selu, Sigmoid, Silu, Softmax, Softplus, Softsign, Tanh,
};
pub use attention::MultiHeadAttention;
pub use conv::{Conv1d, Conv2d, ConvTranspose2d};
pub use dense::Dense;
pub use dropout::Dropout;
pub use embedding::Embedding;
pub use loss::{BceWithLogitsLoss, CrossEntropyLoss, HuberLoss, L1Loss, MseLoss};
pub use norm::{BatchNorm, GroupNorm, LayerNorm, RmsNorm};
pub use pool::{AdaptiveAvgPool2d, AvgPool2d, GlobalAvgPool, MaxPool2d};
pub use recurrent::{Gru, Lstm};
pub use reshape::Flatten;

use crate::layer::{expect_inputs, BuildError, Layer, Shape};

/// Checks a single input of rank `rank` (or any rank >= `rank` when `at_least`), returning it.
pub(crate) fn single<'a>(
    layer: &dyn Layer,
    inputs: &'a [Shape],
    rank: usize,
    at_least: bool,
) -> Result<&'a Shape, BuildError> {
    expect_inputs(layer, inputs)?;
    let s = &inputs[0];
    let ok = if at_least {
        s.len() >= rank
    } else {
        s.len() == rank
    };
    if !ok {
        let want = if at_least {
            format!("rank >= {rank}")
        } else {
            format!("rank {rank}")
        };
        return Err(BuildError::new(
            layer,
            format!("expected an input of {want}, got shape {s:?}"),
        ));
    }
    Ok(s)
}
