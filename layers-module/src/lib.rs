//! # duet-module
//!
//! The Flax-NNX-style front-end of duet: a module is a struct that owns its parameters, built
//! eagerly from explicit sizes and keys (`Conv2d::new(3, 6, 5, &mut rngs, &device)`), and run
//! with `model.forward(x)`.
//!
//! Design choices:
//! - Modules are burn [`Module`](duet_core::burn::module::Module)s (derived), so they compose
//!   with burn's own modules and tools; their maths is `duet_core::ops`, the same functions the
//!   functional API calls.
//! - The tree bridge is in duet-core ([`duet_core::module_params`], ...): paths come from field
//!   names; tensors named `running_*` are state. Parameter names and layouts are the functional
//!   API's, so the same architecture loads the other API's checkpoints.
//! - Randomness is explicit: [`Rngs`] streams for init; dropout takes its key from the
//!   [`duet_core::Mode`] passed to `forward`.
//! - Differentiation: [`value_and_grad`] of a loss with respect to a module returns a gradient
//!   tree with the module's paths, which `duet_optim::Optimizer::update(&mut model, grads)` applies.

mod conv;
mod grad;
mod linear;
mod misc;
mod norm;
mod rngs;
mod sequential;

pub use conv::{Conv1d, Conv2d, ConvTranspose2d};
pub use duet_core::Mode;
pub use grad::{summary, value_and_grad, value_and_grad_with_aux};
pub use linear::{Embedding, Linear};
pub use misc::{AvgPool2d, Dropout, Gru, Lstm, MaxPool2d, MultiHeadAttention, Recurrent};
pub use norm::{BatchNorm, GroupNorm, LayerNorm, RmsNorm};
pub use rngs::{KeyStream, Rngs};
pub use sequential::{run, Layer, Op, Sequential, Weightless};
