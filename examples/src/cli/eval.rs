//! `duet eval` and `duet predict`: a checkpoint with either API.

use super::args::{finite_list, Api, EvalArgs, ModelKind, PredictArgs};
use super::{data, models, CliError};
use clap::ValueEnum;
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

/// Metadata `key` of a checkpoint, or an error naming the file and the key.
fn meta_value<'a>(
    path: &Path,
    meta: &'a BTreeMap<String, String>,
    key: &str,
) -> Result<&'a str, CliError> {
    meta.get(key).map(String::as_str).ok_or_else(|| {
        bad(
            path,
            format!("not a duet training checkpoint (no `{key}` metadata)"),
        )
    })
}

/// The model, input shape and classes a checkpoint's metadata declares, checked against its
/// tensors before anything is allocated ([`models::key_shapes`]).
fn described_model(
    path: &Path,
    ck: &CheckpointFile,
) -> Result<(ModelKind, [usize; 3], usize), CliError> {
    let meta = ck.metadata();
    let kind = match meta_value(path, meta, "duet.model")? {
        "lenet" => ModelKind::Lenet,
        "alexnet" => ModelKind::Alexnet,
        "mlp" => ModelKind::Mlp,
        m => return Err(bad(path, format!("unknown model `{m}` in `duet.model`"))),
    };
    let raw_input = meta_value(path, meta, "duet.input")?;
    let input: [usize; 3] = raw_input
        .split(',')
        .map(|v| v.trim().parse::<usize>())
        .collect::<Result<Vec<_>, _>>()
        .ok()
        .and_then(|v| v.try_into().ok())
        .ok_or_else(|| {
            bad(
                path,
                format!("metadata `duet.input` = `{raw_input}` is not C,H,W (three whole numbers)"),
            )
        })?;
    let raw_classes = meta_value(path, meta, "duet.classes")?;
    let classes: usize = raw_classes.trim().parse().map_err(|_| {
        bad(
            path,
            format!("metadata `duet.classes` = `{raw_classes}` is not a whole number"),
        )
    })?;
    let on_input = |e: String| bad(path, format!("metadata `duet.input` = `{raw_input}`: {e}"));
    models::check_input(input).map_err(on_input)?;
    models::check_classes(classes).map_err(|e| {
        bad(
            path,
            format!("metadata `duet.classes` = `{raw_classes}`: {e}"),
        )
    })?;
    let shapes = models::key_shapes(kind, input, classes).map_err(on_input)?;
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

/// `duet.norm_mean` and `duet.norm_std`: both absent (`None`), or both lists of `channels` finite
/// numbers with every std above 0.
fn normalization(
    path: &Path,
    meta: &BTreeMap<String, String>,
    channels: usize,
) -> Result<Option<(Vec<f32>, Vec<f32>)>, CliError> {
    let (mean, std) = match (meta.get("duet.norm_mean"), meta.get("duet.norm_std")) {
        (None, None) => return Ok(None),
        (Some(m), Some(s)) => (m, s),
        (None, Some(_)) => {
            return Err(bad(
                path,
                "`duet.norm_std` without `duet.norm_mean` metadata".into(),
            ))
        }
        (Some(_), None) => {
            return Err(bad(
                path,
                "`duet.norm_mean` without `duet.norm_std` metadata".into(),
            ))
        }
    };
    let parse = |key: &str, raw: &str| -> Result<Vec<f32>, CliError> {
        let v = finite_list(raw)
            .map_err(|e| bad(path, format!("metadata `{key}`: {e}")))?
            .0;
        if v.len() != channels {
            return Err(bad(
                path,
                format!(
                    "metadata `{key}` = `{raw}` has {} values, the model has {channels} input channels",
                    v.len()
                ),
            ));
        }
        Ok(v)
    };
    let (mean, std) = (parse("duet.norm_mean", mean)?, parse("duet.norm_std", std)?);
    if let Some(s) = std.iter().find(|s| **s <= 0.0) {
        return Err(bad(
            path,
            format!("metadata `duet.norm_std` has {s}: every std must be above 0"),
        ));
    }
    Ok(Some((mean, std)))
}

/// Opens `path`, checks its metadata against its tensors, rebuilds the model it describes with
/// `api`, and loads its weights.
///
/// # Errors
/// A file that is not a duet training checkpoint, metadata that does not fit its tensors (bad
/// `duet.input`, `duet.classes`, `duet.norm_mean`, `duet.norm_std`), weights that do not fit or
/// are not finite (naming the file and the key or tensor).
pub fn load(
    path: &Path,
    api: Api,
    device: &duet_core::burn::tensor::Device,
) -> Result<Loaded, CliError> {
    let ck = CheckpointFile::open(path)?;
    let (kind, input, classes) = described_model(path, &ck)?;
    let norm = normalization(path, ck.metadata(), input[0])?;
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
    let kind = args
        .data
        .dataset
        .to_possible_value()
        .map(|v| v.get_name().to_string())
        .unwrap_or_default();
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
