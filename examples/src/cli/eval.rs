//! `duet eval` and `duet predict`: a checkpoint with either API.

use super::args::{Api, EvalArgs, ModelKind, PredictArgs};
use super::train::floats;
use super::{data, models, CliError};
use duet_core::checkpoint::{self, CheckpointFile};
use duet_core::{Key, Params};
use duet_datasets::{Loader, LoaderConfig, Transform};
use duet_train::{evaluate, Classifier};
use std::collections::BTreeMap;
use std::path::Path;

/// A model rebuilt from a checkpoint's metadata and loaded with its params and state.
pub struct Loaded {
    /// The model.
    pub model: Box<dyn Classifier>,
    /// `[C, H, W]` it expects.
    pub input: [usize; 3],
    /// The normalization it was trained with.
    pub norm: (Vec<f32>, Vec<f32>),
    /// The checkpoint's metadata.
    pub meta: BTreeMap<String, String>,
}

/// Opens `path`, rebuilds the model it describes with `api`, and loads its weights.
///
/// # Errors
/// A file that is not a duet training checkpoint, or weights that do not fit (naming the path).
pub fn load(
    path: &Path,
    api: Api,
    device: &duet_core::burn::tensor::Device,
) -> Result<Loaded, CliError> {
    let ck = CheckpointFile::open(path)?;
    let meta = ck.metadata().clone();
    let get = |k: &str| {
        meta.get(k).cloned().ok_or_else(|| {
            CliError::Other(format!(
                "{}: not a duet training checkpoint (no `{k}` metadata)",
                path.display()
            ))
        })
    };
    let kind = match get("duet.model")?.as_str() {
        "lenet" => ModelKind::Lenet,
        "alexnet" => ModelKind::Alexnet,
        "mlp" => ModelKind::Mlp,
        m => {
            return Err(CliError::Other(format!(
                "{}: unknown model `{m}`",
                path.display()
            )))
        }
    };
    let dims: Vec<usize> = get("duet.input")?
        .split(',')
        .filter_map(|v| v.parse().ok())
        .collect();
    let input: [usize; 3] = dims
        .try_into()
        .map_err(|_| CliError::Other(format!("{}: bad duet.input", path.display())))?;
    let classes: usize = get("duet.classes")?
        .parse()
        .map_err(|_| CliError::Other(format!("{}: bad duet.classes", path.display())))?;
    let mut model = models::build(kind, api, input, classes, Key::new(0), device)?;
    let params = ck.load_like("params", &model.params(), &Default::default(), device)?;
    model.load_params(&params)?;
    if ck.tree_names().contains(&"state") {
        model.load_state(&ck.load_like("state", &model.state(), &Default::default(), device)?)?;
    }
    let norm = (
        floats(&meta.get("duet.norm_mean").cloned().unwrap_or_default()),
        floats(&meta.get("duet.norm_std").cloned().unwrap_or_default()),
    );
    Ok(Loaded {
        model,
        input,
        norm,
        meta,
    })
}

/// `duet eval`: test-split accuracy and loss.
pub fn run_eval(args: &EvalArgs) -> Result<(), CliError> {
    let device = duet_core::device(&args.device)?;
    let l = load(&args.checkpoint, args.api, &device)?;
    let splits = data::load(&args.data)?;
    let (h, w) = (l.input[1], l.input[2]);
    let resize = ((splits.test.height, splits.test.width) != (h, w)).then_some((h, w));
    if splits.test.channels != l.input[0] {
        return Err(CliError::Other(format!(
            "the checkpoint expects {} channels, the dataset has {}",
            l.input[0], splits.test.channels
        )));
    }
    let normalize = (!l.norm.0.is_empty()).then(|| l.norm.clone());
    let t = Transform {
        resize,
        normalize,
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
    let (loss, acc) = evaluate(l.model.as_ref(), &loader)
        .map_err(|e| CliError::Other(format!("{:?} test split: {e}", args.data.dataset)))?;
    println!("{{\"checkpoint\": \"{}\", \"api\": \"{:?}\", \"images\": {}, \"accuracy\": {acc:.6}, \"loss\": {loss:.6}}}", args.checkpoint.display(), args.api, loader.data().len());
    Ok(())
}

/// `duet predict`: logits for tensor `x` of a safetensors file.
pub fn run_predict(args: &PredictArgs) -> Result<(), CliError> {
    let device = duet_core::device(&args.device)?;
    let l = load(&args.checkpoint, args.api, &device)?;
    let input = CheckpointFile::open(&args.input)?;
    let x = input
        .tree("", &device)?
        .get::<4>("x")
        .map_err(|e| CliError::Other(format!("{}: {e}", args.input.display())))?;
    let [_, c, h, w] = x.dims();
    if [c, h, w] != l.input {
        return Err(CliError::Other(format!(
            "{}: x is {:?}, the model expects [N, {}, {}, {}]",
            args.input.display(),
            x.dims(),
            l.input[0],
            l.input[1],
            l.input[2]
        )));
    }
    let logits = l.model.logits(x);
    checkpoint::save(
        &args.output,
        &[("", &Params::new().with("logits", logits))],
        &BTreeMap::new(),
    )?;
    println!("wrote {}", args.output.display());
    Ok(())
}
