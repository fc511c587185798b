//! # duet-optim
//!
//! One set of optimizers for both of duet's APIs, in the style of optax: a gradient
//! transformation is a pure pair `init(params) -> state`, `update(grads, state, params) ->
//! (updates, state)` over [`duet_core::Params`] trees, composed with [`chain`]. State is plain
//! data ([`OptState`]: a tensor tree plus counters), so it is checkpointed with the params and
//! training resumes exactly.
//!
//! Design choices:
//! - Optimizers are chains of small transforms (`sgd`, `adam`, ... in [`aliases`]); defaults
//!   follow PyTorch, and each doc says where Trax, optax, Keras or burn differ.
//! - Updates are a handful of element-wise tensor ops per parameter on the params' device;
//!   learning rates are computed on the host from the step count (no device round trip). Only
//!   [`skip_not_finite`] reads a scalar back.
//! - [`Optimizer`] is the stateful convenience: `opt.update(&mut model, grads)` for anything
//!   [`duet_core::Parameterized`] (a tree or a module).

pub mod aliases;
mod moments;
mod optimizer;
mod scale;
mod schedule;
mod state;
mod transform;
mod wrappers;

pub use aliases::{adagrad, adam, adamw, lamb, lion, rmsprop, sgd, Adam, RmsProp, Sgd};
pub use moments::{
    scale_by_adagrad, scale_by_adam, scale_by_lion, scale_by_rms, trace, ScaleByAdagrad,
    ScaleByAdam, ScaleByLion, ScaleByRms, ScaleByTrustRatio, Trace,
};
pub use optimizer::Optimizer;
pub use scale::{
    add_decayed_weights, clip, clip_by_global_norm, global_norm, scale, scale_by_learning_rate,
    AddDecayedWeights, Clip, ClipByGlobalNorm, Scale, ScaleByLearningRate,
};
pub use schedule::{
    Constant, Cosine, Exponential, InverseTimeDecay, OneCycle, Piecewise, Polynomial, Schedule,
    WarmupCosine,
};
pub use state::OptState;
pub use transform::{apply_updates, chain, Chain, OptimError, Transform};
pub use wrappers::{
    all_finite, freeze, multi_steps, partition, skip_not_finite, MultiSteps, Partition,
    SkipNotFinite,
};
