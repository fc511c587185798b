//! One optimizer step: this process's gradient, or the reduction of every rank's shard.

use super::*;
use duet_core::burn::tensor::Tensor;

impl<T: Task> Trainer<T> {
    /// One optimizer step; a non-finite loss stops the run (and marks the checkpoint whose
    /// params produced it as diverged).
    pub(super) fn step(
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
    pub(super) fn loss_and_grad(
        &self,
        r: &mut Run,
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
        let grads = r.reducer.all_reduce(g.as_ref(), out.grads, &mut head);
        let mut metrics = Metrics::default();
        for ((name, _), v) in local.iter().zip(&head[1..]) {
            metrics.add(name, Tensor::from_floats([*v], &dev));
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
}
