//! `RunInfo`'s metadata strings are those duet wrote before it existed (the lowercase `Debug`
//! of the command line's enums), so older checkpoints load and resumed runs compare equal.

use duet_datasets::DatasetKind;
use duet_examples::models::ModelKind;
use duet_examples::run_info::RunInfo;
use std::collections::BTreeMap;

fn map(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
    pairs
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}

#[test]
fn metadata_strings_are_the_legacy_ones() {
    for kind in ModelKind::ALL {
        assert_eq!(kind.to_string(), format!("{kind:?}").to_lowercase());
    }
    for kind in DatasetKind::ALL {
        let info = RunInfo {
            model: ModelKind::Mlp,
            api: Some("module".into()),
            dataset: Some(kind),
            input: [3, 28, 28],
            classes: 10,
            norm: None,
            seed: None,
            optimizer: None,
            source: None,
        };
        let meta = info.to_metadata();
        assert_eq!(meta["duet.dataset"], format!("{kind:?}").to_lowercase());
        assert_eq!(RunInfo::from_metadata(&meta).unwrap(), info);
    }
    let info = RunInfo {
        model: ModelKind::Alexnet,
        api: Some("functional".into()),
        dataset: Some(DatasetKind::Cifar10),
        input: [3, 32, 32],
        classes: 10,
        norm: Some((vec![0.4914, 0.4822, 0.4465], vec![0.247, 0.2435, 0.2616])),
        seed: Some(42),
        optimizer: Some(r#"{"fixed":{},"kind":"adam","lr":0.002}"#.into()),
        source: None,
    };
    let legacy = map(&[
        ("duet.model", "alexnet"),
        ("duet.api", "functional"),
        ("duet.dataset", "cifar10"),
        ("duet.input", "3,32,32"),
        ("duet.classes", "10"),
        ("duet.norm_mean", "0.4914,0.4822,0.4465"),
        ("duet.norm_std", "0.247,0.2435,0.2616"),
        ("duet.seed", "42"),
        ("duet.optimizer", r#"{"fixed":{},"kind":"adam","lr":0.002}"#),
    ]);
    assert_eq!(info.to_metadata(), legacy);
    assert_eq!(RunInfo::from_metadata(&legacy).unwrap(), info);
}

#[test]
fn an_import_torch_checkpoint_reads_without_training_keys() {
    let meta = map(&[
        ("duet.model", "lenet"),
        ("duet.api", "functional"),
        ("duet.input", "1,32,32"),
        ("duet.classes", "10"),
        ("duet.source", "import-torch lenet.safetensors"),
    ]);
    let info = RunInfo::from_metadata(&meta).unwrap();
    assert_eq!(
        (info.model, info.input, info.classes),
        (ModelKind::Lenet, [1, 32, 32], 10)
    );
    assert_eq!((&info.norm, info.dataset, info.seed), (&None, None, None));
    assert_eq!(info.to_metadata(), meta);
}

#[test]
fn bad_metadata_names_the_key() {
    let good = map(&[
        ("duet.model", "lenet"),
        ("duet.input", "1,32,32"),
        ("duet.classes", "10"),
    ]);
    for (key, value, needle) in [
        (
            "duet.model",
            "resnet",
            "unknown model `resnet` in `duet.model`",
        ),
        ("duet.input", "1,32", "is not C,H,W"),
        ("duet.classes", "0", "out of bounds"),
        ("duet.dataset", "imagenet", "metadata `duet.dataset`"),
        ("duet.seed", "-1", "metadata `duet.seed` = `-1`"),
        (
            "duet.norm_mean",
            "0.5",
            "`duet.norm_mean` without `duet.norm_std`",
        ),
    ] {
        let mut m = good.clone();
        m.insert(key.into(), value.into());
        let e = RunInfo::from_metadata(&m).unwrap_err();
        // A lone mean is blamed on the missing std.
        let blamed = if key == "duet.norm_mean" {
            "duet.norm_std"
        } else {
            key
        };
        assert_eq!(e.key, blamed);
        assert!(e.to_string().contains(needle), "{key}: {e}");
    }
    let mut m = good.clone();
    m.remove("duet.input");
    let e = RunInfo::from_metadata(&m).unwrap_err();
    assert_eq!(
        e.to_string(),
        "not a duet training checkpoint (no `duet.input` metadata)"
    );
}
