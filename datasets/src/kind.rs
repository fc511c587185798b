//! [`DatasetKind`] and [`load`]: pick a dataset by name (e.g. from a command-line flag).

use crate::dataset::Splits;
use crate::download::Remote;
use crate::error::DatasetError;
use std::path::Path;

/// The datasets duet can read.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum DatasetKind {
    /// The UCI handwritten digits embedded in the crate (no directory needed).
    Digits,
    /// CIFAR-10, official binary files or `.tar.gz`.
    Cifar10,
    /// CIFAR-100 with its fine labels.
    Cifar100,
    /// MNIST, IDX files raw or gzipped.
    Mnist,
    /// Fashion-MNIST, IDX files raw or gzipped.
    FashionMnist,
    /// An image folder, one subfolder per class.
    Folder,
    /// Text, not images: the embedded character corpus ([`crate::duet_source`]) for language
    /// models; [`load`] refuses it.
    Text,
}

impl DatasetKind {
    /// Every kind, in the order of the names in [`DatasetKind::name`].
    pub const ALL: [DatasetKind; 7] = [
        DatasetKind::Digits,
        DatasetKind::Cifar10,
        DatasetKind::Cifar100,
        DatasetKind::Mnist,
        DatasetKind::FashionMnist,
        DatasetKind::Folder,
        DatasetKind::Text,
    ];

    /// The name used on command lines: `digits`, `cifar10`, `cifar100`, `mnist`,
    /// `fashion-mnist`, `folder`, `text`.
    pub fn name(self) -> &'static str {
        match self {
            DatasetKind::Digits => "digits",
            DatasetKind::Cifar10 => "cifar10",
            DatasetKind::Cifar100 => "cifar100",
            DatasetKind::Mnist => "mnist",
            DatasetKind::FashionMnist => "fashion-mnist",
            DatasetKind::Folder => "folder",
            DatasetKind::Text => "text",
        }
    }

    /// Whether [`load`] needs a directory (all but the embedded digits and text).
    pub fn needs_dir(self) -> bool {
        !matches!(self, DatasetKind::Digits | DatasetKind::Text)
    }

    /// The official archive [`download`](crate::download) can fetch, if any.
    pub fn remote(self) -> Option<Remote> {
        match self {
            DatasetKind::Cifar10 => Some(Remote::Cifar10),
            DatasetKind::Cifar100 => Some(Remote::Cifar100),
            DatasetKind::Mnist => Some(Remote::Mnist),
            DatasetKind::FashionMnist => Some(Remote::FashionMnist),
            DatasetKind::Digits | DatasetKind::Folder | DatasetKind::Text => None,
        }
    }
}

impl std::fmt::Display for DatasetKind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

impl std::str::FromStr for DatasetKind {
    type Err = DatasetError;

    /// Parses a [`DatasetKind::name`] (case-insensitive; `_` and `-` are optional).
    ///
    /// ```
    /// use duet_datasets::DatasetKind;
    /// assert_eq!("CIFAR-10".parse::<DatasetKind>().unwrap(), DatasetKind::Cifar10);
    /// assert_eq!("fashion_mnist".parse::<DatasetKind>().unwrap(), DatasetKind::FashionMnist);
    /// assert!("imagenet".parse::<DatasetKind>().is_err());
    /// ```
    fn from_str(s: &str) -> Result<Self, DatasetError> {
        let norm = |t: &str| t.to_lowercase().replace(['-', '_'], "");
        DatasetKind::ALL
            .into_iter()
            .find(|k| norm(k.name()) == norm(s))
            .ok_or_else(|| DatasetError::UnknownKind {
                name: s.to_string(),
            })
    }
}

/// Loads the train and test splits of `kind` from `dir` (ignored for [`DatasetKind::Digits`]).
///
/// # Errors
/// [`DatasetError::Missing`] when a directory is needed and `dir` is `None`; otherwise the
/// reader's errors ([`cifar10`](crate::cifar10), [`mnist`](crate::mnist), ...).
///
/// # Example
/// ```
/// use duet_datasets::{load, DatasetKind};
/// let s = load(DatasetKind::Digits, None).unwrap();
/// assert_eq!(s.train.len() + s.test.len(), 1797);
/// assert!(load(DatasetKind::Cifar10, None).is_err());
/// ```
pub fn load(kind: DatasetKind, dir: Option<&Path>) -> Result<Splits, DatasetError> {
    let dir = || {
        dir.ok_or_else(|| DatasetError::Missing {
            path: Path::new(".").into(),
            what: format!("a data directory for {kind}"),
        })
    };
    match kind {
        DatasetKind::Digits => crate::digits(),
        DatasetKind::Cifar10 => crate::cifar10(dir()?),
        DatasetKind::Cifar100 => crate::cifar100(dir()?),
        DatasetKind::Mnist => crate::mnist(dir()?),
        DatasetKind::FashionMnist => crate::fashion_mnist(dir()?),
        DatasetKind::Folder => crate::image_folder(dir()?),
        DatasetKind::Text => Err(DatasetError::Format {
            path: Path::new("<embedded text>").into(),
            reason: "the text corpus holds no images: train a language model on it (--model gpt)"
                .into(),
        }),
    }
}
