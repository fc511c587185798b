//! [`Model`]: what the training loop needs from a model, whichever API built it.

use crate::task::{Metrics, Scored};
use duet_core::burn::tensor::Tensor;
use duet_core::{Key, Parameterized, Params, TreeError};
use std::ops::Range;

/// A model's trainable params (through [`Parameterized`]) and its non-trainable state: what
/// checkpoints and resumption read and write, for any input and output type.
pub trait Stateful: Parameterized + Send {
    /// Non-trainable state (batch-norm running statistics); empty for most models.
    fn state(&self) -> Params;

    /// Replaces the state (same paths and shapes).
    ///
    /// # Errors
    /// A [`TreeError`] naming the first mismatch.
    fn load_state(&mut self, state: &Params) -> Result<(), TreeError>;
}

/// The loss of a model output, as a task computes it. `rows` is `None` when the output covers
/// the whole batch, or the rows of the batch it covers when a [`crate::DataParallel`] replica
/// computed it from a shard (the task then takes the same rows of its target, with
/// [`crate::Shard::part`]).
pub type LossFn<'a, O> = dyn Fn(O, Option<Range<usize>>) -> Scored + Sync + 'a;

/// The result of one differentiated forward pass.
#[derive(Clone, Debug)]
pub struct StepOutput {
    /// The mean loss over the batch (plain, one element).
    pub loss: Tensor<1>,
    /// The task's per-batch metric sums (plain, on the device: nothing is read to the host).
    pub metrics: Metrics,
    /// `d loss / d params`, with the model's paths.
    pub grads: Params,
}

/// A trainable model with input `I` and output `O` (for an image classifier,
/// `Model<Tensor<4>, Tensor<2>>`; for a language model, `Model<Tensor<2, Int>, Tensor<3>>`).
///
/// duet-train implements it for functional models ([`crate::FunctionalModel`]), modules
/// ([`crate::ModuleModel`]), boxes of models and [`crate::DataParallel`]; the loss comes from
/// the caller (a [`crate::Task`]), so one model serves any objective.
pub trait Model<I, O>: Stateful {
    /// Training-mode forward pass (`key` drives dropout and any other randomness), `loss` of
    /// the output, and the gradient of that loss. Updates the model's state (batch norm).
    fn loss_and_grad(&mut self, x: I, key: Key, loss: &LossFn<'_, O>) -> StepOutput;

    /// Evaluation-mode forward pass (plain tensors, no autodiff graph).
    fn forward(&self, x: I) -> O;
}

/// A boxed model is a model (so boxed models can be replicas of a [`crate::DataParallel`]).
/// (For `Box<dyn Model>` only: a blanket impl over every box would overlap core's
/// `Parameterized` impl for burn modules.)
impl<I, O> Parameterized for Box<dyn Model<I, O> + '_> {
    fn params(&self) -> Params {
        (**self).params()
    }
    fn load_params(&mut self, params: &Params) -> Result<(), TreeError> {
        (**self).load_params(params)
    }
    fn apply_updates(&mut self, updates: Params) -> Result<(), TreeError> {
        (**self).apply_updates(updates)
    }
}

impl<I, O> Stateful for Box<dyn Model<I, O> + '_> {
    fn state(&self) -> Params {
        (**self).state()
    }
    fn load_state(&mut self, state: &Params) -> Result<(), TreeError> {
        (**self).load_state(state)
    }
}

impl<I, O> Model<I, O> for Box<dyn Model<I, O> + '_> {
    fn loss_and_grad(&mut self, x: I, key: Key, loss: &LossFn<'_, O>) -> StepOutput {
        (**self).loss_and_grad(x, key, loss)
    }
    fn forward(&self, x: I) -> O {
        (**self).forward(x)
    }
}

/// An image classifier, whichever API built it: `[N, C, H, W]` images to `[N, classes]` logits.
pub type ImageClassifier<'a> = dyn Model<Tensor<4>, Tensor<2>> + 'a;
