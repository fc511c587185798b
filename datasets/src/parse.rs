//! The single-file parsers behind the directory readers, over bytes already in memory: for
//! fuzzing, and for callers that obtain the bytes themselves. `path` only names the source in
//! errors (and, for IDX files, a `.gz` ending selects gzip). They never panic on bad bytes.

use crate::dataset::ImageDataset;
use crate::error::DatasetError;
use std::collections::HashMap;
use std::path::Path;

/// One MNIST-style split from its IDX images file (`[N, H, W]`, magic `0x803`) and labels file
/// (`[N]`, magic `0x801`), each gunzipped if its path ends in `.gz`.
///
/// # Errors
/// As [`mnist`](crate::mnist), naming the file.
pub fn idx_split(
    images_path: &Path,
    images: &[u8],
    labels_path: &Path,
    labels: &[u8],
    class_names: &[String],
) -> Result<ImageDataset, DatasetError> {
    crate::mnist::pair(images_path, images, labels_path, labels, class_names)
}

/// CIFAR-10 binary records (a label byte, then 3,072 pixel bytes).
///
/// # Errors
/// An empty file, a partial record, a label not below `class_names.len()`.
pub fn cifar10_records(
    path: &Path,
    bytes: &[u8],
    class_names: &[String],
) -> Result<ImageDataset, DatasetError> {
    crate::cifar::records(path, bytes, 1, 0, class_names)
}

/// CIFAR-100 binary records (a coarse and a fine label byte, then 3,072 pixel bytes), with the
/// fine labels if `fine`, else the coarse ones.
///
/// # Errors
/// As [`cifar10_records`].
pub fn cifar100_records(
    path: &Path,
    bytes: &[u8],
    fine: bool,
    class_names: &[String],
) -> Result<ImageDataset, DatasetError> {
    crate::cifar::records(path, bytes, 2, usize::from(fine), class_names)
}

/// The non-empty lines of a class-names file (`batches.meta.txt`, ...), which must number
/// `expected`.
///
/// # Errors
/// Another number of names.
pub fn class_names(
    path: &Path,
    bytes: &[u8],
    expected: usize,
) -> Result<Vec<String>, DatasetError> {
    crate::cifar::names_from(path, bytes, expected)
}

/// A PNG or JPEG image as RGB: `(height, width, pixels)`, pixels in `[3, H, W]` order.
///
/// # Errors
/// [`DatasetError::Image`]: not a PNG or JPEG, undecodable, or 0 pixels.
pub fn image(path: &Path, bytes: &[u8]) -> Result<(usize, usize, Vec<u8>), DatasetError> {
    crate::folder::decode(path, bytes)
}

/// The regular-file entries of a `.tar.gz` at exactly the paths `wanted`
/// (`cifar-10-batches-bin/test_batch.bin`, a leading `./` ignored), by path.
///
/// # Errors
/// A bad gzip or tar stream, more than 1 GiB decompressed, a wanted path missing, stored twice or
/// truncated.
pub fn tar_gz_entries(
    path: &Path,
    gz: &[u8],
    wanted: &[String],
) -> Result<HashMap<String, Vec<u8>>, DatasetError> {
    crate::cifar::archive_entries(path, gz, wanted)
}
