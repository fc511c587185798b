//! The training loop, written once for both APIs (Swift for TensorFlow's: value-and-gradient,
//! then `optimizer.update`).

use crate::checkpoints::{Better, CheckpointDir};
use crate::classifier::Classifier;
use crate::metrics::{MetricsLog, Record};
use crate::plot::plot_curves;
use duet_core::checkpoint::{CheckpointError, CheckpointFile};
use duet_core::ops::correct;
use duet_core::{Key, Params};
use duet_datasets::Loader;
use duet_optim::{OptState, Optimizer};
use indicatif::{ProgressBar, ProgressStyle};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Instant;

/// What [`fit`] needs besides the model, optimizer and data.
#[derive(Clone, Debug)]
pub struct TrainConfig {
    /// Total optimizer steps, counted from the start of training (a resumed run stops here too).
    pub total_steps: u64,
    /// Save a checkpoint every N steps (0: only at epoch ends and at the end).
    pub checkpoint_every: u64,
    /// Step checkpoints to keep (the best is kept apart).
    pub keep_last: usize,
    /// Output directory: checkpoints, `metrics.jsonl`, `curves.png`.
    pub out_dir: PathBuf,
    /// Root key: the batch of step `s` uses the loader's order, dropout uses `key.fold_in(s)`.
    pub key: Key,
    /// Log training metrics every N steps.
    pub log_every: u64,
    /// No progress bar.
    pub quiet: bool,
    /// Strings stored in every checkpoint (model, api, dataset...).
    pub metadata: BTreeMap<String, String>,
    /// Set to stop after the current step with a checkpoint (Ctrl-C).
    pub stop: Arc<AtomicBool>,
}

/// How a run ended.
#[derive(Clone, Debug)]
pub struct TrainSummary {
    /// Steps done (from the start of training).
    pub steps: u64,
    /// The last evaluation: `(loss, accuracy)`.
    pub eval: Option<(f64, f64)>,
    /// The last checkpoint written.
    pub checkpoint: Option<PathBuf>,
    /// Training images per second over this run.
    pub images_per_s: f64,
    /// Whether the run was interrupted (Ctrl-C) before `total_steps`.
    pub interrupted: bool,
}

/// Training failures.
#[derive(Debug, thiserror::Error)]
pub enum TrainError {
    /// The loss became NaN or infinite; training stopped without saving.
    #[error("the loss is {loss} at step {step}: training stopped; the last good checkpoint is {}", last.as_ref().map(|p| p.display().to_string()).unwrap_or_else(|| "none (no checkpoint was written yet)".into()))]
    NonFiniteLoss {
        /// The step whose loss was not finite.
        step: u64,
        /// The loss.
        loss: f32,
        /// The last checkpoint on disk.
        last: Option<PathBuf>,
    },
    /// Saving or resuming failed.
    #[error(transparent)]
    Checkpoint(#[from] CheckpointError),
    /// The checkpoint does not fit the model or optimizer.
    #[error("resuming from {path}: {message}")]
    Resume {
        /// The checkpoint.
        path: PathBuf,
        /// What did not fit.
        message: String,
    },
    /// Writing metrics or the plot failed.
    #[error("{0}")]
    Output(String),
}

/// Mean loss and accuracy of `model` over every batch of `loader`'s epoch 0 (no shuffling needed).
pub fn evaluate(model: &dyn Classifier, loader: &Loader) -> (f64, f64) {
    let (mut loss, mut right, mut n) = (0.0f64, 0.0f64, 0usize);
    for b in loader.epoch(0) {
        let count = b.labels.dims()[0];
        let logits = model.logits(b.images);
        let l =
            duet_core::ops::cross_entropy(logits.clone(), b.labels.clone(), &Default::default());
        loss += l.into_scalar::<f32>() as f64 * count as f64;
        right += correct(logits, b.labels).into_scalar::<f32>() as f64;
        n += count;
    }
    (loss / n.max(1) as f64, right / n.max(1) as f64)
}

/// The trees and metadata of a training checkpoint.
fn save(
    ck: &mut CheckpointDir,
    step: u64,
    model: &dyn Classifier,
    opt: &Optimizer,
    meta: &BTreeMap<String, String>,
    metric: Option<f64>,
) -> Result<PathBuf, CheckpointError> {
    let (params, state) = (model.params(), model.state());
    let empty = OptState::new();
    let st = opt.state().unwrap_or(&empty);
    let mut m = meta.clone();
    m.insert("opt.counters".into(), st.counters_json());
    ck.save(
        step,
        &[("params", &params), ("state", &state), ("opt", &st.tensors)],
        &m,
        metric,
    )
}

/// Restores model, optimizer and step from a training checkpoint.
pub fn restore(
    path: &Path,
    model: &mut dyn Classifier,
    opt: &mut Optimizer,
) -> Result<u64, TrainError> {
    let ck = CheckpointFile::open(path)?;
    let device = model
        .params()
        .iter()
        .next()
        .map(|(_, t)| t.device())
        .unwrap_or_default();
    let bad = |message: String| TrainError::Resume {
        path: path.to_path_buf(),
        message,
    };
    let params = ck.load_like("params", &model.params(), &Default::default(), &device)?;
    let state = ck.load_like("state", &model.state(), &Default::default(), &device)?;
    model.load_params(&params).map_err(|e| bad(e.to_string()))?;
    model.load_state(&state).map_err(|e| bad(e.to_string()))?;
    let counters = ck
        .metadata()
        .get("opt.counters")
        .cloned()
        .unwrap_or_else(|| "{}".into());
    let opt_tree = ck.tree("opt", &device).unwrap_or_else(|_| Params::new());
    opt.set_state(OptState::from_parts(opt_tree, &counters).map_err(bad)?);
    ck.metadata()
        .get("duet.step")
        .and_then(|s| s.parse().ok())
        .ok_or_else(|| bad("no duet.step in the metadata".into()))
}

/// Trains `model` for `cfg.total_steps` steps (resuming from `resume`'s latest checkpoint if
/// given), evaluating on `test` at every epoch end, logging to `metrics.jsonl`, checkpointing,
/// and plotting the curves at the end.
///
/// # Errors
/// [`TrainError::NonFiniteLoss`] (nothing is saved after the bad step), checkpoint and output
/// errors.
pub fn fit(
    model: &mut dyn Classifier,
    opt: &mut Optimizer,
    lr: &dyn Fn(u64) -> f64,
    train: &Loader,
    test: &Loader,
    cfg: &TrainConfig,
    resume: Option<&Path>,
) -> Result<TrainSummary, TrainError> {
    let mut ck = CheckpointDir::new(&cfg.out_dir, cfg.keep_last, Better::Higher)?;
    let mut step = 0;
    if let Some(dir) = resume {
        let latest = CheckpointDir::latest(dir)?.ok_or_else(|| TrainError::Resume {
            path: dir.into(),
            message: "no step-*.safetensors checkpoint in this directory".into(),
        })?;
        step = restore(&latest, model, opt)?;
    }
    let out_err = |e: std::io::Error| TrainError::Output(format!("{}: {e}", cfg.out_dir.display()));
    let metrics_path = cfg.out_dir.join("metrics.jsonl");
    let mut log = MetricsLog::create(&metrics_path, resume.is_some()).map_err(out_err)?;
    let spe = train.batches_per_epoch().max(1) as u64;
    let bar = if cfg.quiet {
        ProgressBar::hidden()
    } else {
        ProgressBar::new(cfg.total_steps)
    };
    bar.set_style(
        ProgressStyle::with_template(
            "{bar:30} {pos}/{len} steps [{elapsed_precise}<{eta_precise}] {msg}",
        )
        .expect("template"),
    );
    bar.set_position(step);
    let (start_step, t0) = (step, Instant::now());
    let (mut win_loss, mut win_right, mut win_n, mut win_t) =
        (0.0f64, 0.0f64, 0usize, Instant::now());
    let mut last_ckpt = CheckpointDir::latest(&cfg.out_dir)?;
    let mut last_eval = None;
    let mut batches: Option<duet_datasets::EpochIter> = None;
    let mut interrupted = false;
    while step < cfg.total_steps {
        let (epoch, b) = (step / spe, (step % spe) as usize);
        if b == 0 || batches.is_none() {
            batches = Some(train.epoch_from(epoch, b));
        }
        let Some(batch) = batches.as_mut().and_then(Iterator::next) else {
            break;
        };
        let n = batch.labels.dims()[0];
        let out = model.loss_and_grad(batch.images, batch.labels.clone(), cfg.key.fold_in(step));
        let loss = out.loss.into_scalar::<f32>();
        if !loss.is_finite() {
            bar.abandon();
            return Err(TrainError::NonFiniteLoss {
                step,
                loss,
                last: last_ckpt,
            });
        }
        win_right += correct(out.logits, batch.labels).into_scalar::<f32>() as f64;
        opt.update(model, out.grads)
            .map_err(|e| TrainError::Output(e.to_string()))?;
        step += 1;
        win_loss += loss as f64 * n as f64;
        win_n += n;
        bar.set_position(step);
        bar.set_message(format!("loss {loss:.4}"));
        let epoch_end = step % spe == 0;
        if step % cfg.log_every.max(1) == 0 || epoch_end || step == cfg.total_steps {
            let dt = win_t.elapsed().as_secs_f64().max(1e-9);
            let r = Record {
                step,
                epoch,
                split: "train".into(),
                loss: win_loss / win_n as f64,
                accuracy: win_right / win_n as f64,
                images_per_s: win_n as f64 / dt,
                lr: lr(step - 1),
            };
            log.write(&r).map_err(out_err)?;
            (win_loss, win_right, win_n, win_t) = (0.0, 0.0, 0, Instant::now());
        }
        let mut metric = None;
        if epoch_end || step == cfg.total_steps {
            let (l, a) = evaluate(model, test);
            log.write(&Record {
                step,
                epoch,
                split: "eval".into(),
                loss: l,
                accuracy: a,
                images_per_s: 0.0,
                lr: lr(step - 1),
            })
            .map_err(out_err)?;
            bar.println(format!(
                "epoch {} step {step}: eval loss {l:.4}, accuracy {:.2}%",
                epoch + 1,
                a * 100.0
            ));
            last_eval = Some((l, a));
            metric = Some(a);
        }
        interrupted = cfg.stop.load(Ordering::SeqCst);
        let periodic = cfg.checkpoint_every > 0 && step % cfg.checkpoint_every == 0;
        if metric.is_some() || periodic || interrupted || step == cfg.total_steps {
            last_ckpt = Some(save(&mut ck, step, model, opt, &cfg.metadata, metric)?);
        }
        if interrupted {
            bar.println(format!(
                "interrupted: saved {}",
                last_ckpt.as_ref().expect("just saved").display()
            ));
            break;
        }
    }
    bar.finish_and_clear();
    let records = MetricsLog::read(&metrics_path).map_err(out_err)?;
    plot_curves(&records, &cfg.out_dir.join("curves.png"))
        .map_err(|e| TrainError::Output(e.to_string()))?;
    let images = (step - start_step) as f64 * train.batch_size() as f64;
    Ok(TrainSummary {
        steps: step,
        eval: last_eval,
        checkpoint: last_ckpt,
        images_per_s: images / t0.elapsed().as_secs_f64().max(1e-9),
        interrupted,
    })
}
