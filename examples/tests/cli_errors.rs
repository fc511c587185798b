//! Bad input to the `duet` command (issue 15): crafted checkpoints, state dicts, datasets and
//! flags each give a non-zero exit and one line naming the file, tensor, key or flag; never a
//! panic. Checkpoints are built with the library (no training), datasets are tiny MNIST files.

use duet_core::burn::tensor::Device;
use duet_core::{checkpoint, DynTensor, Key, Params};
use duet_examples::cli::args::{Api, Cli, Command as Sub, ModelKind};
use duet_examples::cli::models;
use serde_json::{Map, Value};
use std::collections::BTreeMap;
use std::ffi::OsStr;
use std::fmt::Debug;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

fn duet<S: AsRef<OsStr>>(args: &[S]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_duet"))
        .args(args)
        .output()
        .unwrap()
}

/// Runs `duet args`, which must fail with one line on stderr and no panic; returns the line.
fn fails<S: AsRef<OsStr> + Debug>(args: &[S]) -> String {
    let out = duet(args);
    let err = String::from_utf8_lossy(&out.stderr).into_owned();
    assert!(!out.status.success(), "duet {args:?} succeeded:\n{err}");
    assert!(!err.contains("panicked"), "duet {args:?} panicked:\n{err}");
    assert_eq!(
        err.trim().lines().count(),
        1,
        "duet {args:?}: not one line:\n{err}"
    );
    err
}

/// Runs `duet args`, which must succeed; returns stderr.
fn succeeds<S: AsRef<OsStr> + Debug>(args: &[S]) -> String {
    let out = duet(args);
    let err = String::from_utf8_lossy(&out.stderr).into_owned();
    assert!(out.status.success(), "duet {args:?} failed:\n{err}");
    err
}

fn s(p: &Path) -> &str {
    p.to_str().unwrap()
}

/// An untrained LeNet checkpoint for `[1, 32, 32]` digits, 10 classes, with training metadata.
fn lenet_checkpoint(dir: &Path) -> PathBuf {
    let dev = Device::flex();
    let m = models::build(
        ModelKind::Lenet,
        Api::Functional,
        [1, 32, 32],
        10,
        Key::new(0),
        &dev,
    )
    .unwrap();
    let meta: BTreeMap<String, String> = [
        ("duet.model", "lenet"),
        ("duet.api", "functional"),
        ("duet.input", "1,32,32"),
        ("duet.classes", "10"),
        ("duet.norm_mean", "0.3"),
        ("duet.norm_std", "0.4"),
    ]
    .map(|(k, v)| (k.to_string(), v.to_string()))
    .into();
    let file = dir.join("good.safetensors");
    checkpoint::save(
        &file,
        &[("params", &m.params()), ("state", &m.state())],
        &meta,
    )
    .unwrap();
    file
}

/// A copy of checkpoint `src` at `dir/name` with its header metadata edited by `edit`.
fn with_meta(src: &Path, name: &str, edit: impl FnOnce(&mut Map<String, Value>)) -> PathBuf {
    let b = std::fs::read(src).unwrap();
    let n = u64::from_le_bytes(b[..8].try_into().unwrap()) as usize;
    let mut header: Value = serde_json::from_slice(&b[8..8 + n]).unwrap();
    edit(header["__metadata__"].as_object_mut().unwrap());
    let mut h = serde_json::to_vec(&header).unwrap();
    while h.len() % 8 != 0 {
        h.push(b' ');
    }
    let dst = src.with_file_name(name);
    let out = [&(h.len() as u64).to_le_bytes()[..], &h, &b[8 + n..]].concat();
    std::fs::write(&dst, out).unwrap();
    dst
}

fn set(key: &'static str, value: &'static str) -> impl FnOnce(&mut Map<String, Value>) {
    move |m| {
        m.insert(key.into(), value.into());
    }
}

/// An MNIST directory: `n` training and `n_test` test images of `h` x `w`, labels `i % 10`.
fn mnist_dir(dir: &Path, n: u32, n_test: u32, h: u32, w: u32) -> PathBuf {
    let d = dir.join(format!("mnist-{n}-{n_test}-{h}x{w}"));
    std::fs::create_dir_all(&d).unwrap();
    for (prefix, count) in [("train", n), ("t10k", n_test)] {
        let mut images: Vec<u8> = [0x803, count, h, w]
            .iter()
            .flat_map(|v: &u32| v.to_be_bytes())
            .collect();
        images.extend((0..count * h * w).map(|i| (i % 251) as u8));
        let mut labels: Vec<u8> = [0x801, count]
            .iter()
            .flat_map(|v: &u32| v.to_be_bytes())
            .collect();
        labels.extend((0..count).map(|i| (i % 10) as u8));
        std::fs::write(d.join(format!("{prefix}-images-idx3-ubyte")), images).unwrap();
        std::fs::write(d.join(format!("{prefix}-labels-idx1-ubyte")), labels).unwrap();
    }
    d
}

#[test]
fn checkpoint_metadata_that_does_not_fit_its_tensors_is_refused_before_building() {
    let tmp = tempfile::tempdir().unwrap();
    let good = lenet_checkpoint(tmp.path());
    let x = tmp.path().join("x.safetensors");
    let dev = Device::flex();
    let input = Params::new().with("x", DynTensor::zeros(&[2, 1, 32, 32], &dev));
    checkpoint::save(&x, &[("", &input)], &BTreeMap::new()).unwrap();
    let y = tmp.path().join("y.safetensors");
    succeeds(&[
        "predict",
        "--checkpoint",
        s(&good),
        "--input",
        s(&x),
        "--output",
        s(&y),
    ]);
    let cases: Vec<(PathBuf, &str)> = vec![
        // 1e11 classes and a 4e6 x 4e6 input used to allocate terabytes (abort).
        (
            with_meta(
                &good,
                "classes.safetensors",
                set("duet.classes", "100000000000"),
            ),
            "duet.classes",
        ),
        (
            with_meta(
                &good,
                "huge.safetensors",
                set("duet.input", "1,4000000,4000000"),
            ),
            "duet.input",
        ),
        (
            with_meta(&good, "big.safetensors", set("duet.input", "1,1000,1000")),
            "params/fc1.weight",
        ),
        (
            with_meta(&good, "float.safetensors", set("duet.input", "1,4e6,4e6")),
            "duet.input",
        ),
        (
            with_meta(&good, "rgb.safetensors", set("duet.input", "3,32,32")),
            "params/conv1.weight",
        ),
        (
            with_meta(&good, "zero.safetensors", set("duet.classes", "0")),
            "duet.classes",
        ),
        (
            with_meta(&good, "eleven.safetensors", set("duet.classes", "11")),
            "params/fc3.weight",
        ),
        (
            with_meta(&good, "model.safetensors", set("duet.model", "alexnet")),
            "features.0.weight",
        ),
        // `duet.trees` naming a tensor the file lacks used to panic in `load_like`.
        (
            with_meta(&good, "trees.safetensors", |m| {
                let trees = m["duet.trees"]
                    .as_str()
                    .unwrap()
                    .replace("\"conv1.bias\"", "\"ghost\"");
                m.insert("duet.trees".into(), trees.into());
            }),
            "params/ghost",
        ),
    ];
    for (file, needle) in cases {
        let name = file.file_name().unwrap().to_str().unwrap().to_string();
        for cmd in [
            vec!["eval", "--checkpoint", s(&file)],
            vec![
                "predict",
                "--checkpoint",
                s(&file),
                "--input",
                s(&x),
                "--output",
                s(&y),
            ],
        ] {
            let err = fails(&cmd);
            assert!(
                err.contains(&name) && err.contains(needle),
                "{cmd:?}: {err}"
            );
        }
    }
}

#[test]
fn bad_normalization_metadata_is_an_error_naming_the_key() {
    let tmp = tempfile::tempdir().unwrap();
    let good = lenet_checkpoint(tmp.path());
    let cases: Vec<(PathBuf, &str)> = vec![
        (
            with_meta(&good, "nomean.safetensors", |m| {
                drop(m.remove("duet.norm_mean"))
            }),
            "duet.norm_mean",
        ),
        (
            with_meta(&good, "none.safetensors", |m| {
                m.remove("duet.norm_mean");
                m.remove("duet.norm_std");
            }),
            "duet.norm_mean",
        ),
        (
            with_meta(&good, "garbage.safetensors", set("duet.norm_mean", "abc")),
            "duet.norm_mean",
        ),
        (
            with_meta(&good, "nan.safetensors", set("duet.norm_mean", "NaN")),
            "duet.norm_mean",
        ),
        (
            with_meta(&good, "inf.safetensors", set("duet.norm_std", "inf")),
            "duet.norm_std",
        ),
        (
            with_meta(&good, "zerostd.safetensors", set("duet.norm_std", "0")),
            "duet.norm_std",
        ),
        (
            with_meta(
                &good,
                "count.safetensors",
                set("duet.norm_std", "0.2,0.2,0.2"),
            ),
            "duet.norm_std",
        ),
    ];
    for (file, needle) in cases {
        let err = fails(&["eval", "--checkpoint", s(&file)]);
        let name = file.file_name().unwrap().to_str().unwrap();
        assert!(err.contains(name) && err.contains(needle), "{name}: {err}");
    }
    // Non-finite weights are refused too (not a NaN accuracy).
    let dev = Device::flex();
    let ck = duet_core::CheckpointFile::open(&good).unwrap();
    let nan = ck.tree("params", &dev).unwrap().map(|t| t * f32::NAN);
    let file = tmp.path().join("nanweights.safetensors");
    checkpoint::save(&file, &[("params", &nan)], ck.metadata()).unwrap();
    let err = fails(&["eval", "--checkpoint", s(&file)]);
    assert!(err.contains("nanweights") && err.contains("NaN"), "{err}");
}

#[test]
fn numeric_flags_are_bounded_by_the_parser() {
    for (args, flag) in [
        (vec!["train", "--batch-size", "0"], "--batch-size"),
        (vec!["train", "--batch-size", "100000000"], "--batch-size"),
        (
            vec!["eval", "--checkpoint", "x", "--batch-size", "0"],
            "--batch-size",
        ),
        (vec!["bench", "--batch-size", "0"], "--batch-size"),
        (vec!["bench", "--steps", "0"], "--steps"),
        (vec!["train", "--lr=-1"], "--lr"),
        (vec!["train", "--lr", "-1"], "--lr"),
        (vec!["train", "--lr", "0"], "--lr"),
        (vec!["train", "--lr", "NaN"], "--lr"),
        (vec!["train", "--lr", "inf"], "--lr"),
        (vec!["train", "--epochs", "0"], "--epochs"),
        (
            vec!["train", "--epochs", "18446744073709551615"],
            "--epochs",
        ),
        (vec!["train", "--steps", "0"], "--steps"),
        (vec!["train", "--steps", "1000000001"], "--steps"),
        (vec!["train", "--keep", "0"], "--keep"),
        (vec!["summary", "--channels", "0"], "--channels"),
        (
            vec![
                "import-torch",
                "--model",
                "lenet",
                "--input",
                "a",
                "--output",
                "b",
                "--norm-mean",
                "x",
                "--norm-std",
                "1",
            ],
            "--norm-mean",
        ),
    ] {
        let err = fails(&args);
        assert!(err.contains(flag), "{args:?}: {err}");
    }
    // The two flags the training code uses to replace or re-optimize a run parse, each only
    // where it makes sense.
    let parse = |args: &[&str]| {
        let argv = [&["duet", "train"][..], args].concat();
        <Cli as clap::Parser>::try_parse_from(argv).map(|c| match c.command {
            Sub::Train(t) => (t.overwrite, t.reset_optimizer),
            _ => unreachable!("a train command"),
        })
    };
    assert_eq!(parse(&["--overwrite"]).unwrap(), (true, false));
    let t = parse(&["--resume", "d", "--reset-optimizer"]).unwrap();
    assert_eq!(parse(&[]).unwrap(), (false, false));
    assert!(parse(&["--reset-optimizer"]).is_err(), "needs --resume");
    assert!(parse(&["--overwrite", "--resume", "d"]).is_err());
    assert_eq!(t, (false, true));
}

/// A LeNet state dict in PyTorch's layout (dense weights `[out, in]`).
fn torch_lenet() -> Params {
    let dev = Device::flex();
    let m = models::build(
        ModelKind::Lenet,
        Api::Functional,
        [1, 32, 32],
        10,
        Key::new(0),
        &dev,
    )
    .unwrap();
    m.params().map(|t| match t.rank() {
        2 => DynTensor::from(t.into_rank::<2>().transpose()),
        _ => t,
    })
}

#[test]
fn import_torch_checks_every_tensor_of_the_state_dict() {
    let tmp = tempfile::tempdir().unwrap();
    let dev = Device::flex();
    let out = tmp.path().join("out.safetensors");
    let import = |sd: &Params, name: &str, extra: &[&str]| {
        let f = tmp.path().join(name);
        checkpoint::save(&f, &[("", sd)], &BTreeMap::new()).unwrap();
        let args = [
            &[
                "import-torch",
                "--model",
                "lenet",
                "--input",
                s(&f),
                "--output",
                s(&out),
            ][..],
            extra,
        ]
        .concat()
        .iter()
        .map(|a| a.to_string())
        .collect::<Vec<_>>();
        (f, args)
    };
    let run = |args: &[String], ok: bool| if ok { succeeds(args) } else { fails(args) };
    // A valid one imports (with its normalization, so that eval accepts it).
    let (_, args) = import(
        &torch_lenet(),
        "sd.safetensors",
        &["--norm-mean", "0.3", "--norm-std", "0.4"],
    );
    run(&args, true);
    let meta = duet_core::CheckpointFile::open(&out)
        .unwrap()
        .metadata()
        .clone();
    assert_eq!(
        (
            meta["duet.norm_mean"].as_str(),
            meta["duet.norm_std"].as_str()
        ),
        ("0.3", "0.4")
    );
    // A rank-1 conv1.weight used to panic; the last and a middle tensor are checked as well.
    for (path, dims, name) in [
        ("conv1.weight", vec![6], "rank1.safetensors"),
        ("fc3.bias", vec![0], "nobias.safetensors"),
        ("fc2.weight", vec![120, 84], "transposed.safetensors"),
        ("conv2.weight", vec![16, 6, 5], "rank3.safetensors"),
    ] {
        let mut sd = torch_lenet();
        sd.insert(path, DynTensor::zeros(&dims, &dev));
        let (f, args) = import(&sd, name, &[]);
        let err = run(&args, false);
        assert!(
            err.contains(f.file_name().unwrap().to_str().unwrap())
                && err.contains(path)
                && err.contains(&format!("{dims:?}")),
            "{path}: {err}"
        );
    }
    // Normalization that does not fit the channels.
    let (_, args) = import(
        &torch_lenet(),
        "sd2.safetensors",
        &["--norm-mean", "0.3,0.3", "--norm-std", "0.4,0.4"],
    );
    assert!(run(&args, false).contains("--norm-mean"));
}

#[test]
fn data_grid_never_panics_on_image_size() {
    let tmp = tempfile::tempdir().unwrap();
    let grid = tmp.path().join("grid.png");
    // 0x0 images: an error naming the data or the grid, not a panic.
    let d = mnist_dir(tmp.path(), 3, 1, 0, 0);
    let err = fails(&[
        "data",
        "--dataset",
        "mnist",
        "--data-dir",
        s(&d),
        "--grid",
        s(&grid),
    ]);
    assert!(err.contains(s(tmp.path())), "{err}");
    // Thin and large images draw (the label row used to underflow for images under 6 px).
    for (h, w) in [(1, 31), (1, 1), (300, 2)] {
        let d = mnist_dir(tmp.path(), 3, 1, h, w);
        succeeds(&[
            "data",
            "--dataset",
            "mnist",
            "--data-dir",
            s(&d),
            "--grid",
            s(&grid),
        ]);
        assert!(image::open(&grid).is_ok(), "{h}x{w}");
        std::fs::remove_file(&grid).unwrap();
    }
}

#[test]
fn predict_checks_its_input_and_warns_about_non_finite_values() {
    let tmp = tempfile::tempdir().unwrap();
    let dev = Device::flex();
    let good = lenet_checkpoint(tmp.path());
    let y = tmp.path().join("y.safetensors");
    let input = |name: &str, tensor: &str, dims: &[usize], values: Option<Vec<f32>>| {
        let n = dims.iter().product();
        let t = DynTensor::from_floats(values.unwrap_or_else(|| vec![0.5; n]), dims, &dev);
        let f = tmp.path().join(name);
        checkpoint::save(
            &f,
            &[("", &Params::new().with(tensor, t))],
            &BTreeMap::new(),
        )
        .unwrap();
        f
    };
    let predict = |x: &Path| {
        [
            "predict",
            "--checkpoint",
            s(&good),
            "--input",
            s(x),
            "--output",
            s(&y),
        ]
        .map(String::from)
    };
    for (file, needle) in [
        (
            input("noname.safetensors", "images", &[1, 1, 32, 32], None),
            "`x`",
        ),
        (
            input("rank2.safetensors", "x", &[2, 1024], None),
            "[2, 1024]",
        ),
        (
            input("rgb.safetensors", "x", &[1, 3, 32, 32], None),
            "[1, 3, 32, 32]",
        ),
        (
            input("empty.safetensors", "x", &[0, 1, 32, 32], Some(vec![])),
            "[0, 1, 32, 32]",
        ),
    ] {
        let err = fails(&predict(&file));
        let name = file.file_name().unwrap().to_str().unwrap();
        assert!(err.contains(name) && err.contains(needle), "{name}: {err}");
    }
    let mut v = vec![0.5; 2 * 32 * 32];
    (v[3], v[1500]) = (f32::NAN, f32::INFINITY);
    let args = predict(&input("nan.safetensors", "x", &[2, 1, 32, 32], Some(v)));
    let err = succeeds(&args);
    assert!(
        err.contains("warning") && err.contains("2 of 2048") && err.contains("nan.safetensors"),
        "{err}"
    );
}

#[test]
fn eval_on_an_empty_test_split_is_an_error_naming_the_dataset() {
    let tmp = tempfile::tempdir().unwrap();
    let good = lenet_checkpoint(tmp.path());
    let d = mnist_dir(tmp.path(), 2, 0, 28, 28);
    let err = fails(&[
        "eval",
        "--checkpoint",
        s(&good),
        "--dataset",
        "mnist",
        "--data-dir",
        s(&d),
    ]);
    assert!(err.contains("mnist") && err.contains(s(&d)), "{err}");
    // The same checkpoint evaluates a non-empty split.
    let d = mnist_dir(tmp.path(), 2, 3, 28, 28);
    let out = duet(&[
        "eval",
        "--checkpoint",
        s(&good),
        "--dataset",
        "mnist",
        "--data-dir",
        s(&d),
    ]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(String::from_utf8_lossy(&out.stdout).contains("\"images\": 3"));
}
