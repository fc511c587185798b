//! MNIST and Fashion-MNIST in IDX format (raw or `.gz`).

use crate::dataset::{ImageDataset, Splits};
use crate::error::{gunzip, read_file, DatasetError};
use std::path::{Path, PathBuf};

fn open(dir: &Path, stem: &str) -> Result<(PathBuf, Vec<u8>), DatasetError> {
    let raw = dir.join(stem);
    if raw.exists() {
        return Ok((raw.clone(), read_file(&raw, "an IDX file")?));
    }
    let gz = dir.join(format!("{stem}.gz"));
    let bytes = read_file(&gz, &format!("`{stem}` or `{stem}.gz`"))?;
    Ok((gz.clone(), gunzip(&gz, &bytes)?))
}

fn header(path: &Path, b: &[u8], magic: u32, dims: usize) -> Result<Vec<usize>, DatasetError> {
    let need = 4 + 4 * dims;
    if b.len() < need {
        return Err(DatasetError::Format {
            path: path.into(),
            reason: format!("{} bytes: shorter than the {need}-byte IDX header", b.len()),
        });
    }
    let word = |i: usize| u32::from_be_bytes([b[4 * i], b[4 * i + 1], b[4 * i + 2], b[4 * i + 3]]);
    if word(0) != magic {
        return Err(DatasetError::Format {
            path: path.into(),
            reason: format!(
                "magic number {:#010x} at offset 0, expected {magic:#010x}",
                word(0)
            ),
        });
    }
    let shape: Vec<usize> = (1..=dims).map(|i| word(i) as usize).collect();
    let body = shape.iter().product::<usize>();
    if b.len() - need != body {
        let unit = if dims == 3 { shape[1] * shape[2] } else { 1 };
        let have = (b.len() - need) / unit.max(1);
        return Err(DatasetError::Truncated {
            path: path.into(),
            record: have,
            offset: need + have * unit,
            needed: unit,
            available: b.len() - need - have * unit,
        });
    }
    Ok(shape)
}

fn split(dir: &Path, prefix: &str, names: &[String]) -> Result<ImageDataset, DatasetError> {
    let (ip, ib) = open(dir, &format!("{prefix}-images-idx3-ubyte"))?;
    let (lp, lb) = open(dir, &format!("{prefix}-labels-idx1-ubyte"))?;
    let s = header(&ip, &ib, 0x0000_0803, 3)?;
    let l = header(&lp, &lb, 0x0000_0801, 1)?;
    if s[0] != l[0] {
        return Err(DatasetError::Format {
            path: lp,
            reason: format!("{} labels for {} images in {}", l[0], s[0], ip.display()),
        });
    }
    let labels = &lb[8..];
    if let Some((i, &bad)) = labels
        .iter()
        .enumerate()
        .find(|(_, &v)| v as usize >= names.len())
    {
        return Err(DatasetError::LabelOutOfRange {
            path: lp,
            record: i,
            label: bad as u32,
            classes: names.len(),
        });
    }
    Ok(ImageDataset {
        pixels: ib[16..].to_vec(),
        labels: labels.iter().map(|&v| v as u16).collect(),
        channels: 1,
        height: s[1],
        width: s[2],
        class_names: names.to_vec(),
    })
}

/// MNIST from a directory with `train-images-idx3-ubyte`, `train-labels-idx1-ubyte`,
/// `t10k-images-idx3-ubyte`, `t10k-labels-idx1-ubyte` (each raw or `.gz`).
///
/// # Errors
/// A missing file, a bad magic number, a size that does not match the header, a label above 9.
pub fn mnist(dir: impl AsRef<Path>) -> Result<Splits, DatasetError> {
    let names: Vec<String> = (0..10).map(|d| d.to_string()).collect();
    let dir = dir.as_ref();
    Ok(Splits {
        train: split(dir, "train", &names)?,
        test: split(dir, "t10k", &names)?,
    })
}

/// Fashion-MNIST: the same files and format as [`mnist`], with clothing class names.
///
/// # Errors
/// As [`mnist`].
pub fn fashion_mnist(dir: impl AsRef<Path>) -> Result<Splits, DatasetError> {
    let names: Vec<String> = [
        "T-shirt/top",
        "Trouser",
        "Pullover",
        "Dress",
        "Coat",
        "Sandal",
        "Shirt",
        "Sneaker",
        "Bag",
        "Ankle boot",
    ]
    .map(String::from)
    .to_vec();
    let dir = dir.as_ref();
    Ok(Splits {
        train: split(dir, "train", &names)?,
        test: split(dir, "t10k", &names)?,
    })
}
