//! [`Loader`]: shuffling by key, batching, augmentation, device tensors, background prefetch.

use crate::augment::Transform;
use crate::dataset::ImageDataset;
use duet_core::burn::tensor::{Device, Int, Tensor, TensorData};
use duet_core::Key;
use std::sync::mpsc::{sync_channel, Receiver};
use std::sync::Arc;

/// A batch on the device.
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
    /// Batches prepared ahead on a worker thread (0: prepare on the caller's thread).
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
/// let b = loader.epoch(0).next().unwrap();
/// assert_eq!(b.images.dims(), [100, 1, 32, 32]);
/// ```
#[derive(Clone)]
pub struct Loader {
    data: Arc<ImageDataset>,
    cfg: LoaderConfig,
    key: Key,
    device: Device,
}

impl Loader {
    /// A loader over `data`, drawing order and augmentation from `key`, building tensors on `device`.
    pub fn new(data: ImageDataset, cfg: LoaderConfig, key: Key, device: Device) -> Self {
        assert!(cfg.batch_size > 0, "Loader: batch size must be positive");
        Loader {
            data: Arc::new(data),
            cfg,
            key,
            device,
        }
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
        let source = if self.cfg.prefetch == 0 {
            Source::Inline {
                next: start,
                end,
                order,
                aug,
                data: self.data.clone(),
                cfg: self.cfg.clone(),
            }
        } else {
            let (tx, rx) = sync_channel(self.cfg.prefetch);
            let (data, cfg) = (self.data.clone(), self.cfg.clone());
            std::thread::spawn(move || {
                for b in start..end {
                    if tx.send(prepare(&data, &cfg, &order, aug, b)).is_err() {
                        break; // the iterator was dropped
                    }
                }
            });
            Source::Prefetch(rx)
        };
        EpochIter {
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

/// Prepares batch `b` of an epoch on the host.
fn prepare(
    data: &ImageDataset,
    cfg: &LoaderConfig,
    order: &[usize],
    aug: Key,
    b: usize,
) -> HostBatch {
    let idx = &order[b * cfg.batch_size..((b + 1) * cfg.batch_size).min(order.len())];
    let (h, w) = cfg.transform.out_size(data.height, data.width);
    let per = data.channels * h * w;
    let mut pixels = vec![0.0f32; idx.len() * per];
    let mut rng = aug.fold_in(b as u64).host_rng();
    for (j, &i) in idx.iter().enumerate() {
        cfg.transform.apply(
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
        end: usize,
        order: Arc<Vec<usize>>,
        aug: Key,
        data: Arc<ImageDataset>,
        cfg: LoaderConfig,
    },
    Prefetch(Receiver<HostBatch>),
}

/// The batches of one epoch (see [`Loader::epoch`]).
pub struct EpochIter {
    source: Source,
    device: Device,
    shape: [usize; 3],
}

impl Iterator for EpochIter {
    type Item = Batch;

    fn next(&mut self) -> Option<Batch> {
        let host = match &mut self.source {
            Source::Inline {
                next,
                end,
                order,
                aug,
                data,
                cfg,
            } => {
                if *next >= *end {
                    return None;
                }
                *next += 1;
                prepare(data, cfg, order, *aug, *next - 1)
            }
            Source::Prefetch(rx) => rx.recv().ok()?,
        };
        let n = host.labels.len();
        let [c, h, w] = self.shape;
        Some(Batch {
            images: Tensor::from_data(TensorData::new(host.pixels, [n, c, h, w]), &self.device),
            labels: Tensor::from_data(TensorData::new(host.labels, [n]), &self.device),
            index: host.index,
        })
    }
}
