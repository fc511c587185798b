//! [`RunInfo`]: what a checkpoint of the example models says about itself (architecture, input
//! shape, classes, normalization, ...), and its string form in a checkpoint's metadata
//! (`duet.model`, `duet.input`, ...). `duet train` and `duet import-torch` write it, `duet eval`
//! and `duet predict` read it back.

use crate::models::ModelKind;
use duet_datasets::DatasetKind;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// The most input channels a checkpoint's `duet.input` may declare.
pub const MAX_CHANNELS: usize = 1 << 12;
/// The largest input height or width a checkpoint's `duet.input` may declare.
pub const MAX_SIDE: usize = 1 << 14;
/// The most classes a checkpoint's `duet.classes` may declare.
pub const MAX_CLASSES: usize = 1 << 20;

const MODEL: &str = "duet.model";
const API: &str = "duet.api";
const DATASET: &str = "duet.dataset";
const INPUT: &str = "duet.input";
const CLASSES: &str = "duet.classes";
const NORM_MEAN: &str = "duet.norm_mean";
const NORM_STD: &str = "duet.norm_std";
const SEED: &str = "duet.seed";
const SOURCE: &str = "duet.source";

/// Checks `[C, H, W]` against [`MAX_CHANNELS`] and [`MAX_SIDE`] (and that none is 0).
///
/// # Errors
/// The bounds, as a phrase.
pub fn check_input(chw: [usize; 3]) -> Result<(), String> {
    let [c, h, w] = chw;
    if (1..=MAX_CHANNELS).contains(&c) && [h, w].iter().all(|s| (1..=MAX_SIDE).contains(s)) {
        Ok(())
    } else {
        Err(format!(
            "input {chw:?} is out of bounds (channels 1 to {MAX_CHANNELS}, height and width 1 to {MAX_SIDE})"
        ))
    }
}

/// Checks a number of classes against [`MAX_CLASSES`] (and that it is not 0).
///
/// # Errors
/// The bounds, as a phrase.
pub fn check_classes(classes: usize) -> Result<(), String> {
    if (1..=MAX_CLASSES).contains(&classes) {
        Ok(())
    } else {
        Err(format!(
            "{classes} classes is out of bounds (1 to {MAX_CLASSES})"
        ))
    }
}

/// Parses a comma-separated list of finite numbers (`0.5,0.5,0.5`), as `--norm-mean` and the
/// `duet.norm_mean` metadata hold them.
///
/// # Errors
/// The first value that is not a finite number, as a phrase.
///
/// # Example
/// ```
/// use duet_examples::run_info::parse_floats;
/// assert_eq!(parse_floats("0.5, 1,2e-1").unwrap(), [0.5, 1.0, 0.2]);
/// assert!(parse_floats("0.5,NaN").is_err());
/// ```
pub fn parse_floats(s: &str) -> Result<Vec<f32>, String> {
    s.split(',')
        .map(|v| match v.trim().parse::<f32>() {
            Ok(x) if x.is_finite() => Ok(x),
            _ => Err(format!(
                "`{v}` in `{s}` is not a finite number (expected e.g. 0.5,0.5,0.5)"
            )),
        })
        .collect()
}

/// `1,2,3`: the metadata form of a list (floats print in their shortest exact form).
fn join(v: &[impl ToString]) -> String {
    v.iter()
        .map(ToString::to_string)
        .collect::<Vec<_>>()
        .join(",")
}

/// Metadata that is missing, does not parse or is out of bounds. Prints as one phrase naming the
/// key (callers add the file).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{message}")]
pub struct MetadataError {
    /// The metadata key at fault (`duet.input`, ...).
    pub key: String,
    /// The phrase.
    pub message: String,
}

impl MetadataError {
    fn new(key: &str, message: String) -> Self {
        MetadataError {
            key: key.into(),
            message,
        }
    }
}

/// Per-channel mean and standard deviation of the inputs a model was trained on.
pub type Normalization = (Vec<f32>, Vec<f32>);

/// What a run's checkpoints record about the model and how it was trained.
///
/// In a checkpoint's metadata ([`RunInfo::to_metadata`], [`RunInfo::from_metadata`]), one key
/// each, with the same strings duet has always written (so older checkpoints load, and a resumed
/// run compares equal):
///
/// | field | key | value |
/// |---|---|---|
/// | `model` | `duet.model` | `lenet`, `alexnet`, `mlp` |
/// | `api` | `duet.api` | `functional`, `module` |
/// | `dataset` | `duet.dataset` | the dataset's name without hyphens (`digits`, `fashionmnist`) |
/// | `input` | `duet.input` | `C,H,W` |
/// | `classes` | `duet.classes` | a whole number |
/// | `norm` | `duet.norm_mean`, `duet.norm_std` | comma-separated, one per channel |
/// | `seed` | `duet.seed` | a whole number |
/// | `optimizer` | `duet.optimizer` ([`duet_train::OPTIMIZER_KEY`]) | the optimizer as JSON |
/// | `source` | `duet.source` | free text (`import-torch FILE`) |
///
/// Optional fields that are `None` have no key. With serde, `dataset` is its
/// [`DatasetKind::name`] (`fashion-mnist`).
///
/// # Example
/// ```
/// use duet_examples::models::ModelKind;
/// use duet_examples::run_info::RunInfo;
/// let info = RunInfo {
///     model: ModelKind::Lenet,
///     api: Some("functional".into()),
///     dataset: Some(duet_datasets::DatasetKind::FashionMnist),
///     input: [1, 32, 32],
///     classes: 10,
///     norm: Some((vec![0.2860], vec![0.3530])),
///     seed: Some(7),
///     optimizer: None,
///     source: None,
/// };
/// let meta = info.to_metadata();
/// assert_eq!(meta["duet.model"], "lenet");
/// assert_eq!(meta["duet.dataset"], "fashionmnist");
/// assert_eq!(meta["duet.input"], "1,32,32");
/// assert_eq!(meta["duet.norm_mean"], "0.286");
/// assert!(!meta.contains_key("duet.optimizer"));
/// assert_eq!(RunInfo::from_metadata(&meta).unwrap(), info);
///
/// let json = serde_json::to_string(&info).unwrap();
/// assert!(json.contains(r#""model":"lenet""#) && json.contains(r#""dataset":"fashion-mnist""#));
/// assert_eq!(serde_json::from_str::<RunInfo>(&json).unwrap(), info);
/// ```
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct RunInfo {
    /// The architecture.
    pub model: ModelKind,
    /// The front-end that trained it (`functional` or `module`; informational: either API loads
    /// either's checkpoints).
    #[serde(default)]
    pub api: Option<String>,
    /// The dataset it was trained on.
    #[serde(default, with = "dataset_name")]
    pub dataset: Option<DatasetKind>,
    /// `[C, H, W]` it expects.
    pub input: [usize; 3],
    /// Its number of outputs.
    pub classes: usize,
    /// The per-channel mean and standard deviation its inputs are normalized with (one per
    /// channel; finite, std above 0).
    #[serde(default)]
    pub norm: Option<Normalization>,
    /// The seed of the run's random keys.
    #[serde(default)]
    pub seed: Option<u64>,
    /// The optimizer and its hyper-parameters as JSON (a resumed run must ask for the same).
    #[serde(default)]
    pub optimizer: Option<String>,
    /// Where the weights come from, when not from `duet train` (`import-torch FILE`).
    #[serde(default)]
    pub source: Option<String>,
}

impl RunInfo {
    /// The checkpoint metadata: one key per field that is set (see [`RunInfo`]).
    pub fn to_metadata(&self) -> BTreeMap<String, String> {
        let mut meta = BTreeMap::from([
            (MODEL.to_string(), self.model.name().to_string()),
            (INPUT.to_string(), join(&self.input)),
            (CLASSES.to_string(), self.classes.to_string()),
        ]);
        let mut put = |key: &str, value: Option<String>| {
            if let Some(v) = value {
                meta.insert(key.to_string(), v);
            }
        };
        put(API, self.api.clone());
        // Without hyphens, as duet has always written it (the lowercase variant name); resumed
        // runs compare it as a string.
        put(DATASET, self.dataset.map(|d| d.name().replace('-', "")));
        put(NORM_MEAN, self.norm.as_ref().map(|(m, _)| join(m)));
        put(NORM_STD, self.norm.as_ref().map(|(_, s)| join(s)));
        put(SEED, self.seed.map(|s| s.to_string()));
        put(duet_train::OPTIMIZER_KEY, self.optimizer.clone());
        put(SOURCE, self.source.clone());
        meta
    }

    /// The architecture, input shape and classes that metadata declares: `duet.model`,
    /// `duet.input`, `duet.classes`, each present and parsed, and the sizes within
    /// [`check_input`] and [`check_classes`]. The first step of [`RunInfo::from_metadata`], for
    /// checking a checkpoint's tensors before its other metadata.
    ///
    /// # Errors
    /// A missing key ("not a duet training checkpoint"), an unknown model, a value that does not
    /// parse or is out of bounds, naming the key and the value.
    pub fn model_of(
        meta: &BTreeMap<String, String>,
    ) -> Result<(ModelKind, [usize; 3], usize), MetadataError> {
        let value = |key: &str| {
            meta.get(key).map(String::as_str).ok_or_else(|| {
                MetadataError::new(
                    key,
                    format!("not a duet training checkpoint (no `{key}` metadata)"),
                )
            })
        };
        let raw_model = value(MODEL)?;
        let model = raw_model.parse::<ModelKind>().map_err(|_| {
            MetadataError::new(MODEL, format!("unknown model `{raw_model}` in `{MODEL}`"))
        })?;
        let raw_input = value(INPUT)?;
        let input: [usize; 3] = raw_input
            .split(',')
            .map(|v| v.trim().parse::<usize>())
            .collect::<Result<Vec<_>, _>>()
            .ok()
            .and_then(|v| v.try_into().ok())
            .ok_or_else(|| {
                MetadataError::new(
                    INPUT,
                    format!(
                        "metadata `{INPUT}` = `{raw_input}` is not C,H,W (three whole numbers)"
                    ),
                )
            })?;
        let raw_classes = value(CLASSES)?;
        let classes: usize = raw_classes.trim().parse().map_err(|_| {
            MetadataError::new(
                CLASSES,
                format!("metadata `{CLASSES}` = `{raw_classes}` is not a whole number"),
            )
        })?;
        check_input(input).map_err(|e| {
            MetadataError::new(INPUT, format!("metadata `{INPUT}` = `{raw_input}`: {e}"))
        })?;
        check_classes(classes).map_err(|e| {
            MetadataError::new(
                CLASSES,
                format!("metadata `{CLASSES}` = `{raw_classes}`: {e}"),
            )
        })?;
        Ok((model, input, classes))
    }

    /// Reads [`RunInfo::to_metadata`]'s keys back: those of [`RunInfo::model_of`] are required;
    /// `duet.norm_mean` and `duet.norm_std` both or neither, one finite number per input channel
    /// and every std above 0; `duet.dataset` a [`DatasetKind`] name (hyphens optional) and
    /// `duet.seed` a whole number, when present. Other keys are ignored.
    ///
    /// Does not check the metadata against the checkpoint's tensors, nor that the architecture
    /// can take the input (see [`key_shapes`](crate::cli::models::key_shapes)).
    ///
    /// # Errors
    /// As [`RunInfo::model_of`]; a normalization or an optional key that does not parse or fit,
    /// naming the key.
    pub fn from_metadata(meta: &BTreeMap<String, String>) -> Result<Self, MetadataError> {
        let (model, input, classes) = Self::model_of(meta)?;
        let norm = normalization(meta, input[0])?;
        let dataset = meta
            .get(DATASET)
            .map(|raw| {
                raw.parse::<DatasetKind>()
                    .map_err(|e| MetadataError::new(DATASET, format!("metadata `{DATASET}`: {e}")))
            })
            .transpose()?;
        let seed = meta
            .get(SEED)
            .map(|raw| {
                raw.trim().parse::<u64>().map_err(|_| {
                    MetadataError::new(
                        SEED,
                        format!("metadata `{SEED}` = `{raw}` is not a whole number"),
                    )
                })
            })
            .transpose()?;
        Ok(RunInfo {
            model,
            api: meta.get(API).cloned(),
            dataset,
            input,
            classes,
            norm,
            seed,
            optimizer: meta.get(duet_train::OPTIMIZER_KEY).cloned(),
            source: meta.get(SOURCE).cloned(),
        })
    }
}

/// `duet.norm_mean` and `duet.norm_std`: both absent (`None`), or both lists of `channels` finite
/// numbers with every std above 0.
fn normalization(
    meta: &BTreeMap<String, String>,
    channels: usize,
) -> Result<Option<Normalization>, MetadataError> {
    let (mean, std) = match (meta.get(NORM_MEAN), meta.get(NORM_STD)) {
        (None, None) => return Ok(None),
        (Some(m), Some(s)) => (m, s),
        (None, Some(_)) => {
            return Err(MetadataError::new(
                NORM_MEAN,
                format!("`{NORM_STD}` without `{NORM_MEAN}` metadata"),
            ))
        }
        (Some(_), None) => {
            return Err(MetadataError::new(
                NORM_STD,
                format!("`{NORM_MEAN}` without `{NORM_STD}` metadata"),
            ))
        }
    };
    let parse = |key: &str, raw: &str| -> Result<Vec<f32>, MetadataError> {
        let v = parse_floats(raw)
            .map_err(|e| MetadataError::new(key, format!("metadata `{key}`: {e}")))?;
        if v.len() != channels {
            return Err(MetadataError::new(
                key,
                format!(
                    "metadata `{key}` = `{raw}` has {} values, the model has {channels} input channels",
                    v.len()
                ),
            ));
        }
        Ok(v)
    };
    let (mean, std) = (parse(NORM_MEAN, mean)?, parse(NORM_STD, std)?);
    if let Some(s) = std.iter().find(|s| **s <= 0.0) {
        return Err(MetadataError::new(
            NORM_STD,
            format!("metadata `{NORM_STD}` has {s}: every std must be above 0"),
        ));
    }
    Ok(Some((mean, std)))
}

/// Serde for `Option<DatasetKind>` as its [`DatasetKind::name`].
mod dataset_name {
    use duet_datasets::DatasetKind;
    use serde::{Deserialize, Deserializer, Serialize, Serializer};

    pub fn serialize<S: Serializer>(d: &Option<DatasetKind>, s: S) -> Result<S::Ok, S::Error> {
        d.map(DatasetKind::name).serialize(s)
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Option<DatasetKind>, D::Error> {
        Option::<String>::deserialize(d)?
            .map(|name| name.parse().map_err(serde::de::Error::custom))
            .transpose()
    }
}
