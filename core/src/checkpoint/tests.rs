use super::*;
use burn::tensor::Tensor;

fn dir() -> tempfile::TempDir {
    tempfile::tempdir().unwrap()
}

fn model(dev: &Device) -> Params {
    Params::new()
        .with(
            "conv1.weight",
            Tensor::<4>::from_data(
                TensorData::new((0..24).map(|i| i as f32).collect::<Vec<_>>(), [2, 3, 2, 2]),
                dev,
            ),
        )
        .with("conv1.bias", Tensor::<1>::from_floats([0.5, -0.5], dev))
        .with("fc.weight", Tensor::<2>::ones([3, 2], dev))
}

#[test]
fn round_trip_several_trees_and_metadata() {
    let dev = Device::flex();
    let d = dir();
    let file = d.path().join("ck.safetensors");
    let params = model(&dev);
    let state = Params::new().with(
        "bn.running_mean",
        Tensor::<1>::from_floats([1.0, 2.0], &dev),
    );
    let meta = BTreeMap::from([("step".to_string(), "42".to_string())]);
    save(&file, &[("params", &params), ("state", &state)], &meta).unwrap();
    let ck = CheckpointFile::open(&file).unwrap();
    assert_eq!(ck.tree_names(), vec!["params", "state"]);
    let all = ck.trees(&dev).unwrap();
    assert_eq!(all.len(), 2);
    assert_eq!((all[0].0.as_str(), all[1].0.as_str()), ("params", "state"));
    assert_eq!(
        all[1].1.get_dyn("bn.running_mean").unwrap().to_vec(),
        vec![1.0, 2.0]
    );
    assert_eq!(ck.metadata()["step"], "42");
    assert_eq!(ck.metadata()["duet.format"], FORMAT_VERSION);
    let p = ck.tree("params", &dev).unwrap();
    assert_eq!(p.paths(), params.paths(), "order is preserved");
    for (path, t) in params.iter() {
        assert_eq!(p.get_dyn(path).unwrap().to_vec(), t.to_vec(), "{path}");
        assert_eq!(p.get_dyn(path).unwrap().dims(), t.dims());
    }
    let s = ck
        .load_like("state", &state, &LoadOptions::default(), &dev)
        .unwrap();
    assert_eq!(
        s.get_dyn("bn.running_mean").unwrap().to_vec(),
        vec![1.0, 2.0]
    );
    assert!(matches!(
        ck.tree("opt", &dev),
        Err(CheckpointError::NoTree { .. })
    ));
    // No temporary file is left behind.
    assert_eq!(fs::read_dir(d.path()).unwrap().count(), 1);
}

#[test]
fn mismatches_name_the_tensor_and_shapes() {
    let dev = Device::flex();
    let d = dir();
    let file = d.path().join("ck.safetensors");
    save(&file, &[("params", &model(&dev))], &BTreeMap::new()).unwrap();
    let ck = CheckpointFile::open(&file).unwrap();

    let mut bigger = model(&dev);
    bigger.insert("fc.bias", Tensor::<1>::zeros([2], &dev));
    let e = ck
        .load_like("params", &bigger, &LoadOptions::default(), &dev)
        .unwrap_err();
    assert!(
        matches!(&e, CheckpointError::Missing { tensor, .. } if tensor == "params/fc.bias"),
        "{e}"
    );

    let mut smaller = model(&dev);
    smaller.remove("fc.weight");
    let e = ck
        .load_like("params", &smaller, &LoadOptions::default(), &dev)
        .unwrap_err();
    assert!(
        matches!(&e, CheckpointError::Unexpected { tensor, .. } if tensor == "params/fc.weight"),
        "{e}"
    );

    let mut reshaped = model(&dev);
    reshaped.insert("fc.weight", Tensor::<2>::ones([2, 3], &dev));
    let e = ck
        .load_like("params", &reshaped, &LoadOptions::default(), &dev)
        .unwrap_err();
    let msg = e.to_string();
    assert!(
        msg.contains("params/fc.weight") && msg.contains("[3, 2]") && msg.contains("[2, 3]"),
        "{msg}"
    );

    // Partial loading keeps the model's own values where the file has nothing.
    let p = ck
        .load_like("params", &bigger, &LoadOptions::partial(), &dev)
        .unwrap();
    assert_eq!(p.get_dyn("fc.bias").unwrap().to_vec(), vec![0.0, 0.0]);
    let p = ck
        .load_like("params", &smaller, &LoadOptions::partial(), &dev)
        .unwrap();
    assert_eq!(p.len(), 2);
}

#[test]
fn remapping_renames_prefixes() {
    let dev = Device::flex();
    let d = dir();
    let file = d.path().join("ck.safetensors");
    save(&file, &[("params", &model(&dev))], &BTreeMap::new()).unwrap();
    let ck = CheckpointFile::open(&file).unwrap();
    let target = model(&dev).subtree("conv1").prefix("backbone");
    let opts = LoadOptions {
        allow_unexpected: true,
        remap: vec![("conv1.".into(), "backbone.".into())],
        ..Default::default()
    };
    let p = ck.load_like("params", &target, &opts, &dev).unwrap();
    assert_eq!(
        p.get_dyn("backbone.bias").unwrap().to_vec(),
        vec![0.5, -0.5]
    );
}

#[test]
fn wrong_dtype_is_an_error() {
    let d = dir();
    let file = d.path().join("f64.safetensors");
    let bytes: Vec<u8> = [1.0f64, 2.0].iter().flat_map(|v| v.to_le_bytes()).collect();
    let view = TensorView::new(Dtype::F64, vec![2], &bytes).unwrap();
    fs::write(
        &file,
        safetensors::serialize([("params/x", view)], &None).unwrap(),
    )
    .unwrap();
    let ck = CheckpointFile::open(&file).unwrap();
    let e = ck.tree("params", &Device::flex()).unwrap_err();
    assert!(
        matches!(&e, CheckpointError::Dtype { tensor, found, .. } if tensor == "params/x" && found == "F64"),
        "{e}"
    );
}

#[test]
fn truncated_and_garbage_files_are_corrupt_not_panics() {
    let dev = Device::flex();
    let d = dir();
    let file = d.path().join("ck.safetensors");
    save(&file, &[("params", &model(&dev))], &BTreeMap::new()).unwrap();
    let bytes = fs::read(&file).unwrap();
    for cut in [0, 4, 8, 20, bytes.len() / 2, bytes.len() - 1] {
        let t = d.path().join(format!("cut{cut}.safetensors"));
        fs::write(&t, &bytes[..cut]).unwrap();
        let e = CheckpointFile::open(&t).unwrap_err();
        assert!(
            matches!(e, CheckpointError::Corrupt { .. }),
            "cut at {cut}: {e}"
        );
        assert!(e.to_string().contains(&format!("cut{cut}")));
    }
    let e = CheckpointFile::open(d.path().join("absent.safetensors")).unwrap_err();
    assert!(matches!(e, CheckpointError::Io { .. }));
}

#[test]
fn a_crash_mid_write_leaves_the_previous_file_whole() {
    let dev = Device::flex();
    let d = dir();
    let file = d.path().join("ck.safetensors");
    save(&file, &[("params", &model(&dev))], &BTreeMap::new()).unwrap();
    // A writer that died half way leaves only its temporary file, never a half target.
    let half = to_bytes(
        &[("params", &model(&dev).map(|t| t * 2.0))],
        &BTreeMap::new(),
    );
    fs::write(
        d.path().join(".ck.safetensors.tmp.999"),
        &half[..half.len() / 2],
    )
    .unwrap();
    let ck = CheckpointFile::open(&file).unwrap();
    assert_eq!(
        ck.tree("params", &dev)
            .unwrap()
            .get_dyn("conv1.bias")
            .unwrap()
            .to_vec(),
        vec![0.5, -0.5]
    );
    // And a failed write (the directory is gone) is an error that names the file.
    let gone = d.path().join("no-such-dir").join("x.safetensors");
    let e = save(&gone, &[("params", &model(&dev))], &BTreeMap::new()).unwrap_err();
    assert!(e.to_string().contains("no-such-dir"), "{e}");
}

/// A file written by duet is read by Python's `safetensors` with the same names and values.
/// Skipped (with a note) when Python or the package is absent, unless `DUET_REQUIRE_PYTHON=1`
/// (set by `.ci/run`, which installs it).
#[test]
fn python_safetensors_reads_duet_checkpoints() {
    let dev = Device::flex();
    let d = dir();
    let file = d.path().join("ck.safetensors");
    save(
        &file,
        &[("params", &model(&dev))],
        &BTreeMap::from([("step".into(), "7".into())]),
    )
    .unwrap();
    let script = r#"
import sys, json
from safetensors import safe_open
with safe_open(sys.argv[1], framework="numpy") as f:
    out = {k: [list(f.get_tensor(k).shape), [float(v) for v in f.get_tensor(k).reshape(-1)]] for k in f.keys()}
    out["__meta__"] = f.metadata()
print(json.dumps(out))
"#;
    let run = std::process::Command::new("python3")
        .arg("-c")
        .arg(script)
        .arg(&file)
        .output();
    let required = std::env::var("DUET_REQUIRE_PYTHON").as_deref() == Ok("1");
    let out = match run {
        Ok(o) if o.status.success() => o,
        other => {
            assert!(
                !required,
                "python3 with safetensors+numpy is required: {other:?}"
            );
            eprintln!("skipped: python3 with safetensors+numpy not available");
            return;
        }
    };
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["__meta__"]["step"], "7");
    for (path, t) in model(&dev).iter() {
        let entry = &v[format!("params/{path}")];
        let shape: Vec<usize> = serde_json::from_value(entry[0].clone()).unwrap();
        let vals: Vec<f32> = serde_json::from_value(entry[1].clone()).unwrap();
        assert_eq!(shape, t.dims(), "{path}");
        assert_eq!(vals, t.to_vec(), "{path}");
    }
}

/// A `duet.trees` header naming a tensor the file lacks is refused when the file is opened
/// (it used to pass `open` and panic in `load_like`).
#[test]
fn trees_metadata_naming_an_absent_tensor_is_an_error_naming_it() {
    let dev = Device::flex();
    let d = dir();
    let file = d.path().join("lying.safetensors");
    let bytes: Vec<u8> = [1.0f32, 2.0].iter().flat_map(|v| v.to_le_bytes()).collect();
    let view = TensorView::new(Dtype::F32, vec![2], &bytes).unwrap();
    let meta = HashMap::from([(
        "duet.trees".to_string(),
        r#"{"params": ["a", "ghost"]}"#.to_string(),
    )]);
    fs::write(
        &file,
        safetensors::serialize([("params/a", view)], &Some(meta)).unwrap(),
    )
    .unwrap();
    let e = CheckpointFile::open(&file).unwrap_err();
    assert!(
        matches!(&e, CheckpointError::ListedMissing { tensor, .. } if tensor == "params/ghost"),
        "{e}"
    );
    let msg = e.to_string();
    assert!(
        msg.contains("lying.safetensors") && msg.contains("params/ghost"),
        "{msg}"
    );
    // The same file with an honest header loads.
    let template = Params::new().with("a", Tensor::<1>::zeros([2], &dev));
    let honest = d.path().join("honest.safetensors");
    save(&honest, &[("params", &template)], &BTreeMap::new()).unwrap();
    let ck = CheckpointFile::open(&honest).unwrap();
    assert!(ck
        .load_like("params", &template, &LoadOptions::default(), &dev)
        .is_ok());
}

#[test]
fn single_tensors_and_shapes_by_name() {
    let dev = Device::flex();
    let d = dir();
    let file = d.path().join("ck.safetensors");
    save(&file, &[("params", &model(&dev))], &BTreeMap::new()).unwrap();
    let ck = CheckpointFile::open(&file).unwrap();
    assert_eq!(
        ck.shape("params", "conv1.weight").unwrap(),
        vec![2, 3, 2, 2]
    );
    assert_eq!(
        ck.tensor("params", "conv1.bias", &dev).unwrap().to_vec(),
        vec![0.5, -0.5]
    );
    let e = ck.shape("params", "fc3.bias").unwrap_err();
    assert!(
        matches!(&e, CheckpointError::Missing { tensor, .. } if tensor == "params/fc3.bias"),
        "{e}"
    );
    assert!(matches!(
        ck.tensor("opt", "x", &dev),
        Err(CheckpointError::NoTree { .. })
    ));
}
