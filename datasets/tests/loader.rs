//! The loader: batch counts, exact values, workers and prefetch change nothing, resume.

use duet_core::burn::tensor::Device;
use duet_core::Key;
use duet_datasets::*;

fn synthetic(n: usize) -> ImageDataset {
    ImageDataset {
        pixels: (0..n * 3 * 4 * 4).map(|i| (i * 7 % 256) as u8).collect(),
        labels: (0..n).map(|i| (i % 10) as u16).collect(),
        channels: 3,
        height: 4,
        width: 4,
        class_names: (0..10).map(|i| i.to_string()).collect(),
    }
}

#[test]
fn unshuffled_batches_hold_the_exact_normalized_pixels() {
    let data = synthetic(10);
    let cfg = LoaderConfig {
        batch_size: 4,
        shuffle: false,
        prefetch: 0,
        transform: Transform {
            normalize: Some((vec![0.5, 0.0, 0.0], vec![0.5, 1.0, 2.0])),
            ..Default::default()
        },
        ..Default::default()
    };
    let loader = Loader::new(data.clone(), cfg.clone(), Key::new(0), Device::flex());
    let it = loader.epoch(0);
    assert_eq!(it.len(), 3);
    let batches: Vec<_> = it.map(Result::unwrap).collect();
    assert_eq!(batches[2].images.dims(), [2, 3, 4, 4]); // the last, smaller batch
    assert_eq!(batches[2].index, 2);
    let labels = batches[1]
        .labels
        .clone()
        .into_data()
        .convert::<i64>()
        .try_to_vec::<i64>()
        .unwrap();
    assert_eq!(labels, vec![4, 5, 6, 7]);
    let px = batches[1]
        .images
        .clone()
        .into_data()
        .try_to_vec::<f32>()
        .unwrap();
    // Image 5, channel 2, pixel 3 of the batch's second image.
    let raw = data.image(5)[2 * 16 + 3] as f32 / 255.0;
    assert!((px[48 + 2 * 16 + 3] - raw / 2.0).abs() < 1e-6);
    let raw0 = data.image(4)[0] as f32 / 255.0;
    assert!((px[0] - (raw0 - 0.5) / 0.5).abs() < 1e-6);

    let dropped = Loader::new(
        data,
        LoaderConfig {
            drop_last: true,
            ..cfg
        },
        Key::new(0),
        Device::flex(),
    );
    assert_eq!(dropped.batches_per_epoch(), 2);
    assert_eq!(dropped.epoch(0).count(), 2);
}

#[test]
fn workers_prefetch_and_resume_give_identical_batches() {
    let data = synthetic(203);
    let cfg = |prefetch| LoaderConfig {
        batch_size: 16,
        prefetch,
        transform: Transform {
            random_crop_padding: Some(1),
            horizontal_flip: true,
            ..Default::default()
        },
        ..Default::default()
    };
    let key = Key::new(11);
    let sync = Loader::new(data.clone(), cfg(0), key, Device::flex());
    let want: Vec<_> = sync
        .epoch(2)
        .map(Result::unwrap)
        .map(|b| (b.images.into_data(), b.labels.into_data()))
        .collect();
    assert_eq!(want.len(), 13);
    for workers in [1, 3, 4] {
        let l = Loader::new(data.clone(), cfg(5), key, Device::flex()).with_workers(workers);
        let got: Vec<_> = l
            .epoch(2)
            .map(Result::unwrap)
            .map(|b| (b.images.into_data(), b.labels.into_data()))
            .collect();
        assert_eq!(got, want, "{workers} workers");
        let tail: Vec<_> = l
            .epoch_from(2, 5)
            .map(|b| b.unwrap().images.into_data())
            .collect();
        let want_tail: Vec<_> = want[5..].iter().map(|(x, _)| x.clone()).collect();
        assert_eq!(tail, want_tail, "resume with {workers} workers");
    }
    // Another epoch, another order and augmentation; dropping an iterator early is fine.
    let other: Vec<_> = sync
        .epoch(3)
        .take(2)
        .map(|b| b.unwrap().images.into_data())
        .collect();
    assert_ne!(other[0], want[0].0);
    let mut early = Loader::new(data, cfg(2), key, Device::flex())
        .with_workers(2)
        .epoch(0);
    assert!(early.next().is_some());
    drop(early);
}

#[test]
fn digits_upscaled_for_lenet() {
    let s = digits().unwrap();
    let cfg = LoaderConfig {
        batch_size: 32,
        transform: Transform {
            resize: Some((32, 32)),
            ..Default::default()
        },
        shuffle: false,
        prefetch: 0,
        ..Default::default()
    };
    let near = Loader::new(s.test.clone(), cfg.clone(), Key::new(0), Device::flex());
    let bil = Loader::new(s.test.clone(), cfg, Key::new(0), Device::flex())
        .with_resize_filter(ResizeFilter::Bilinear);
    let a = near.epoch(0).next().unwrap().unwrap().images;
    let b = bil.epoch(0).next().unwrap().unwrap().images;
    assert_eq!(a.dims(), [32, 1, 32, 32]);
    assert_eq!(b.dims(), [32, 1, 32, 32]);
    let a = a.into_data().try_to_vec::<f32>().unwrap();
    let b = b.into_data().try_to_vec::<f32>().unwrap();
    // Nearest: each source pixel becomes a 4x4 block.
    let src = s.test.image(0);
    for y in 0..32 {
        for x in 0..32 {
            assert_eq!(a[y * 32 + x], src[(y / 4) * 8 + x / 4] as f32 / 255.0);
        }
    }
    // Bilinear: same range, smoother, same mean within a little.
    assert!(b.iter().all(|&v| (0.0..=1.0).contains(&v)));
    assert_ne!(a, b);
    let mean = |v: &[f32]| v.iter().sum::<f32>() / v.len() as f32;
    assert!((mean(&a) - mean(&b)).abs() < 0.02);
}

/// A batch that cannot be prepared (here: a dataset whose pixel buffer is shorter than its
/// labels promise, so slicing image 7 panics) reaches the caller as an error, with or without
/// worker threads, instead of ending the epoch early as if it were complete.
#[test]
fn a_failing_batch_is_an_error_not_the_end_of_the_epoch() {
    let mut data = synthetic(20);
    data.pixels.truncate(7 * data.image_len());
    for (prefetch, workers) in [(0, 1), (2, 1), (4, 3)] {
        let cfg = LoaderConfig {
            batch_size: 4,
            shuffle: false,
            prefetch,
            ..Default::default()
        };
        let l = Loader::new(data.clone(), cfg, Key::new(0), Device::flex()).with_workers(workers);
        let got: Vec<_> = l.epoch(3).collect();
        assert!(got[0].is_ok(), "batch 0 is whole");
        let err = got[1].as_ref().expect_err("batch 1 holds image 7");
        assert_eq!((err.epoch, err.batch), (3, 1), "prefetch {prefetch}");
        assert!(err.to_string().contains("batch 1 of epoch 3"), "{err}");
        assert_eq!(got.len(), 2, "the iterator ends after the error");
    }
}
