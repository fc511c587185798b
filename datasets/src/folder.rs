//! An image folder: one subfolder per class, PNG or JPEG files, all of one size.
//!
//! With `train/` and `test/` subfolders those are the splits; otherwise every 5th image of each
//! class (in file-name order) is held out for testing, so each class needs at least 5 images.
//! The test images must have the training images' size; a split without images is an error.

use crate::dataset::{check_split_shapes, ImageDataset, Splits};
use crate::error::{read_file, DatasetError};
use std::path::{Path, PathBuf};

fn sorted_entries(dir: &Path) -> Result<Vec<PathBuf>, DatasetError> {
    let rd = std::fs::read_dir(dir).map_err(|source| match source.kind() {
        std::io::ErrorKind::NotFound => DatasetError::Missing {
            path: dir.into(),
            what: "an image folder".into(),
        },
        _ => DatasetError::Io {
            path: dir.into(),
            source,
        },
    })?;
    let mut v: Vec<_> = rd.filter_map(Result::ok).map(|e| e.path()).collect();
    v.sort();
    Ok(v)
}

fn file_name(p: &Path) -> String {
    p.file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default()
}

/// Decodes a PNG or JPEG (recognised by its content) to RGB: `(height, width, CHW pixels)`.
pub(crate) fn decode(path: &Path, bytes: &[u8]) -> Result<(usize, usize, Vec<u8>), DatasetError> {
    let bad = |reason: String| DatasetError::Image {
        path: path.into(),
        reason,
    };
    let reader = image::ImageReader::new(std::io::Cursor::new(bytes))
        .with_guessed_format()
        .map_err(|e| bad(e.to_string()))?;
    if !matches!(
        reader.format(),
        Some(image::ImageFormat::Png | image::ImageFormat::Jpeg)
    ) {
        return Err(bad("not a PNG or JPEG file".into()));
    }
    let img = reader.decode().map_err(|e| bad(e.to_string()))?.to_rgb8();
    let (w, h) = (img.width() as usize, img.height() as usize);
    if h == 0 || w == 0 {
        return Err(bad(format!("the image is {h}x{w} pixels")));
    }
    // HWC -> CHW
    let raw = img.into_raw();
    let mut chw = Vec::with_capacity(raw.len());
    for c in 0..3 {
        chw.extend((0..h * w).map(|i| raw[i * 3 + c]));
    }
    Ok((h, w, chw))
}

fn read_classes(
    dir: &Path,
    classes: Option<&[String]>,
) -> Result<(ImageDataset, Vec<usize>, PathBuf), DatasetError> {
    let class_dirs: Vec<_> = sorted_entries(dir)?
        .into_iter()
        .filter(|p| p.is_dir())
        .collect();
    let names: Vec<String> = match classes {
        Some(c) => c.to_vec(),
        None => class_dirs.iter().map(|p| file_name(p)).collect(),
    };
    if names.is_empty() {
        return Err(DatasetError::Format {
            path: dir.into(),
            reason: "no class subfolders".into(),
        });
    }
    let mut ds = ImageDataset {
        pixels: Vec::new(),
        labels: Vec::new(),
        channels: 3,
        height: 0,
        width: 0,
        class_names: names.clone(),
    };
    let mut first: Option<PathBuf> = None;
    let mut rank_in_class = Vec::new();
    for cdir in &class_dirs {
        let name = file_name(cdir);
        let label = names
            .iter()
            .position(|n| *n == name)
            .ok_or_else(|| DatasetError::Format {
                path: cdir.clone(),
                reason: format!("class `{name}` is not in the training classes"),
            })?;
        let files = sorted_entries(cdir)?.into_iter().filter(|p| {
            let e = p
                .extension()
                .map(|e| e.to_string_lossy().to_lowercase())
                .unwrap_or_default();
            matches!(e.as_str(), "png" | "jpg" | "jpeg")
        });
        for (k, f) in files.enumerate() {
            let (h, w, chw) = decode(&f, &read_file(&f, "an image")?)?;
            match &first {
                None => {
                    (ds.height, ds.width) = (h, w);
                    first = Some(f.clone());
                }
                Some(first) if (h, w) != (ds.height, ds.width) => {
                    return Err(DatasetError::Format {
                        path: f,
                        reason: format!(
                            "image is {h}x{w}, the folder's first image ({}) is {}x{}",
                            first.display(),
                            ds.height,
                            ds.width
                        ),
                    });
                }
                Some(_) => {}
            }
            ds.pixels.extend(chw);
            ds.labels.push(label as u16);
            rank_in_class.push(k);
        }
    }
    let first = first.ok_or_else(|| DatasetError::Format {
        path: dir.into(),
        reason: "no PNG or JPEG images in its class subfolders".into(),
    })?;
    Ok((ds, rank_in_class, first))
}

/// Reads an image folder (see the module docs). Images are converted to RGB.
///
/// # Errors
/// A missing folder, an undecodable image (naming it), images of different sizes (naming the
/// image and the first image, and for `train/` and `test/` both sizes), a split without images.
pub fn image_folder(dir: impl AsRef<Path>) -> Result<Splits, DatasetError> {
    let dir = dir.as_ref();
    if dir.join("train").is_dir() && dir.join("test").is_dir() {
        let (train, _, train_first) = read_classes(&dir.join("train"), None)?;
        let (test, _, test_first) = read_classes(&dir.join("test"), Some(&train.class_names))?;
        check_split_shapes(&train, &train_first, &test, &test_first)?;
        return Ok(Splits { train, test });
    }
    let (all, rank, _) = read_classes(dir, None)?;
    let (test, train): (Vec<usize>, Vec<usize>) = (0..all.len()).partition(|&i| rank[i] % 5 == 4);
    if test.is_empty() {
        return Err(DatasetError::Format {
            path: dir.into(),
            reason: "no test images: every 5th image of a class is held out, so a class needs at \
                     least 5 images (or use train/ and test/ subfolders)"
                .into(),
        });
    }
    Ok(Splits {
        train: all.subset(&train),
        test: all.subset(&test),
    })
}
