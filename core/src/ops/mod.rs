//! The layer mathematics, once, as functions of tensors and explicit parameters.
//!
//! Both front-ends call these: the functional layers with params from a tree, the modules with
//! their own fields, so the two compute exactly the same thing. Everything is built on burn's
//! tensor and module ops (burn's kernels and autodiff); shape errors panic with a message that
//! names the op and both shapes.

pub mod activation;
mod attention;
mod conv;
mod dropout;
mod embedding;
mod linear;
mod loss;
mod metrics;
mod norm;
mod pool;
mod recurrent;

pub use activation::{log_softmax, relu, softmax};
pub use attention::{multi_head_attention, AttentionMask, QkvProjection};
pub use conv::{
    conv1d, conv2d, conv2d_weight_grad_per_example, conv_transpose2d, ConvSpec, ConvTransposeSpec,
    Padding,
};
pub use dropout::{dropout, dropout_mask};
pub use embedding::embedding;
pub use linear::{dense, flatten};
pub use loss::{
    bce_with_logits, cross_entropy, cross_entropy_probs, huber, kl_div, l1, mse, nll, smooth_l1,
    CrossEntropy, Reduction,
};
pub use metrics::{accuracy, correct, top_k_accuracy};
pub use norm::{
    batch_norm_eval, batch_norm_train, group_norm, layer_norm, rms_norm, BatchNormStats,
};
pub use pool::{adaptive_avg_pool2d, avg_pool2d, global_avg_pool2d, max_pool2d, PoolSpec};
pub use recurrent::{gru, gru_cell, lstm, lstm_cell, RnnWeights};
