//! [`Loader`]: shuffling by key, batching, augmentation, device tensors, background prefetch.

use crate::augment::{ResizeFilter, Transform};
use crate::dataset::ImageDataset;
use duet_core::burn::tensor::{Device, Int, Tensor, TensorData};
use duet_core::Key;
use std::ops::Range;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::mpsc::{sync_channel, Receiver};
use std::sync::Arc;

/// Preparing a batch failed (a panic in the transform or the dataset's accessors, on a worker
/// thread or inline). The epoch's iterator yields it instead of the batch and then ends: a
/// failed batch is never taken for the end of the epoch.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("data loader: preparing batch {batch} of epoch {epoch} failed: {message}")]
pub struct BatchError {
    /// The epoch.
    pub epoch: u64,
    /// The batch's index within the epoch.
    pub batch: usize,
    /// The panic's message.
    pub message: String,
}

/// A batch on the device.
///
/// # Shapes
/// `images: [B, C, H, W]` (floats, after the transform), `labels: [B]` (class ids).
#[derive(Clone, Debug)]
pub struct Batch {
    /// `[N, C, H, W]` floats.
    pub images: Tensor<4>,
    /// `[N]` class ids.
    pub labels: Tensor<1, Int>,
    /// The batch's index within its epoch.
    pub index: usize,
}

/// Options of a [`Loader`].
#[derive(Clone, Debug)]
pub struct LoaderConfig {
    /// Images per batch.
    pub batch_size: usize,
    /// Drop the last, smaller batch of an epoch.
    pub drop_last: bool,
    /// Shuffle each epoch (with `key.fold_in(epoch)`).
    pub shuffle: bool,
    /// How each image becomes floats.
    pub transform: Transform,
    /// Batches prepared ahead on worker threads (0: prepare on the caller's thread). The
    /// number of threads is [`Loader::with_workers`] (default 1).
    pub prefetch: usize,
}

impl Default for LoaderConfig {
    fn default() -> Self {
        LoaderConfig {
            batch_size: 128,
            drop_last: false,
            shuffle: true,
            transform: Transform::default(),
            prefetch: 2,
        }
    }
}

/// A batch prepared on the host.
struct HostBatch {
    pixels: Vec<f32>,
    labels: Vec<i64>,
    index: usize,
}

/// Iterates a dataset in batches. Same key, same order and same augmentations, whether or not
/// batches are prefetched, and from any starting batch (for exact resume).
///
/// # Shapes
/// Each [`Batch`] holds `images: [B, C, H', W']` (the transform's output size) and `labels: [B]`.
///
/// # Example
/// ```
/// use duet_datasets::{digits, Loader, LoaderConfig, Transform};
/// use duet_core::{burn::tensor::Device, Key};
/// let s = digits().unwrap();
/// let cfg = LoaderConfig { batch_size: 100, drop_last: true, transform: Transform { resize: Some((32, 32)), ..Default::default() }, ..Default::default() };
/// let loader = Loader::new(s.train, cfg, Key::new(0), Device::flex());
/// assert_eq!(loader.batches_per_epoch(), 14); // 1437 / 100, last dropped
/// let b = loader.epoch(0).next().unwrap().unwrap();
/// assert_eq!(b.images.dims(), [100, 1, 32, 32]);
/// ```
#[derive(Clone)]
pub struct Loader {
    data: Arc<ImageDataset>,
    cfg: LoaderConfig,
    key: Key,
    device: Device,
    workers: usize,
    filter: ResizeFilter,
    /// `(index, count)`: which of `count` equal parts of every batch this loader yields.
    part: (usize, usize),
}

/// The rows of part `index` of `rows` rows cut into `parts` contiguous parts whose sizes
/// differ by at most one (the first `rows % parts` parts have one more). The parts cover
/// `0..rows` in order; with more parts than rows the last ones are empty.
///
/// # Example
/// ```
/// use duet_datasets::shard_rows;
/// assert_eq!((0..3).map(|i| shard_rows(8, 3, i)).collect::<Vec<_>>(), vec![0..3, 3..6, 6..8]);
/// assert_eq!(shard_rows(1, 2, 1), 1..1);
/// ```
pub fn shard_rows(rows: usize, parts: usize, index: usize) -> Range<usize> {
    assert!(index < parts, "shard_rows: part {index} of {parts}");
    let (base, extra) = (rows / parts, rows % parts);
    let start = index * base + index.min(extra);
    start..start + base + usize::from(index < extra)
}

impl Loader {
    /// A loader over `data`, drawing order and augmentation from `key`, building tensors on `device`.
    pub fn new(data: ImageDataset, cfg: LoaderConfig, key: Key, device: Device) -> Self {
        assert!(cfg.batch_size > 0, "Loader: batch size must be positive");
        if let Some((m, s)) = &cfg.transform.normalize {
            assert!(
                !m.is_empty() && !s.is_empty(),
                "Loader: normalize needs a mean and a std per channel"
            );
        }
        Loader {
            data: Arc::new(data),
            cfg,
            key,
            device,
            workers: 1,
            filter: ResizeFilter::Nearest,
            part: (0, 1),
        }
    }

    /// This loader's part `index` of `count` of every batch ([`shard_rows`] of the batch), for
    /// rank `index` of a data-parallel job of `count` processes: the batches, their order and
    /// each image's augmentation are those of the whole loader, so the parts of all ranks put
    /// together are exactly the unsharded batch. [`batch_size`](Self::batch_size) stays the
    /// global batch's.
    ///
    /// # Example
    /// ```
    /// use duet_datasets::{digits, Loader, LoaderConfig};
    /// use duet_core::{burn::tensor::Device, Key};
    /// let s = digits().unwrap();
    /// let cfg = LoaderConfig { batch_size: 5, ..Default::default() };
    /// let whole = Loader::new(s.train.clone(), cfg.clone(), Key::new(0), Device::flex());
    /// let labels = |l: &Loader| l.epoch(3).next().unwrap().unwrap().labels.into_data().convert::<i64>().to_vec::<i64>().unwrap();
    /// let parts: Vec<Vec<i64>> = (0..2).map(|i| labels(&whole.clone().shard(i, 2))).collect();
    /// assert_eq!([parts[0].len(), parts[1].len()], [3, 2]);
    /// assert_eq!(parts.concat(), labels(&whole));
    /// ```
    pub fn shard(mut self, index: usize, count: usize) -> Self {
        assert!(index < count, "Loader::shard: part {index} of {count}");
        self.part = (index, count);
        self
    }

    /// Prepares batches on `n` worker threads (when [`LoaderConfig::prefetch`] is positive).
    /// Batches still come out in order and identical to a synchronous loader's: each batch's
    /// randomness depends only on the key, the epoch and its index.
    pub fn with_workers(mut self, n: usize) -> Self {
        self.workers = n.max(1);
        self
    }

    /// How [`Transform::resize`] interpolates (nearest-neighbour by default).
    pub fn with_resize_filter(mut self, filter: ResizeFilter) -> Self {
        self.filter = filter;
        self
    }

    /// The dataset.
    pub fn data(&self) -> &ImageDataset {
        &self.data
    }

    /// Images per (full) batch.
    pub fn batch_size(&self) -> usize {
        self.cfg.batch_size
    }

    /// Batches in one epoch.
    pub fn batches_per_epoch(&self) -> usize {
        let n = self.data.len();
        if self.cfg.drop_last {
            n / self.cfg.batch_size
        } else {
            n.div_ceil(self.cfg.batch_size)
        }
    }

    /// The image order of `epoch`: a permutation of `0..len` (the identity without shuffling).
    pub fn order(&self, epoch: u64) -> Vec<usize> {
        if self.cfg.shuffle {
            self.key.fold_in(epoch).split2()[0].permutation(self.data.len())
        } else {
            (0..self.data.len()).collect()
        }
    }

    /// The batches of `epoch` from the first.
    pub fn epoch(&self, epoch: u64) -> EpochIter {
        self.epoch_from(epoch, 0)
    }

    /// The batches of `epoch` from batch `start` (resuming mid-epoch).
    pub fn epoch_from(&self, epoch: u64, start: usize) -> EpochIter {
        let order = Arc::new(self.order(epoch));
        let aug = self.key.fold_in(epoch).split2()[1];
        let end = self.batches_per_epoch();
        let job = Arc::new(Job {
            epoch,
            data: self.data.clone(),
            cfg: self.cfg.clone(),
            order,
            aug,
            filter: self.filter,
            part: self.part,
        });
        let source = if self.cfg.prefetch == 0 {
            Source::Inline { next: start, job }
        } else {
            // Worker k prepares batches start + k, start + k + n, ...; the iterator takes them
            // round-robin, so the order is fixed whatever the threads' timing.
            let n = self.workers;
            let depth = self.cfg.prefetch.div_ceil(n).max(1);
            let rxs = (0..n)
                .map(|k| {
                    let (tx, rx) = sync_channel(depth);
                    let job = job.clone();
                    std::thread::spawn(move || {
                        for b in (start + k..end).step_by(n) {
                            let r = job.prepare(b);
                            let failed = r.is_err();
                            if tx.send(r).is_err() || failed {
                                break; // the iterator was dropped, or this worker is done
                            }
                        }
                    });
                    rx
                })
                .collect();
            Source::Prefetch {
                rxs,
                next: 0,
                epoch,
            }
        };
        EpochIter {
            remaining: end.saturating_sub(start),
            source,
            device: self.device.clone(),
            shape: self.out_shape(),
        }
    }

    fn out_shape(&self) -> [usize; 3] {
        let (h, w) = self
            .cfg
            .transform
            .out_size(self.data.height, self.data.width);
        [self.data.channels, h, w]
    }
}

/// What a worker needs to prepare any batch of one epoch.
struct Job {
    epoch: u64,
    data: Arc<ImageDataset>,
    cfg: LoaderConfig,
    order: Arc<Vec<usize>>,
    aug: Key,
    filter: ResizeFilter,
    part: (usize, usize),
}

impl Job {
    /// Prepares batch `b` of the epoch on the host; a panic becomes a [`BatchError`].
    fn prepare(&self, b: usize) -> Result<HostBatch, BatchError> {
        catch_unwind(AssertUnwindSafe(|| self.prepare_unchecked(b))).map_err(|payload| {
            let message = payload
                .downcast_ref::<&str>()
                .map(|s| s.to_string())
                .or_else(|| payload.downcast_ref::<String>().cloned())
                .unwrap_or_else(|| "the worker panicked".into());
            BatchError {
                epoch: self.epoch,
                batch: b,
                message,
            }
        })
    }

    fn prepare_unchecked(&self, b: usize) -> HostBatch {
        let Job {
            epoch: _,
            data,
            cfg,
            order,
            aug,
            filter,
            part,
        } = self;
        prepare(data, cfg, order, *aug, *filter, *part, b)
    }
}

impl ExactSizeIterator for EpochIter {}

/// Prepares part `part` of batch `b` of an epoch on the host. Each image's augmentation
/// draws from its own key (the batch's, folded with its row), so a part is the same whether
/// or not the rest of the batch is prepared.
fn prepare(
    data: &ImageDataset,
    cfg: &LoaderConfig,
    order: &[usize],
    aug: Key,
    filter: ResizeFilter,
    (index, count): (usize, usize),
    b: usize,
) -> HostBatch {
    let batch = &order[b * cfg.batch_size..((b + 1) * cfg.batch_size).min(order.len())];
    let rows = shard_rows(batch.len(), count, index);
    let idx = &batch[rows.clone()];
    let (h, w) = cfg.transform.out_size(data.height, data.width);
    let per = data.channels * h * w;
    let mut pixels = vec![0.0f32; idx.len() * per];
    let key = aug.fold_in(b as u64);
    for (j, &i) in idx.iter().enumerate() {
        let mut rng = key.fold_in((rows.start + j) as u64).host_rng();
        cfg.transform.apply_filtered(
            filter,
            data.image(i),
            data.channels,
            data.height,
            data.width,
            &mut pixels[j * per..(j + 1) * per],
            &mut rng,
        );
    }
    HostBatch {
        pixels,
        labels: idx.iter().map(|&i| data.labels[i] as i64).collect(),
        index: b,
    }
}

enum Source {
    Inline {
        next: usize,
        job: Arc<Job>,
    },
    Prefetch {
        rxs: Vec<Receiver<Result<HostBatch, BatchError>>>,
        next: usize,
        epoch: u64,
    },
}

/// The batches of one epoch (see [`Loader::epoch`]); knows how many remain (`len()`).
///
/// Yields `Ok(batch)` for each batch, or one `Err(`[`BatchError`]`)` if preparing a batch failed
/// (then it ends: `remaining` drops to 0).
///
/// # Shapes
/// Yields [`Batch`]es: `images: [B, C, H, W]` float, `labels: [B]` int, `B` the batch size
/// (smaller for the last batch unless `drop_last`).
pub struct EpochIter {
    remaining: usize,
    source: Source,
    device: Device,
    shape: [usize; 3],
}

impl Iterator for EpochIter {
    type Item = Result<Batch, BatchError>;

    fn size_hint(&self) -> (usize, Option<usize>) {
        (self.remaining, Some(self.remaining))
    }

    fn next(&mut self) -> Option<Self::Item> {
        if self.remaining == 0 {
            return None;
        }
        let host = match &mut self.source {
            Source::Inline { next, job, .. } => {
                *next += 1;
                job.prepare(*next - 1)
            }
            Source::Prefetch { rxs, next, epoch } => {
                let k = *next % rxs.len();
                *next += 1;
                // A worker only hangs up early after sending its error, so a closed channel
                // with batches remaining means the worker died some other way: still an error.
                rxs[k].recv().unwrap_or_else(|_| {
                    Err(BatchError {
                        epoch: *epoch,
                        batch: usize::MAX,
                        message: format!("worker {k} stopped before the end of the epoch"),
                    })
                })
            }
        };
        let host = match host {
            Ok(h) => h,
            Err(e) => {
                self.remaining = 0;
                return Some(Err(e));
            }
        };
        self.remaining -= 1;
        let n = host.labels.len();
        let [c, h, w] = self.shape;
        Some(Ok(Batch {
            images: Tensor::from_data(TensorData::new(host.pixels, [n, c, h, w]), &self.device),
            labels: Tensor::from_data(TensorData::new(host.labels, [n]), &self.device),
            index: host.index,
        }))
    }
}
