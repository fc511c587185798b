//! [`DatasetError`]: every failure names the file and, where it applies, the record or offset.

use std::path::PathBuf;

/// Errors from reading datasets. Never a panic on bad input.
#[derive(Debug, thiserror::Error)]
pub enum DatasetError {
    /// A required file or directory is absent.
    #[error("{path}: missing ({what})")]
    Missing {
        /// The path looked for.
        path: PathBuf,
        /// What it should have held.
        what: String,
    },
    /// The file ends inside a record.
    #[error("{path}: truncated at byte {offset}: record {record} needs {needed} bytes, {available} remain")]
    Truncated {
        /// The file.
        path: PathBuf,
        /// Index of the incomplete record.
        record: usize,
        /// Byte offset where it starts.
        offset: usize,
        /// Bytes a record needs.
        needed: usize,
        /// Bytes left in the file.
        available: usize,
    },
    /// The file's header or size does not fit the format.
    #[error("{path}: {reason}")]
    Format {
        /// The file.
        path: PathBuf,
        /// What is wrong, with the offset where it applies.
        reason: String,
    },
    /// A label is not below the number of classes.
    #[error("{path}: record {record} has label {label}, but there are {classes} classes")]
    LabelOutOfRange {
        /// The file.
        path: PathBuf,
        /// The record index.
        record: usize,
        /// The label read.
        label: u32,
        /// The number of classes.
        classes: usize,
    },
    /// A gzip stream could not be decoded.
    #[error("{path}: bad gzip stream near compressed byte {offset}: {source}")]
    Gzip {
        /// The file.
        path: PathBuf,
        /// How many compressed bytes the decoder had consumed when it failed.
        offset: u64,
        /// The decoder's error.
        source: std::io::Error,
    },
    /// An image in an image folder could not be decoded.
    #[error("{path}: cannot decode image: {reason}")]
    Image {
        /// The file.
        path: PathBuf,
        /// The decoder's message.
        reason: String,
    },
    /// A download failed (network, HTTP status).
    #[error("{url}: download failed: {reason}")]
    Download {
        /// The URL.
        url: String,
        /// What failed.
        reason: String,
    },
    /// A downloaded file does not have its published checksum (it was removed).
    #[error(
        "{path}: MD5 {found} does not match the published {expected}; the download was removed"
    )]
    Checksum {
        /// The file.
        path: PathBuf,
        /// The published MD5.
        expected: String,
        /// The MD5 of what arrived.
        found: String,
    },
    /// The test images have another shape than the training images.
    #[error("test images are {}x{}x{} (CxHxW) in {}, but training images are {}x{}x{} in {}", test_shape[0], test_shape[1], test_shape[2], test.display(), train_shape[0], train_shape[1], train_shape[2], train.display())]
    SplitShapes {
        /// Where the training images come from.
        train: PathBuf,
        /// Their `[C, H, W]`.
        train_shape: [usize; 3],
        /// Where the test images come from.
        test: PathBuf,
        /// Their `[C, H, W]`.
        test_shape: [usize; 3],
    },
    /// A dataset name that is not one of [`DatasetKind`](crate::DatasetKind)'s.
    #[error("unknown dataset `{name}` (expected digits, cifar10, cifar100, mnist, fashion-mnist or folder)")]
    UnknownKind {
        /// The name given.
        name: String,
    },
    /// Any other I/O failure.
    #[error("{path}: {source}")]
    Io {
        /// The file.
        path: PathBuf,
        /// The OS error.
        source: std::io::Error,
    },
}

/// Reads a whole file, mapping a missing file to [`DatasetError::Missing`].
pub(crate) fn read_file(path: &std::path::Path, what: &str) -> Result<Vec<u8>, DatasetError> {
    std::fs::read(path).map_err(|source| match source.kind() {
        std::io::ErrorKind::NotFound => DatasetError::Missing {
            path: path.to_path_buf(),
            what: what.to_string(),
        },
        _ => DatasetError::Io {
            path: path.to_path_buf(),
            source,
        },
    })
}

/// A gzip stream over bytes in memory.
pub(crate) type Gz<'a, 'b> = flate2::bufread::GzDecoder<&'a mut std::io::Cursor<&'b [u8]>>;

/// Decompresses gzip bytes, naming the file and the compressed offset on a bad stream; more
/// than `limit` decompressed bytes is a [`DatasetError::Format`] (a gzip bomb stops there).
pub(crate) fn gunzip(
    path: &std::path::Path,
    bytes: &[u8],
    limit: u64,
) -> Result<Vec<u8>, DatasetError> {
    let mut out = Vec::new();
    let mut input = std::io::Cursor::new(bytes);
    let mut dec = flate2::bufread::GzDecoder::new(&mut input);
    gunzip_some(path, &mut dec, &mut out, limit.saturating_add(1))?;
    if out.len() as u64 > limit {
        return Err(DatasetError::Format {
            path: path.to_path_buf(),
            reason: format!("decompresses to more than {limit} bytes"),
        });
    }
    Ok(out)
}

/// Appends at most `n` more decompressed bytes from `dec` to `out` (fewer at the end of the
/// stream), naming the file and the compressed offset on a bad stream.
pub(crate) fn gunzip_some(
    path: &std::path::Path,
    dec: &mut Gz<'_, '_>,
    out: &mut Vec<u8>,
    n: u64,
) -> Result<(), DatasetError> {
    use std::io::Read;
    let result = dec.by_ref().take(n).read_to_end(out);
    result.map_err(|source| DatasetError::Gzip {
        path: path.to_path_buf(),
        offset: dec.get_ref().position(),
        source,
    })?;
    Ok(())
}
