//! # duet-core
//!
//! What both of duet's front-ends stand on: the parameter tree, random keys, initializers,
//! gradients, checkpoints and device choice (and, in [`ops`], the layer mathematics both APIs
//! call).
//!
//! Design choices:
//! - **One contract, the tree.** [`Params`] is an ordered map from dotted paths to float tensors
//!   of any rank ([`DynTensor`]). Functional models' params are trees; modules expose theirs as
//!   trees; gradients, optimizer state and checkpoints are trees with the same paths.
//! - **Differentiation is a function.** [`value_and_grad`] takes a closure over a tree and returns
//!   the loss and a gradient tree. Params stay plain tensors; the call lifts them to autodiff
//!   leaves, so there is no `require_grad` bookkeeping in user code.
//! - **Explicit randomness.** [`Key`]s split and fold in (JAX style); samples are drawn on the
//!   host and uploaded, so a seed gives the same weights on every backend.
//! - **Run-time devices.** [`device()`] parses `cpu`, `wgpu[:N]`, `cuda[:N]`; nothing hard-codes a
//!   backend.
//! - **Files never half-written.** [`checkpoint::save`] writes safetensors through a fsynced
//!   temporary file and a rename; loading names the path and both shapes on a mismatch.
//!
//! burn is re-exported as [`burn`] so users can reach every burn API.

pub use burn;

pub mod checkpoint;
mod device;
mod grad;
pub mod init;
pub mod kernels;
mod key;
pub mod layers;
mod mode;
mod module_tree;
pub mod ops;
mod parameterized;
mod params;
mod tensor;
mod threads;
pub mod transform;

pub use checkpoint::{CheckpointError, CheckpointFile, LoadOptions};
pub use device::{device, DeviceError};
pub use grad::{grad, value_and_grad, value_and_grad_with_aux};
pub use init::{FanMode, Fans, Initializer};
pub use key::Key;
pub use layers::{Act, LayerConfig, Val};
pub use mode::Mode;
pub use module_tree::{
    is_state_path, load_module_params, load_module_state, module_params, module_state,
};
pub use parameterized::Parameterized;
pub use params::{group_digits, Params, TreeError};
pub use tensor::{DynTensor, MAX_RANK};
pub use threads::{init_cpu_threads, ThreadsError};
