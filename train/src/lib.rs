//! # duet-train
//!
//! The training loop, written once for both front-ends (Swift for TensorFlow's loop:
//! value-and-gradient, then `optimizer.update`), and the pieces it is made of, so users can write
//! their own loop from the same parts. [`Trainer`] trains any [`Task`] (what is trained: the
//! batch, the loss as a value, the metrics; [`Classification`] and [`Regression`] are two) on
//! any [`Model`] (what a model must offer: [`FunctionalModel`], [`ModuleModel`], a box of
//! either, a [`DataParallel`] of either). The parts: [`CheckpointDir`] (retention of the last K
//! and the best), [`MetricsLog`] (`metrics.jsonl`), [`plot_curves`] (a PNG), [`restore`].
//! [`DataParallel`] trains one model over several devices (batch split, gradients averaged by a
//! pluggable [`Collective`]).
//!
//! Design choices:
//! - Exact resume: a checkpoint holds params, state, optimizer state and the step; the batch of
//!   step `s` and its dropout key derive from the step, so a resumed run is bitwise the same as
//!   an uninterrupted one on the CPU.
//! - A NaN or infinite loss stops the run before the bad update is saved; the error names the
//!   last good checkpoint. Ctrl-C (via [`TrainConfig::stop`]) saves one and stops.

mod checkpoints;
mod config;
mod distributed;
mod error;
mod functional;
mod group;
mod language;
mod metrics;
mod model;
mod module;
#[cfg(feature = "mpi")]
mod mpi;
mod parallel;
mod plot;
mod resume;
mod run_dir;
mod shard;
mod task;
mod trainer;

pub use checkpoints::{Better, CheckpointDir};
pub use config::{TrainConfig, TrainSummary};
pub use distributed::{broadcast_start, broadcast_tree, TreeReducer, BUCKET_FLOATS, DIRECT_FLOATS};
pub use error::TrainError;
pub use functional::{FromOutputs, FunctionalModel, IntoInputs};
pub use group::{ProcessGroup, ThreadGroup};
pub use language::NextToken;
pub use metrics::{MetricsLog, Record};
pub use model::{ImageClassifier, LossFn, Model, Stateful, StepOutput};
pub use module::{Forward, ModuleModel};
#[cfg(feature = "mpi")]
pub use mpi::{MpiError, MpiGroup};
pub use parallel::{Collective, DataParallel, HostCollective};
pub use plot::{plot_curves, PlotError};
pub use resume::{
    check_metadata, first_non_finite, restore, restore_checked, restore_from, OPTIMIZER_KEY,
    RUN_KEYS,
};
pub use run_dir::{run_mode, RunDir, RunDirError, RunMode};
pub use shard::Shard;
pub use task::{Classification, Metrics, Regression, RegressionLoss, Scored, Task};
pub use trainer::{evaluate, TaskData, TaskModel, Trainer};
