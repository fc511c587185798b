//! An image folder: one subfolder per class, PNG or JPEG files, all of one size.
//!
//! With `train/` and `test/` subfolders those are the splits; otherwise every 5th image of each
//! class (in file-name order) is held out for testing.

use crate::dataset::{ImageDataset, Splits};
use crate::error::DatasetError;
use std::path::Path;

fn sorted_entries(dir: &Path) -> Result<Vec<std::path::PathBuf>, DatasetError> {
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

fn read_classes(
    dir: &Path,
    classes: Option<&[String]>,
) -> Result<(ImageDataset, Vec<usize>), DatasetError> {
    let class_dirs: Vec<_> = sorted_entries(dir)?
        .into_iter()
        .filter(|p| p.is_dir())
        .collect();
    let names: Vec<String> = match classes {
        Some(c) => c.to_vec(),
        None => class_dirs
            .iter()
            .map(|p| p.file_name().unwrap().to_string_lossy().into_owned())
            .collect(),
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
    let mut rank_in_class = Vec::new();
    for cdir in &class_dirs {
        let name = cdir.file_name().unwrap().to_string_lossy().into_owned();
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
            let img = image::open(&f)
                .map_err(|e| DatasetError::Image {
                    path: f.clone(),
                    reason: e.to_string(),
                })?
                .to_rgb8();
            let (w, h) = (img.width() as usize, img.height() as usize);
            if ds.height == 0 {
                (ds.height, ds.width) = (h, w);
            } else if (h, w) != (ds.height, ds.width) {
                return Err(DatasetError::Format {
                    path: f,
                    reason: format!(
                        "image is {h}x{w}, the folder's first image is {}x{}",
                        ds.height, ds.width
                    ),
                });
            }
            // HWC -> CHW
            let raw = img.into_raw();
            for c in 0..3 {
                ds.pixels.extend((0..h * w).map(|i| raw[i * 3 + c]));
            }
            ds.labels.push(label as u16);
            rank_in_class.push(k);
        }
    }
    Ok((ds, rank_in_class))
}

/// Reads an image folder (see the module docs). Images are converted to RGB.
///
/// # Errors
/// A missing folder, an undecodable image (naming it), images of different sizes.
pub fn image_folder(dir: impl AsRef<Path>) -> Result<Splits, DatasetError> {
    let dir = dir.as_ref();
    if dir.join("train").is_dir() && dir.join("test").is_dir() {
        let (train, _) = read_classes(&dir.join("train"), None)?;
        let (test, _) = read_classes(&dir.join("test"), Some(&train.class_names))?;
        return Ok(Splits { train, test });
    }
    let (all, rank) = read_classes(dir, None)?;
    let (test, train): (Vec<usize>, Vec<usize>) = (0..all.len()).partition(|&i| rank[i] % 5 == 4);
    Ok(Splits {
        train: all.subset(&train),
        test: all.subset(&test),
    })
}
