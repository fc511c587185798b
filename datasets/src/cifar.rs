//! CIFAR-10 and CIFAR-100 in their official binary formats, from a directory or the `.tar.gz`.
//!
//! CIFAR-10 records are 1 label byte then 3,072 pixel bytes (the red, green and blue 32x32
//! planes, row-major): `data_batch_1.bin` .. `data_batch_5.bin`, `test_batch.bin`,
//! `batches.meta.txt` (class names). CIFAR-100 records have a coarse and a fine label byte:
//! `train.bin`, `test.bin`, `coarse_label_names.txt`, `fine_label_names.txt`: [`cifar100`]
//! uses the 100 fine labels, [`cifar100_coarse`] the 20 superclasses.
//!
//! A source is the dataset directory, its parent, the official `.tar.gz`, or a directory holding
//! the not yet extracted `.tar.gz` under its official name. In an archive the files are taken
//! only from their official paths (`cifar-10-batches-bin/test_batch.bin`, ...): a file of the
//! same name in another folder of the archive is ignored.

use crate::dataset::{ImageDataset, Splits};
use crate::error::{gunzip, read_file, DatasetError};
use std::collections::HashMap;
use std::path::{Path, PathBuf};

const PIXELS: usize = 3 * 32 * 32;

/// The most a CIFAR `.tar.gz` may decompress to (the official ones are ~185 MB).
pub(crate) const MAX_ARCHIVE_BYTES: u64 = 1 << 30;

/// The entries at exactly the paths `wanted` (e.g. `cifar-10-batches-bin/test_batch.bin`) of the
/// `.tar.gz` bytes `gz` read from `src`. An entry elsewhere with the same file name is ignored;
/// a wanted path stored twice, a missing one, or a truncated one is an error.
pub(crate) fn archive_entries(
    src: &Path,
    gz: &[u8],
    wanted: &[String],
) -> Result<HashMap<String, Vec<u8>>, DatasetError> {
    let io = |source| DatasetError::Io {
        path: src.into(),
        source,
    };
    let tar_bytes = gunzip(src, gz, MAX_ARCHIVE_BYTES)?;
    let mut archive = tar::Archive::new(tar_bytes.as_slice());
    let mut out = HashMap::new();
    for entry in archive.entries().map_err(io)? {
        let mut e = entry.map_err(io)?;
        // `./a/b` and `a/b` are the same entry.
        let name = match e.path() {
            Ok(p) => p
                .components()
                .filter(|c| !matches!(c, std::path::Component::CurDir))
                .map(|c| c.as_os_str().to_string_lossy().into_owned())
                .collect::<Vec<_>>()
                .join("/"),
            Err(_) => continue,
        };
        if !wanted.contains(&name) || !e.header().entry_type().is_file() {
            continue;
        }
        if out.contains_key(&name) {
            return Err(DatasetError::Format {
                path: src.join(&name),
                reason: "stored twice in the archive".into(),
            });
        }
        let declared = e.size();
        let mut buf = Vec::new();
        std::io::Read::read_to_end(&mut e, &mut buf).map_err(io)?;
        if (buf.len() as u64) < declared {
            return Err(DatasetError::Format {
                path: src.join(&name),
                reason: format!(
                    "archive entry truncated: {} of its {declared} bytes",
                    buf.len()
                ),
            });
        }
        out.insert(name, buf);
    }
    if let Some(missing) = wanted.iter().find(|n| !out.contains_key(*n)) {
        return Err(DatasetError::Missing {
            path: src.join(missing),
            what: "an entry of the CIFAR archive".into(),
        });
    }
    Ok(out)
}

/// Reads the named files from a directory (or its `sub` subdirectory) or from a `.tar.gz`
/// (given, or found in the directory as `archive`), where they must be exactly at `sub/name`.
fn fetch(
    src: &Path,
    sub: &str,
    archive: &str,
    names: &[&str],
) -> Result<HashMap<String, (PathBuf, Vec<u8>)>, DatasetError> {
    if src.is_dir() && !src.join(sub).is_dir() && !src.join(names[0]).exists() {
        let a = src.join(archive);
        if a.is_file() {
            return fetch(&a, sub, archive, names);
        }
    }
    let is_archive = src.is_file() && src.to_string_lossy().ends_with("gz");
    let mut out = HashMap::new();
    if is_archive {
        let raw = read_file(src, "a CIFAR archive")?;
        let wanted: Vec<String> = names.iter().map(|n| format!("{sub}/{n}")).collect();
        let mut entries = archive_entries(src, &raw, &wanted)?;
        for (n, full) in names.iter().zip(&wanted) {
            let bytes = entries.remove(full).unwrap_or_default();
            out.insert(n.to_string(), (src.join(full), bytes));
        }
        return Ok(out);
    }
    let dir = if src.join(sub).is_dir() {
        src.join(sub)
    } else {
        src.to_path_buf()
    };
    if !dir.is_dir() {
        return Err(DatasetError::Missing {
            path: dir,
            what: format!("a `{sub}` directory or its .tar.gz"),
        });
    }
    for n in names {
        let p = dir.join(n);
        let bytes = read_file(&p, "a CIFAR file")?;
        out.insert(n.to_string(), (p, bytes));
    }
    Ok(out)
}

/// Parses records of `label_bytes + 3072` bytes, taking the label at `label_at`.
pub(crate) fn records(
    path: &Path,
    bytes: &[u8],
    label_bytes: usize,
    label_at: usize,
    names: &[String],
) -> Result<ImageDataset, DatasetError> {
    let rec = label_bytes + PIXELS;
    if bytes.is_empty() {
        return Err(DatasetError::Format {
            path: path.into(),
            reason: "empty: no records".into(),
        });
    }
    if !bytes.len().is_multiple_of(rec) {
        let n = bytes.len() / rec;
        return Err(DatasetError::Truncated {
            path: path.into(),
            record: n,
            offset: n * rec,
            needed: rec,
            available: bytes.len() - n * rec,
        });
    }
    let n = bytes.len() / rec;
    let mut ds = ImageDataset {
        pixels: Vec::with_capacity(n * PIXELS),
        labels: Vec::with_capacity(n),
        channels: 3,
        height: 32,
        width: 32,
        class_names: names.to_vec(),
    };
    for (i, r) in bytes.chunks_exact(rec).enumerate() {
        let label = r[label_at] as u32;
        if label as usize >= names.len() {
            return Err(DatasetError::LabelOutOfRange {
                path: path.into(),
                record: i,
                label,
                classes: names.len(),
            });
        }
        ds.labels.push(label as u16);
        ds.pixels.extend_from_slice(&r[label_bytes..]);
    }
    Ok(ds)
}

pub(crate) fn names_from(
    path: &Path,
    bytes: &[u8],
    expected: usize,
) -> Result<Vec<String>, DatasetError> {
    let names: Vec<String> = String::from_utf8_lossy(bytes)
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty())
        .map(String::from)
        .collect();
    if names.len() != expected {
        return Err(DatasetError::Format {
            path: path.into(),
            reason: format!("expected {expected} class names, found {}", names.len()),
        });
    }
    Ok(names)
}

/// CIFAR-10 from `cifar-10-batches-bin/` (or its parent), or from `cifar-10-binary.tar.gz`.
///
/// # Errors
/// A missing file, an empty file or one whose size is not a whole number of 3,073-byte records
/// (naming the record and offset), a label above 9, a bad gzip stream, an archive that
/// decompresses to more than 1 GiB. In an archive, only the entries at exactly
/// `cifar-10-batches-bin/<name>` are read.
pub fn cifar10(src: impl AsRef<Path>) -> Result<Splits, DatasetError> {
    let train_names: Vec<String> = (1..=5).map(|i| format!("data_batch_{i}.bin")).collect();
    let mut all: Vec<&str> = train_names.iter().map(String::as_str).collect();
    all.extend(["test_batch.bin", "batches.meta.txt"]);
    let files = fetch(
        src.as_ref(),
        "cifar-10-batches-bin",
        "cifar-10-binary.tar.gz",
        &all,
    )?;
    let (meta_path, meta) = &files["batches.meta.txt"];
    let classes = names_from(meta_path, meta, 10)?;
    let mut train = ImageDataset {
        pixels: Vec::new(),
        labels: Vec::new(),
        channels: 3,
        height: 32,
        width: 32,
        class_names: classes.clone(),
    };
    for n in &train_names {
        let (p, b) = &files[n];
        train.extend(records(p, b, 1, 0, &classes)?);
    }
    let (p, b) = &files["test_batch.bin"];
    Ok(Splits {
        train,
        test: records(p, b, 1, 0, &classes)?,
    })
}

/// CIFAR-100 with its 100 fine labels, from `cifar-100-binary/` (or its parent), or from the
/// `.tar.gz`.
///
/// # Errors
/// As [`cifar10`], with 3,074-byte records (coarse label byte, fine label byte, pixels).
pub fn cifar100(src: impl AsRef<Path>) -> Result<Splits, DatasetError> {
    cifar100_labels(src.as_ref(), "fine_label_names.txt", 100, 1)
}

/// CIFAR-100 with its 20 coarse labels (superclasses, named in `coarse_label_names.txt`).
///
/// # Errors
/// As [`cifar100`].
pub fn cifar100_coarse(src: impl AsRef<Path>) -> Result<Splits, DatasetError> {
    cifar100_labels(src.as_ref(), "coarse_label_names.txt", 20, 0)
}

fn cifar100_labels(
    src: &Path,
    names_file: &str,
    classes: usize,
    label_at: usize,
) -> Result<Splits, DatasetError> {
    let files = fetch(
        src,
        "cifar-100-binary",
        "cifar-100-binary.tar.gz",
        &["train.bin", "test.bin", names_file],
    )?;
    let (np, nb) = &files[names_file];
    let classes = names_from(np, nb, classes)?;
    let (trp, trb) = &files["train.bin"];
    let (tep, teb) = &files["test.bin"];
    Ok(Splits {
        train: records(trp, trb, 2, label_at, &classes)?,
        test: records(tep, teb, 2, label_at, &classes)?,
    })
}
