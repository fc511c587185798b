//! [`ModuleModel`]: any burn module with a forward function, as a [`Model`].

use crate::model::{LossFn, Model, Stateful, StepOutput};
use duet_core::burn::module::Module;
use duet_core::{
    load_module_params, load_module_state, module_params, module_state, value_and_grad_with_aux,
    Key, Mode, Parameterized, Params, TreeError,
};

/// A module's forward pass from `I` to `O` (`mode` chooses training or evaluation behaviour
/// and carries the dropout key).
pub trait Forward<I, O>: Module {
    /// The output for `x`.
    fn forward(&self, x: I, mode: Mode) -> O;
}

/// Wraps a [`Forward`] module for the training loop: gradients with respect to its fields, state
/// (`running_*`) updated by the training forward pass.
#[derive(Clone, Debug)]
pub struct ModuleModel<M>(pub M);

impl<M: Module> Parameterized for ModuleModel<M> {
    fn params(&self) -> Params {
        module_params(&self.0)
    }
    fn load_params(&mut self, params: &Params) -> Result<(), TreeError> {
        self.0.load_params(params)
    }
    fn apply_updates(&mut self, updates: Params) -> Result<(), TreeError> {
        self.0.apply_updates(updates)
    }
}

impl<M: Module + Send> Stateful for ModuleModel<M> {
    fn state(&self) -> Params {
        module_state(&self.0)
    }
    fn load_state(&mut self, state: &Params) -> Result<(), TreeError> {
        self.0 = load_module_state(self.0.clone(), state)?;
        Ok(())
    }
}

impl<I, O, M: Forward<I, O> + Send> Model<I, O> for ModuleModel<M> {
    fn loss_and_grad(&mut self, x: I, key: Key, loss: &LossFn<'_, O>) -> StepOutput {
        let model = &self.0;
        let (loss, metrics, grads) = value_and_grad_with_aux(
            |p| {
                let m = load_module_params(model.clone(), p).expect("the module's own paths");
                let scored = loss(m.forward(x, Mode::Train(key)), None);
                let device = scored.loss.device().without_autodiff();
                (scored.loss, scored.sums.detached(&device))
            },
            &module_params(model),
        );
        StepOutput {
            loss,
            metrics,
            grads,
        }
    }

    fn forward(&self, x: I) -> O {
        self.0.forward(x, Mode::Eval)
    }
}
