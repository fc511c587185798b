//! The training loop under faults: a failing data loader, a diverging model, params that stop
//! being finite, a directory that holds another run, a killed run's leftovers, a resume whose
//! checkpoint does not fit.

use duet_core::burn::tensor::{Device, Tensor};
use duet_core::{checkpoint, CheckpointFile, Key, Parameterized, Params, TreeError};
use duet_datasets::{ImageDataset, Loader, LoaderConfig};
use duet_functional::{serial, Dense, Flatten, LayerExt};
use duet_optim::{adam, sgd, Adam, Optimizer, Sgd};
use duet_train::*;
use std::collections::BTreeMap;
use std::path::Path;

fn data(n: usize) -> ImageDataset {
    ImageDataset {
        pixels: (0..n * 16).map(|i| (i * 37 % 251) as u8).collect(),
        labels: (0..n).map(|i| (i % 3) as u16).collect(),
        channels: 1,
        height: 4,
        width: 4,
        class_names: (0..3).map(|i| i.to_string()).collect(),
    }
}

fn model() -> FunctionalModel {
    let layer = serial![Flatten, "fc" => Dense::new(3)];
    let (params, state) = layer
        .init_model(&[1, 1, 4, 4], Key::new(0), &Device::flex())
        .unwrap();
    FunctionalModel {
        model: Box::new(layer),
        params,
        state,
    }
}

fn loader(d: ImageDataset, prefetch: usize) -> Loader {
    let cfg = LoaderConfig {
        batch_size: 4,
        drop_last: true,
        prefetch,
        ..Default::default()
    };
    Loader::new(d, cfg, Key::new(1), Device::flex())
}

fn config(out: &Path, total_steps: u64, checkpoint_every: u64, keep_last: usize) -> TrainConfig {
    TrainConfig {
        total_steps,
        checkpoint_every,
        keep_last,
        key: Key::new(2),
        log_every: 1,
        quiet: true,
        metadata: BTreeMap::from([("duet.model".into(), "tiny".into())]),
        ..TrainConfig::new(out)
    }
}

fn sgd_opt() -> Optimizer {
    Optimizer::new(sgd(0.1, Sgd::default()))
}

/// The classification trainer's `fit`.
fn fit(
    m: &mut ImageClassifier<'_>,
    opt: &mut Optimizer,
    train: &Loader,
    test: &Loader,
    cfg: &TrainConfig,
    resume: Option<&Path>,
) -> Result<TrainSummary, TrainError> {
    Trainer::new(Classification::default(), cfg.clone()).fit(m, opt, train, test, resume)
}

/// `fit` with plain SGD (lr 0.1).
fn sgd_fit(
    m: &mut ImageClassifier<'_>,
    train: &Loader,
    test: &Loader,
    cfg: &TrainConfig,
    resume: Option<&Path>,
) -> Result<TrainSummary, TrainError> {
    fit(m, &mut sgd_opt(), train, test, cfg, resume)
}

/// Wraps a classifier: from step `nan_from` on, the loss is NaN; at step `inf_from` its params
/// become infinite while the loss it reports stays finite (gradients zero), as when a weight
/// overflows without reaching the loss.
struct Faulty {
    inner: FunctionalModel,
    step: u64,
    nan_from: u64,
    inf_from: u64,
}

impl Parameterized for Faulty {
    fn params(&self) -> Params {
        self.inner.params()
    }
    fn load_params(&mut self, params: &Params) -> Result<(), TreeError> {
        self.inner.load_params(params)
    }
}

impl Stateful for Faulty {
    fn state(&self) -> Params {
        self.inner.state()
    }
    fn load_state(&mut self, state: &Params) -> Result<(), TreeError> {
        self.inner.load_state(state)
    }
}

impl Model<Tensor<4>, Tensor<2>> for Faulty {
    fn loss_and_grad(
        &mut self,
        images: Tensor<4>,
        key: Key,
        loss: &LossFn<'_, Tensor<2>>,
    ) -> StepOutput {
        if self.step == self.inf_from {
            let inf = self.inner.params().map(|t| t * f32::INFINITY);
            self.inner.load_params(&inf).unwrap();
        }
        let mut out = self.inner.loss_and_grad(images, key, loss);
        if self.step >= self.nan_from {
            out.loss = out.loss * f32::NAN;
        }
        if self.step >= self.inf_from {
            out.loss = out.loss.zeros_like() + 1.0;
            out.grads = out.grads.map(|g| g.zeros_like());
        }
        self.step += 1;
        out
    }
    fn forward(&self, images: Tensor<4>) -> Tensor<2> {
        self.inner.forward(images)
    }
}

fn faulty(nan_from: u64, inf_from: u64) -> Faulty {
    Faulty {
        inner: model(),
        step: 0,
        nan_from,
        inf_from,
    }
}

/// The checkpoint whose params produced the NaN is moved out of `--resume`'s way and the last
/// good one is named and kept, even with `keep_last = 1`.
#[test]
fn a_diverged_checkpoint_is_never_called_good_nor_resumed() {
    let tmp = tempfile::tempdir().unwrap();
    // 40 images, 10 batches per epoch: checkpoints at 3 and 6 (periodic), NaN at step 6.
    let (train, test) = (loader(data(40), 0), loader(data(8), 0));
    let cfg = config(tmp.path(), 20, 3, 1);
    let mut m = faulty(6, u64::MAX);
    let e = sgd_fit(&mut m, &train, &test, &cfg, None).unwrap_err();
    let good = tmp.path().join("step-00000003.safetensors");
    match &e {
        TrainError::NonFiniteLoss {
            step: 6,
            last: Some(last),
            diverged: Some(d),
            ..
        } => {
            assert_eq!(last, &good);
            assert!(d.ends_with("diverged-step-00000006.safetensors"), "{e}");
        }
        other => panic!("{other}"),
    }
    assert!(e.to_string().contains("step-00000003"), "{e}");
    CheckpointFile::open(&good).unwrap();
    assert_eq!(CheckpointDir::latest(tmp.path()).unwrap(), Some(good));
}

/// Params that stop being finite are caught when checkpointing: nothing is saved and the last
/// good checkpoint is named.
#[test]
fn non_finite_params_are_not_checkpointed() {
    let tmp = tempfile::tempdir().unwrap();
    let (train, test) = (loader(data(40), 0), loader(data(8), 0));
    let cfg = config(tmp.path(), 20, 3, 2);
    let mut m = faulty(u64::MAX, 4);
    let e = sgd_fit(&mut m, &train, &test, &cfg, None).unwrap_err();
    match &e {
        TrainError::NonFiniteParams {
            step: 6,
            tensor,
            last: Some(last),
        } => {
            assert_eq!(tensor, "fc.weight");
            assert!(last.ends_with("step-00000003.safetensors"));
        }
        other => panic!("{other}"),
    }
    assert!(!tmp.path().join("step-00000006.safetensors").exists());
}

/// A batch that cannot be prepared stops training with the loader's error (not a short
/// "successful" epoch), with or without worker threads, and names the last checkpoint.
#[test]
fn a_loader_failure_stops_training_with_its_error() {
    for prefetch in [0, 2] {
        let tmp = tempfile::tempdir().unwrap();
        let mut d = data(40);
        d.pixels.truncate(30 * 16); // images 30.. are missing: batch 7 fails
        let cfg = LoaderConfig {
            batch_size: 4,
            shuffle: false,
            prefetch,
            ..Default::default()
        };
        let train = Loader::new(d, cfg, Key::new(1), Device::flex());
        let test = loader(data(8), 0);
        let cfg = config(tmp.path(), 20, 3, 2);
        let e = sgd_fit(&mut model(), &train, &test, &cfg, None).unwrap_err();
        match &e {
            TrainError::Data { error, last } => {
                assert_eq!(error.epoch, 0);
                assert!(
                    last.is_some(),
                    "checkpoints were written before the failure"
                );
            }
            other => panic!("prefetch {prefetch}: {other}"),
        }
        assert!(e.to_string().contains("training stopped"), "{e}");
    }
}

#[test]
fn an_empty_evaluation_split_is_an_error() {
    let tmp = tempfile::tempdir().unwrap();
    let test = loader(data(8).shape_only(), 0);
    assert!(matches!(
        evaluate(&Classification::default(), &model(), &test),
        Err(TrainError::EmptyEval)
    ));
    let cfg = config(tmp.path(), 5, 0, 2);
    let e = sgd_fit(&mut model(), &loader(data(40), 0), &test, &cfg, None).unwrap_err();
    assert!(matches!(e, TrainError::EmptyEval), "{e}");
}

/// A second run into a directory that holds a run is refused and changes nothing there; with
/// `overwrite` it replaces the run's files and nothing else.
#[test]
fn a_directory_holding_a_run_is_refused_unless_overwritten() {
    let tmp = tempfile::tempdir().unwrap();
    let (train, test) = (loader(data(40), 0), loader(data(8), 0));
    let mut cfg = config(tmp.path(), 10, 0, 2);
    sgd_fit(&mut model(), &train, &test, &cfg, None).unwrap();
    let metrics = std::fs::read(tmp.path().join("metrics.jsonl")).unwrap();
    std::fs::write(tmp.path().join("notes.txt"), "mine").unwrap();
    cfg.total_steps = 3;
    let e = sgd_fit(&mut model(), &train, &test, &cfg, None).unwrap_err();
    let msg = e.to_string();
    assert!(
        matches!(e, TrainError::RunDir(RunDirError::HoldsRun { .. })),
        "{msg}"
    );
    assert!(
        msg.contains("--resume") && msg.contains("--overwrite"),
        "{msg}"
    );
    assert_eq!(
        std::fs::read(tmp.path().join("metrics.jsonl")).unwrap(),
        metrics
    );
    assert_eq!(
        CheckpointDir::new(tmp.path(), 2, Better::Higher)
            .unwrap()
            .steps()
            .unwrap(),
        vec![10]
    );
    // A leftover of a killed atomic write is cleaned up; unrelated files survive.
    let leftover = tmp.path().join(".step-00000004.safetensors.tmp.99999");
    std::fs::write(&leftover, "partial").unwrap();
    cfg.overwrite = true;
    let s = sgd_fit(&mut model(), &train, &test, &cfg, None).unwrap();
    assert_eq!(s.steps, 3);
    let ck = CheckpointDir::new(tmp.path(), 2, Better::Higher).unwrap();
    assert_eq!(
        ck.steps().unwrap(),
        vec![3],
        "the old run's step 10 is gone"
    );
    assert!(!leftover.exists());
    assert_eq!(
        std::fs::read_to_string(tmp.path().join("notes.txt")).unwrap(),
        "mine"
    );
    let steps: Vec<u64> = MetricsLog::read(tmp.path().join("metrics.jsonl"))
        .unwrap()
        .iter()
        .map(|r| r.step)
        .collect();
    assert!(steps.iter().all(|&s| s <= 3), "{steps:?}");
}

#[test]
fn a_locked_directory_is_refused() {
    let tmp = tempfile::tempdir().unwrap();
    let held = RunDir::open(tmp.path(), RunMode::New).unwrap();
    let (train, test) = (loader(data(40), 0), loader(data(8), 0));
    let cfg = config(tmp.path(), 3, 0, 2);
    let e = sgd_fit(&mut model(), &train, &test, &cfg, None).unwrap_err();
    assert!(
        matches!(e, TrainError::RunDir(RunDirError::Locked { .. })),
        "{e}"
    );
    drop(held);
    sgd_fit(&mut model(), &train, &test, &cfg, None).unwrap();
}

/// A resumed run logs each step once: records the crashed process wrote after its last
/// checkpoint are dropped.
#[test]
fn resume_after_a_crash_logs_each_step_once() {
    let tmp = tempfile::tempdir().unwrap();
    let (train, test) = (loader(data(40), 0), loader(data(8), 0));
    let cfg = config(tmp.path(), 8, 3, 5);
    sgd_fit(&mut model(), &train, &test, &cfg, None).unwrap();
    // As if the process died after logging step 8 but before its checkpoint reached the disk.
    std::fs::remove_file(tmp.path().join("step-00000008.safetensors")).unwrap();
    std::fs::remove_file(tmp.path().join("best.safetensors")).unwrap();
    let s = sgd_fit(&mut model(), &train, &test, &cfg, Some(tmp.path())).unwrap();
    assert_eq!((s.start_step, s.steps), (6, 8));
    let recs = MetricsLog::read(tmp.path().join("metrics.jsonl")).unwrap();
    let mut keys: Vec<(String, u64)> = recs.iter().map(|r| (r.split.clone(), r.step)).collect();
    let n = keys.len();
    keys.sort();
    keys.dedup();
    assert_eq!(keys.len(), n, "a step was logged twice: {recs:?}");
    let train_steps: Vec<u64> = recs
        .iter()
        .filter(|r| r.split == "train")
        .map(|r| r.step)
        .collect();
    assert_eq!(train_steps, (1..=8).collect::<Vec<_>>());
}

/// Resuming checks the checkpoint against the run: another model, another optimizer, or an
/// optimizer moment of the wrong shape is one clear error, never a panic or a silent takeover;
/// `reset_optimizer` resumes with a fresh optimizer state.
#[test]
fn a_checkpoint_that_does_not_fit_the_run_is_refused() {
    let tmp = tempfile::tempdir().unwrap();
    let (train, test) = (loader(data(40), 0), loader(data(8), 0));
    let src = tmp.path().join("src");
    let mut cfg = config(&src, 4, 2, 5);
    cfg.metadata.insert(OPTIMIZER_KEY.into(), "adam".into());
    let adam_opt = || Optimizer::new(adam(1e-2, Adam::default()));
    fit(&mut model(), &mut adam_opt(), &train, &test, &cfg, None).unwrap();
    let resume_into = |name: &str, cfg: &TrainConfig, opt: &mut Optimizer| {
        let mut c = cfg.clone();
        c.out_dir = tmp.path().join(name);
        c.total_steps = 6;
        fit(&mut model(), opt, &train, &test, &c, Some(&src))
    };
    // Another optimizer.
    let mut other = cfg.clone();
    other.metadata.insert(OPTIMIZER_KEY.into(), "sgd".into());
    let e = resume_into("a", &other, &mut sgd_opt()).unwrap_err();
    assert!(e.to_string().contains("--reset-optimizer"), "{e}");
    other.reset_optimizer = true;
    let s = resume_into("b", &other, &mut sgd_opt()).unwrap();
    assert_eq!((s.start_step, s.steps), (4, 6));
    // Another model.
    let mut other = cfg.clone();
    other.metadata.insert("duet.model".into(), "lenet".into());
    let e = resume_into("c", &other, &mut adam_opt()).unwrap_err();
    assert!(e.to_string().contains("duet.model"), "{e}");
    // A moment of the wrong shape: rewrite the checkpoint with `mu.fc.weight` cut to [2, 3].
    let latest = CheckpointDir::latest(&src).unwrap().unwrap();
    let f = CheckpointFile::open(&latest).unwrap();
    let dev = Device::flex();
    let trees = f.trees(&dev).unwrap();
    let mut opt_tree = trees.iter().find(|(n, _)| n == "opt").unwrap().1.clone();
    let path = opt_tree
        .iter()
        .map(|(p, _)| p.to_string())
        .find(|p| p.ends_with("fc.weight"))
        .unwrap();
    opt_tree = opt_tree.with(path.as_str(), Tensor::<2>::zeros([2, 3], &dev));
    let refs: Vec<(&str, &Params)> = trees
        .iter()
        .map(|(n, t)| (n.as_str(), if n == "opt" { &opt_tree } else { t }))
        .collect();
    let mut meta = f.metadata().clone();
    meta.retain(|k, _| !k.starts_with("duet.trees") && k != "duet.format");
    checkpoint::save(&latest, &refs, &meta).unwrap();
    let e = resume_into("d", &cfg, &mut adam_opt()).unwrap_err();
    let msg = e.to_string();
    assert!(
        msg.contains(&format!("opt/{path}")) && msg.contains("[2, 3]"),
        "{msg}"
    );
}
