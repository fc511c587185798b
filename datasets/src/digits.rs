//! The UCI handwritten digits, embedded in the crate (`data/digits/`, CC BY 4.0; see its README).

use crate::dataset::{ImageDataset, Splits};
use crate::error::{gunzip, DatasetError};
use duet_core::Key;
use std::path::Path;

static DIGITS_GZ: &[u8] = include_bytes!("../data/digits/digits.csv.gz");

/// The number of test images of the deterministic split (20%).
pub const DIGITS_TEST: usize = 360;

/// All 1,797 digits as 1 x 8 x 8 images; pixel values `0..=16` scaled to `0..=255` (`v * 255 / 16`, rounded).
///
/// # Example
/// ```
/// let all = duet_datasets::digits_all().unwrap();
/// assert_eq!((all.len(), all.channels, all.height, all.width, all.num_classes()), (1797, 1, 8, 8, 10));
/// ```
pub fn digits_all() -> Result<ImageDataset, DatasetError> {
    parse(
        Path::new("<embedded digits.csv.gz>"),
        &gunzip(Path::new("<embedded digits.csv.gz>"), DIGITS_GZ, 16 << 20)?,
    )
}

fn parse(path: &Path, text: &[u8]) -> Result<ImageDataset, DatasetError> {
    let text = std::str::from_utf8(text).map_err(|e| DatasetError::Format {
        path: path.into(),
        reason: format!("not UTF-8: {e}"),
    })?;
    let mut ds = ImageDataset {
        pixels: Vec::new(),
        labels: Vec::new(),
        channels: 1,
        height: 8,
        width: 8,
        class_names: (0..10).map(|d| d.to_string()).collect(),
    };
    for (i, line) in text.lines().filter(|l| !l.trim().is_empty()).enumerate() {
        let vals: Result<Vec<u32>, _> = line.split(',').map(|v| v.trim().parse::<u32>()).collect();
        let vals = vals.map_err(|e| DatasetError::Format {
            path: path.into(),
            reason: format!("line {}: {e}", i + 1),
        })?;
        if vals.len() != 65 || vals[..64].iter().any(|&v| v > 16) {
            return Err(DatasetError::Format {
                path: path.into(),
                reason: format!("line {}: expected 64 values in 0..=16 and a label", i + 1),
            });
        }
        if vals[64] >= 10 {
            return Err(DatasetError::LabelOutOfRange {
                path: path.into(),
                record: i,
                label: vals[64],
                classes: 10,
            });
        }
        ds.pixels
            .extend(vals[..64].iter().map(|&v| ((v * 255 + 8) / 16) as u8));
        ds.labels.push(vals[64] as u16);
    }
    Ok(ds)
}

/// The digits split deterministically (a fixed permutation, the same on every machine) into
/// 1,437 training and 360 test images.
///
/// # Example
/// ```
/// let s = duet_datasets::digits().unwrap();
/// assert_eq!((s.train.len(), s.test.len()), (1437, 360));
/// ```
pub fn digits() -> Result<Splits, DatasetError> {
    let all = digits_all()?;
    let perm = Key::new(0xd161_7500).permutation(all.len());
    let (test, train) = perm.split_at(DIGITS_TEST);
    Ok(Splits {
        train: all.subset(train),
        test: all.subset(test),
    })
}
