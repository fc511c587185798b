//! # duet-functional
//!
//! The Trax-style front-end of duet: a layer is a value that describes a computation and owns no
//! weights. `init` creates params (and state) from an input signature and a [`Key`], inferring
//! every shape (`Dense::new(120)` needs only its output size); `forward` is a pure function of
//! `(params, state, inputs, mode)`. Models are built with combinators ([`Serial`], [`Branch`],
//! [`Parallel`], [`Residual`], ...), with Trax's data-stack semantics for layers that take or
//! return several tensors.
//!
//! Design choices:
//! - Tensors on the stack are [`DynTensor`]s (rank known at run time); every layer checks ranks
//!   and sizes at init, so a mis-wired model fails before it runs, naming the layer's path.
//! - Params are a [`duet_core::Params`] tree with dotted paths from the combinator structure
//!   (`features.3.weight`), identical to the module API's paths for the same architecture.
//! - The layer mathematics lives in `duet_core::ops`; this crate only plumbs params to it.
//!
//! [`Key`]: duet_core::Key
//! [`DynTensor`]: duet_core::DynTensor

pub mod combinators;
mod layer;
pub mod layers;
mod summary;
pub mod values;

pub use combinators::{
    Add, Branch, Concatenate, Drop, Dup, Fn, Multiply, OnDevice, Parallel, Residual, Select,
    Serial, Swap,
};
pub use layer::{BuildError, Init, Layer, LayerExt, Mode, Shape};
pub use layers::*;
pub use summary::{summary, torch_kinds};
