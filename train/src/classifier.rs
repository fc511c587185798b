//! [`Classifier`]: what the training loop needs from a model, whichever API built it.

use duet_core::burn::tensor::{Int, Tensor};
use duet_core::{Key, Parameterized, Params, TreeError};

/// The result of one differentiated forward pass.
#[derive(Clone, Debug)]
pub struct StepOutput {
    /// The mean loss over the batch (plain, one element).
    pub loss: Tensor<1>,
    /// The logits (plain), for training accuracy.
    pub logits: Tensor<2>,
    /// `d loss / d params`, with the model's paths.
    pub grads: Params,
}

/// An image classifier the loop can train: its params (via [`Parameterized`]), its
/// non-trainable state, a differentiated training forward pass, and an evaluation forward pass.
///
/// duet-train implements it for functional models ([`crate::FunctionalClassifier`]); module models
/// implement it in a few lines (see the examples crate).
pub trait Classifier: Parameterized {
    /// Non-trainable state (batch-norm running statistics); empty for most models.
    fn state(&self) -> Params;

    /// Replaces the state (same paths and shapes).
    ///
    /// # Errors
    /// A [`TreeError`] naming the first mismatch.
    fn load_state(&mut self, state: &Params) -> Result<(), TreeError>;

    /// Training-mode forward pass, softmax cross-entropy against `labels`, and its gradient.
    /// Updates the model's state (batch norm). `key` drives dropout.
    ///
    /// # Shapes
    /// `images: [N, C, H, W]`, `labels: [N]` -> loss `[1]`, logits `[N, classes]`.
    fn loss_and_grad(&mut self, images: Tensor<4>, labels: Tensor<1, Int>, key: Key) -> StepOutput;

    /// Evaluation-mode logits.
    ///
    /// # Shapes
    /// `[N, C, H, W] -> [N, classes]`
    fn logits(&self, images: Tensor<4>) -> Tensor<2>;
}
