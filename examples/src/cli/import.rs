//! `duet import-torch`: a PyTorch state dict (safetensors, PyTorch names and layouts) to a duet
//! checkpoint. This is the one adapter between PyTorch's and duet's layouts: dense weights are
//! `[out, in]` in PyTorch and `[in, out]` in duet; everything else is the same.

use super::args::{Api, ImportArgs, ModelKind};
use super::{models, CliError};
use duet_core::checkpoint::{self, CheckpointFile};
use duet_core::{DynTensor, Key, Params};
use std::collections::BTreeMap;

/// Converts a PyTorch state dict into params with duet's layouts, checking names and shapes
/// against `template` (the duet model's params).
///
/// # Errors
/// A tensor the model lacks, a missing tensor or a shape mismatch, by name.
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
        let t = if t.rank() == 2 {
            DynTensor::from(t.into_rank::<2>().transpose())
        } else {
            t
        };
        if t.dims() != want.dims() {
            return Err(CliError::Other(format!(
                "`{path}`: state dict gives {:?} (duet layout), the model expects {:?}",
                t.dims(),
                want.dims()
            )));
        }
        out.insert(path, t);
    }
    Ok(out)
}

/// Runs `duet import-torch`.
pub fn run(args: &ImportArgs) -> Result<(), CliError> {
    let device = duet_core::device(&args.device)?;
    let sd = CheckpointFile::open(&args.input)?.tree("", &device)?;
    let dim = |name: &str, i: usize| {
        sd.get_dyn(name).map(|t| t.dims()[i]).map_err(|_| {
            CliError::Other(format!(
                "{}: no `{name}` (is this a {:?} state dict?)",
                args.input.display(),
                args.model
            ))
        })
    };
    let (chw, classes) = match args.model {
        ModelKind::Lenet => ([dim("conv1.weight", 1)?, 32, 32], dim("fc3.bias", 0)?),
        ModelKind::Alexnet => (
            [dim("features.0.weight", 1)?, 32, 32],
            dim("classifier.6.bias", 0)?,
        ),
        ModelKind::Mlp => {
            let n = dim("fc1.weight", 1)?;
            let side = (n as f64).sqrt() as usize;
            (
                if side * side == n {
                    [1, side, side]
                } else {
                    [1, 1, n]
                },
                dim("fc3.bias", 0)?,
            )
        }
    };
    let model = models::build(
        args.model,
        Api::Functional,
        chw,
        classes,
        Key::new(0),
        &device,
    )?;
    let params = from_torch(&sd, &model.params())?;
    let meta = BTreeMap::from([
        (
            "duet.model".to_string(),
            format!("{:?}", args.model).to_lowercase(),
        ),
        ("duet.api".to_string(), "functional".to_string()),
        (
            "duet.input".to_string(),
            chw.map(|v| v.to_string()).join(","),
        ),
        ("duet.classes".to_string(), classes.to_string()),
        (
            "duet.source".to_string(),
            format!("import-torch {}", args.input.display()),
        ),
    ]);
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
