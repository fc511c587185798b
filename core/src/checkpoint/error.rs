//! [`CheckpointError`]: every way saving or loading a checkpoint can fail.

use std::path::PathBuf;

/// Errors from saving and loading checkpoints. Each names the file and, where it applies, the
/// tensor and both shapes.
#[derive(Debug, thiserror::Error)]
pub enum CheckpointError {
    /// Reading or writing the file failed.
    #[error("{path}: {source}")]
    Io {
        /// The file.
        path: PathBuf,
        /// The OS error.
        source: std::io::Error,
    },
    /// The file is not a valid safetensors file (truncated, bad header, ...).
    #[error("{path}: not a valid checkpoint: {reason}")]
    Corrupt {
        /// The file.
        path: PathBuf,
        /// What is wrong.
        reason: String,
    },
    /// The model expects a tensor the file does not have.
    #[error("{path}: missing tensor `{tensor}`")]
    Missing {
        /// The file.
        path: PathBuf,
        /// The tensor's full name in the file.
        tensor: String,
    },
    /// The file has a tensor the model does not expect.
    #[error("{path}: unexpected tensor `{tensor}` (not in the model)")]
    Unexpected {
        /// The file.
        path: PathBuf,
        /// The tensor's full name in the file.
        tensor: String,
    },
    /// A tensor's shape differs from the model's.
    #[error("{path}: tensor `{tensor}` has shape {found:?}, the model expects {expected:?}")]
    Shape {
        /// The file.
        path: PathBuf,
        /// The tensor's full name.
        tensor: String,
        /// The model's shape.
        expected: Vec<usize>,
        /// The file's shape.
        found: Vec<usize>,
    },
    /// A tensor is not float32.
    #[error("{path}: tensor `{tensor}` has dtype {found}, expected F32")]
    Dtype {
        /// The file.
        path: PathBuf,
        /// The tensor's full name.
        tensor: String,
        /// The dtype found.
        found: String,
    },
    /// The `duet.trees` metadata lists a tensor the file does not have.
    #[error("{path}: `duet.trees` metadata lists tensor `{tensor}`, which the file does not have")]
    ListedMissing {
        /// The file.
        path: PathBuf,
        /// The tensor's full name.
        tensor: String,
    },
    /// The file has no tree of this name.
    #[error("{path}: no tree `{tree}` (the file has: {available})")]
    NoTree {
        /// The file.
        path: PathBuf,
        /// The tree asked for.
        tree: String,
        /// The trees present.
        available: String,
    },
}
