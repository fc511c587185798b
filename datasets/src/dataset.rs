//! [`ImageDataset`]: labelled images held as bytes, converted to tensors per batch.

/// Images as `u8` pixels, `[N, C, H, W]` row-major, with labels.
///
/// Holding bytes keeps CIFAR-10 at ~180 MB; the [`Loader`](crate::Loader) converts each batch to
/// float tensors.
#[derive(Clone, Debug, PartialEq)]
pub struct ImageDataset {
    /// Pixels, `len * channels * height * width` bytes.
    pub pixels: Vec<u8>,
    /// One label per image, below `class_names.len()`.
    pub labels: Vec<u16>,
    /// Channels per image.
    pub channels: usize,
    /// Image height.
    pub height: usize,
    /// Image width.
    pub width: usize,
    /// Class names (their number is the number of classes).
    pub class_names: Vec<String>,
}

/// A dataset's training and test splits.
#[derive(Clone, Debug)]
pub struct Splits {
    /// The training split.
    pub train: ImageDataset,
    /// The held-out split.
    pub test: ImageDataset,
}

impl ImageDataset {
    /// Bytes per image.
    pub fn image_len(&self) -> usize {
        self.channels * self.height * self.width
    }

    /// The number of images.
    pub fn len(&self) -> usize {
        self.labels.len()
    }

    /// Whether there are no images.
    pub fn is_empty(&self) -> bool {
        self.labels.is_empty()
    }

    /// The number of classes.
    pub fn num_classes(&self) -> usize {
        self.class_names.len()
    }

    /// The pixels of image `i` (`[C, H, W]`).
    pub fn image(&self, i: usize) -> &[u8] {
        let n = self.image_len();
        &self.pixels[i * n..(i + 1) * n]
    }

    /// The images at `indices`, in that order.
    pub fn subset(&self, indices: &[usize]) -> ImageDataset {
        let mut pixels = Vec::with_capacity(indices.len() * self.image_len());
        for &i in indices {
            pixels.extend_from_slice(self.image(i));
        }
        ImageDataset {
            pixels,
            labels: indices.iter().map(|&i| self.labels[i]).collect(),
            ..self.shape_only()
        }
    }

    /// An empty dataset with this one's shape and classes.
    pub fn shape_only(&self) -> ImageDataset {
        ImageDataset {
            pixels: Vec::new(),
            labels: Vec::new(),
            channels: self.channels,
            height: self.height,
            width: self.width,
            class_names: self.class_names.clone(),
        }
    }

    /// Appends `other` (same shape and classes).
    pub fn extend(&mut self, other: ImageDataset) {
        assert_eq!(
            (self.channels, self.height, self.width),
            (other.channels, other.height, other.width),
            "extend: shapes differ"
        );
        self.pixels.extend(other.pixels);
        self.labels.extend(other.labels);
    }

    /// Images per class.
    pub fn class_counts(&self) -> Vec<usize> {
        let mut c = vec![0; self.num_classes()];
        for &l in &self.labels {
            c[l as usize] += 1;
        }
        c
    }
}

/// Checks that `test` holds images of `train`'s shape; `train_src` and `test_src` name where each
/// split was read from.
pub(crate) fn check_split_shapes(
    train: &ImageDataset,
    train_src: &std::path::Path,
    test: &ImageDataset,
    test_src: &std::path::Path,
) -> Result<(), crate::DatasetError> {
    let shape = |d: &ImageDataset| [d.channels, d.height, d.width];
    if shape(train) == shape(test) {
        return Ok(());
    }
    Err(crate::DatasetError::SplitShapes {
        train: train_src.into(),
        train_shape: shape(train),
        test: test_src.into(),
        test_shape: shape(test),
    })
}
