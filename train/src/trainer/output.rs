//! What a run writes: training and evaluation records, checkpoints.

use super::*;

impl<T: Task> Trainer<T> {
    /// Writes the training window's means and starts a new window.
    pub(super) fn log_train(
        &self,
        r: &mut Run,
        epoch: u64,
        opt: &Optimizer,
    ) -> Result<(), TrainError> {
        let w = std::mem::replace(&mut r.window, Window::new());
        let mut means = w.sums.means(w.examples);
        means.insert("loss".into(), w.loss / w.examples.max(1) as f64);
        self.task.finish(&mut means);
        let rate = w.examples as f64 / w.t.elapsed().as_secs_f64().max(1e-9);
        self.write(r, "train", epoch, means, rate, opt)
    }

    /// Evaluates on `test`, logs and prints the result; a non-finite loss stops the run.
    pub(super) fn eval_and_log(
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

    pub(super) fn write(
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
    pub(super) fn checkpoint(
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
}
