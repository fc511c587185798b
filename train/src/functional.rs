//! [`FunctionalClassifier`]: a duet-functional model with its params and state, as a [`Classifier`].

use crate::classifier::{Classifier, StepOutput};
use duet_core::burn::tensor::{Int, Tensor};
use duet_core::ops::{cross_entropy, CrossEntropy};
use duet_core::{value_and_grad_with_aux, Key, Parameterized, Params, TreeError};
use duet_functional::{Layer, LayerExt, Mode};

/// A functional model (a [`Layer`] producing logits) with its params and state.
pub struct FunctionalClassifier {
    /// The architecture.
    pub model: Box<dyn Layer>,
    /// Trainable params.
    pub params: Params,
    /// Non-trainable state.
    pub state: Params,
}

impl Parameterized for FunctionalClassifier {
    fn params(&self) -> Params {
        self.params.clone()
    }
    fn load_params(&mut self, params: &Params) -> Result<(), TreeError> {
        self.params.load_params(params)
    }
}

impl Classifier for FunctionalClassifier {
    fn state(&self) -> Params {
        self.state.clone()
    }

    fn load_state(&mut self, state: &Params) -> Result<(), TreeError> {
        self.state.load_params(state)
    }

    fn loss_and_grad(&mut self, images: Tensor<4>, labels: Tensor<1, Int>, key: Key) -> StepOutput {
        let (model, state) = (&self.model, &self.state);
        let (loss, (logits, new_state), grads) = value_and_grad_with_aux(
            |p| {
                let (y, s) = model.apply(p, state, images.into(), Mode::Train(key));
                let logits = y.into_rank::<2>();
                (
                    cross_entropy(logits.clone(), labels, &CrossEntropy::default()),
                    (logits.without_autodiff(), s),
                )
            },
            &self.params,
        );
        self.state = new_state.without_autodiff();
        StepOutput {
            loss,
            logits,
            grads,
        }
    }

    fn logits(&self, images: Tensor<4>) -> Tensor<2> {
        self.model
            .apply(&self.params, &self.state, images.into(), Mode::Eval)
            .0
            .into_rank::<2>()
    }
}
