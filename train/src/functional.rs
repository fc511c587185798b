//! [`FunctionalModel`]: a duet-functional model with its params and state, as a [`Model`].

use crate::model::{LossFn, Model, Stateful, StepOutput};
use duet_core::burn::tensor::{Int, Tensor};
use duet_core::{value_and_grad_with_aux, DynTensor, Key, Parameterized, Params, TreeError};
use duet_functional::{Layer, Mode};

/// A model input as the functional stack's inputs. Integer tensors (token ids) enter as
/// floats, the functional stack's convention for embedding ids.
pub trait IntoInputs {
    /// The inputs, in order.
    fn into_inputs(self) -> Vec<DynTensor>;
}

/// A model output built from the functional stack's outputs.
pub trait FromOutputs: Sized {
    /// From the outputs, in order.
    ///
    /// # Panics
    /// When the number of outputs or their ranks do not fit (a model/task mismatch).
    fn from_outputs(ys: Vec<DynTensor>) -> Self;
}

impl<const D: usize> IntoInputs for Tensor<D> {
    fn into_inputs(self) -> Vec<DynTensor> {
        vec![self.into()]
    }
}

impl<const D: usize> IntoInputs for Tensor<D, Int> {
    fn into_inputs(self) -> Vec<DynTensor> {
        vec![self.float().into()]
    }
}

impl<A: IntoInputs, B: IntoInputs> IntoInputs for (A, B) {
    fn into_inputs(self) -> Vec<DynTensor> {
        let mut v = self.0.into_inputs();
        v.extend(self.1.into_inputs());
        v
    }
}

fn one(ys: Vec<DynTensor>) -> DynTensor {
    let n = ys.len();
    let mut ys = ys.into_iter();
    match (ys.next(), ys.next()) {
        (Some(y), None) => y,
        _ => panic!("the model has {n} outputs where the task expects one"),
    }
}

impl FromOutputs for DynTensor {
    fn from_outputs(ys: Vec<DynTensor>) -> Self {
        one(ys)
    }
}

impl<const D: usize> FromOutputs for Tensor<D> {
    fn from_outputs(ys: Vec<DynTensor>) -> Self {
        one(ys).into_rank()
    }
}

impl<A: FromOutputs, B: FromOutputs> FromOutputs for (A, B) {
    /// The first output to `A`, the others to `B`.
    fn from_outputs(mut ys: Vec<DynTensor>) -> Self {
        let rest = ys.split_off(1.min(ys.len()));
        (A::from_outputs(ys), B::from_outputs(rest))
    }
}

/// A functional model (a [`Layer`]) with its params and state.
pub struct FunctionalModel {
    /// The architecture.
    pub model: Box<dyn Layer>,
    /// Trainable params.
    pub params: Params,
    /// Non-trainable state.
    pub state: Params,
}

impl Parameterized for FunctionalModel {
    fn params(&self) -> Params {
        self.params.clone()
    }
    fn load_params(&mut self, params: &Params) -> Result<(), TreeError> {
        self.params.load_params(params)
    }
    fn apply_updates(&mut self, updates: Params) -> Result<(), TreeError> {
        self.params.apply_updates(updates)
    }
}

impl Stateful for FunctionalModel {
    fn state(&self) -> Params {
        self.state.clone()
    }
    fn load_state(&mut self, state: &Params) -> Result<(), TreeError> {
        self.state.load_params(state)
    }
}

impl<I: IntoInputs, O: FromOutputs> Model<I, O> for FunctionalModel {
    fn loss_and_grad(&mut self, x: I, key: Key, loss: &LossFn<'_, O>) -> StepOutput {
        let (model, state) = (&self.model, &self.state);
        let inputs = x.into_inputs();
        let device = inputs.first().map(DynTensor::device);
        let (loss, (metrics, new_state), grads) = value_and_grad_with_aux(
            |p| {
                let (ys, s) = model.forward(p, state, inputs, Mode::Train(key));
                let scored = loss(O::from_outputs(ys), None);
                let device = device.unwrap_or_else(|| scored.loss.device().without_autodiff());
                (scored.loss, (scored.sums.detached(&device), s))
            },
            &self.params,
        );
        self.state = new_state.without_autodiff();
        StepOutput {
            loss,
            metrics,
            grads,
        }
    }

    fn forward(&self, x: I) -> O {
        let (ys, _) = self
            .model
            .forward(&self.params, &self.state, x.into_inputs(), Mode::Eval);
        O::from_outputs(ys)
    }
}
