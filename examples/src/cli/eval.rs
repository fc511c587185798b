//! `duet eval` and `duet predict`: a checkpoint with either API.

use super::args::{Api, EvalArgs, PredictArgs};
use super::{data, models, CliError};
use crate::models::ModelKind;
use crate::run_info::RunInfo;
use duet_core::checkpoint::{self, CheckpointFile};
use duet_core::{Key, Params};
use duet_datasets::{Loader, LoaderConfig, Transform};
use duet_train::{evaluate, Classification, ImageClassifier};
use std::collections::BTreeMap;
use std::path::Path;

/// A model rebuilt from a checkpoint's metadata and loaded with its params and state.
pub struct Loaded {
    /// The model.
    pub model: Box<ImageClassifier<'static>>,
    /// `[C, H, W]` it expects.
    pub input: [usize; 3],
    /// Its number of outputs (`duet.classes`).
    pub classes: usize,
    /// The normalization it was trained with (per-channel mean and std), if the checkpoint
    /// records one (`duet.norm_mean`, `duet.norm_std`; validated: finite, std above 0, one per
    /// channel).
    pub norm: Option<(Vec<f32>, Vec<f32>)>,
    /// The checkpoint's metadata.
    pub meta: BTreeMap<String, String>,
}

fn bad(path: &Path, what: String) -> CliError {
    CliError::Other(format!("{}: {what}", path.display()))
}

/// The model, input shape and classes a checkpoint's metadata declares
/// ([`RunInfo::model_of`]), checked against its tensors before anything is allocated
/// ([`models::key_shapes`]).
fn described_model(
    path: &Path,
    ck: &CheckpointFile,
) -> Result<(ModelKind, [usize; 3], usize), CliError> {
    let meta = ck.metadata();
    let (kind, input, classes) = RunInfo::model_of(meta).map_err(|e| bad(path, e.to_string()))?;
    // Present: `model_of` read them.
    let (raw_input, raw_classes) = (&meta["duet.input"], &meta["duet.classes"]);
    let shapes = models::key_shapes(kind, input, classes)
        .map_err(|e| bad(path, format!("metadata `duet.input` = `{raw_input}`: {e}")))?;
    let what =
        || format!("metadata `duet.input` = `{raw_input}`, `duet.classes` = `{raw_classes}`");
    for (name, want) in shapes {
        let found = ck.shape("params", name)?;
        if found != want {
            return Err(bad(
                path,
                format!(
                    "{} does not fit tensor `params/{name}` of shape {found:?} (a {kind:?} for that input has {want:?})",
                    what()
                ),
            ));
        }
    }
    Ok((kind, input, classes))
}

/// Opens `path`, checks its metadata against its tensors, rebuilds the model it describes with
/// `api`, and loads its weights.
///
/// # Errors
/// A file that is not a duet training checkpoint, metadata that does not fit its tensors or does
/// not parse (bad `duet.input`, `duet.classes`, `duet.norm_mean`, `duet.norm_std`, and
/// `duet.dataset` or `duet.seed` when present: [`RunInfo::from_metadata`]), weights that do not
/// fit or are not finite (naming the file and the key or tensor).
pub fn load(
    path: &Path,
    api: Api,
    device: &duet_core::burn::tensor::Device,
) -> Result<Loaded, CliError> {
    let ck = CheckpointFile::open(path)?;
    let (kind, input, classes) = described_model(path, &ck)?;
    let info = RunInfo::from_metadata(ck.metadata()).map_err(|e| bad(path, e.to_string()))?;
    let norm = info.norm;
    let mut model = models::build(kind, api, input, classes, Key::new(0), device)?;
    let params = ck.load_like("params", &model.params(), &Default::default(), device)?;
    if let Some((p, n)) = params.iter().find_map(|(p, t)| {
        let n = t.to_vec().iter().filter(|v| !v.is_finite()).count();
        (n > 0).then_some((p, n))
    }) {
        return Err(bad(
            path,
            format!("tensor `params/{p}` has {n} NaN or infinite values"),
        ));
    }
    model.load_params(&params)?;
    if ck.tree_names().contains(&"state") {
        model.load_state(&ck.load_like("state", &model.state(), &Default::default(), device)?)?;
    }
    Ok(Loaded {
        model,
        input,
        classes,
        norm,
        meta: ck.metadata().clone(),
    })
}

/// `duet eval`: test-split accuracy and loss.
///
/// # Errors
/// As [`load`]; a checkpoint without its normalization; an empty test split; a dataset with
/// more classes than the model has outputs, or other channels than the checkpoint's.
pub fn run_eval(args: &EvalArgs) -> Result<(), CliError> {
    let device = duet_core::device(&args.device)?;
    let l = load(&args.checkpoint, args.api, &device)?;
    let Some(norm) = l.norm.clone() else {
        return Err(bad(
            &args.checkpoint,
            "no `duet.norm_mean` / `duet.norm_std` metadata: the input normalization the model \
             was trained with is unknown (for an import-torch checkpoint, import it again with \
             --norm-mean and --norm-std)"
                .into(),
        ));
    };
    let splits = data::load(&args.data)?;
    let kind = args.data.dataset;
    let dataset = match &args.data.data_dir {
        Some(d) => format!("--dataset {kind} ({})", d.display()),
        None => format!("--dataset {kind}"),
    };
    if splits.test.is_empty() {
        return Err(CliError::Other(format!(
            "{dataset}: the test split has no images, nothing to evaluate"
        )));
    }
    if splits.test.num_classes() > l.classes {
        return Err(CliError::Other(format!(
            "{dataset}: {} classes, the checkpoint {} has {} outputs",
            splits.test.num_classes(),
            args.checkpoint.display(),
            l.classes
        )));
    }
    let (h, w) = (l.input[1], l.input[2]);
    let resize = ((splits.test.height, splits.test.width) != (h, w)).then_some((h, w));
    if splits.test.channels != l.input[0] {
        return Err(CliError::Other(format!(
            "{dataset}: the test images have {} channels, the checkpoint {} expects {}",
            splits.test.channels,
            args.checkpoint.display(),
            l.input[0]
        )));
    }
    let t = Transform {
        resize,
        normalize: Some(norm),
        ..Default::default()
    };
    let loader = Loader::new(
        splits.test,
        LoaderConfig {
            batch_size: args.batch_size,
            shuffle: false,
            transform: t,
            ..Default::default()
        },
        Key::new(0),
        device,
    );
    let m = evaluate(&Classification::default(), l.model.as_ref(), &loader)
        .map_err(|e| CliError::Other(format!("{:?} test split: {e}", args.data.dataset)))?;
    let (loss, acc) = (m["loss"], m["accuracy"]);
    println!("{{\"checkpoint\": \"{}\", \"api\": \"{:?}\", \"images\": {}, \"accuracy\": {acc:.6}, \"loss\": {loss:.6}}}", args.checkpoint.display(), args.api, loader.data().len());
    Ok(())
}

/// `duet predict`: logits for tensor `x` of a safetensors file. Non-finite input values are
/// reported on stderr (their samples' logits are NaN).
///
/// # Errors
/// As [`load`]; an input file without a float32 tensor `x` of shape `[N, C, H, W]` (N >= 1)
/// matching the checkpoint's `duet.input`.
pub fn run_predict(args: &PredictArgs) -> Result<(), CliError> {
    let device = duet_core::device(&args.device)?;
    let l = load(&args.checkpoint, args.api, &device)?;
    let input = CheckpointFile::open(&args.input)?;
    let shape = input.shape("", "x")?;
    let [c, h, w] = l.input;
    if shape.len() != 4 || shape[1..] != l.input || shape[0] == 0 {
        return Err(bad(
            &args.input,
            format!(
                "tensor `x` has shape {shape:?}, the checkpoint {} expects [N, {c}, {h}, {w}] with N >= 1",
                args.checkpoint.display()
            ),
        ));
    }
    let x = input.tensor("", "x", &device)?;
    let bad_values = x.to_vec().iter().filter(|v| !v.is_finite()).count();
    if bad_values > 0 {
        eprintln!(
            "warning: {}: {bad_values} of {} values of tensor `x` are NaN or infinite; the logits of their samples will be NaN",
            args.input.display(),
            shape.iter().product::<usize>()
        );
    }
    let x = x.into_rank::<4>();
    let logits = l.model.forward(x);
    checkpoint::save(
        &args.output,
        &[("", &Params::new().with("logits", logits))],
        &BTreeMap::new(),
    )?;
    println!("wrote {}", args.output.display());
    Ok(())
}
