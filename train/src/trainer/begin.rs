//! Starting and ending a run: the run directory, the restore, rank 0's state to every rank, the
//! curves and the summary.

use super::*;

impl<T: Task> Trainer<T> {
    /// Locks the output directory, restores the checkpoint to resume, opens the metrics log.
    pub(super) fn begin(
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
    pub(super) fn open_files(
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

    /// Plots the curves and sums the run up.
    pub(super) fn finish(
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
            // The second panel: the metric that picks the best checkpoint, or when that is the
            // loss (already in the first panel), the first metric the evaluations logged.
            let logged = records.iter().find(|r| r.split == "eval");
            let metric = match self.task.best().0 {
                "loss" => logged
                    .and_then(|r| r.metrics.keys().next())
                    .map_or("loss", String::as_str),
                best => best,
            };
            plot_curves(&records, metric, &dir.join("curves.png"))
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
}
