//! Building a model of either API by name, and the optimizers of the command line.

use super::args::{Api, ModelKind, OptimizerKind};
use super::CliError;
use crate::functional_models;
use duet_core::burn::tensor::{Device, Int, Tensor};
use duet_core::Key;
use duet_functional::LayerExt;
use duet_optim::{adam, adamw, rmsprop, sgd, Adam, Optimizer, RmsProp, Sgd};
use duet_train::{Classifier, FunctionalClassifier};

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
) -> Result<Box<dyn Classifier>, CliError> {
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
