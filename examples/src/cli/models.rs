//! Building a model of either API by name, and the optimizers of the command line.

use super::args::{Api, OptimizerKind};
use super::recipe::Recipe;
use super::CliError;
use crate::functional_models;
use crate::models::ModelKind;
use crate::run_info::{check_classes, check_input};
use duet_core::burn::tensor::{Device, Int, Tensor};
use duet_core::Key;
use duet_functional::LayerExt;
use duet_optim::Optimizer;
use duet_train::{Classification, DataParallel, FunctionalModel, ImageClassifier, Model, Task};

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
) -> Result<Box<ImageClassifier<'static>>, CliError> {
    if kind == ModelKind::Gpt {
        return Err(crate::models::ModelError::NotImages { model: kind }.into());
    }
    if kind == ModelKind::Vae {
        return Err(crate::models::ModelError::NotClassifier { model: kind }.into());
    }
    match api {
        Api::Functional => {
            let layer: Box<dyn duet_functional::Layer> =
                Box::new(functional_models::of_kind(kind, classes));
            let (params, state) = layer.init_model(&[1, chw[0], chw[1], chw[2]], key, device)?;
            Ok(Box::new(FunctionalModel {
                model: layer,
                params,
                state,
            }))
        }
        Api::Module => {
            crate::module_models::build(kind, chw, classes, key, device).map_err(CliError::from)
        }
        Api::Burn => Err(CliError::Other(
            "--api burn is only for `duet bench`".into(),
        )),
    }
}

/// The GPT of `cfg` in `api`, initialized from `key` (the module API seeds its [`Rngs`] with the
/// key's first word): what `duet train --model gpt`, `duet generate` and `duet bench` run.
///
/// # Errors
/// `--api burn`, which has no GPT; a functional build error.
///
/// [`Rngs`]: duet_module::Rngs
pub fn build_gpt(
    api: Api,
    cfg: crate::gpt::GptConfig,
    key: Key,
    device: &Device,
) -> Result<Box<dyn Model<Tensor<2, Int>, Tensor<3>>>, CliError> {
    Ok(match api {
        Api::Functional => {
            let layer = crate::gpt::gpt(cfg);
            let (params, state) = layer.init_model(&[1, cfg.block_size], key, device)?;
            Box::new(FunctionalModel {
                model: Box::new(layer),
                params,
                state,
            })
        }
        Api::Module => {
            let mut rngs = duet_module::Rngs::new(key.to_raw()[0]);
            Box::new(duet_train::ModuleModel(crate::gpt::Gpt::new(
                cfg, &mut rngs, device,
            )))
        }
        Api::Burn => {
            return Err(CliError::Other(
                "--api burn is only for `duet bench`".into(),
            ))
        }
    })
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
) -> Result<Box<ImageClassifier<'static>>, CliError> {
    let mut replicas = devices
        .iter()
        .map(|d| build(kind, api, chw, classes, key, d))
        .collect::<Result<Vec<_>, _>>()?;
    if replicas.len() == 1 {
        return Ok(replicas.pop().expect("one replica"));
    }
    let mut built = replicas.into_iter();
    let dp = DataParallel::new(devices, |_| built.next().expect("one replica per device"))?;
    Ok(Box::new(dp))
}

/// The optimizer for a flag at a constant learning rate, with PyTorch's defaults (RMSProp
/// alpha 0.9 as the benchmarks, SGD momentum 0.9, AdamW decay 1e-2): [`Recipe::constant`].
pub fn optimizer(kind: OptimizerKind, lr: f64) -> Optimizer {
    Recipe::constant(kind, lr).optimizer()
}

/// One training step; returns the loss (read from the device, so the step has finished).
pub fn train_step(
    model: &mut ImageClassifier<'_>,
    opt: &mut Optimizer,
    x: Tensor<4>,
    y: Tensor<1, Int>,
    key: Key,
) -> f32 {
    let task = Classification::default();
    let out = model.loss_and_grad(x, key, &|logits, rows| task.loss(logits, &y, rows));
    opt.update(model, out.grads)
        .expect("gradients match the model");
    out.loss.into_scalar::<f32>()
}

/// The shapes (duet layout) that the key parameters of a `kind` model for `[C, H, W]` inputs and
/// `classes` outputs have: the first layer's weight, the first dense weight (which depends on
/// `H` and `W`), the last layer's weight and bias. Comparing them with a file's tensors checks a
/// checkpoint's metadata *before* a model is built from it (a huge `duet.input` or
/// `duet.classes` would otherwise allocate without bound).
///
/// # Errors
/// Sizes out of bounds, or an input too small for the architecture, as a phrase.
pub fn key_shapes(
    kind: ModelKind,
    chw: [usize; 3],
    classes: usize,
) -> Result<Vec<(&'static str, Vec<usize>)>, String> {
    check_input(chw)?;
    check_classes(classes)?;
    let [c, h, w] = chw;
    let too_small =
        |min: usize| format!("input {chw:?} is too small for {kind:?} (at least {min}x{min})");
    Ok(match kind {
        ModelKind::Lenet => {
            // conv 5x5 (valid), pool 2, conv 5x5, pool 2.
            let side = |s: usize| (s.saturating_sub(4) / 2).saturating_sub(4) / 2;
            let (sh, sw) = (side(h), side(w));
            if sh == 0 || sw == 0 {
                return Err(too_small(16));
            }
            vec![
                ("conv1.weight", vec![6, c, 5, 5]),
                ("fc1.weight", vec![16 * sh * sw, 120]),
                ("fc3.weight", vec![84, classes]),
                ("fc3.bias", vec![classes]),
            ]
        }
        ModelKind::Alexnet => {
            // Three 2x2 pools; the 3x3 convolutions (padding 1) keep the size.
            let (sh, sw) = (h / 8, w / 8);
            if sh == 0 || sw == 0 {
                return Err(too_small(8));
            }
            vec![
                ("features.0.weight", vec![64, c, 3, 3]),
                ("classifier.1.weight", vec![256 * sh * sw, 1024]),
                ("classifier.6.weight", vec![1024, classes]),
                ("classifier.6.bias", vec![classes]),
            ]
        }
        ModelKind::Mlp => vec![
            ("fc1.weight", vec![c * h * w, 512]),
            ("fc3.weight", vec![512, classes]),
            ("fc3.bias", vec![classes]),
        ],
        ModelKind::Vae => {
            return Err(crate::models::ModelError::NotClassifier { model: kind }.to_string())
        }
        ModelKind::Gpt => {
            return Err(crate::models::ModelError::NotImages { model: kind }.to_string())
        }
        ModelKind::Resnet20 | ModelKind::Resnet18 => {
            let spec = kind.resnet().expect("a ResNet");
            // Every stage after the first halves the map.
            let side = 1usize << (spec.stages.len() - 1);
            if h == 0 || w == 0 || !h.is_multiple_of(side) || !w.is_multiple_of(side) {
                return Err(format!(
                    "input {chw:?} does not fit {kind} (height and width divisible by {side})"
                ));
            }
            let last = *spec.stages.last().expect("a stage");
            let (w_name, b_name) = match spec.head {
                "linear" => ("linear.weight", "linear.bias"),
                _ => ("fc.weight", "fc.bias"),
            };
            vec![
                ("conv1.weight", vec![spec.stages[0], c, 3, 3]),
                (w_name, vec![last, classes]),
                (b_name, vec![classes]),
            ]
        }
    })
}
