//! # duet-module
//!
//! The Flax-NNX-style front-end of duet: a module is a struct that owns its parameters, built
//! eagerly from explicit sizes and keys, and run with `model.forward(x)`:
//!
//! ```
//! use duet_module::{Conv2d, Linear, MaxPool2d, Rngs};
//! use duet_core::burn::{module::Module, tensor::{Device, Tensor}};
//! use duet_core::{module_params, ops::activation::relu};
//!
//! #[derive(Module, Debug)]
//! struct Net { conv1: Conv2d, pool: MaxPool2d, fc: Linear }
//!
//! let dev = Device::flex();
//! let mut rngs = Rngs::new(0);
//! let net = Net {
//!     conv1: Conv2d::new(3, 6, 5, &mut rngs, &dev),
//!     pool: MaxPool2d::new(2),
//!     fc: Linear::new(6 * 14 * 14, 10, &mut rngs, &dev),
//! };
//! let x = Tensor::<4>::zeros([2, 3, 32, 32], &dev);
//! let h = net.pool.forward(relu(net.conv1.forward(x)));
//! assert_eq!(net.fc.forward(h.flatten::<2>(1, 3)).dims(), [2, 10]);
//! // The tree view: paths from field names, duet's layouts.
//! assert_eq!(module_params(&net).paths(), vec!["conv1.weight", "conv1.bias", "fc.weight", "fc.bias"]);
//! ```
//!
//! Design:
//! - **Modules are burn [`Module`](duet_core::burn::module::Module)s** (derived), so they nest in
//!   users' derived structs, compose with burn's own modules (`burn::nn`) and work with burn's
//!   tools (devices, records). Their maths is `duet_core::ops`, the very functions the functional
//!   API calls, so both APIs compute the same numbers.
//! - **The tree bridge is in duet-core** ([`duet_core::module_params`], [`duet_core::module_state`],
//!   [`duet_core::load_module_params`], [`duet_core::load_module_state`], and `Parameterized` for
//!   every module): dotted paths come from field names (`Vec` and [`Sequential`] elements are
//!   `0`, `1`, ...; enum variants add no segment); tensors whose name starts with `running_` are
//!   state, every other float tensor is a trainable param. Leaf names and layouts are the
//!   functional API's (Linear `weight` `[in, out]`, conv `[out, in/groups, k..]`, ...), so the
//!   same architecture loads the other API's checkpoints.
//! - **Explicit randomness**: [`Rngs`] (NNX's `Rngs { params, dropout }`) gives each layer its
//!   init key; dropout takes its key from the [`Mode`] passed to `forward` (`rngs.train()` per
//!   step), so models hold no RNG state and the same seed gives the same run.
//! - **Modes**: layers that differ between training and evaluation (dropout, batch norm) take a
//!   [`Mode`] argument rather than a hidden flag. Batch-norm running statistics are burn
//!   `RunningState`s, updated in place by a training pass (and shared by clones, as in burn).
//! - **Differentiation**: [`value_and_grad`] of a loss with respect to a module returns a
//!   gradient tree with the module's paths, which `duet_optim::Optimizer::update(&mut model, grads)`
//!   applies. [`summary`] prints the tensors with their owning module types.

mod activation;
mod attention;
mod config;
mod conv;
mod dropout;
mod embedding;
mod grad;
mod linear;
mod norm;
mod pool;
mod recurrent;
mod rngs;
mod sequential;
mod summary;
mod val_forward;

// Globs for the layer families: a new layer needs no edit here.
pub use activation::*;
pub use attention::*;
pub use config::Build;
pub use conv::*;
pub use dropout::*;
pub use duet_core::Mode;
pub use embedding::*;
pub use grad::{value_and_grad, value_and_grad_with_aux};
pub use linear::*;
pub use norm::*;
pub use pool::*;
pub use recurrent::*;
pub use rngs::{KeyStream, Rngs};
pub use sequential::{Layer, Sequential};
pub use summary::summary;
pub use val_forward::{sub, Lift, ValForward};
