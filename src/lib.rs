//! # duet
//!
//! Two ways to write a neural network over **one** burn autodiff backend, and one of everything
//! else. This facade re-exports the member crates:
//!
//! - [`core`]: the parameter tree, keys, initializers, shared layer ops and losses, gradients,
//!   safetensors checkpoints, device choice.
//! - [`functional`]: Trax-style pure layers and combinators (parameters live outside).
//! - [`module`]: Flax-NNX-style modules that own their parameters (burn `Module`s).
//! - [`optim`]: optax-style gradient transformations over parameter trees.
//! - [`datasets`]: CIFAR-10/100, MNIST, the embedded digits set, batching and augmentation.
//! - [`train`]: the training loop, metrics and checkpoints.
//! - [`prob`]: distributions, bijectors, KL divergences and special functions.
//!
//! burn itself is re-exported as [`burn`], so users can reach every burn API.
//!
//! Backends are chosen at run time with [`core::device`]; the `wgpu` and `cuda` cargo features
//! compile the GPU backends in.

pub use duet_core as core;
pub use duet_core::burn;
pub use duet_datasets as datasets;
pub use duet_functional as functional;
pub use duet_module as module;
pub use duet_optim as optim;
pub use duet_prob as prob;
pub use duet_train as train;

/// The README's Rust examples, compiled and run as doctests (`cargo test --doc -p duet`).
#[cfg(doctest)]
#[doc = include_str!("../README.md")]
pub struct ReadmeDoctests;
