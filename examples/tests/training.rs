//! The training loop and the `duet` command end to end: exact resume, kill -9, NaN losses,
//! import-torch and predict, cross-API checkpoints.

use duet_core::burn::tensor::{Device, Tensor};
use duet_core::{checkpoint, CheckpointFile, DynTensor, Key, Params};
use duet_examples::cli::args::{Api, OptimizerKind};
use duet_examples::cli::models;
use duet_examples::models::ModelKind;
use duet_testing::{assert_close, Fixture};
use duet_train::{Classification, FunctionalModel, Task, TrainConfig, TrainError, Trainer};
use std::collections::BTreeMap;
use std::process::Command;

fn duet() -> Command {
    Command::new(env!("CARGO_BIN_EXE_duet"))
}

fn run_ok(args: &[&str]) -> String {
    let out = duet().args(args).output().unwrap();
    assert!(
        out.status.success(),
        "duet {args:?} failed:\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

fn final_params(dir: &std::path::Path, step: u64) -> Params {
    let f = dir.join(format!("step-{step:08}.safetensors"));
    CheckpointFile::open(&f)
        .unwrap()
        .tree("params", &Device::flex())
        .unwrap()
}

/// Resuming continues the run: the resumed process runs only the remaining steps (its own
/// report and the step records say so), ends bitwise where an uninterrupted run ends, and
/// really starts from the checkpoint's weights (a perturbed checkpoint ends elsewhere).
#[test]
fn resuming_gives_bitwise_the_same_weights_as_an_uninterrupted_run() {
    let tmp = tempfile::tempdir().unwrap();
    let (a, b, c) = (
        tmp.path().join("a"),
        tmp.path().join("b"),
        tmp.path().join("c"),
    );
    let common = [
        "train",
        "--quiet",
        "--steps",
        "24",
        "--batch-size",
        "64",
        "--seed",
        "5",
        "--optimizer",
        "adam",
    ];
    for api in ["functional", "module"] {
        run_ok(&[&common[..], &["--api", api, "--out", a.to_str().unwrap()]].concat());
        // Stop at step 10 (mid-epoch: 22 batches of 64 per epoch), then resume to 24.
        let first: Vec<&str> = common
            .iter()
            .map(|s| if *s == "24" { "10" } else { s })
            .collect();
        run_ok(
            &[
                &first[..],
                &[
                    "--api",
                    api,
                    "--out",
                    b.to_str().unwrap(),
                    "--checkpoint-every",
                    "5",
                ],
            ]
            .concat(),
        );
        let ten = std::fs::read(b.join("step-00000010.safetensors")).unwrap();
        let out = run_ok(
            &[
                &common[..],
                &["--api", api, "--resume", b.to_str().unwrap()],
            ]
            .concat(),
        );
        assert!(
            out.contains("(14 in this run, resumed at step 10)"),
            "{out}"
        );
        // Each step is logged once, in order: the resumed process did not redo steps 1..=10.
        let steps: Vec<u64> = duet_train::MetricsLog::read(b.join("metrics.jsonl"))
            .unwrap()
            .iter()
            .filter(|r| r.split == "train")
            .map(|r| r.step)
            .collect();
        assert!(steps.windows(2).all(|w| w[0] < w[1]), "{steps:?}");
        assert_eq!(steps.last(), Some(&24));
        let (pa, pb) = (final_params(&a, 24), final_params(&b, 24));
        assert_eq!(pa.len(), pb.len());
        for (path, t) in pa.iter() {
            assert_eq!(
                t.to_vec(),
                pb.get_dyn(path).unwrap().to_vec(),
                "{api}: {path} differs after resume"
            );
        }
        if api == "functional" {
            // The same step-10 checkpoint with one weight nudged: resuming must end elsewhere.
            std::fs::create_dir_all(&c).unwrap();
            let f = CheckpointFile::from_bytes(c.join("x"), ten).unwrap();
            let dev = Device::flex();
            let trees = f.trees(&dev).unwrap();
            let nudged = trees[0]
                .1
                .map_with_path(|p, t| if p == "fc3.bias" { t + 1e-2 } else { t });
            let refs: Vec<(&str, &Params)> = trees
                .iter()
                .map(|(n, t)| (n.as_str(), if n == "params" { &nudged } else { t }))
                .collect();
            let mut meta = f.metadata().clone();
            meta.remove("duet.trees");
            checkpoint::save(c.join("step-00000010.safetensors"), &refs, &meta).unwrap();
            run_ok(
                &[
                    &common[..],
                    &["--api", api, "--resume", c.to_str().unwrap()],
                ]
                .concat(),
            );
            let pc = final_params(&c, 24);
            assert_ne!(
                pc.get_dyn("conv1.weight").unwrap().to_vec(),
                pa.get_dyn("conv1.weight").unwrap().to_vec(),
                "a perturbed checkpoint resumed to the same weights: resume ignored it"
            );
            std::fs::remove_dir_all(&c).unwrap();
        }
        std::fs::remove_dir_all(&a).unwrap();
        std::fs::remove_dir_all(&b).unwrap();
    }
}

/// `duet train` into a directory that holds a run is refused (one line, naming the directory,
/// `--resume` and `--overwrite`) and leaves the run untouched; `--overwrite` replaces it.
#[test]
fn train_refuses_a_directory_that_holds_a_run() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("run");
    let d = dir.to_str().unwrap();
    let args = ["train", "--quiet", "--steps", "3", "--out", d];
    run_ok(&args);
    let before = std::fs::read(dir.join("step-00000003.safetensors")).unwrap();
    let out = duet()
        .args(["train", "--quiet", "--steps", "2", "--out", d])
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success(), "{err}");
    assert!(
        err.trim().lines().count() == 1
            && err.contains(d)
            && err.contains("--resume")
            && err.contains("--overwrite"),
        "{err}"
    );
    assert_eq!(
        std::fs::read(dir.join("step-00000003.safetensors")).unwrap(),
        before
    );
    let out = run_ok(&[
        "train",
        "--quiet",
        "--steps",
        "2",
        "--out",
        d,
        "--overwrite",
    ]);
    assert!(out.contains("step-00000002"), "{out}");
    assert!(!dir.join("step-00000003.safetensors").exists());
    // A second process training into a directory in use is refused, even with --overwrite.
    let held = duet_train::RunDir::open(&dir, duet_train::RunMode::Resume).unwrap();
    let out = duet()
        .args([
            "train",
            "--quiet",
            "--steps",
            "2",
            "--out",
            d,
            "--overwrite",
        ])
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        !out.status.success() && err.contains("in use by another training run"),
        "{err}"
    );
    assert!(dir.join("step-00000002.safetensors").exists());
    drop(held);
    // --overwrite of the run being resumed would delete the checkpoint it reads.
    let out = duet()
        .args([
            "train",
            "--quiet",
            "--steps",
            "4",
            "--resume",
            d,
            "--overwrite",
        ])
        .output()
        .unwrap();
    assert!(!out.status.success());
    assert!(dir.join("step-00000002.safetensors").exists());
}

/// `--resume` with another `--optimizer` is refused unless `--reset-optimizer` is given.
#[test]
fn resume_with_another_optimizer_needs_reset_optimizer() {
    let tmp = tempfile::tempdir().unwrap();
    let d = tmp.path().join("run");
    let d = d.to_str().unwrap();
    run_ok(&[
        "train",
        "--quiet",
        "--steps",
        "2",
        "--optimizer",
        "adam",
        "--out",
        d,
    ]);
    let rms = [
        "train",
        "--quiet",
        "--steps",
        "4",
        "--optimizer",
        "rmsprop",
        "--resume",
        d,
    ];
    let out = duet().args(rms).output().unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success());
    assert!(
        err.contains("--reset-optimizer")
            && err.contains("adam")
            && err.trim().lines().count() == 1,
        "{err}"
    );
    let out = run_ok(&[&rms[..], &["--reset-optimizer"]].concat());
    assert!(out.contains("resumed at step 2"), "{out}");
}

/// `--device cpu,cpu` trains data-parallel (two replicas, each half of every batch) and ends
/// where one device does: same data order, averaged gradients, one update. Float sums are
/// regrouped across the shards, hence 1e-4 after 12 SGD steps rather than bitwise.
#[test]
fn several_devices_train_data_parallel_like_one() {
    let tmp = tempfile::tempdir().unwrap();
    let common = [
        "train",
        "--quiet",
        "--steps",
        "12",
        "--batch-size",
        "64",
        "--optimizer",
        "sgd",
        "--lr",
        "0.05",
    ];
    for (name, device, banner) in [
        ("one", "cpu", "on cpu\n"),
        ("two", "cpu,cpu", "data-parallel"),
    ] {
        let dir = tmp.path().join(name);
        let args = [
            &common[..],
            &["--device", device, "--out", dir.to_str().unwrap()],
        ]
        .concat();
        let out = duet().args(&args).output().unwrap();
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(
            out.status.success() && err.contains(banner),
            "{args:?}: {err}"
        );
    }
    let (one, two) = (
        final_params(&tmp.path().join("one"), 12),
        final_params(&tmp.path().join("two"), 12),
    );
    let init = models::build(
        ModelKind::Lenet,
        Api::Functional,
        [1, 32, 32],
        10,
        Key::new(0).fold_in(0),
        &Device::flex(),
    )
    .unwrap()
    .params();
    for (path, t) in one.iter() {
        let (a, b) = (t.to_vec(), two.get_dyn(path).unwrap().to_vec());
        assert_close(path, &b, &a, 1e-4, 1e-6);
        // Training moved the weights: the comparison is not between two initial states.
        assert_ne!(
            a,
            init.get_dyn(path).unwrap().to_vec(),
            "{path} did not train"
        );
    }
}

#[test]
fn kill_9_during_training_leaves_loadable_checkpoints() {
    let tmp = tempfile::tempdir().unwrap();
    let out = tmp.path().join("run");
    let mut child = duet()
        .args([
            "train",
            "--quiet",
            "--steps",
            "100000",
            "--checkpoint-every",
            "1",
            "--keep",
            "3",
            "--out",
            out.to_str().unwrap(),
        ])
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let t0 = std::time::Instant::now();
    while duet_train::CheckpointDir::latest(&out)
        .ok()
        .flatten()
        .is_none()
        && t0.elapsed().as_secs() < 120
    {
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
    std::thread::sleep(std::time::Duration::from_millis(700)); // let it write more checkpoints
    child.kill().unwrap(); // SIGKILL
    child.wait().unwrap();
    let mut loaded = 0;
    for e in std::fs::read_dir(&out).unwrap() {
        let p = e.unwrap().path();
        let name = p.file_name().unwrap().to_string_lossy().into_owned();
        if name.starts_with("step-") {
            let ck = CheckpointFile::open(&p)
                .unwrap_or_else(|e| panic!("{name} is not loadable after kill -9: {e}"));
            ck.tree("params", &Device::flex()).unwrap();
            loaded += 1;
        }
    }
    assert!(loaded >= 1, "no checkpoint was written");
    let latest = duet_train::CheckpointDir::latest(&out).unwrap().unwrap();
    run_ok(&["eval", "--checkpoint", latest.to_str().unwrap()]);
}

#[test]
fn a_nan_loss_stops_training_and_names_the_last_good_checkpoint() {
    let dev = Device::flex();
    let tmp = tempfile::tempdir().unwrap();
    let layer = duet_functional::serial![
        duet_functional::Flatten,
        duet_functional::Dense::new(10),
        duet_functional::Fn::new("Poison", |x: Vec<DynTensor>| vec![x[0].clone() * f32::NAN]),
    ];
    let (params, state) =
        duet_functional::LayerExt::init_model(&layer, &[1, 1, 8, 8], Key::new(0), &dev).unwrap();
    let mut model = FunctionalModel {
        model: Box::new(layer),
        params,
        state,
    };
    let data = duet_datasets::digits().unwrap();
    let cfg = duet_datasets::LoaderConfig {
        batch_size: 32,
        ..Default::default()
    };
    let train = duet_datasets::Loader::new(data.train, cfg.clone(), Key::new(0), dev.clone());
    let test = duet_datasets::Loader::new(data.test, cfg, Key::new(0), dev);
    let tc = TrainConfig {
        total_steps: 5,
        keep_last: 2,
        log_every: 1,
        quiet: true,
        ..TrainConfig::new(tmp.path())
    };
    let mut opt = models::optimizer(OptimizerKind::Sgd, 0.1);
    let trainer = Trainer::new(Classification::default(), tc);
    let e = trainer
        .fit(&mut model, &mut opt, &train, &test, None)
        .unwrap_err();
    assert!(
        matches!(e, TrainError::NonFiniteLoss { step: 0, .. }),
        "{e}"
    );
    assert!(e.to_string().contains("NaN at step 0"), "{e}");
}

#[test]
fn import_torch_then_predict_agrees_with_pytorch() {
    let dev = Device::flex();
    let tmp = tempfile::tempdir().unwrap();
    let fx = Fixture::open(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/fixtures/lenet.safetensors"
    ));
    let names = [
        "conv1.weight",
        "conv1.bias",
        "conv2.weight",
        "conv2.bias",
        "fc1.weight",
        "fc1.bias",
        "fc2.weight",
        "fc2.bias",
        "fc3.weight",
        "fc3.bias",
    ];
    let sd: Params = names
        .iter()
        .map(|n| {
            (
                n.to_string(),
                DynTensor::from_floats(
                    fx.get(&format!("init.{n}")).f32s.clone(),
                    &fx.get(&format!("init.{n}")).shape,
                    &dev,
                ),
            )
        })
        .collect();
    let (sd_file, ck, x_file, y_file) = (
        tmp.path().join("sd.safetensors"),
        tmp.path().join("lenet.safetensors"),
        tmp.path().join("x.safetensors"),
        tmp.path().join("y.safetensors"),
    );
    checkpoint::save(&sd_file, &[("", &sd)], &BTreeMap::new()).unwrap();
    run_ok(&[
        "import-torch",
        "--model",
        "lenet",
        "--input",
        sd_file.to_str().unwrap(),
        "--output",
        ck.to_str().unwrap(),
    ]);
    let x: Tensor<4> = fx.float("x", &dev);
    checkpoint::save(
        &x_file,
        &[("", &Params::new().with("x", x))],
        &BTreeMap::new(),
    )
    .unwrap();
    for api in ["functional", "module"] {
        run_ok(&[
            "predict",
            "--checkpoint",
            ck.to_str().unwrap(),
            "--input",
            x_file.to_str().unwrap(),
            "--output",
            y_file.to_str().unwrap(),
            "--api",
            api,
        ]);
        let logits = CheckpointFile::open(&y_file)
            .unwrap()
            .tree("", &dev)
            .unwrap();
        assert_close(
            &format!("{api} predict"),
            &logits.get_dyn("logits").unwrap().to_vec(),
            &fx.get("logits").f32s,
            1e-5,
            1e-6,
        );
    }
    // A checkpoint for another model is one clear error.
    let out = duet()
        .args([
            "import-torch",
            "--model",
            "alexnet",
            "--input",
            sd_file.to_str().unwrap(),
            "--output",
            ck.to_str().unwrap(),
        ])
        .output()
        .unwrap();
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("no `features.0.weight`"));
}

#[test]
fn alexnet_checkpoints_cross_apis_with_identical_outputs_and_gradients() {
    let dev = Device::flex();
    let f = models::build(
        ModelKind::Alexnet,
        Api::Functional,
        [3, 32, 32],
        10,
        Key::new(1),
        &dev,
    )
    .unwrap();
    let mut m = models::build(
        ModelKind::Alexnet,
        Api::Module,
        [3, 32, 32],
        10,
        Key::new(2),
        &dev,
    )
    .unwrap();
    assert_eq!(
        f.params().paths(),
        m.params().paths(),
        "same paths in both APIs"
    );
    m.load_params(&f.params()).unwrap();
    let mut f = f;
    let x = Key::new(3).normal([2, 3, 32, 32], 0.0, 1.0, &dev);
    let y = Tensor::<1, duet_core::burn::tensor::Int>::from_ints([1, 7], &dev);
    assert_eq!(
        DynTensor::from(f.forward(x.clone())).to_vec(),
        DynTensor::from(m.forward(x.clone())).to_vec()
    );
    let task = Classification::default();
    let loss = |logits, rows| task.loss(logits, &y, rows);
    let (of, om) = (
        f.loss_and_grad(x.clone(), Key::new(4), &loss),
        m.loss_and_grad(x, Key::new(4), &loss),
    );
    assert_eq!(
        of.loss.into_scalar::<f32>(),
        om.loss.into_scalar::<f32>(),
        "same dropout masks, same loss"
    );
    for (p, g) in of.grads.iter() {
        assert_eq!(g.to_vec(), om.grads.get_dyn(p).unwrap().to_vec(), "{p}");
    }
}

#[test]
fn bad_input_is_one_clear_line() {
    for (args, needle) in [
        (vec!["train", "--dataset", "cifar10"], "needs --data-dir"),
        (
            vec![
                "train",
                "--dataset",
                "cifar10",
                "--data-dir",
                "/nonexistent",
            ],
            "/nonexistent",
        ),
        (vec!["train", "--device", "cuda"], "--features cuda"),
        (
            vec!["eval", "--checkpoint", "/nonexistent.safetensors"],
            "/nonexistent.safetensors",
        ),
    ] {
        let out = duet().args(&args).output().unwrap();
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(!out.status.success(), "{args:?}");
        assert!(
            err.contains(needle) && err.trim().lines().count() == 1,
            "{args:?}: {err}"
        );
    }
}
