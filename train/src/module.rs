//! [`ModuleClassifier`]: any burn module with a logits function, as a [`Classifier`].

use crate::classifier::{Classifier, StepOutput};
use duet_core::burn::module::Module;
use duet_core::burn::tensor::{Int, Tensor};
use duet_core::ops::{cross_entropy, CrossEntropy};
use duet_core::{
    load_module_params, load_module_state, module_params, module_state, value_and_grad_with_aux,
    Key, Mode, Parameterized, Params, TreeError,
};

/// A module that maps images to logits.
pub trait ImageModule: Module {
    /// Logits for a batch.
    ///
    /// # Shapes
    /// `[N, C, H, W] -> [N, classes]`
    fn logits(&self, x: Tensor<4>, mode: Mode) -> Tensor<2>;
}

/// Wraps an [`ImageModule`] for the training loop: gradients with respect to its fields, state
/// (`running_*`) updated by the training forward pass.
#[derive(Debug)]
pub struct ModuleClassifier<M>(pub M);

impl<M: ImageModule> Parameterized for ModuleClassifier<M> {
    fn params(&self) -> Params {
        module_params(&self.0)
    }
    fn load_params(&mut self, params: &Params) -> Result<(), TreeError> {
        self.0 = load_module_params(self.0.clone(), params)?;
        Ok(())
    }
}

impl<M: ImageModule> Classifier for ModuleClassifier<M> {
    fn state(&self) -> Params {
        module_state(&self.0)
    }

    fn load_state(&mut self, state: &Params) -> Result<(), TreeError> {
        self.0 = load_module_state(self.0.clone(), state)?;
        Ok(())
    }

    fn loss_and_grad(&mut self, images: Tensor<4>, labels: Tensor<1, Int>, key: Key) -> StepOutput {
        let model = &self.0;
        let (loss, logits, grads) = value_and_grad_with_aux(
            |p| {
                let m = load_module_params(model.clone(), p).expect("the module's own paths");
                let logits = m.logits(images, Mode::Train(key));
                (
                    cross_entropy(logits.clone(), labels, &CrossEntropy::default()),
                    logits.without_autodiff(),
                )
            },
            &module_params(model),
        );
        StepOutput {
            loss,
            logits,
            grads,
        }
    }

    fn logits(&self, images: Tensor<4>) -> Tensor<2> {
        self.0.logits(images, Mode::Eval)
    }
}
