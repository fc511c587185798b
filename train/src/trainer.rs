//! [`Trainer`]: the training loop over any [`Task`], written once for both APIs (Swift for
//! TensorFlow's: value-and-gradient, then `optimizer.update`), in small steps.

use crate::checkpoints::CheckpointDir;
use crate::config::{TrainConfig, TrainSummary};
use crate::distributed::{
    broadcast_start, broadcast_tree, check_in_sync, reduce_eval, TreeReducer,
};
use crate::error::TrainError;
use crate::group::ProcessGroup;
use crate::metrics::{MetricsLog, Record};
use crate::model::Model;
use crate::plot::plot_curves;
use crate::resume::{first_non_finite, restore_checked};
use crate::run_dir::{run_mode, RunDir, RunMode};
use crate::task::{Metrics, Task};
use duet_datasets::{BatchIter, Batches};
use duet_optim::{OptState, Optimizer};
use indicatif::{ProgressBar, ProgressStyle};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::rc::Rc;
use std::sync::atomic::Ordering;
use std::time::Instant;

/// Mean loss and metrics (after [`Task::finish`]) of `model` over epoch 0 of `data`, for
/// `task`.
///
/// # Errors
/// [`TrainError::EmptyEval`] for an empty split; [`TrainError::Data`] if a batch fails.
pub fn evaluate<T: Task>(
    task: &T,
    model: &TaskModel<'_, T>,
    data: &TaskData<'_, T>,
) -> Result<BTreeMap<String, f64>, TrainError> {
    if data.examples() == 0 {
        return Err(TrainError::EmptyEval);
    }
    let (loss, sums, n) = eval_sums(task, model, data)?;
    let mut means = sums.means(n);
    means.insert("loss".into(), loss / n.max(1) as f64);
    task.finish(&mut means);
    Ok(means)
}

/// The summed loss, the metric sums and the number of examples over epoch 0 of `data`
/// (batches without rows, a rank's empty shard, are skipped).
fn eval_sums<T: Task>(
    task: &T,
    model: &TaskModel<'_, T>,
    data: &TaskData<'_, T>,
) -> Result<(f64, Metrics, usize), TrainError> {
    let (mut loss, mut sums, mut n) = (0.0f64, Metrics::default(), 0usize);
    for b in data.epoch_from(0, 0) {
        let b = b.map_err(|error| TrainError::Data { error, last: None })?;
        let (x, target, count) = task.split(b);
        if count == 0 {
            continue;
        }
        let scored = task.loss(model.forward(x), &target, None);
        loss += scored.loss.into_scalar::<f32>() as f64 * count as f64;
        sums.merge(scored.sums);
        n += count;
    }
    Ok((loss, sums, n))
}

/// The training loop for a [`Task`]: the same loop trains an image classifier, a regression, a
/// VAE on its ELBO or a language model, with either API's models ([`Model`]).
///
/// [`fit`](Self::fit) runs `config.total_steps` steps, evaluating at every epoch end, logging
/// to `metrics.jsonl`, checkpointing and plotting `curves.png`. The output directory is locked
/// for the run ([`RunDir`]). A checkpoint is *good* once its params are finite and gave a
/// finite loss (the next step's, or the evaluation saved with it); pruning never deletes the
/// last good one, and a checkpoint whose params gave a non-finite loss is renamed
/// `diverged-step-*.safetensors` so that `--resume` skips it. The learning rate logged is the
/// optimizer's ([`Optimizer::learning_rate`]).
///
/// With a [`ProcessGroup`] ([`with_group`](Self::with_group)) the run is one rank of a
/// data-parallel job: see [`with_group`](Self::with_group).
pub struct Trainer<T: Task> {
    /// What is trained.
    pub task: T,
    /// How.
    pub config: TrainConfig,
    group: Option<Rc<dyn ProcessGroup>>,
}

/// The model a [`Trainer`] of `T` trains.
pub type TaskModel<'a, T> = dyn Model<<T as Task>::Input, <T as Task>::Output> + 'a;
/// The data a [`Trainer`] of `T` reads.
pub type TaskData<'a, T> = dyn Batches<Batch = <T as Task>::Batch> + 'a;

/// The files of a run, which only rank 0 of a distributed run writes.
struct Files {
    _lock: RunDir,
    ck: CheckpointDir,
    log: MetricsLog,
}

/// One run's files and counters.
struct Run {
    files: Option<Files>,
    bar: ProgressBar,
    step: u64,
    start_step: u64,
    last_good: Option<PathBuf>,
    /// The newest checkpoint whose params have not produced a loss yet.
    pending: Option<(u64, PathBuf)>,
    last_ckpt: Option<PathBuf>,
    last_eval: Option<BTreeMap<String, f64>>,
    window: Window,
    t0: Instant,
    /// A stop was requested (on any rank) during the last step.
    stop: bool,
    /// The gradient all-reduce's buffers (in a distributed run).
    reducer: std::cell::RefCell<TreeReducer>,
}

/// One step's loss, gradients and metric sums over the (global) batch.
struct Stepped {
    loss: f32,
    grads: duet_core::Params,
    metrics: Metrics,
    examples: usize,
    stop: bool,
}

/// Training metrics since the last log line.
struct Window {
    loss: f64,
    examples: usize,
    sums: Metrics,
    t: Instant,
}

impl Window {
    fn new() -> Self {
        let sums = Metrics::default();
        Window {
            loss: 0.0,
            examples: 0,
            sums,
            t: Instant::now(),
        }
    }
}

impl Run {
    /// The checkpoint to name in an error: the newest one known good or still unjudged.
    fn last(&self) -> Option<PathBuf> {
        self.pending
            .as_ref()
            .map(|(_, p)| p.clone())
            .or(self.last_good.clone())
    }
}

impl<T: Task> Trainer<T> {
    /// A trainer of `task` with `config`.
    pub fn new(task: T, config: TrainConfig) -> Self {
        Trainer {
            task,
            config,
            group: None,
        }
    }

    /// Makes this trainer one rank of a data-parallel job over `group` (Horovod's and PyTorch
    /// DDP's scheme):
    /// - at the start (fresh or resumed) every rank receives rank 0's params, state, optimizer
    ///   state and step, so only rank 0 reads the checkpoint it resumes from;
    /// - each rank's data yields its own shard of every global batch (e.g.
    ///   [`duet_datasets::Loader::shard`]); the loss of a shard is weighted by its share of the
    ///   global batch and the gradients summed by one bucketed all-reduce
    ///   ([`all_reduce_tree`]), so every rank applies the gradient of the mean loss over the
    ///   global batch, and the params stay bitwise identical on every rank;
    /// - the model's state (batch-norm statistics) is rank 0's after every step, as DDP's
    ///   buffers; evaluation is sharded the same way and its sums reduced;
    /// - only rank 0 locks the output directory and writes checkpoints, metrics, the curves
    ///   and the progress bar; a stop request (Ctrl-C) on any rank stops all of them after the
    ///   same step, with a checkpoint.
    ///
    /// # Example
    /// Two ranks (threads here; processes under MPI) train a regression on their halves of
    /// each batch and end with the same params:
    /// ```
    /// use duet_core::{burn::tensor::{Device, Tensor}, Key, Parameterized};
    /// use duet_datasets::InMemory;
    /// use duet_functional::{Dense, LayerExt};
    /// use duet_optim::{sgd, Optimizer, Sgd};
    /// use duet_train::{FunctionalModel, ProcessGroup, Regression, ThreadGroup, TrainConfig, Trainer};
    /// use std::rc::Rc;
    /// let dir = tempfile::tempdir().unwrap();
    /// let finals = ThreadGroup::run(2, |g| {
    ///     let dev = Device::flex();
    ///     let layer = Dense::new(1);
    ///     let (params, state) = layer.init_model(&[1, 2], Key::new(0), &dev).unwrap();
    ///     let mut model = FunctionalModel { model: Box::new(layer), params, state };
    ///     // Rank r holds rows r and r + 2 of a batch of 4: y = x0 - x1.
    ///     let rows = [[1.0, 0.0], [0.0, 1.0], [2.0, 1.0], [1.0, 3.0]];
    ///     let mine: Vec<f32> = rows.iter().skip(g.rank()).step_by(2).flatten().copied().collect();
    ///     let x = Tensor::<1>::from_floats(mine.as_slice(), &dev).reshape([2, 2]);
    ///     let y = x.clone().slice([0..2, 0..1]) - x.clone().slice([0..2, 1..2]);
    ///     let data = InMemory::new(vec![(x, y)], 4);
    ///     let mut opt = Optimizer::new(sgd(0.1, Sgd::default()));
    ///     let cfg = TrainConfig { total_steps: 300, quiet: true, ..TrainConfig::new(dir.path()) };
    ///     let rank = g.rank();
    ///     Trainer::new(Regression::default(), cfg)
    ///         .with_group(Rc::new(g))
    ///         .fit(&mut model, &mut opt, &data, &data, None)
    ///         .unwrap();
    ///     (rank, model.params().get::<2>("weight").unwrap().to_data().to_vec::<f32>().unwrap())
    /// });
    /// assert_eq!(finals[0].1, finals[1].1); // bitwise the same on both ranks
    /// let w = &finals[0].1;
    /// assert!((w[0] - 1.0).abs() < 0.05 && (w[1] + 1.0).abs() < 0.05, "{w:?}");
    /// assert!(dir.path().join("metrics.jsonl").exists()); // written by rank 0 alone
    /// ```
    pub fn with_group(mut self, group: Rc<dyn ProcessGroup>) -> Self {
        self.group = Some(group);
        self
    }

    /// Whether this process writes the run's files (rank 0, or no group).
    fn primary(&self) -> bool {
        self.group.as_ref().is_none_or(|g| g.rank() == 0)
    }

    /// Trains `model` (resuming from `resume`'s latest checkpoint if given); see the type docs.
    ///
    /// # Errors
    /// [`TrainError::NonFiniteLoss`] / [`TrainError::NonFiniteParams`] (nothing is saved after
    /// the bad step), [`TrainError::Data`], [`TrainError::EmptyEval`], run-directory, checkpoint
    /// and output errors.
    pub fn fit(
        &self,
        model: &mut TaskModel<'_, T>,
        opt: &mut Optimizer,
        train: &TaskData<'_, T>,
        test: &TaskData<'_, T>,
        resume: Option<&Path>,
    ) -> Result<TrainSummary, TrainError> {
        if test.examples() == 0 {
            return Err(TrainError::EmptyEval);
        }
        let mut run = self.begin(model, opt, resume)?;
        match self.run(&mut run, model, opt, train, test) {
            Ok(interrupted) => self.finish(run, train, interrupted),
            Err(e) => {
                run.bar.abandon();
                Err(e)
            }
        }
    }

    /// Locks the output directory, restores the checkpoint to resume, opens the metrics log.
    fn begin(
        &self,
        model: &mut TaskModel<'_, T>,
        opt: &mut Optimizer,
        resume: Option<&Path>,
    ) -> Result<Run, TrainError> {
        let cfg = &self.config;
        let bar = match cfg.quiet || !self.primary() {
            true => ProgressBar::hidden(),
            false => ProgressBar::new(cfg.total_steps),
        };
        let style = "{bar:30} {pos}/{len} steps [{elapsed_precise}<{eta_precise}] {msg}";
        bar.set_style(ProgressStyle::with_template(style).expect("template"));
        let (mut files, mut step, mut last_good) = (None, 0, None);
        if self.primary() {
            let (f, s, good) = self.open_files(model, opt, resume)?;
            (files, step, last_good) = (Some(f), s, good);
        }
        if let Some(g) = &self.group {
            if g.size() > 1 && self.primary() {
                bar.println(format!(
                    "rank 0 of {}: writing {}",
                    g.size(),
                    cfg.out_dir.display()
                ));
            }
            step = broadcast_start(g.as_ref(), model, opt, step)?;
        }
        bar.set_position(step);
        let (last_ckpt, pending, last_eval) = (last_good.clone(), None, None);
        let (window, t0) = (Window::new(), Instant::now());
        Ok(Run {
            files,
            bar,
            step,
            start_step: step,
            last_good,
            pending,
            last_ckpt,
            last_eval,
            window,
            t0,
            stop: false,
            reducer: Default::default(),
        })
    }

    /// Rank 0's part of [`begin`](Self::begin): locks the directory, restores, opens the log.
    fn open_files(
        &self,
        model: &mut TaskModel<'_, T>,
        opt: &mut Optimizer,
        resume: Option<&Path>,
    ) -> Result<(Files, u64, Option<PathBuf>), TrainError> {
        let cfg = &self.config;
        let mode = run_mode(&cfg.out_dir, resume, cfg.overwrite)?;
        let latest = match resume {
            Some(dir) => Some(
                CheckpointDir::latest(dir)?.ok_or_else(|| TrainError::Resume {
                    path: dir.into(),
                    message: "no step-*.safetensors checkpoint in this directory".into(),
                })?,
            ),
            None => None,
        };
        let lock = RunDir::open(&cfg.out_dir, mode)?;
        let mut ck = CheckpointDir::new(&cfg.out_dir, cfg.keep_last, self.task.best().1)?;
        let (mut step, mut last_good) = (0, None);
        if let Some(latest) = &latest {
            step = restore_checked(latest, model, opt, &cfg.metadata, cfg.reset_optimizer)?;
            if mode == RunMode::Resume {
                ck.set_last_good(step);
                last_good = Some(latest.clone());
            }
        }
        let path = cfg.out_dir.join("metrics.jsonl");
        let log = match mode {
            RunMode::Resume => MetricsLog::resume(&path, step),
            _ => MetricsLog::create(&path, false),
        }
        .map_err(|e| self.out_err(e))?;
        let files = Files {
            _lock: lock,
            ck,
            log,
        };
        Ok((files, step, last_good))
    }

    /// Steps until `total_steps` or an interruption (returns whether interrupted).
    fn run(
        &self,
        r: &mut Run,
        model: &mut TaskModel<'_, T>,
        opt: &mut Optimizer,
        train: &TaskData<'_, T>,
        test: &TaskData<'_, T>,
    ) -> Result<bool, TrainError> {
        let cfg = &self.config;
        let per_epoch = train.batches_per_epoch().max(1) as u64;
        let mut batches: Option<BatchIter<'_, T::Batch>> = None;
        while r.step < cfg.total_steps {
            let (epoch, index) = (r.step / per_epoch, (r.step % per_epoch) as usize);
            if index == 0 || batches.is_none() {
                batches = Some(train.epoch_from(epoch, index));
            }
            let batch = match batches.as_mut().and_then(Iterator::next) {
                Some(Ok(batch)) => batch,
                Some(Err(error)) => {
                    return Err(TrainError::Data {
                        error,
                        last: r.last(),
                    })
                }
                None => {
                    let msg =
                        format!("the loader ended epoch {epoch} at batch {index} of {per_epoch}");
                    return Err(TrainError::Output(msg));
                }
            };
            self.step(r, model, opt, batch)?;
            let epoch_end = r.step.is_multiple_of(per_epoch);
            let last = r.step == cfg.total_steps;
            if r.step.is_multiple_of(cfg.log_every.max(1)) || epoch_end || last {
                if let Some(g) = &self.group {
                    check_in_sync(g.as_ref(), &model.params(), r.step)?;
                }
                self.log_train(r, epoch, opt)?;
            }
            let mut evaluated = false;
            if epoch_end || last {
                self.eval_and_log(r, model, opt, test, epoch)?;
                evaluated = true;
            }
            let interrupted = r.stop;
            let periodic = cfg.checkpoint_every > 0 && r.step.is_multiple_of(cfg.checkpoint_every);
            if evaluated || periodic || interrupted || last {
                self.checkpoint(r, model, opt, evaluated)?;
            }
            if interrupted {
                if let Some(saved) = &r.last_ckpt {
                    r.bar
                        .println(format!("interrupted: saved {}", saved.display()));
                }
                return Ok(true);
            }
        }
        Ok(false)
    }

    /// One optimizer step; a non-finite loss stops the run (and marks the checkpoint whose
    /// params produced it as diverged).
    fn step(
        &self,
        r: &mut Run,
        model: &mut TaskModel<'_, T>,
        opt: &mut Optimizer,
        batch: T::Batch,
    ) -> Result<(), TrainError> {
        let out = self.loss_and_grad(r, model, batch)?;
        let (loss, n) = (out.loss, out.examples);
        r.stop = out.stop;
        if !loss.is_finite() {
            let diverged = match (r.pending.take(), &r.files) {
                (Some((s, _)), Some(f)) => Some(f.ck.mark_diverged(s)?),
                _ => None,
            };
            let (step, last) = (r.step, r.last_good.clone());
            return Err(TrainError::NonFiniteLoss {
                step,
                loss,
                last,
                diverged,
            });
        }
        if let Some((s, p)) = r.pending.take() {
            if let Some(f) = &mut r.files {
                f.ck.set_last_good(s);
            }
            r.last_good = Some(p);
        }
        opt.update(model, out.grads)
            .map_err(|e| TrainError::Output(e.to_string()))?;
        r.step += 1;
        r.window.loss += loss as f64 * n as f64;
        r.window.examples += n;
        r.window.sums.merge(out.metrics);
        r.bar.set_position(r.step);
        r.bar.set_message(format!("loss {loss:.4}"));
        Ok(())
    }

    /// The loss, gradients and metric sums of one step over the whole batch: this process's,
    /// or in a group the reduction of every rank's shard.
    fn loss_and_grad(
        &self,
        r: &Run,
        model: &mut TaskModel<'_, T>,
        batch: T::Batch,
    ) -> Result<Stepped, TrainError> {
        let (x, target, n) = self.task.split(batch);
        let key = self.config.key.fold_in(r.step);
        let stop = self.config.stop.load(Ordering::SeqCst);
        let task = &self.task;
        let Some(g) = &self.group else {
            let loss_fn = |out, rows| task.loss(out, &target, rows);
            let out = model.loss_and_grad(x, key, &loss_fn);
            let (loss, grads, metrics) = (out.loss.into_scalar::<f32>(), out.grads, out.metrics);
            return Ok(Stepped {
                loss,
                grads,
                metrics,
                examples: n,
                stop,
            });
        };
        let (rank, size) = (g.rank(), g.size());
        if n == 0 {
            return Err(TrainError::Distributed(format!(
                "rank {rank} got no rows of the batch of step {}: a global batch needs at \
                 least one row per rank ({size})",
                r.step
            )));
        }
        // The global batch size and the stop requests first (a tiny call), so that each
        // shard's loss can be weighted by its share before the backward pass.
        let mut head = [0.0f32; 2];
        g.all_reduce_sum(&[n as f32, f32::from(u8::from(stop))], &mut head);
        let (total, stop) = (head[0], head[1] > 0.0);
        let share = n as f32 / total;
        let loss_fn = |out, rows| {
            let mut scored = task.loss(out, &target, rows);
            scored.loss = scored.loss * share;
            scored
        };
        let key = if size > 1 {
            key.fold_in(rank as u64)
        } else {
            key
        };
        let out = model.loss_and_grad(x, key, &loss_fn);
        let dev = out.loss.device();
        let local = out.metrics.values();
        let mut head: Vec<f32> = std::iter::once(out.loss.into_scalar::<f32>())
            .chain(local.iter().map(|(_, v)| *v))
            .collect();
        let grads = r
            .reducer
            .borrow_mut()
            .all_reduce(g.as_ref(), out.grads, &mut head);
        let mut metrics = Metrics::default();
        for ((name, _), v) in local.iter().zip(&head[1..]) {
            metrics.add(
                name,
                duet_core::burn::tensor::Tensor::from_floats([*v], &dev),
            );
        }
        let state = model.state();
        if !state.is_empty() {
            let state = broadcast_tree(g.as_ref(), &state, 0);
            model
                .load_state(&state)
                .map_err(|e| TrainError::Distributed(e.to_string()))?;
        }
        Ok(Stepped {
            loss: head[0],
            grads,
            metrics,
            examples: total as usize,
            stop,
        })
    }

    /// Writes the training window's means and starts a new window.
    fn log_train(&self, r: &mut Run, epoch: u64, opt: &Optimizer) -> Result<(), TrainError> {
        let w = std::mem::replace(&mut r.window, Window::new());
        let mut means = w.sums.means(w.examples);
        means.insert("loss".into(), w.loss / w.examples.max(1) as f64);
        self.task.finish(&mut means);
        let rate = w.examples as f64 / w.t.elapsed().as_secs_f64().max(1e-9);
        self.write(r, "train", epoch, means, rate, opt)
    }

    /// Evaluates on `test`, logs and prints the result; a non-finite loss stops the run.
    fn eval_and_log(
        &self,
        r: &mut Run,
        model: &TaskModel<'_, T>,
        opt: &Optimizer,
        test: &TaskData<'_, T>,
        epoch: u64,
    ) -> Result<(), TrainError> {
        let means = match self.evaluate(model, test) {
            Err(TrainError::Data { error, .. }) => Err(TrainError::Data {
                error,
                last: r.last(),
            }),
            other => other,
        }?;
        let loss = means["loss"];
        if !loss.is_finite() {
            let (step, last) = (r.step, r.last_good.clone());
            return Err(TrainError::NonFiniteLoss {
                step,
                loss: loss as f32,
                last,
                diverged: None,
            });
        }
        let shown: Vec<String> = means.iter().map(|(k, v)| format!("{k} {v:.4}")).collect();
        r.bar.println(format!(
            "epoch {} step {}: eval {}",
            epoch + 1,
            r.step,
            shown.join(", ")
        ));
        self.write(r, "eval", epoch, means.clone(), 0.0, opt)?;
        r.last_eval = Some(means);
        Ok(())
    }

    /// [`evaluate`], over every rank's shard in a group.
    fn evaluate(
        &self,
        model: &TaskModel<'_, T>,
        test: &TaskData<'_, T>,
    ) -> Result<BTreeMap<String, f64>, TrainError> {
        let Some(g) = &self.group else {
            return evaluate(&self.task, model, test);
        };
        let (loss, sums, n) = eval_sums(&self.task, model, test)?;
        let mut means = reduce_eval(g.as_ref(), loss, &sums.values(), n);
        self.task.finish(&mut means);
        Ok(means)
    }

    fn write(
        &self,
        r: &mut Run,
        split: &str,
        epoch: u64,
        mut metrics: BTreeMap<String, f64>,
        rate: f64,
        opt: &Optimizer,
    ) -> Result<(), TrainError> {
        let loss = metrics.remove("loss").unwrap_or(f64::NAN);
        let lr = opt.learning_rate().unwrap_or(0.0);
        let (step, split) = (r.step, split.to_string());
        let record = Record {
            step,
            epoch,
            split,
            loss,
            images_per_s: rate,
            lr,
            metrics,
        };
        match &mut r.files {
            Some(f) => f.log.write(&record).map_err(|e| self.out_err(e)),
            None => Ok(()),
        }
    }

    /// Saves params, state and optimizer state; `evaluated`: the evaluation just computed a
    /// finite loss from these params, so the checkpoint is good (else pending until the next
    /// step's loss).
    fn checkpoint(
        &self,
        r: &mut Run,
        model: &TaskModel<'_, T>,
        opt: &Optimizer,
        evaluated: bool,
    ) -> Result<(), TrainError> {
        let (params, state) = (model.params(), model.state());
        if let Some(tensor) = first_non_finite(&params) {
            let (step, last) = (r.step, r.last_good.clone());
            return Err(TrainError::NonFiniteParams { step, tensor, last });
        }
        let empty = OptState::new();
        let opt_state = opt.state().unwrap_or(&empty);
        let mut meta = self.config.metadata.clone();
        meta.insert("opt.counters".into(), opt_state.counters_json());
        let best = self.task.best().0;
        let metric = if evaluated {
            r.last_eval.as_ref().and_then(|m| m.get(best).copied())
        } else {
            None
        };
        let trees = [
            ("params", &params),
            ("state", &state),
            ("opt", &opt_state.tensors),
        ];
        let Some(files) = &mut r.files else {
            // Rank 0 writes; the others wait until the checkpoint is on disk.
            if let Some(g) = &self.group {
                g.barrier();
            }
            return Ok(());
        };
        let path = files.ck.save(r.step, &trees, &meta, metric)?;
        if evaluated {
            files.ck.set_last_good(r.step);
            r.last_good = Some(path.clone());
        } else {
            r.pending = Some((r.step, path.clone()));
        }
        r.last_ckpt = Some(path);
        if let Some(g) = &self.group {
            g.barrier();
        }
        Ok(())
    }

    /// Plots the curves and sums the run up.
    fn finish(
        &self,
        r: Run,
        train: &TaskData<'_, T>,
        interrupted: bool,
    ) -> Result<TrainSummary, TrainError> {
        r.bar.finish_and_clear();
        let dir = &self.config.out_dir;
        if r.files.is_some() {
            let records =
                MetricsLog::read(dir.join("metrics.jsonl")).map_err(|e| self.out_err(e))?;
            plot_curves(&records, self.task.best().0, &dir.join("curves.png"))
                .map_err(|e| TrainError::Output(e.to_string()))?;
        }
        let examples = (r.step - r.start_step) as f64 * train.batch_size() as f64;
        Ok(TrainSummary {
            steps: r.step,
            start_step: r.start_step,
            eval: r.last_eval,
            checkpoint: r.last_ckpt,
            examples_per_s: examples / r.t0.elapsed().as_secs_f64().max(1e-9),
            interrupted,
        })
    }

    fn out_err(&self, e: std::io::Error) -> TrainError {
        TrainError::Output(format!("{}: {e}", self.config.out_dir.display()))
    }
}
