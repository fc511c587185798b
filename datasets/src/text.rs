//! Character-level text: [`CharCorpus`] (a vocabulary of the characters a text uses, and its
//! ids), [`TokenWindows`] (batches of windows of consecutive ids for next-token training), and
//! [`duet_source`], the embedded corpus (duet's own source code; `data/text/README.md`).

use crate::batches::{BatchIter, Batches};
use crate::error::{gunzip, DatasetError};
use crate::loader::shard_rows;
use duet_core::burn::tensor::{Device, Int, Tensor, TensorData};
use duet_core::Key;
use std::path::Path;
use std::sync::Arc;

static DUET_SRC_GZ: &[u8] = include_bytes!("../data/text/duet-src.txt.gz");

/// The embedded corpus: the Rust sources of duet's `core` and `optim` crates (397 KB of
/// printable ASCII, tab and newline; MIT OR Apache-2.0, see `data/text/README.md`).
///
/// # Errors
/// [`DatasetError`] if the embedded archive is damaged (a corrupted build).
///
/// # Example
/// ```
/// let text = duet_datasets::duet_source().unwrap();
/// assert!(text.starts_with("// file: core/src/") && text.len() > 300_000);
/// ```
pub fn duet_source() -> Result<String, DatasetError> {
    let path = Path::new("<embedded duet-src.txt.gz>");
    let bytes = gunzip(path, DUET_SRC_GZ, 16 << 20)?;
    String::from_utf8(bytes).map_err(|e| DatasetError::Format {
        path: path.into(),
        reason: format!("not UTF-8: {e}"),
    })
}

/// A text as ids into its own vocabulary: the distinct characters it uses, sorted.
///
/// # Example
/// ```
/// use duet_datasets::CharCorpus;
/// let c = CharCorpus::new("hello");
/// assert_eq!(c.vocab(), ['e', 'h', 'l', 'o']);
/// assert_eq!(c.ids(), [1, 0, 2, 2, 3]);
/// assert_eq!(c.decode(&c.encode("hole").unwrap()), "hole");
/// assert_eq!(c.encode("help").unwrap_err(), 'p');
/// ```
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CharCorpus {
    vocab: Vec<char>,
    ids: Vec<u32>,
}

impl CharCorpus {
    /// The corpus of `text`.
    pub fn new(text: &str) -> Self {
        let mut vocab: Vec<char> = text.chars().collect();
        vocab.sort_unstable();
        vocab.dedup();
        let ids = text
            .chars()
            .map(|ch| vocab.binary_search(&ch).expect("in the vocabulary") as u32)
            .collect();
        CharCorpus { vocab, ids }
    }

    /// A corpus over a given vocabulary (sorted, distinct; e.g. read back from a checkpoint).
    ///
    /// # Errors
    /// The first character of `text` outside `vocab`.
    pub fn with_vocab(vocab: Vec<char>, text: &str) -> Result<Self, char> {
        let mut c = CharCorpus {
            vocab,
            ids: Vec::new(),
        };
        c.ids = c.encode(text)?;
        Ok(c)
    }

    /// The characters, in id order.
    pub fn vocab(&self) -> &[char] {
        &self.vocab
    }

    /// The text's ids.
    pub fn ids(&self) -> &[u32] {
        &self.ids
    }

    /// The ids of `s`.
    ///
    /// # Errors
    /// The first character of `s` that is not in the vocabulary.
    pub fn encode(&self, s: &str) -> Result<Vec<u32>, char> {
        s.chars()
            .map(|ch| {
                self.vocab
                    .binary_search(&ch)
                    .map(|i| i as u32)
                    .map_err(|_| ch)
            })
            .collect()
    }

    /// The text of `ids` (ids outside the vocabulary become `?`).
    pub fn decode(&self, ids: &[u32]) -> String {
        ids.iter()
            .map(|&i| self.vocab.get(i as usize).copied().unwrap_or('?'))
            .collect()
    }

    /// The entropy of the character frequencies of `ids`, in nats: the cross-entropy of the
    /// best model that ignores context (the unigram baseline a language model must beat).
    ///
    /// # Example
    /// ```
    /// let c = duet_datasets::CharCorpus::new("abab");
    /// assert!((c.unigram_entropy(c.ids()) - 2f64.ln()).abs() < 1e-12);
    /// ```
    pub fn unigram_entropy(&self, ids: &[u32]) -> f64 {
        let mut counts = vec![0usize; self.vocab.len()];
        for &i in ids {
            counts[i as usize] += 1;
        }
        let n = ids.len().max(1) as f64;
        counts
            .iter()
            .filter(|&&c| c > 0)
            .map(|&c| {
                let p = c as f64 / n;
                -p * p.ln()
            })
            .sum()
    }
}

/// Batches of windows of `context + 1` consecutive ids (a model reads the first `context` and
/// predicts the last `context`), for next-token training and evaluation.
///
/// # Shapes
/// Each batch: `[B, context + 1]` ids.
///
/// # Example
/// ```
/// use duet_datasets::{Batches, TokenWindows};
/// use duet_core::{burn::tensor::Device, Key};
/// let ids: Vec<u32> = (0..100).collect();
/// let train = TokenWindows::random(ids.clone(), 4, 8, Key::new(0), Device::flex());
/// let b = train.epoch_from(0, 0).next().unwrap().unwrap();
/// assert_eq!(b.dims(), [4, 9]);
/// let row = b.slice([0..1, 0..9]).into_data().convert::<i64>().to_vec::<i64>().unwrap();
/// assert!(row.windows(2).all(|w| w[1] == w[0] + 1)); // consecutive ids
/// let val = TokenWindows::consecutive(ids, 4, 8, Device::flex());
/// assert_eq!((val.examples(), val.batches_per_epoch()), (12, 3)); // 99 / 8 windows
/// ```
#[derive(Clone, Debug)]
pub struct TokenWindows {
    ids: Arc<Vec<u32>>,
    batch: usize,
    context: usize,
    /// `Some`: random offsets drawn from the key per (epoch, batch); `None`: consecutive
    /// non-overlapping windows in order.
    key: Option<Key>,
    device: Device,
    /// `(index, count)`: which of `count` equal parts of every batch this source yields.
    part: (usize, usize),
}

impl TokenWindows {
    /// Windows at random offsets: `batch` per batch, an epoch of `len / (batch * context)`
    /// batches (about one pass over the ids), the same windows for the same key, epoch and batch.
    pub fn random(ids: Vec<u32>, batch: usize, context: usize, key: Key, device: Device) -> Self {
        Self::checked(ids, batch, context, Some(key), device)
    }

    /// Every consecutive non-overlapping window, in order (evaluation); the last batch may be
    /// smaller.
    pub fn consecutive(ids: Vec<u32>, batch: usize, context: usize, device: Device) -> Self {
        Self::checked(ids, batch, context, None, device)
    }

    fn checked(
        ids: Vec<u32>,
        batch: usize,
        context: usize,
        key: Option<Key>,
        device: Device,
    ) -> Self {
        assert!(
            batch > 0 && context > 0,
            "TokenWindows: batch and context must be positive"
        );
        assert!(
            ids.len() > context,
            "TokenWindows: {} ids are too few for a window of {}",
            ids.len(),
            context + 1
        );
        TokenWindows {
            ids: Arc::new(ids),
            batch,
            context,
            key,
            device,
            part: (0, 1),
        }
    }

    /// This source's part `index` of `count` of every batch (its rows [`shard_rows`] of the
    /// batch), for rank `index` of a data-parallel job: the parts of all ranks put together are
    /// the unsharded batch.
    ///
    /// # Example
    /// ```
    /// use duet_datasets::{Batches, TokenWindows};
    /// use duet_core::{burn::tensor::Device, Key};
    /// let w = TokenWindows::random((0..100).collect(), 5, 4, Key::new(0), Device::flex());
    /// let rows = |t: &TokenWindows| t.epoch_from(0, 0).next().unwrap().unwrap().dims()[0];
    /// assert_eq!((rows(&w.clone().shard(0, 2)), rows(&w.shard(1, 2))), (3, 2));
    /// ```
    pub fn shard(mut self, index: usize, count: usize) -> Self {
        assert!(
            index < count,
            "TokenWindows::shard: part {index} of {count}"
        );
        self.part = (index, count);
        self
    }

    /// Windows in one pass (consecutive: all of them).
    fn windows(&self) -> usize {
        (self.ids.len() - 1) / self.context
    }

    fn batch_at(&self, epoch: u64, index: usize) -> Tensor<2, Int> {
        let (t, max_start) = (self.context + 1, self.ids.len() - self.context - 1);
        let starts: Vec<usize> = match self.key {
            Some(key) => {
                let k = key.fold_in(epoch).fold_in(index as u64);
                let u = k.uniform_vec(self.batch, 0.0, 1.0);
                u.iter()
                    .map(|v| ((*v as f64 * (max_start + 1) as f64) as usize).min(max_start))
                    .collect()
            }
            None => {
                let first = index * self.batch;
                let last = (first + self.batch).min(self.windows());
                (first..last).map(|w| w * self.context).collect()
            }
        };
        let starts = &starts[shard_rows(starts.len(), self.part.1, self.part.0)];
        let mut flat = Vec::with_capacity(starts.len() * t);
        for s in starts {
            flat.extend(self.ids[*s..*s + t].iter().map(|&i| i as i64));
        }
        Tensor::from_data(TensorData::new(flat, [starts.len(), t]), &self.device)
    }
}

impl Batches for TokenWindows {
    type Batch = Tensor<2, Int>;

    fn batches_per_epoch(&self) -> usize {
        match self.key {
            Some(_) => (self.ids.len() / (self.batch * self.context)).max(1),
            None => self.windows().div_ceil(self.batch),
        }
    }
    fn batch_size(&self) -> usize {
        self.batch
    }
    fn examples(&self) -> usize {
        match self.key {
            Some(_) => self.batches_per_epoch() * self.batch,
            None => self.windows(),
        }
    }
    fn epoch_from(&self, epoch: u64, start: usize) -> BatchIter<'_, Tensor<2, Int>> {
        let end = self.batches_per_epoch();
        Box::new((start..end).map(move |i| Ok(self.batch_at(epoch, i))))
    }
}
