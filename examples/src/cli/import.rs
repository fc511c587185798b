//! `duet import-torch`: a PyTorch state dict (safetensors, PyTorch names and layouts) to a duet
//! checkpoint, through the one layout adapter (`duet_core::checkpoint::torch`, keyed by each
//! layer's kind and param name: dense weights are `[out, in]` in PyTorch and `[in, out]` in duet).

use super::args::{Api, ImportArgs};
use super::{models, CliError};
use crate::models::ModelKind;
use crate::run_info::RunInfo;
use duet_core::checkpoint::{self, torch, CheckpointFile};
use duet_core::{Key, Params};

/// Dimension `i` of a rank-`rank` state-dict tensor, at least 1; or an error naming the file,
/// the tensor, its shape and the rank expected.
fn dim(
    args: &ImportArgs,
    sd: &Params,
    name: &str,
    rank: usize,
    i: usize,
) -> Result<usize, CliError> {
    let file = args.input.display();
    let t = sd.get_dyn(name).map_err(|_| {
        CliError::Other(format!(
            "{file}: no `{name}` (is this a {:?} state dict?)",
            args.model
        ))
    })?;
    let dims = t.dims();
    match dims.get(i) {
        Some(&d) if dims.len() == rank && d >= 1 => Ok(d),
        _ => Err(CliError::Other(format!(
            "{file}: tensor `{name}` has shape {dims:?}, a {:?} state dict has a rank-{rank} `{name}` with no empty dimension",
            args.model
        ))),
    }
}

/// Runs `duet import-torch`.
///
/// # Errors
/// A state dict that is not one of `--model` (naming the file and the tensor, with its shape),
/// or a --norm-mean/--norm-std that does not fit the model's input channels.
pub fn run(args: &ImportArgs) -> Result<(), CliError> {
    let device = duet_core::device(&args.device)?;
    let file = CheckpointFile::open(&args.input)?;
    let sd: Params = file
        .paths("")?
        .into_iter()
        .filter(|p| !p.ends_with(".num_batches_tracked"))
        .map(|p| Ok((p.to_string(), file.tensor("", p, &device)?)))
        .collect::<Result<_, CliError>>()?;
    let dim = |name: &str, rank: usize, i: usize| dim(args, &sd, name, rank, i);
    let (chw, classes) = match args.model {
        ModelKind::Lenet => ([dim("conv1.weight", 4, 1)?, 32, 32], dim("fc3.bias", 1, 0)?),
        ModelKind::Alexnet => (
            [dim("features.0.weight", 4, 1)?, 32, 32],
            dim("classifier.6.bias", 1, 0)?,
        ),
        ModelKind::Gpt => {
            return Err(crate::models::ModelError::NotImages { model: args.model }.into())
        }
        ModelKind::Vae => {
            return Err(crate::models::ModelError::NotClassifier { model: args.model }.into())
        }
        ModelKind::Resnet20 => (
            [dim("conv1.weight", 4, 1)?, 32, 32],
            dim("linear.bias", 1, 0)?,
        ),
        ModelKind::Resnet18 => ([dim("conv1.weight", 4, 1)?, 32, 32], dim("fc.bias", 1, 0)?),
        ModelKind::Mlp => {
            let n = dim("fc1.weight", 2, 1)?;
            let side = (n as f64).sqrt() as usize;
            (
                if side * side == n {
                    [1, side, side]
                } else {
                    [1, 1, n]
                },
                dim("fc3.bias", 1, 0)?,
            )
        }
    };
    let norm = match (&args.norm_mean, &args.norm_std) {
        (Some(m), Some(s)) => {
            if m.0.len() != chw[0] || s.0.len() != chw[0] {
                return Err(CliError::Other(format!(
                    "--norm-mean and --norm-std need one value per input channel ({} for this state dict), got {} and {}",
                    chw[0],
                    m.0.len(),
                    s.0.len()
                )));
            }
            if let Some(v) = s.0.iter().find(|v| **v <= 0.0) {
                return Err(CliError::Other(format!(
                    "--norm-std {v}: every std must be above 0"
                )));
            }
            Some((m.0.clone(), s.0.clone()))
        }
        _ => None,
    };
    let model = models::build(
        args.model,
        Api::Functional,
        chw,
        classes,
        Key::new(0),
        &device,
    )?;
    let kinds = crate::functional_models::torch_kinds(args.model, chw, classes);
    // Batch-norm running statistics go to the state tree, everything else to the params (where
    // an unexpected tensor is an error); PyTorch's `num_batches_tracked` counters were skipped.
    let state_template = model.state();
    let is_state = |p: &str| state_template.contains(p);
    let bad = |e: torch::TorchError| CliError::Other(format!("{}: {e}", args.input.display()));
    let params =
        torch::from_torch(&sd.filter(|p| !is_state(p)), &model.params(), &kinds).map_err(bad)?;
    let state = torch::from_torch(&sd.filter(is_state), &state_template, &kinds).map_err(bad)?;
    let meta = RunInfo {
        model: args.model,
        api: Some("functional".into()),
        dataset: None,
        input: chw,
        classes,
        norm,
        seed: None,
        optimizer: None,
        source: Some(format!("import-torch {}", args.input.display())),
    }
    .to_metadata();
    checkpoint::save(
        &args.output,
        &[("params", &params), ("state", &state)],
        &meta,
    )?;
    println!(
        "wrote {} ({} tensors, {} parameters)",
        args.output.display(),
        params.len(),
        params.num_params()
    );
    Ok(())
}
