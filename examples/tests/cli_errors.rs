//! Bad input to the `duet` command (issue 15): crafted checkpoints, state dicts, datasets and
//! flags each give a non-zero exit and one line naming the file, tensor, key or flag; never a
//! panic. Checkpoints are built with the library (no training), datasets are tiny MNIST files.

mod cli_support;

use cli_support::*;
use duet_core::burn::tensor::Device;
use duet_core::{checkpoint, DynTensor, Params};
use duet_examples::cli::args::{Cli, Command as Sub};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

/// `duet predict` of checkpoint `ck` on input `x`, writing `y`.
fn predict(ck: &Path, x: &Path, y: &Path) -> Vec<String> {
    cmd(
        "predict --checkpoint {} --input {} --output {}",
        &[ck, x, y],
    )
}

#[test]
fn checkpoint_metadata_that_does_not_fit_its_tensors_is_refused_before_building() {
    let tmp = tempfile::tempdir().unwrap();
    let good = lenet_checkpoint(tmp.path());
    let (x, y) = (tmp.path().join("x.st"), tmp.path().join("y.st"));
    let input = Params::new().with("x", DynTensor::zeros(&[2, 1, 32, 32], &Device::flex()));
    checkpoint::save(&x, &[("", &input)], &BTreeMap::new()).unwrap();
    succeeds(&predict(&good, &x, &y));
    let mut cases: Vec<(PathBuf, &str)> = [
        // 1e11 classes and a 4e6 x 4e6 input used to allocate terabytes (abort).
        ("duet.classes", "100000000000", "duet.classes"),
        ("duet.input", "1,4000000,4000000", "duet.input"),
        ("duet.input", "1,1000,1000", "params/fc1.weight"),
        ("duet.input", "1,4e6,4e6", "duet.input"),
        ("duet.input", "3,32,32", "params/conv1.weight"),
        ("duet.input", "1,32", "duet.input"),
        ("duet.classes", "0", "duet.classes"),
        ("duet.classes", "11", "params/fc3.weight"),
        ("duet.model", "alexnet", "params/features.0.weight"),
    ]
    .into_iter()
    .enumerate()
    .map(|(i, (key, value, needle))| {
        let file = with_meta(&good, &format!("case{i}.safetensors"), set(key, value));
        (file, needle)
    })
    .collect();
    // `duet.trees` naming a tensor the file lacks (here renamed in the header) used to panic in
    // `load_like`.
    let ghost = with_header(&good, "trees.safetensors", |h| {
        let entry = h.remove("params/conv1.bias").unwrap();
        h.insert("params/renamed".into(), entry);
    });
    cases.push((ghost, "params/conv1.bias"));
    for (file, needle) in cases {
        let name = file.file_name().unwrap().to_str().unwrap().to_string();
        for args in [
            cmd("eval --checkpoint {}", &[&file]),
            predict(&file, &x, &y),
        ] {
            let err = fails(&args);
            assert!(
                err.contains(&name) && err.contains(needle),
                "{args:?}: {err}"
            );
        }
    }
}

#[test]
fn bad_normalization_metadata_is_an_error_naming_the_key() {
    let tmp = tempfile::tempdir().unwrap();
    let good = lenet_checkpoint(tmp.path());
    let none = with_meta(&good, "none.safetensors", |m| {
        m.remove("duet.norm_mean");
        m.remove("duet.norm_std");
    });
    let mut cases = vec![(none, "duet.norm_mean")];
    let no_mean = with_meta(&good, "nomean.safetensors", |m| {
        drop(m.remove("duet.norm_mean"))
    });
    cases.push((no_mean, "duet.norm_mean"));
    for (i, (key, value)) in [
        ("duet.norm_mean", "abc"),
        ("duet.norm_mean", "NaN"),
        ("duet.norm_mean", ""),
        ("duet.norm_std", "inf"),
        ("duet.norm_std", "0"),
        ("duet.norm_std", "-0.5"),
        ("duet.norm_std", "0.2,0.2,0.2"),
    ]
    .into_iter()
    .enumerate()
    {
        cases.push((
            with_meta(&good, &format!("norm{i}.safetensors"), set(key, value)),
            key,
        ));
    }
    for (file, key) in cases {
        let err = fails(&cmd("eval --checkpoint {}", &[&file]));
        let name = file.file_name().unwrap().to_str().unwrap();
        assert!(err.contains(name) && err.contains(key), "{name}: {err}");
    }
    // Non-finite weights are refused too (not a NaN accuracy).
    let dev = Device::flex();
    let ck = duet_core::CheckpointFile::open(&good).unwrap();
    let nan = ck.tree("params", &dev).unwrap().map(|t| t * f32::NAN);
    let file = tmp.path().join("nanweights.safetensors");
    checkpoint::save(&file, &[("params", &nan)], ck.metadata()).unwrap();
    let err = fails(&cmd("eval --checkpoint {}", &[&file]));
    assert!(err.contains("nanweights") && err.contains("NaN"), "{err}");
}

#[test]
fn numeric_flags_are_bounded_by_the_parser() {
    let norm = "import-torch --model lenet --input a --output b --norm-mean x --norm-std 1";
    for (line, flag) in [
        ("train --batch-size 0", "--batch-size"),
        ("train --batch-size 100000000", "--batch-size"),
        ("eval --checkpoint x --batch-size 0", "--batch-size"),
        ("bench --batch-size 0", "--batch-size"),
        ("bench --pipeline --batch-size 20000", "--batch-size"),
        ("bench --steps 0", "--steps"),
        ("train --lr=-1", "--lr"),
        ("train --lr -1", "--lr"),
        ("train --lr 0", "--lr"),
        ("train --lr NaN", "--lr"),
        ("train --lr inf", "--lr"),
        ("train --epochs 0", "--epochs"),
        ("train --epochs 18446744073709551615", "--epochs"),
        ("train --steps 0", "--steps"),
        ("train --steps 1000000001", "--steps"),
        ("train --keep 0", "--keep"),
        ("train --log-every 0", "--log-every"),
        ("train --distributed tcp", "--distributed"),
        ("bench --allreduce", "--distributed"),
        ("summary --channels 0", "--channels"),
        (norm, "--norm-mean"),
    ] {
        let err = fails(&line.split(' ').collect::<Vec<_>>());
        assert!(err.contains(flag), "{line}: {err}");
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
    // Resuming from one directory into another that is overwritten is allowed (overwriting the
    // resumed directory itself is refused by the run, see training.rs).
    let t2 = parse(&["--overwrite", "--resume", "d", "--out", "e"]).unwrap();
    assert_eq!(t2, (true, false));
    assert_eq!(t, (false, true));
}

#[test]
fn import_torch_checks_every_tensor_of_the_state_dict() {
    let tmp = tempfile::tempdir().unwrap();
    let dev = Device::flex();
    let out = tmp.path().join("out.safetensors");
    let import = |sd: &Params, name: &str, extra: &[&str]| {
        let f = tmp.path().join(name);
        checkpoint::save(&f, &[("", sd)], &BTreeMap::new()).unwrap();
        let mut args = cmd(
            "import-torch --model lenet --input {} --output {}",
            &[&f, &out],
        );
        args.extend(extra.iter().map(|a| a.to_string()));
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
    let err = fails(&cmd(
        "data --dataset mnist --data-dir {} --grid {}",
        &[&d, &grid],
    ));
    assert!(err.contains(s(tmp.path())), "{err}");
    // Thin and large images draw (the label row used to underflow for images under 6 px).
    for (h, w) in [(1, 31), (1, 1), (300, 2)] {
        let d = mnist_dir(tmp.path(), 3, 1, h, w);
        succeeds(&cmd(
            "data --dataset mnist --data-dir {} --grid {}",
            &[&d, &grid],
        ));
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
    let predict = |x: &Path| predict(&good, x, &y);
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
    let err = fails(&cmd(
        "eval --checkpoint {} --dataset mnist --data-dir {}",
        &[&good, &d],
    ));
    assert!(err.contains("mnist") && err.contains(s(&d)), "{err}");
    // A model with fewer outputs than the dataset has classes.
    let five = lenet_with_classes(tmp.path(), 5, "five.safetensors");
    let err = fails(&cmd("eval --checkpoint {}", &[&five]));
    assert!(
        err.contains("10 classes") && err.contains("five.safetensors"),
        "{err}"
    );
    // The same checkpoint evaluates a non-empty split.
    let d = mnist_dir(tmp.path(), 2, 3, 28, 28);
    let out = duet(&cmd(
        "eval --checkpoint {} --dataset mnist --data-dir {}",
        &[&good, &d],
    ));
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(String::from_utf8_lossy(&out.stdout).contains("\"images\": 3"));
}

/// Without the `mpi` feature, `--distributed mpi` says how to get it, in one line, before any work.
#[cfg(not(feature = "mpi"))]
#[test]
fn distributed_mpi_without_the_feature_says_how_to_build_it() {
    for line in [
        "train --distributed mpi",
        "bench --distributed mpi --allreduce",
    ] {
        let err = fails(&line.split(' ').collect::<Vec<_>>());
        assert!(err.contains("--features mpi"), "{line}: {err}");
    }
}
