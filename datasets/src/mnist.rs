//! MNIST and Fashion-MNIST in IDX format (raw or `.gz`).
//!
//! An IDX file is a big-endian magic number, one `u32` per dimension, then the items. The header
//! is checked before anything is allocated: zero items or 0-pixel images, dimensions whose
//! product overflows, and a body shorter or longer than the header declares are errors naming the
//! file. A `.gz` file is decompressed only up to the size its header declares (plus one byte, to
//! see that the stream ends there), so a gzip bomb stops early.

use crate::dataset::{check_split_shapes, ImageDataset, Splits};
use crate::error::{gunzip_some, read_file, DatasetError};
use std::borrow::Cow;
use std::path::{Path, PathBuf};

/// Magic number of an IDX file of `u8` images (`[N, H, W]`).
pub(crate) const IMAGES: u32 = 0x0000_0803;
/// Magic number of an IDX file of `u8` labels (`[N]`).
pub(crate) const LABELS: u32 = 0x0000_0801;

fn open(dir: &Path, stem: &str) -> Result<(PathBuf, Vec<u8>), DatasetError> {
    let raw = dir.join(stem);
    if raw.exists() {
        return Ok((raw.clone(), read_file(&raw, "an IDX file")?));
    }
    let gz = dir.join(format!("{stem}.gz"));
    let bytes = read_file(&gz, &format!("`{stem}` or `{stem}.gz`"))?;
    Ok((gz, bytes))
}

fn format(path: &Path, reason: String) -> DatasetError {
    DatasetError::Format {
        path: path.into(),
        reason,
    }
}

/// Checks the header of `b` (at least its first `4 + 4 * dims` bytes) and returns the shape and
/// the number of body bytes it declares.
fn header(
    path: &Path,
    b: &[u8],
    magic: u32,
    dims: usize,
) -> Result<(Vec<usize>, usize), DatasetError> {
    let need = 4 + 4 * dims;
    if b.len() < need {
        return Err(format(
            path,
            format!("{} bytes: shorter than the {need}-byte IDX header", b.len()),
        ));
    }
    let word = |i: usize| u32::from_be_bytes([b[4 * i], b[4 * i + 1], b[4 * i + 2], b[4 * i + 3]]);
    if word(0) != magic {
        return Err(format(
            path,
            format!(
                "magic number {:#010x} at offset 0, expected {magic:#010x}",
                word(0)
            ),
        ));
    }
    let shape: Vec<usize> = (1..=dims).map(|i| word(i) as usize).collect();
    let what = if dims == 3 { "images" } else { "labels" };
    if shape[0] == 0 {
        return Err(format(
            path,
            format!("the header (offset 4) declares 0 {what}"),
        ));
    }
    if dims == 3 && (shape[1] == 0 || shape[2] == 0) {
        return Err(format(
            path,
            format!(
                "the header (offset 8) declares {}x{} images; rows and columns must be at least 1",
                shape[1], shape[2]
            ),
        ));
    }
    let body = shape
        .iter()
        .try_fold(1usize, |a, &d| a.checked_mul(d))
        .ok_or_else(|| {
            let dims: Vec<String> = shape.iter().map(usize::to_string).collect();
            format(
                path,
                format!("the header's dimensions {} overflow", dims.join("x")),
            )
        })?;
    Ok((shape, body))
}

/// The bytes of an IDX file (decompressed if `path` ends in `.gz`) and its checked shape.
fn decode<'a>(
    path: &Path,
    bytes: &'a [u8],
    magic: u32,
    dims: usize,
) -> Result<(Vec<usize>, Cow<'a, [u8]>), DatasetError> {
    let need = 4 + 4 * dims;
    let b: Cow<'a, [u8]> = if path.extension().is_some_and(|e| e == "gz") {
        let mut input = std::io::Cursor::new(bytes);
        let mut dec = flate2::bufread::GzDecoder::new(&mut input);
        let mut out = Vec::new();
        gunzip_some(path, &mut dec, &mut out, need as u64)?;
        let (_, body) = header(path, &out, magic, dims)?;
        gunzip_some(path, &mut dec, &mut out, body as u64 + 1)?;
        Cow::Owned(out)
    } else {
        Cow::Borrowed(bytes)
    };
    let (shape, body) = header(path, &b, magic, dims)?;
    let have = b.len() - need;
    if have < body {
        let unit = if dims == 3 { shape[1] * shape[2] } else { 1 };
        let n = have / unit;
        return Err(DatasetError::Truncated {
            path: path.into(),
            record: n,
            offset: need + n * unit,
            needed: unit,
            available: have - n * unit,
        });
    }
    if have > body {
        return Err(format(
            path,
            format!(
                "{} bytes follow the {} items the header declares (from offset {})",
                have - body,
                shape[0],
                need + body
            ),
        ));
    }
    Ok((shape, b))
}

/// One split from the bytes of its images file and labels file (each gunzipped if its path ends
/// in `.gz`); `names` are the class names.
pub(crate) fn pair(
    ip: &Path,
    ib: &[u8],
    lp: &Path,
    lb: &[u8],
    names: &[String],
) -> Result<ImageDataset, DatasetError> {
    let images = decode(ip, ib, IMAGES, 3)?;
    combine(ip, images, lp, decode(lp, lb, LABELS, 1)?, names)
}

type Decoded<'a> = (Vec<usize>, Cow<'a, [u8]>);

fn combine(
    ip: &Path,
    (s, ib): Decoded<'_>,
    lp: &Path,
    (l, lb): Decoded<'_>,
    names: &[String],
) -> Result<ImageDataset, DatasetError> {
    if s[0] != l[0] {
        return Err(format(
            lp,
            format!("{} labels for {} images in {}", l[0], s[0], ip.display()),
        ));
    }
    let labels = &lb[8..];
    if let Some((i, &bad)) = labels
        .iter()
        .enumerate()
        .find(|(_, &v)| v as usize >= names.len())
    {
        return Err(DatasetError::LabelOutOfRange {
            path: lp.into(),
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

fn split(
    dir: &Path,
    prefix: &str,
    names: &[String],
) -> Result<(PathBuf, ImageDataset), DatasetError> {
    let (ip, ib) = open(dir, &format!("{prefix}-images-idx3-ubyte"))?;
    let images = decode(&ip, &ib, IMAGES, 3)?;
    let (lp, lb) = open(dir, &format!("{prefix}-labels-idx1-ubyte"))?;
    let ds = combine(&ip, images, &lp, decode(&lp, &lb, LABELS, 1)?, names)?;
    Ok((ip, ds))
}

fn splits(dir: &Path, names: &[String]) -> Result<Splits, DatasetError> {
    let (train_path, train) = split(dir, "train", names)?;
    let (test_path, test) = split(dir, "t10k", names)?;
    check_split_shapes(&train, &train_path, &test, &test_path)?;
    Ok(Splits { train, test })
}

/// MNIST from a directory with `train-images-idx3-ubyte`, `train-labels-idx1-ubyte`,
/// `t10k-images-idx3-ubyte`, `t10k-labels-idx1-ubyte` (each raw or `.gz`).
///
/// # Errors
/// A missing file, a bad magic number, a header declaring no images, 0-pixel images or
/// dimensions whose product overflows, a size that does not match the header, a label above 9,
/// test images of another size than the training images.
pub fn mnist(dir: impl AsRef<Path>) -> Result<Splits, DatasetError> {
    let names: Vec<String> = (0..10).map(|d| d.to_string()).collect();
    splits(dir.as_ref(), &names)
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
    splits(dir.as_ref(), &names)
}
