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

mod begin;
mod evaluate;
mod output;
mod step;

pub use evaluate::evaluate;

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
    reducer: TreeReducer,
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
    ///   ([`TreeReducer`](crate::TreeReducer)), so every rank applies the gradient of the mean loss over the
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

    fn out_err(&self, e: std::io::Error) -> TrainError {
        TrainError::Output(format!("{}: {e}", self.config.out_dir.display()))
    }
}
