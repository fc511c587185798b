//! [`TrainError`]: every way a training run stops early, each naming what to look at next.

use crate::run_dir::RunDirError;
use duet_core::checkpoint::CheckpointError;
use duet_datasets::BatchError;
use std::path::PathBuf;

fn last_good_note(last: &Option<PathBuf>) -> String {
    match last {
        Some(p) => format!("the last good checkpoint is {}", p.display()),
        None => "no good checkpoint was written yet".into(),
    }
}

fn diverged_note(d: &Option<PathBuf>) -> String {
    match d {
        Some(p) => format!(
            " (the checkpoint whose params gave it was renamed {})",
            p.display()
        ),
        None => String::new(),
    }
}

/// Training failures. A "good" checkpoint is one whose params are finite and gave a finite
/// loss; the errors raised during a run name the last one, so `--resume` can continue from it.
#[derive(Debug, thiserror::Error)]
pub enum TrainError {
    /// The loss became NaN or infinite; training stopped without saving.
    #[error("the loss is {loss} at step {step}{}: training stopped; {}", diverged_note(.diverged), last_good_note(.last))]
    NonFiniteLoss {
        /// The step whose loss was not finite.
        step: u64,
        /// The loss.
        loss: f32,
        /// The last good checkpoint on disk.
        last: Option<PathBuf>,
        /// Where the checkpoint that produced this loss was moved (out of `--resume`'s way).
        diverged: Option<PathBuf>,
    },
    /// A parameter became NaN or infinite (found when checkpointing); nothing was saved.
    #[error("parameter `{tensor}` is not finite after step {step}: training stopped without saving; {}", last_good_note(.last))]
    NonFiniteParams {
        /// The step after which the parameter was found.
        step: u64,
        /// The first non-finite parameter's path.
        tensor: String,
        /// The last good checkpoint on disk.
        last: Option<PathBuf>,
    },
    /// Preparing a batch failed on the loader's thread.
    #[error("{error}: training stopped; {}", last_good_note(.last))]
    Data {
        /// The loader's error.
        error: BatchError,
        /// The last good checkpoint on disk.
        last: Option<PathBuf>,
    },
    /// The evaluation split has no images (its loss and accuracy would be meaningless).
    #[error("the evaluation split has no images")]
    EmptyEval,
    /// The output directory cannot be used (it holds another run, or is locked).
    #[error(transparent)]
    RunDir(#[from] RunDirError),
    /// Saving or resuming failed.
    #[error(transparent)]
    Checkpoint(#[from] CheckpointError),
    /// The checkpoint does not fit the model or optimizer.
    #[error("resuming from {}: {message}", path.display())]
    Resume {
        /// The checkpoint.
        path: PathBuf,
        /// What did not fit.
        message: String,
    },
    /// The ranks of a distributed run cannot go on together (a rank got no rows of a batch,
    /// or their models differ).
    #[error("distributed training: {0}")]
    Distributed(String),
    /// Writing metrics or the plot failed.
    #[error("{0}")]
    Output(String),
}
