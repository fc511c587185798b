//! Files written in the exact official formats, read back pixel for pixel; corrupt variants give
//! the named errors; the loader is deterministic.

use duet_core::burn::tensor::Device;
use duet_core::Key;
use duet_datasets::*;
use std::io::Write;
use std::path::Path;

/// A CIFAR-10 record: label, then R, G, B planes with recognizable values.
fn cifar_record(label: u8, seed: u8) -> Vec<u8> {
    let mut r = vec![label];
    r.extend((0..3072).map(|i| (i as u8).wrapping_mul(7).wrapping_add(seed)));
    r
}

fn write_cifar10(dir: &Path) {
    let d = dir.join("cifar-10-batches-bin");
    std::fs::create_dir_all(&d).unwrap();
    for b in 1..=5u8 {
        let bytes: Vec<u8> = (0..3u8)
            .flat_map(|i| cifar_record((b + i) % 10, b * 10 + i))
            .collect();
        std::fs::write(d.join(format!("data_batch_{b}.bin")), bytes).unwrap();
    }
    std::fs::write(
        d.join("test_batch.bin"),
        [cifar_record(9, 200), cifar_record(0, 201)].concat(),
    )
    .unwrap();
    let names = "airplane\nautomobile\nbird\ncat\ndeer\ndog\nfrog\nhorse\nship\ntruck\n";
    std::fs::write(d.join("batches.meta.txt"), names).unwrap();
}

#[test]
fn cifar10_directory_and_archive_read_back_exactly() {
    let tmp = tempfile::tempdir().unwrap();
    write_cifar10(tmp.path());
    let s = cifar10(tmp.path()).unwrap();
    assert_eq!((s.train.len(), s.test.len()), (15, 2));
    assert_eq!(s.train.labels[0], 1);
    assert_eq!(s.train.image(0), &cifar_record(1, 10)[1..]);
    assert_eq!(s.test.image(1), &cifar_record(0, 201)[1..]);
    assert_eq!(s.train.class_names[3], "cat");
    // The same files as a .tar.gz.
    let archive = tmp.path().join("cifar-10-binary.tar.gz");
    let gz = flate2::write::GzEncoder::new(
        std::fs::File::create(&archive).unwrap(),
        flate2::Compression::fast(),
    );
    let mut tar = tar::Builder::new(gz);
    tar.append_dir_all(
        "cifar-10-batches-bin",
        tmp.path().join("cifar-10-batches-bin"),
    )
    .unwrap();
    tar.into_inner().unwrap().finish().unwrap();
    let a = cifar10(&archive).unwrap();
    assert_eq!(a.train, s.train);
    assert_eq!(a.test, s.test);
}

#[test]
fn cifar_errors_name_file_and_record() {
    let tmp = tempfile::tempdir().unwrap();
    write_cifar10(tmp.path());
    let d = tmp.path().join("cifar-10-batches-bin");
    let f = d.join("data_batch_3.bin");
    let mut bytes = std::fs::read(&f).unwrap();
    bytes.truncate(3073 * 2 + 100);
    std::fs::write(&f, &bytes).unwrap();
    let e = cifar10(tmp.path()).unwrap_err();
    assert!(
        matches!(
            &e,
            DatasetError::Truncated {
                record: 2,
                offset: 6146,
                ..
            }
        ),
        "{e}"
    );
    assert!(e.to_string().contains("data_batch_3.bin"));
    // Label out of range.
    std::fs::write(&f, cifar_record(12, 0)).unwrap();
    let e = cifar10(tmp.path()).unwrap_err();
    assert!(
        matches!(
            &e,
            DatasetError::LabelOutOfRange {
                record: 0,
                label: 12,
                ..
            }
        ),
        "{e}"
    );
    // Missing file.
    std::fs::remove_file(d.join("test_batch.bin")).unwrap();
    let e = cifar10(tmp.path()).unwrap_err();
    assert!(
        matches!(&e, DatasetError::Missing { .. }) && e.to_string().contains("test_batch.bin"),
        "{e}"
    );
    // A corrupt archive.
    let bad = tmp.path().join("bad.tar.gz");
    std::fs::write(&bad, b"\x1f\x8b\x08\x00garbage").unwrap();
    let e = cifar10(&bad).unwrap_err();
    assert!(
        matches!(&e, DatasetError::Gzip { .. }) && e.to_string().contains("bad.tar.gz"),
        "{e}"
    );
}

#[test]
fn cifar100_uses_the_fine_label() {
    let tmp = tempfile::tempdir().unwrap();
    let d = tmp.path().join("cifar-100-binary");
    std::fs::create_dir_all(&d).unwrap();
    let rec = |coarse: u8, fine: u8| [vec![coarse, fine], vec![fine; 3072]].concat();
    std::fs::write(d.join("train.bin"), [rec(1, 42), rec(2, 99)].concat()).unwrap();
    std::fs::write(d.join("test.bin"), rec(0, 7)).unwrap();
    std::fs::write(
        d.join("fine_label_names.txt"),
        (0..100).map(|i| format!("c{i}\n")).collect::<String>(),
    )
    .unwrap();
    let s = cifar100(tmp.path()).unwrap();
    assert_eq!(s.train.labels, vec![42, 99]);
    assert_eq!(s.test.image(0)[0], 7);
}

fn idx(magic: u32, dims: &[u32], body: &[u8]) -> Vec<u8> {
    let mut v = magic.to_be_bytes().to_vec();
    for d in dims {
        v.extend(d.to_be_bytes());
    }
    v.extend_from_slice(body);
    v
}

#[test]
fn mnist_raw_and_gzip() {
    let tmp = tempfile::tempdir().unwrap();
    let d = tmp.path();
    let imgs: Vec<u8> = (0..2 * 28 * 28).map(|i| (i % 251) as u8).collect();
    std::fs::write(
        d.join("train-images-idx3-ubyte"),
        idx(0x803, &[2, 28, 28], &imgs),
    )
    .unwrap();
    std::fs::write(d.join("train-labels-idx1-ubyte"), idx(0x801, &[2], &[3, 8])).unwrap();
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    gz.write_all(&idx(0x803, &[1, 28, 28], &imgs[..784]))
        .unwrap();
    std::fs::write(d.join("t10k-images-idx3-ubyte.gz"), gz.finish().unwrap()).unwrap();
    std::fs::write(d.join("t10k-labels-idx1-ubyte"), idx(0x801, &[1], &[5])).unwrap();
    let s = mnist(d).unwrap();
    assert_eq!((s.train.len(), s.test.len(), s.train.height), (2, 1, 28));
    assert_eq!(s.train.pixels, imgs);
    assert_eq!(s.train.labels, vec![3, 8]);
    // Truncated images, bad magic, bad label.
    std::fs::write(
        d.join("train-images-idx3-ubyte"),
        idx(0x803, &[2, 28, 28], &imgs[..1000]),
    )
    .unwrap();
    let e = mnist(d).unwrap_err();
    assert!(
        matches!(&e, DatasetError::Truncated { record: 1, .. })
            && e.to_string().contains("train-images"),
        "{e}"
    );
    std::fs::write(
        d.join("train-images-idx3-ubyte"),
        idx(0x802, &[2, 28, 28], &imgs),
    )
    .unwrap();
    assert!(matches!(mnist(d).unwrap_err(), DatasetError::Format { .. }));
    std::fs::write(
        d.join("train-images-idx3-ubyte"),
        idx(0x803, &[2, 28, 28], &imgs),
    )
    .unwrap();
    std::fs::write(
        d.join("train-labels-idx1-ubyte"),
        idx(0x801, &[2], &[3, 10]),
    )
    .unwrap();
    assert!(matches!(
        mnist(d).unwrap_err(),
        DatasetError::LabelOutOfRange {
            record: 1,
            label: 10,
            ..
        }
    ));
}

#[test]
fn digits_load_with_1797_images() {
    let all = digits_all().unwrap();
    assert_eq!(all.len(), 1797);
    assert_eq!(all.class_counts().iter().sum::<usize>(), 1797);
    let s = digits().unwrap();
    assert_eq!(s.train.len() + s.test.len(), 1797);
    assert_eq!(digits().unwrap().test, s.test, "the split is deterministic");
}

#[test]
fn shuffles_are_deterministic_permutations_and_prefetch_changes_nothing() {
    let s = digits().unwrap();
    let cfg = |prefetch| LoaderConfig {
        batch_size: 64,
        transform: Transform {
            resize: Some((32, 32)),
            random_crop_padding: Some(2),
            horizontal_flip: true,
            normalize: Some((vec![0.5], vec![0.25])),
        },
        prefetch,
        ..Default::default()
    };
    let a = Loader::new(s.train.clone(), cfg(0), Key::new(3), Device::flex());
    let b = Loader::new(s.train.clone(), cfg(3), Key::new(3), Device::flex());
    let mut o = a.order(5);
    assert_eq!(o, b.order(5));
    assert_ne!(o, a.order(6));
    o.sort();
    assert_eq!(o, (0..s.train.len()).collect::<Vec<_>>());
    let xs: Vec<_> = a.epoch(1).map(|b| b.unwrap().images.into_data()).collect();
    let ys: Vec<_> = b.epoch(1).map(|b| b.unwrap().images.into_data()).collect();
    assert_eq!(xs.len(), a.batches_per_epoch());
    assert_eq!(xs, ys);
    // Resuming at batch 7 gives the same batches as the tail of a full epoch.
    let tail: Vec<_> = b
        .epoch_from(1, 7)
        .map(|b| b.unwrap().images.into_data())
        .collect();
    assert_eq!(tail, xs[7..].to_vec());
}

/// Writes an MNIST directory whose train and test images have the given sizes.
fn write_mnist(d: &Path, train: [u32; 3], test: [u32; 3]) {
    for (prefix, [n, h, w]) in [("train", train), ("t10k", test)] {
        let body = vec![9u8; (n * h * w) as usize];
        std::fs::write(
            d.join(format!("{prefix}-images-idx3-ubyte")),
            idx(0x803, &[n, h, w], &body),
        )
        .unwrap();
        std::fs::write(
            d.join(format!("{prefix}-labels-idx1-ubyte")),
            idx(0x801, &[n], &vec![1; n as usize]),
        )
        .unwrap();
    }
}

#[test]
fn mnist_headers_are_checked_before_use() {
    let tmp = tempfile::tempdir().unwrap();
    let d = tmp.path();
    let images = d.join("train-images-idx3-ubyte");
    let err = |dims: &[u32], body: &[u8]| {
        std::fs::write(&images, idx(0x803, dims, body)).unwrap();
        let e = mnist(d).unwrap_err();
        assert!(e.to_string().contains("train-images-idx3-ubyte"), "{e}");
        e.to_string()
    };
    write_mnist(d, [2, 3, 3], [1, 3, 3]);
    assert!(mnist(d).is_ok());
    // 0x0 images, 0 images, dimensions whose product overflows.
    let e = err(&[2, 0, 0], &[]);
    assert!(e.contains("declares 0x0 images"), "{e}");
    let e = err(&[0, 28, 28], &[]);
    assert!(e.contains("declares 0 images"), "{e}");
    let e = err(&[u32::MAX, u32::MAX, u32::MAX], &[1, 2, 3]);
    assert!(e.contains("overflow"), "{e}");
    // A header that promises more bytes than the file holds, and one that promises fewer.
    let e = err(&[3, 3, 3], &[0; 20]);
    assert!(e.contains("truncated at byte 34"), "{e}");
    let e = err(&[2, 3, 3], &[0; 19]);
    assert!(e.contains("1 bytes follow the 2 items"), "{e}");
    // The same checks through gzip; a body far beyond the header's 18 bytes is not inflated.
    std::fs::remove_file(&images).unwrap();
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::best());
    gz.write_all(&idx(0x803, &[2, 3, 3], &vec![0; 64 << 20]))
        .unwrap();
    std::fs::write(d.join("train-images-idx3-ubyte.gz"), gz.finish().unwrap()).unwrap();
    let e = mnist(d).unwrap_err();
    assert!(
        e.to_string().contains("bytes follow the 2 items") && e.to_string().contains(".gz"),
        "{e}"
    );
    assert!(!e.to_string().contains(&(64 << 20).to_string()), "{e}");
}

#[test]
fn test_images_of_another_size_name_both_shapes_and_files() {
    let tmp = tempfile::tempdir().unwrap();
    write_mnist(tmp.path(), [2, 28, 28], [1, 32, 32]);
    let e = mnist(tmp.path()).unwrap_err();
    assert!(matches!(&e, DatasetError::SplitShapes { .. }), "{e}");
    let msg = e.to_string();
    for part in [
        "1x32x32",
        "t10k-images-idx3-ubyte",
        "1x28x28",
        "train-images-idx3-ubyte",
    ] {
        assert!(msg.contains(part), "{part} in {msg}");
    }
}

#[test]
fn an_empty_cifar_file_is_an_error() {
    let tmp = tempfile::tempdir().unwrap();
    write_cifar10(tmp.path());
    let f = tmp
        .path()
        .join("cifar-10-batches-bin")
        .join("test_batch.bin");
    std::fs::write(&f, b"").unwrap();
    let e = cifar10(tmp.path()).unwrap_err();
    assert!(
        matches!(&e, DatasetError::Format { path, .. } if *path == f),
        "{e}"
    );
}
