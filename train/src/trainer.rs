//! The training loop, written once for both APIs (Swift for TensorFlow's: value-and-gradient,
//! then `optimizer.update`).

use crate::checkpoints::{Better, CheckpointDir};
use crate::classifier::Classifier;
use crate::error::TrainError;
use crate::metrics::{MetricsLog, Record};
use crate::plot::plot_curves;
use crate::resume::{first_non_finite, restore_checked};
#[allow(unused_imports)] // for the docs
use crate::resume::{OPTIMIZER_KEY, RUN_KEYS};
use crate::run_dir::{RunDir, RunMode};
use duet_core::checkpoint::CheckpointError;
use duet_core::ops::correct;
use duet_core::Key;
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
    /// Step checkpoints to keep (the best and the last good one are kept apart).
    pub keep_last: usize,
    /// Output directory: checkpoints, `metrics.jsonl`, `curves.png`. A directory that already
    /// holds a run is refused unless it is the one resumed or [`overwrite`](Self::overwrite) is set.
    pub out_dir: PathBuf,
    /// Replace a run already in `out_dir` (its checkpoints, metrics and curves are deleted).
    pub overwrite: bool,
    /// When resuming: start a fresh optimizer state instead of the checkpoint's (and accept a
    /// checkpoint whose `duet.optimizer` differs).
    pub reset_optimizer: bool,
    /// Root key: the batch of step `s` uses the loader's order, dropout uses `key.fold_in(s)`.
    pub key: Key,
    /// Log training metrics every N steps.
    pub log_every: u64,
    /// No progress bar.
    pub quiet: bool,
    /// Strings stored in every checkpoint (model, api, dataset, optimizer...); on resume, the
    /// keys of [`RUN_KEYS`] and [`OPTIMIZER_KEY`] must match the checkpoint's.
    pub metadata: BTreeMap<String, String>,
    /// Set to stop after the current step with a checkpoint (Ctrl-C).
    pub stop: Arc<AtomicBool>,
}

/// How a run ended.
#[derive(Clone, Debug)]
pub struct TrainSummary {
    /// Steps done (from the start of training).
    pub steps: u64,
    /// The step this run started from (0, or the resumed checkpoint's step).
    pub start_step: u64,
    /// The last evaluation: `(loss, accuracy)`.
    pub eval: Option<(f64, f64)>,
    /// The last checkpoint written.
    pub checkpoint: Option<PathBuf>,
    /// Training images per second over this run.
    pub images_per_s: f64,
    /// Whether the run was interrupted (Ctrl-C) before `total_steps`.
    pub interrupted: bool,
}

/// Mean loss and accuracy of `model` over every batch of `loader`'s epoch 0 (no shuffling needed).
///
/// # Errors
/// [`TrainError::EmptyEval`] for an empty split; [`TrainError::Data`] if a batch fails.
pub fn evaluate(model: &dyn Classifier, loader: &Loader) -> Result<(f64, f64), TrainError> {
    if loader.data().is_empty() {
        return Err(TrainError::EmptyEval);
    }
    let (mut loss, mut right, mut n) = (0.0f64, 0.0f64, 0usize);
    for b in loader.epoch(0) {
        let b = b.map_err(|error| TrainError::Data { error, last: None })?;
        let count = b.labels.dims()[0];
        let logits = model.logits(b.images);
        let l =
            duet_core::ops::cross_entropy(logits.clone(), b.labels.clone(), &Default::default());
        loss += l.into_scalar::<f32>() as f64 * count as f64;
        right += correct(logits, b.labels).into_scalar::<f32>() as f64;
        n += count;
    }
    Ok((loss / n as f64, right / n as f64))
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

fn same_dir(a: &Path, b: &Path) -> bool {
    match (a.canonicalize(), b.canonicalize()) {
        (Ok(x), Ok(y)) => x == y,
        _ => a == b,
    }
}

/// How a run writing to `out` uses it: [`RunMode::Resume`] when it resumes `out` itself,
/// [`RunMode::Overwrite`] when asked to, else [`RunMode::New`].
///
/// # Errors
/// [`TrainError::Resume`] for `overwrite` of the directory being resumed (it would delete the
/// checkpoint the run reads).
pub fn run_mode(out: &Path, resume: Option<&Path>, overwrite: bool) -> Result<RunMode, TrainError> {
    let same = resume.is_some_and(|r| same_dir(r, out));
    match (same, overwrite) {
        (true, true) => Err(TrainError::Resume {
            path: out.to_path_buf(),
            message: "--overwrite would delete the run being resumed: drop --overwrite, or \
                      write to another --out"
                .into(),
        }),
        (true, false) => Ok(RunMode::Resume),
        (false, true) => Ok(RunMode::Overwrite),
        (false, false) => Ok(RunMode::New),
    }
}

/// Trains `model` for `cfg.total_steps` steps (resuming from `resume`'s latest checkpoint if
/// given), evaluating on `test` at every epoch end, logging to `metrics.jsonl`, checkpointing,
/// and plotting the curves at the end.
///
/// The output directory is locked for the run ([`RunDir`]). A checkpoint is *good* once its
/// params are finite and gave a finite loss (the next step's, or the evaluation saved with
/// it); pruning never deletes the last good one, and a checkpoint whose params gave a
/// non-finite loss is renamed `diverged-step-*.safetensors` so that `--resume` skips it.
///
/// # Errors
/// [`TrainError::NonFiniteLoss`] / [`TrainError::NonFiniteParams`] (nothing is saved after
/// the bad step), [`TrainError::Data`], [`TrainError::EmptyEval`], run-directory, checkpoint
/// and output errors.
pub fn fit(
    model: &mut dyn Classifier,
    opt: &mut Optimizer,
    lr: &dyn Fn(u64) -> f64,
    train: &Loader,
    test: &Loader,
    cfg: &TrainConfig,
    resume: Option<&Path>,
) -> Result<TrainSummary, TrainError> {
    if test.data().is_empty() {
        return Err(TrainError::EmptyEval);
    }
    let mode = run_mode(&cfg.out_dir, resume, cfg.overwrite)?;
    let same = mode == RunMode::Resume;
    let latest = match resume {
        Some(dir) => Some(
            CheckpointDir::latest(dir)?.ok_or_else(|| TrainError::Resume {
                path: dir.into(),
                message: "no step-*.safetensors checkpoint in this directory".into(),
            })?,
        ),
        None => None,
    };
    let _run = RunDir::open(&cfg.out_dir, mode)?;
    let mut ck = CheckpointDir::new(&cfg.out_dir, cfg.keep_last, Better::Higher)?;
    let mut step = 0;
    let mut last_good = None;
    if let Some(latest) = &latest {
        step = restore_checked(latest, model, opt, &cfg.metadata, cfg.reset_optimizer)?;
        if same {
            ck.set_last_good(step);
            last_good = Some(latest.clone());
        }
    }
    let out_err = |e: std::io::Error| TrainError::Output(format!("{}: {e}", cfg.out_dir.display()));
    let metrics_path = cfg.out_dir.join("metrics.jsonl");
    let mut log = if same {
        MetricsLog::resume(&metrics_path, step)
    } else {
        MetricsLog::create(&metrics_path, false)
    }
    .map_err(out_err)?;
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
    // The newest checkpoint whose params have not produced a loss yet.
    let mut pending: Option<(u64, PathBuf)> = None;
    let mut last_ckpt = last_good.clone();
    let mut last_eval = None;
    let mut batches: Option<duet_datasets::EpochIter> = None;
    let mut interrupted = false;
    let fail = |bar: &ProgressBar, e: TrainError| {
        bar.abandon();
        Err(e)
    };
    while step < cfg.total_steps {
        let (epoch, b) = (step / spe, (step % spe) as usize);
        if b == 0 || batches.is_none() {
            batches = Some(train.epoch_from(epoch, b));
        }
        let batch = match batches.as_mut().and_then(Iterator::next) {
            Some(Ok(batch)) => batch,
            Some(Err(error)) => {
                let last = pending.map(|(_, p)| p).or(last_good);
                return fail(&bar, TrainError::Data { error, last });
            }
            None => {
                let msg = format!("the loader ended epoch {epoch} at batch {b} of {spe}");
                return fail(&bar, TrainError::Output(msg));
            }
        };
        let n = batch.labels.dims()[0];
        let out = model.loss_and_grad(batch.images, batch.labels.clone(), cfg.key.fold_in(step));
        let loss = out.loss.into_scalar::<f32>();
        if !loss.is_finite() {
            let diverged = match pending {
                Some((s, _)) => Some(ck.mark_diverged(s)?),
                None => None,
            };
            let last = last_good;
            let e = TrainError::NonFiniteLoss {
                step,
                loss,
                last,
                diverged,
            };
            return fail(&bar, e);
        }
        if let Some((s, p)) = pending.take() {
            ck.set_last_good(s);
            last_good = Some(p);
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
            let (l, a) = match evaluate(model, test) {
                Ok(e) => e,
                Err(TrainError::Data { error, .. }) => {
                    let last = pending.map(|(_, p)| p).or(last_good);
                    return fail(&bar, TrainError::Data { error, last });
                }
                Err(e) => return fail(&bar, e),
            };
            if !l.is_finite() {
                let e = TrainError::NonFiniteLoss {
                    step,
                    loss: l as f32,
                    last: last_good,
                    diverged: None,
                };
                return fail(&bar, e);
            }
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
            if let Some(tensor) = first_non_finite(&model.params()) {
                let last = last_good;
                return fail(&bar, TrainError::NonFiniteParams { step, tensor, last });
            }
            let path = save(&mut ck, step, model, opt, &cfg.metadata, metric)?;
            if metric.is_some() {
                // The evaluation just computed a finite loss from these params.
                ck.set_last_good(step);
                last_good = Some(path.clone());
            } else {
                pending = Some((step, path.clone()));
            }
            last_ckpt = Some(path);
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
        start_step,
        eval: last_eval,
        checkpoint: last_ckpt,
        images_per_s: images / t0.elapsed().as_secs_f64().max(1e-9),
        interrupted,
    })
}
