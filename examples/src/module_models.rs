//! LeNet-5, AlexNet and the MLP with the module API.

use crate::cli::args::ModelKind;
use crate::cli::CliError;
use duet_core::burn::tensor::Device;
use duet_core::Key;
use duet_train::Classifier;

/// A module model of `kind` as a [`Classifier`].
///
/// # Errors
/// Always, until the module API lands.
pub fn build(
    kind: ModelKind,
    _chw: [usize; 3],
    _classes: usize,
    _key: Key,
    _device: &Device,
) -> Result<Box<dyn Classifier>, CliError> {
    Err(CliError::Other(format!(
        "the module API for {kind:?} is not available in this build"
    )))
}
