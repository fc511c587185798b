//! [`Batches`]: what a training loop reads, whatever the data is (images from a [`Loader`],
//! token sequences, regression pairs kept in memory in [`InMemory`]).

use crate::loader::{Batch, BatchError, Loader};

/// The batches of one epoch, in order, each a `Result` (a failed batch ends the epoch).
pub type BatchIter<'a, B> = Box<dyn Iterator<Item = Result<B, BatchError>> + Send + 'a>;

/// A source of batches for a training loop: epochs of a fixed number of batches, restartable
/// at any batch (so a resumed run reads exactly the batches an uninterrupted one would).
///
/// Implemented by [`Loader`] (image batches, shuffled per epoch) and [`InMemory`] (any batch
/// type, the same order every epoch). Implement it for a streaming source by yielding the
/// same batch for the same `(epoch, index)`.
pub trait Batches: Sync {
    /// The batch type (e.g. [`Batch`], a tuple of tensors, token ids).
    type Batch: Send;

    /// Batches in one epoch.
    fn batches_per_epoch(&self) -> usize;

    /// Examples in a full batch (for throughput).
    fn batch_size(&self) -> usize;

    /// Examples in one epoch (0: empty, which a loop must refuse to evaluate on).
    fn examples(&self) -> usize;

    /// Epoch `epoch` from batch `start` on.
    fn epoch_from(&self, epoch: u64, start: usize) -> BatchIter<'_, Self::Batch>;
}

impl Batches for Loader {
    type Batch = Batch;

    fn batches_per_epoch(&self) -> usize {
        Loader::batches_per_epoch(self)
    }
    fn batch_size(&self) -> usize {
        Loader::batch_size(self)
    }
    fn examples(&self) -> usize {
        self.data().len()
    }
    fn epoch_from(&self, epoch: u64, start: usize) -> BatchIter<'_, Batch> {
        Box::new(Loader::epoch_from(self, epoch, start))
    }
}

/// Batches held in memory, served in the same order every epoch: small tasks, tests, data
/// generated once (a regression set, a tokenised text cut into sequences).
///
/// # Example
/// ```
/// use duet_datasets::{Batches, InMemory};
/// let data = InMemory::new(vec![(1, 10), (2, 20), (3, 30)], 1);
/// assert_eq!(data.batches_per_epoch(), 3);
/// let from_second: Vec<(i32, i32)> = data.epoch_from(7, 1).map(Result::unwrap).collect();
/// assert_eq!(from_second, vec![(2, 20), (3, 30)]);
/// ```
#[derive(Clone, Debug)]
pub struct InMemory<B> {
    batches: Vec<B>,
    batch_size: usize,
}

impl<B> InMemory<B> {
    /// `batches`, each of `batch_size` examples.
    pub fn new(batches: Vec<B>, batch_size: usize) -> Self {
        InMemory {
            batches,
            batch_size,
        }
    }
}

impl<B: Clone + Send + Sync> Batches for InMemory<B> {
    type Batch = B;

    fn batches_per_epoch(&self) -> usize {
        self.batches.len()
    }
    fn batch_size(&self) -> usize {
        self.batch_size
    }
    fn examples(&self) -> usize {
        self.batches.len() * self.batch_size
    }
    fn epoch_from(&self, _epoch: u64, start: usize) -> BatchIter<'_, B> {
        Box::new(self.batches.iter().skip(start).cloned().map(Ok))
    }
}
