//! # duet-datasets
//!
//! Image classification data for duet: CIFAR-10/100 (official binary files or the `.tar.gz`),
//! MNIST and Fashion-MNIST (IDX, raw or gzipped), the UCI digits embedded in the crate, and
//! image folders; and a [`Loader`] that shuffles with a [`duet_core::Key`], batches, augments and
//! prefetches on a worker thread.
//!
//! Design choices:
//! - One in-memory form, [`ImageDataset`]: `u8` pixels (`[N, C, H, W]`) and labels. CIFAR-10 is
//!   ~180 MB as bytes; floats are made per batch.
//! - Determinism: the order of epoch `e` and the augmentation of batch `b` derive from
//!   `key.fold_in(e)` and the batch index, so results do not depend on prefetching or thread
//!   timing, and an epoch can start at any batch (exact training resume).
//! - Bad files give a typed [`DatasetError`] naming the file and the record or byte offset;
//!   nothing panics on bad input.

mod archive;
mod augment;
mod batches;
mod cifar;
mod dataset;
mod digits;
mod download;
mod error;
mod folder;
mod kind;
mod loader;
mod mnist;
pub mod parse;
mod text;

pub use archive::extract_tar_gz;
pub use augment::{ResizeFilter, Transform};
pub use batches::{BatchIter, Batches, InMemory};
pub use cifar::{cifar10, cifar100, cifar100_coarse};
pub use dataset::{ImageDataset, Splits};
pub use digits::{digits, digits_all, DIGITS_TEST};
pub use download::{
    download, download_with, fetch, fetch_with, DownloadOptions, Remote, RemoteFile,
    DEFAULT_MAX_EXTRACTED,
};
pub use error::DatasetError;
pub use folder::image_folder;
pub use kind::{load, DatasetKind};
pub use loader::{shard_rows, Batch, BatchError, EpochIter, Loader, LoaderConfig};
pub use mnist::{fashion_mnist, mnist};
pub use text::{duet_source, CharCorpus, TokenWindows};

/// CIFAR-10's per-channel mean and standard deviation of `[0, 1]` pixels (the usual constants).
pub const CIFAR10_MEAN_STD: ([f32; 3], [f32; 3]) =
    ([0.4914, 0.4822, 0.4465], [0.2470, 0.2435, 0.2616]);
