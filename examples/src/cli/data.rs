//! Loading a dataset by flag, the input shape a model gets from it, and `duet data`.

use super::args::{DataArgs, DataSource};
use super::CliError;
use crate::models::ModelKind;
use duet_datasets::{DatasetKind, ImageDataset, Splits, Transform};
use std::path::Path;

/// Loads the splits a flag names ([`duet_datasets::load`]).
///
/// # Errors
/// A missing `--data-dir` (`--dataset cifar10 needs --data-dir DIR`) or a dataset error (naming
/// the file).
pub fn load(src: &DataSource) -> Result<Splits, CliError> {
    if src.dataset.needs_dir() && src.data_dir.is_none() {
        return Err(CliError::Other(format!(
            "--dataset {} needs --data-dir DIR",
            src.dataset
        )));
    }
    duet_datasets::load(src.dataset, src.data_dir.as_deref())
        .map_err(|e| CliError::Other(e.to_string()))
}

/// Per-channel mean and standard deviation of a dataset's `[0, 1]` pixels.
pub fn channel_stats(d: &ImageDataset) -> (Vec<f32>, Vec<f32>) {
    let plane = d.height * d.width;
    let mut sums = vec![(0.0f64, 0.0f64); d.channels];
    for i in 0..d.len() {
        for (c, s) in sums.iter_mut().enumerate() {
            for &p in &d.image(i)[c * plane..(c + 1) * plane] {
                let v = p as f64 / 255.0;
                s.0 += v;
                s.1 += v * v;
            }
        }
    }
    let n = (d.len() * plane).max(1) as f64;
    sums.iter()
        .map(|(s, q)| {
            (
                (s / n) as f32,
                ((q / n - (s / n).powi(2)).max(1e-12).sqrt()) as f32,
            )
        })
        .unzip()
}

/// The train and test transforms for `model` on `data`: LeNet and AlexNet get 32x32 inputs;
/// training gets random crops (padding 4 for colour images, 2 for the others) and, for colour
/// images, flips; all are normalized
/// with the given per-channel statistics.
pub fn transforms(
    model: ModelKind,
    data: &ImageDataset,
    kind: DatasetKind,
    stats: (Vec<f32>, Vec<f32>),
) -> (Transform, Transform) {
    let resize = match model {
        ModelKind::Lenet | ModelKind::Alexnet if (data.height, data.width) != (32, 32) => {
            Some((32, 32))
        }
        _ => None,
    };
    let test = Transform {
        resize,
        normalize: Some(stats),
        ..Default::default()
    };
    let colour = matches!(
        kind,
        DatasetKind::Cifar10 | DatasetKind::Cifar100 | DatasetKind::Folder
    );
    // Small random translations help every dataset; mirror images only make sense for photos.
    let train = Transform {
        random_crop_padding: Some(if colour { 4 } else { 2 }),
        horizontal_flip: colour,
        ..test.clone()
    };
    (train, test)
}

/// `[C, H, W]` after a transform.
pub fn input_shape(data: &ImageDataset, t: &Transform) -> [usize; 3] {
    let (h, w) = t.out_size(data.height, data.width);
    [data.channels, h, w]
}

/// `duet data`: split sizes and class counts; optionally a labelled grid of samples.
pub fn run(args: &DataArgs) -> Result<(), CliError> {
    let s = load(&args.data)?;
    for (name, d) in [("train", &s.train), ("test", &s.test)] {
        println!(
            "{name}: {} images of {}x{}x{}",
            d.len(),
            d.channels,
            d.height,
            d.width
        );
        for (c, n) in d.class_counts().iter().enumerate() {
            println!("  {:>3} {:<16} {n}", c, d.class_names[c]);
        }
    }
    if let Some(path) = &args.grid {
        write_grid(&s.train, path)?;
        println!("wrote {}", path.display());
    }
    Ok(())
}

/// The size of a grid cell for `h` x `w` images: upscaled by an integer factor to >= 32 px when
/// smaller, shrunk to <= 256 px when larger (nearest neighbour), at least 1 px a side.
pub fn cell_size(h: usize, w: usize) -> (usize, usize) {
    let side = h.max(w).max(1);
    if side < 32 {
        let s = 32 / side;
        (h * s, w * s)
    } else if side > 256 {
        ((h * 256 / side).max(1), (w * 256 / side).max(1))
    } else {
        (h, w)
    }
}

/// Up to 8 images of each of the first 10 classes, one row per class, resized by
/// [`cell_size`].
///
/// # Errors
/// A split without images or with 0-pixel images (naming `path`), or a failed write.
fn write_grid(d: &ImageDataset, path: &Path) -> Result<(), CliError> {
    let fail = |why: String| CliError::Other(format!("--grid {}: {why}", path.display()));
    if d.height == 0 || d.width == 0 || d.channels == 0 {
        return Err(fail(format!(
            "the training images are {}x{}x{}, nothing to draw",
            d.channels, d.height, d.width
        )));
    }
    if d.is_empty() {
        return Err(fail("the training split has no images".into()));
    }
    let (h, w) = (d.height, d.width);
    let (sh, sw) = cell_size(h, w);
    // A cell: the image plus a 1 px border; a row is at least as tall as a label (10 px).
    let (ch, cw) = ((sh + 2).max(12), sw + 2);
    let rows = d.num_classes().min(10);
    let label_w = 8 * 6;
    let mut img = image::RgbImage::from_pixel(
        (label_w + 8 * cw) as u32,
        (rows * ch) as u32,
        image::Rgb([255, 255, 255]),
    );
    let plane = h * w;
    for class in 0..rows {
        for (k, i) in (0..d.len())
            .filter(|&i| d.labels[i] as usize == class)
            .take(8)
            .enumerate()
        {
            let px = d.image(i);
            for y in 0..sh {
                for x in 0..sw {
                    let at = (y * h / sh) * w + x * w / sw;
                    let rgb = if d.channels >= 3 {
                        [px[at], px[plane + at], px[2 * plane + at]]
                    } else {
                        [px[at]; 3]
                    };
                    img.put_pixel(
                        (label_w + k * cw + x + 1) as u32,
                        (class * ch + y + 1) as u32,
                        image::Rgb(rgb),
                    );
                }
            }
        }
        draw_digits(&mut img, class, 2, class * ch + (ch - 10) / 2);
    }
    img.save(path)
        .map_err(|e| CliError::Other(format!("{}: {e}", path.display())))
}

/// Draws a class index with a 3x5 pixel font (labels without a font dependency).
fn draw_digits(img: &mut image::RgbImage, n: usize, x0: usize, y0: usize) {
    const FONT: [[u8; 5]; 10] = [
        [7, 5, 5, 5, 7],
        [2, 6, 2, 2, 7],
        [7, 1, 7, 4, 7],
        [7, 1, 7, 1, 7],
        [5, 5, 7, 1, 1],
        [7, 4, 7, 1, 7],
        [7, 4, 7, 5, 7],
        [7, 1, 1, 1, 1],
        [7, 5, 7, 5, 7],
        [7, 5, 7, 1, 7],
    ];
    for (i, ch) in n.to_string().chars().enumerate() {
        let glyph = FONT[ch.to_digit(10).unwrap_or(0) as usize];
        for (y, row) in glyph.iter().enumerate() {
            for x in 0..3 {
                if row >> (2 - x) & 1 == 1 {
                    for (dx, dy) in [(0, 0), (1, 0), (0, 1), (1, 1)] {
                        img.put_pixel(
                            (x0 + i * 8 + 2 * x + dx) as u32,
                            (y0 + 2 * y + dy) as u32,
                            image::Rgb([0, 0, 0]),
                        );
                    }
                }
            }
        }
    }
}
