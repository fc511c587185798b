//! # duet-train
//!
//! The training loop, written once for both front-ends, and the pieces it is made of, so users
//! can write their own loop from the same parts: checkpoint directories with retention
//! ([`CheckpointDir`]), a JSONL metrics log ([`MetricsLog`]) and a PNG of the curves
//! ([`plot_curves`]).

mod checkpoints;
mod metrics;
mod plot;

pub use checkpoints::{Better, CheckpointDir};
pub use metrics::{MetricsLog, Record};
pub use plot::{plot_curves, PlotError};
