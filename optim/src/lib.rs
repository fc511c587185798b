//! # duet-optim
//!
//! One set of optimizers for both of duet's APIs, in the style of optax: a gradient
//! transformation is a pure pair `init(params) -> state`, `update(grads, state, params) ->
//! (updates, state)` over [`duet_core::Params`] trees, composed with [`chain`]. State is plain
//! data ([`OptState`]: a tensor tree plus counters), so it is checkpointed with the params and
//! training resumes exactly.
//!
//! Design choices:
//! - Optimizers are chains of small transforms ([`sgd`], [`adam`], [`adamw`], [`rmsprop`],
//!   [`adagrad`], [`lion`], [`lamb`]); defaults
//!   follow PyTorch, and each doc says where Trax, optax, Keras or burn differ.
//! - Updates are element-wise tensor ops per parameter on the params' device; Adam's and
//!   RMSProp's moment updates are one fused pass on `flex`
//!   ([`duet_core::kernels::adam_moments`], bit-identical to the tensor-op form used elsewhere).
//!   Transforms take their moments out of the state and consume the gradients, so on `flex` the
//!   ops overwrite buffers nothing else holds instead of allocating. Learning rates are computed
//!   on the host from the step count (no device round trip). Only [`skip_not_finite`] reads a
//!   scalar back.
//! - [`Optimizer`] is the stateful convenience: `opt.update(&mut model, grads)` for anything
//!   [`duet_core::Parameterized`] (a tree or a module).

mod adagrad;
mod adam;
mod clip;
mod lamb;
mod lion;
mod masked;
mod multi_steps;
mod optimizer;
mod rmsprop;
mod scale;
mod schedule;
mod sgd;
mod skip;
mod state;
mod transform;

pub use adagrad::{adagrad, scale_by_adagrad, Adagrad, ScaleByAdagrad};
pub use adam::{adam, adamw, scale_by_adam, Adam, ScaleByAdam};
pub use clip::{clip, clip_by_global_norm, global_norm, Clip, ClipByGlobalNorm};
pub use lamb::{lamb, ScaleByTrustRatio};
pub use lion::{lion, scale_by_lion, ScaleByLion};
pub use masked::{freeze, partition, Partition, PathPredicate};
pub use multi_steps::{multi_steps, MultiSteps};
pub use optimizer::Optimizer;
pub use rmsprop::{rmsprop, scale_by_rms, RmsProp, ScaleByRms};
pub use scale::{
    add_decayed_weights, scale, scale_by_learning_rate, AddDecayedWeights, Scale,
    ScaleByLearningRate,
};
pub use schedule::{
    Constant, Cosine, Exponential, InverseTimeDecay, OneCycle, Piecewise, Polynomial, Schedule,
    WarmupCosine,
};
pub use sgd::{sgd, trace, Sgd, Trace};
pub use skip::{all_finite, skip_not_finite, SkipNotFinite};
pub use state::OptState;
pub use transform::{apply_updates, chain, Chain, OptimError, Transform};
