//! Evaluation: mean loss and metrics over a split, over every rank's shard in a group.

use super::*;

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

impl<T: Task> Trainer<T> {
    /// [`evaluate`], over every rank's shard in a group.
    pub(super) fn evaluate(
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
}
