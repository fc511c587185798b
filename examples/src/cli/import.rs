//! `duet import-torch`: a PyTorch state dict (safetensors, PyTorch names and layouts) to a duet
//! checkpoint. This is the one adapter between PyTorch's and duet's layouts: dense weights are
//! `[out, in]` in PyTorch and `[in, out]` in duet; everything else is the same.

use super::args::{Api, ImportArgs};
use super::{models, CliError};
use crate::models::ModelKind;
use crate::run_info::RunInfo;
use duet_core::checkpoint::{self, CheckpointFile};
use duet_core::{DynTensor, Key, Params};

/// Converts a PyTorch state dict into params with duet's layouts, checking names and shapes
/// against `template` (the duet model's params).
///
/// # Errors
/// A tensor the model lacks, a missing tensor or a shape mismatch, by name (shapes in PyTorch's
/// layout, as in the state dict).
pub fn from_torch(state_dict: &Params, template: &Params) -> Result<Params, CliError> {
    if let Some(extra) = state_dict
        .paths()
        .into_iter()
        .find(|p| !template.contains(p))
    {
        return Err(CliError::Other(format!(
            "state dict tensor `{extra}` has no place in the model"
        )));
    }
    let mut out = Params::new();
    for (path, want) in template.iter() {
        let t = state_dict
            .get_dyn(path)
            .map_err(|_| CliError::Other(format!("state dict has no `{path}`")))?
            .clone();
        let torch_shape = torch_layout(&want.dims());
        if t.dims() != torch_shape {
            return Err(CliError::Other(format!(
                "state dict tensor `{path}` has shape {:?} (rank {}), the model expects {torch_shape:?} (rank {})",
                t.dims(),
                t.rank(),
                torch_shape.len()
            )));
        }
        let t = if t.rank() == 2 {
            DynTensor::from(t.into_rank::<2>().transpose())
        } else {
            t
        };
        out.insert(path, t);
    }
    Ok(out)
}

/// A duet shape in PyTorch's layout: dense weights `[in, out]` become `[out, in]`.
fn torch_layout(duet: &[usize]) -> Vec<usize> {
    match duet {
        [i, o] => vec![*o, *i],
        other => other.to_vec(),
    }
}

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
    let sd = CheckpointFile::open(&args.input)?.tree("", &device)?;
    let dim = |name: &str, rank: usize, i: usize| dim(args, &sd, name, rank, i);
    let (chw, classes) = match args.model {
        ModelKind::Lenet => ([dim("conv1.weight", 4, 1)?, 32, 32], dim("fc3.bias", 1, 0)?),
        ModelKind::Alexnet => (
            [dim("features.0.weight", 4, 1)?, 32, 32],
            dim("classifier.6.bias", 1, 0)?,
        ),
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
    let params = from_torch(&sd, &model.params())
        .map_err(|e| CliError::Other(format!("{}: {e}", args.input.display())))?;
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
        &[("params", &params), ("state", &model.state())],
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
