//! [`DataParallel`]: one model replicated over several devices, each batch split between them.
//!
//! The scheme is PyTorch DDP's, written over duet's parameter trees so it works for any
//! [`Model`] on any mix of burn devices (two wgpu adapters, CPU + GPU, several CUDA cards):
//!
//! 1. the batch is split along its first axis, one shard per device (sizes differ by at most one);
//! 2. every replica runs its forward and backward pass on its own device, in its own thread;
//! 3. a [`Collective`] reduces the gradients to their batch-weighted mean (so the result is the
//!    gradient of the mean loss over the *global* batch, as on one device);
//! 4. the optimizer updates the main replica (the first device) and the new params are broadcast
//!    to every replica, so replicas hold identical params after every step, bit for bit, even
//!    across backends whose arithmetic differs.
//!
//! Batch-norm running statistics follow DDP's default: the main replica's are broadcast.
//!
//! Why not burn's own all-reduce: in burn 0.22.1 `burn::tensor::distributed` only has a
//! transport between CUDA devices (NCCL); `flex` and `wgpu` tensors panic in `set_distributed`.
//! [`HostCollective`] moves gradients to the main device instead, which works everywhere; a
//! multi-GPU or multi-node all-reduce (NCCL, MPI, burn's collective once it has transports)
//! plugs in as another [`Collective`].

use crate::model::{LossFn, Model, Stateful, StepOutput};
use crate::shard::Shard;
use crate::task::Metrics;
use duet_core::burn::tensor::{Device, Tensor};
use duet_core::{Key, Parameterized, Params, TreeError};

/// Reduces per-replica gradient trees to their weighted mean on one device.
///
/// Implement this to plug in another transport (an NCCL or MPI all-reduce across processes or
/// machines); [`HostCollective`] is the portable default.
pub trait Collective: Send + Sync {
    /// `sum_i weights[i] * grads[i]` (weights sum to 1), placed on `main`.
    ///
    /// # Errors
    /// A [`TreeError`] when the trees differ in paths or shapes.
    fn mean(&self, grads: Vec<Params>, weights: &[f32], main: &Device)
        -> Result<Params, TreeError>;
}

/// [`Collective`] that copies every gradient tree to the main device and sums it there
/// (through host memory between backends, as `Tensor::to_device` does).
#[derive(Clone, Copy, Debug, Default)]
pub struct HostCollective;

impl Collective for HostCollective {
    fn mean(
        &self,
        grads: Vec<Params>,
        weights: &[f32],
        main: &Device,
    ) -> Result<Params, TreeError> {
        let mut it = grads.into_iter().zip(weights);
        let (first, w0) = it.next().expect("at least one replica");
        let mut acc = first.to_device(main).map(|t| t * *w0);
        for (g, w) in it {
            acc = acc.zip_map(&g.to_device(main), |a, b| a + b * *w)?;
        }
        Ok(acc)
    }
}

/// A [`Model`] replicated over several devices; see the module docs.
///
/// It is itself a [`Model`], so [`crate::Trainer`], checkpoints and resumption work unchanged:
/// `params()` are the main replica's, `load_params` broadcasts to every replica.
///
/// # Example
/// Two replicas of a linear classifier on the CPU (`flex` has one device; on a machine with GPUs
/// pass `[device("cuda:0")?, device("cuda:1")?]` or `[Device::flex(), device("wgpu")?]`):
/// ```
/// use duet_core::{burn::tensor::{Device, Int, Tensor}, Key};
/// use duet_functional::{serial, Dense, Flatten, LayerExt};
/// use duet_train::{Classification, DataParallel, FunctionalModel, Model, Task};
/// let dev = Device::flex();
/// let build = |device: &Device| {
///     let model = serial![Flatten, Dense::new(3)];
///     let (params, state) = model.init_model(&[1, 1, 2, 2], Key::new(0), device).unwrap();
///     FunctionalModel { model: Box::new(model), params, state }
/// };
/// let mut single = build(&dev);
/// let mut pair = DataParallel::new(&[dev.clone(), dev.clone()], build).unwrap();
/// let x = Tensor::<4>::ones([4, 1, 2, 2], &dev);
/// let y = Tensor::<1, Int>::from_ints([0, 1, 2, 1], &dev);
/// let task = Classification::default();
/// let loss = |logits: Tensor<2>, rows| task.loss(logits, &y, rows);
/// let (a, b) = (single.loss_and_grad(x.clone(), Key::new(1), &loss),
///               pair.loss_and_grad(x, Key::new(1), &loss));
/// let (la, lb): (f32, f32) = (a.loss.into_scalar(), b.loss.into_scalar());
/// assert!((la - lb).abs() < 1e-6, "{la} vs {lb}");
/// // The accuracy sums of the two halves add up to the whole batch's.
/// assert_eq!(a.metrics.means(4), b.metrics.means(4));
/// ```
pub struct DataParallel<C> {
    replicas: Vec<C>,
    devices: Vec<Device>,
    collective: Box<dyn Collective>,
}

impl<C: Stateful> DataParallel<C> {
    /// One replica per device, built by `build(device)`, then given the first replica's params
    /// and state (so replicas start identical whatever `build` does). Uses [`HostCollective`].
    ///
    /// # Errors
    /// A [`TreeError`] when the replicas' trees differ in paths or shapes.
    pub fn new(devices: &[Device], mut build: impl FnMut(&Device) -> C) -> Result<Self, TreeError> {
        assert!(
            !devices.is_empty(),
            "DataParallel needs at least one device"
        );
        let replicas = devices.iter().map(&mut build).collect();
        let mut dp = DataParallel {
            replicas,
            devices: devices.to_vec(),
            collective: Box::new(HostCollective),
        };
        let (params, state) = (dp.replicas[0].params(), dp.replicas[0].state());
        dp.load_params(&params)?;
        dp.broadcast_state(&state)?;
        Ok(dp)
    }

    /// Replaces the gradient reduction (e.g. with an NCCL or MPI all-reduce).
    pub fn with_collective(mut self, collective: impl Collective + 'static) -> Self {
        self.collective = Box::new(collective);
        self
    }

    /// The devices, main device first.
    pub fn devices(&self) -> &[Device] {
        &self.devices
    }

    /// The replicas, in device order (for inspection: every replica holds the same params).
    pub fn replicas(&self) -> &[C] {
        &self.replicas
    }

    fn broadcast_state(&mut self, state: &Params) -> Result<(), TreeError> {
        for (r, d) in self.replicas.iter_mut().zip(&self.devices) {
            r.load_state(&state.to_device(d))?;
        }
        Ok(())
    }
}

impl<C: Stateful> Parameterized for DataParallel<C> {
    fn params(&self) -> Params {
        self.replicas[0].params()
    }

    /// Broadcasts `params` to every replica (each gets a copy on its own device).
    fn load_params(&mut self, params: &Params) -> Result<(), TreeError> {
        for (r, d) in self.replicas.iter_mut().zip(&self.devices) {
            r.load_params(&params.to_device(d))?;
        }
        Ok(())
    }
}

/// Splits `n` rows into `parts` contiguous ranges whose sizes differ by at most one (the empty
/// ones dropped).
fn shards(n: usize, parts: usize) -> Vec<std::ops::Range<usize>> {
    (0..parts)
        .map(|i| duet_datasets::shard_rows(n, parts, i))
        .filter(|r| !r.is_empty())
        .collect()
}

impl<C: Stateful> Stateful for DataParallel<C> {
    fn state(&self) -> Params {
        self.replicas[0].state()
    }

    fn load_state(&mut self, state: &Params) -> Result<(), TreeError> {
        self.broadcast_state(state)
    }
}

impl<I: Shard, O, C: Model<I, O>> Model<I, O> for DataParallel<C> {
    /// Each replica runs on its shard of `x` (rows split evenly) and its loss sees the rows
    /// it covers; the loss is the batch-weighted mean, the metric sums are added, the
    /// gradients reduced by the [`Collective`]; all on the main device. Every replica draws
    /// its randomness from `key` folded with its index.
    fn loss_and_grad(&mut self, x: I, key: Key, loss: &LossFn<'_, O>) -> StepOutput {
        let n = x.rows();
        let ranges = shards(n, self.replicas.len());
        let outs: Vec<StepOutput> = std::thread::scope(|s| {
            let mut jobs = self
                .replicas
                .iter_mut()
                .zip(&self.devices)
                .zip(&ranges)
                .enumerate()
                .map(|(i, ((r, d), range))| {
                    let x = x.shard(range.clone(), d);
                    let key = if ranges.len() == 1 {
                        key
                    } else {
                        key.fold_in(i as u64)
                    };
                    let range = range.clone();
                    let part = move |o: O, _| loss(o, Some(range.clone()));
                    move || r.loss_and_grad(x, key, &part)
                });
            // The first replica runs on this thread (on the CPU it may be a worker of the
            // kernels' thread pool, `duet_core::init_cpu_threads`), the others on their own.
            let first = jobs.next();
            let handles: Vec<_> = jobs.map(|job| s.spawn(job)).collect();
            first
                .map(|job| job())
                .into_iter()
                .chain(
                    handles
                        .into_iter()
                        .map(|h| h.join().unwrap_or_else(|e| std::panic::resume_unwind(e))),
                )
                .collect()
        });
        let main = &self.devices[0];
        let weights: Vec<f32> = ranges.iter().map(|r| r.len() as f32 / n as f32).collect();
        let mut loss = Tensor::<1>::zeros([1], main);
        let mut metrics = Metrics::default();
        let mut grads = Vec::with_capacity(outs.len());
        for (o, w) in outs.into_iter().zip(&weights) {
            loss = loss + o.loss.to_device(main) * *w;
            metrics.merge(o.metrics.detached(main));
            grads.push(o.grads);
        }
        let grads = self
            .collective
            .mean(grads, &weights, main)
            .expect("replicas have the same parameter trees");
        let state = self.replicas[0].state();
        self.broadcast_state(&state)
            .expect("replicas have the same state trees");
        StepOutput {
            loss,
            metrics,
            grads,
        }
    }

    /// Evaluation on the main replica.
    fn forward(&self, x: I) -> O {
        let main = &self.devices[0];
        self.replicas[0].forward(x.shard(0..x.rows(), main))
    }
}

#[cfg(test)]
mod tests {
    use super::shards;

    #[test]
    fn shards_cover_the_batch_evenly() {
        assert_eq!(shards(5, 2), vec![0..3, 3..5]);
        assert_eq!(shards(4, 2), vec![0..2, 2..4]);
        assert_eq!(shards(1, 3), vec![0..1]);
    }
}
