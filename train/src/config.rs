//! [`TrainConfig`] (how a [`crate::Trainer`] runs) and [`TrainSummary`] (how a run ended).

#[allow(unused_imports)] // for the docs
use crate::resume::{OPTIMIZER_KEY, RUN_KEYS};
use duet_core::Key;
use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::atomic::AtomicBool;
use std::sync::Arc;

/// How a [`Trainer`](crate::Trainer) runs: length, checkpoints, output, randomness. `TrainConfig::new(dir)`
/// gives the defaults; set fields with struct update syntax.
#[derive(Clone, Debug)]
pub struct TrainConfig {
    /// Total optimizer steps, counted from the start of training (a resumed run stops here too).
    pub total_steps: u64,
    /// Save a checkpoint every N steps (0: only at epoch ends and at the end).
    pub checkpoint_every: u64,
    /// Step checkpoints to keep (the best and the last good one are kept apart).
    pub keep_last: usize,
    /// Output directory: checkpoints, `metrics.jsonl`, `curves.png`. A directory that already
    /// holds a run is refused unless it is the one resumed or [`overwrite`](Self::overwrite) is set.
    pub out_dir: PathBuf,
    /// Replace a run already in `out_dir` (its checkpoints, metrics and curves are deleted).
    pub overwrite: bool,
    /// When resuming: start a fresh optimizer state instead of the checkpoint's (and accept a
    /// checkpoint whose `duet.optimizer` differs).
    pub reset_optimizer: bool,
    /// Root key: the batch of step `s` uses the loader's order, dropout uses `key.fold_in(s)`.
    pub key: Key,
    /// Log training metrics every N steps (in a distributed run, the ranks also check there
    /// that their params are still bitwise identical).
    pub log_every: u64,
    /// No progress bar.
    pub quiet: bool,
    /// Strings stored in every checkpoint (model, api, dataset, optimizer...); on resume, the
    /// keys of [`RUN_KEYS`] and [`OPTIMIZER_KEY`] must match the checkpoint's.
    pub metadata: BTreeMap<String, String>,
    /// Set to stop after the current step with a checkpoint (Ctrl-C).
    pub stop: Arc<AtomicBool>,
}

impl TrainConfig {
    /// The defaults, writing to `out_dir`: 1000 steps, checkpoints at epoch ends only, keep the
    /// last 3, key 0, a log line every 20 steps, a progress bar, no metadata.
    pub fn new(out_dir: impl Into<PathBuf>) -> Self {
        TrainConfig {
            total_steps: 1000,
            checkpoint_every: 0,
            keep_last: 3,
            out_dir: out_dir.into(),
            overwrite: false,
            reset_optimizer: false,
            key: Key::new(0),
            log_every: 20,
            quiet: false,
            metadata: BTreeMap::new(),
            stop: Arc::new(AtomicBool::new(false)),
        }
    }
}

impl Default for TrainConfig {
    /// [`TrainConfig::new`] with `runs/train`.
    fn default() -> Self {
        TrainConfig::new("runs/train")
    }
}

/// How a run ended.
#[derive(Clone, Debug)]
pub struct TrainSummary {
    /// Steps done (from the start of training).
    pub steps: u64,
    /// The step this run started from (0, or the resumed checkpoint's step).
    pub start_step: u64,
    /// The last evaluation: `loss` and the task's metrics.
    pub eval: Option<BTreeMap<String, f64>>,
    /// The last checkpoint written.
    pub checkpoint: Option<PathBuf>,
    /// Training examples per second over this run.
    pub examples_per_s: f64,
    /// Whether the run was interrupted (Ctrl-C) before `total_steps`.
    pub interrupted: bool,
}
