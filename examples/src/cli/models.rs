//! Building a model of either API by name, and the optimizers of the command line.

use super::args::{Api, ModelKind, OptimizerKind};
use super::CliError;
use crate::functional_models;
use duet_core::burn::tensor::{Device, Int, Tensor};
use duet_core::{Key, Parameterized, Params, TreeError};
use duet_functional::LayerExt;
use duet_optim::{adam, adamw, rmsprop, sgd, Adam, Optimizer, RmsProp, Sgd};
use duet_train::{Classifier, DataParallel, FunctionalClassifier, StepOutput};

/// A model of `kind` for `[C, H, W]` inputs and `classes` outputs, initialized from `key`.
///
/// # Errors
/// A shape that does not fit the model (e.g. LeNet needs 32x32), or an API without this model.
pub fn build(
    kind: ModelKind,
    api: Api,
    chw: [usize; 3],
    classes: usize,
    key: Key,
    device: &Device,
) -> Result<Box<dyn Classifier + Send>, CliError> {
    match api {
        Api::Functional => {
            let layer: Box<dyn duet_functional::Layer> = Box::new(match kind {
                ModelKind::Lenet => functional_models::lenet(classes),
                ModelKind::Alexnet => functional_models::alexnet(classes),
                ModelKind::Mlp => functional_models::mlp(classes),
            });
            let (params, state) = layer.init_model(&[1, chw[0], chw[1], chw[2]], key, device)?;
            Ok(Box::new(FunctionalClassifier {
                model: layer,
                params,
                state,
            }))
        }
        Api::Module => crate::module_models::build(kind, chw, classes, key, device),
        Api::Burn => Err(CliError::Other(
            "--api burn is only for `duet bench`".into(),
        )),
    }
}

/// One model per device, trained data-parallel ([`DataParallel`]: each step's batch is split
/// across the devices, gradients averaged, one update broadcast); a single device gives the plain
/// model. Every replica starts from the first one's params.
///
/// # Errors
/// As [`build`].
pub fn build_on(
    kind: ModelKind,
    api: Api,
    chw: [usize; 3],
    classes: usize,
    key: Key,
    devices: &[Device],
) -> Result<Box<dyn Classifier + Send>, CliError> {
    let mut replicas = devices
        .iter()
        .map(|d| build(kind, api, chw, classes, key, d).map(Replica))
        .collect::<Result<Vec<_>, _>>()?;
    if replicas.len() == 1 {
        return Ok(replicas.pop().expect("one replica").0);
    }
    let mut built = replicas.into_iter();
    let dp = DataParallel::new(devices, |_| built.next().expect("one replica per device"))?;
    Ok(Box::new(dp))
}

/// A boxed model as a [`DataParallel`] replica.
struct Replica(Box<dyn Classifier + Send>);

impl Parameterized for Replica {
    fn params(&self) -> Params {
        self.0.params()
    }
    fn load_params(&mut self, params: &Params) -> Result<(), TreeError> {
        self.0.load_params(params)
    }
}

impl Classifier for Replica {
    fn state(&self) -> Params {
        self.0.state()
    }
    fn load_state(&mut self, state: &Params) -> Result<(), TreeError> {
        self.0.load_state(state)
    }
    fn loss_and_grad(&mut self, images: Tensor<4>, labels: Tensor<1, Int>, key: Key) -> StepOutput {
        self.0.loss_and_grad(images, labels, key)
    }
    fn logits(&self, images: Tensor<4>) -> Tensor<2> {
        self.0.logits(images)
    }
}

/// The optimizer for a flag, with PyTorch's defaults (RMSProp alpha 0.9 as the benchmarks).
pub fn optimizer(kind: OptimizerKind, lr: f64) -> Optimizer {
    match kind {
        OptimizerKind::Rmsprop => Optimizer::new(rmsprop(
            lr,
            RmsProp {
                alpha: 0.9,
                ..Default::default()
            },
        )),
        OptimizerKind::Adam => Optimizer::new(adam(lr, Adam::default())),
        OptimizerKind::Adamw => Optimizer::new(adamw(
            lr,
            Adam {
                weight_decay: 1e-2,
                ..Default::default()
            },
        )),
        OptimizerKind::Sgd => Optimizer::new(sgd(
            lr,
            Sgd {
                momentum: 0.9,
                ..Default::default()
            },
        )),
    }
}

/// One training step; returns the loss (read from the device, so the step has finished).
pub fn train_step(
    model: &mut dyn Classifier,
    opt: &mut Optimizer,
    x: Tensor<4>,
    y: Tensor<1, Int>,
    key: Key,
) -> f32 {
    let out = model.loss_and_grad(x, y, key);
    opt.update(model, out.grads)
        .expect("gradients match the model");
    out.loss.into_scalar::<f32>()
}
