//! CIFAR-100 coarse labels, archives found in a directory, gzip offsets, image folders, and
//! [`load`] by kind.

use duet_datasets::*;
use std::io::Write;
use std::path::Path;

fn tar_gz(dir: &Path, name: &str, out: &Path) {
    let gz = flate2::write::GzEncoder::new(
        std::fs::File::create(out).unwrap(),
        flate2::Compression::fast(),
    );
    let mut tar = tar::Builder::new(gz);
    tar.append_dir_all(name, dir.join(name)).unwrap();
    tar.into_inner().unwrap().finish().unwrap();
}

#[test]
fn cifar100_coarse_and_fine_from_an_archive_in_the_directory() {
    let src = tempfile::tempdir().unwrap();
    let d = src.path().join("cifar-100-binary");
    std::fs::create_dir_all(&d).unwrap();
    let rec = |coarse: u8, fine: u8| {
        let mut r = vec![coarse, fine];
        r.extend((0..3072u32).map(|i| (i * 3 + fine as u32) as u8));
        r
    };
    std::fs::write(d.join("train.bin"), [rec(1, 42), rec(19, 99)].concat()).unwrap();
    std::fs::write(d.join("test.bin"), rec(0, 7)).unwrap();
    let names = |n: usize, p: &str| (0..n).map(|i| format!("{p}{i}\n")).collect::<String>();
    std::fs::write(d.join("fine_label_names.txt"), names(100, "f")).unwrap();
    std::fs::write(d.join("coarse_label_names.txt"), names(20, "c")).unwrap();
    let fine = cifar100(src.path()).unwrap();
    let coarse = cifar100_coarse(src.path()).unwrap();
    assert_eq!(fine.train.labels, vec![42, 99]);
    assert_eq!(coarse.train.labels, vec![1, 19]);
    assert_eq!(coarse.train.class_names[19], "c19");
    assert_eq!(coarse.train.pixels, fine.train.pixels);
    assert_eq!(fine.train.image(1), &rec(19, 99)[2..]);

    // The archive, not extracted, in a directory given as the source.
    let other = tempfile::tempdir().unwrap();
    tar_gz(
        src.path(),
        "cifar-100-binary",
        &other.path().join("cifar-100-binary.tar.gz"),
    );
    assert_eq!(cifar100(other.path()).unwrap().train, fine.train);
    assert_eq!(cifar100_coarse(other.path()).unwrap().test, coarse.test);

    // A coarse label of 20 is out of range for the coarse reader only.
    std::fs::write(d.join("test.bin"), rec(20, 7)).unwrap();
    assert!(cifar100(src.path()).is_ok());
    let e = cifar100_coarse(src.path()).unwrap_err();
    assert!(
        matches!(
            &e,
            DatasetError::LabelOutOfRange {
                record: 0,
                label: 20,
                classes: 20,
                ..
            }
        ) && e.to_string().contains("test.bin"),
        "{e}"
    );
}

#[test]
fn a_cut_gzip_stream_names_the_file_and_offset() {
    let tmp = tempfile::tempdir().unwrap();
    let d = tmp.path();
    let mut body = 0x803u32.to_be_bytes().to_vec();
    for n in [100u32, 28, 28] {
        body.extend(n.to_be_bytes());
    }
    body.extend((0..100 * 784).map(|i| (i * 31 % 256) as u8));
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::best());
    gz.write_all(&body).unwrap();
    let gz = gz.finish().unwrap();
    let cut = &gz[..gz.len() / 2];
    std::fs::write(d.join("train-images-idx3-ubyte.gz"), cut).unwrap();
    let e = mnist(d).unwrap_err();
    match &e {
        DatasetError::Gzip { path, offset, .. } => {
            assert!(path.ends_with("train-images-idx3-ubyte.gz"));
            assert!(*offset as usize <= cut.len(), "{offset}");
        }
        _ => panic!("{e}"),
    }
    assert!(e.to_string().contains("train-images-idx3-ubyte.gz"), "{e}");
    // A file that is not gzip at all.
    std::fs::write(d.join("train-images-idx3-ubyte.gz"), b"not gzip").unwrap();
    assert!(matches!(mnist(d).unwrap_err(), DatasetError::Gzip { .. }));
    // Missing files name both spellings.
    std::fs::remove_file(d.join("train-images-idx3-ubyte.gz")).unwrap();
    let e = mnist(d).unwrap_err();
    assert!(matches!(&e, DatasetError::Missing { .. }), "{e}");
    assert!(e.to_string().contains("train-images-idx3-ubyte"), "{e}");
}

fn write_png(path: &Path, w: u32, h: u32, f: impl Fn(u32, u32) -> [u8; 3]) {
    let img = image::RgbImage::from_fn(w, h, |x, y| image::Rgb(f(x, y)));
    img.save(path).unwrap();
}

#[test]
fn image_folder_reads_classes_pixels_and_splits() {
    let tmp = tempfile::tempdir().unwrap();
    for (c, name) in ["cat", "dog"].iter().enumerate() {
        let d = tmp.path().join(name);
        std::fs::create_dir_all(&d).unwrap();
        for k in 0..5u8 {
            write_png(&d.join(format!("{k}.png")), 4, 3, |x, y| {
                [x as u8 * 10 + k, y as u8 * 20 + c as u8, 200]
            });
        }
        std::fs::write(d.join("notes.txt"), "ignored").unwrap();
    }
    let s = image_folder(tmp.path()).unwrap();
    assert_eq!((s.train.len(), s.test.len()), (8, 2)); // every 5th image per class is test
    assert_eq!(s.train.class_names, vec!["cat", "dog"]);
    assert_eq!((s.train.channels, s.train.height, s.train.width), (3, 3, 4));
    assert_eq!(s.test.labels, vec![0, 1]);
    // Test image 1 is dog/4.png: CHW planes.
    let img = s.test.image(1);
    assert_eq!(img[0..4], [4, 14, 24, 34]); // red of row 0
    assert_eq!(img[12 + 4], 21); // green of row 1, x = 0
    assert!(img[24..].iter().all(|&v| v == 200)); // blue
    assert_eq!(
        load(DatasetKind::Folder, Some(tmp.path())).unwrap().train,
        s.train
    );

    // An undecodable image names itself; a different size is a format error.
    let bad = tmp.path().join("dog").join("5.png");
    std::fs::write(&bad, b"\x89PNG broken").unwrap();
    let e = image_folder(tmp.path()).unwrap_err();
    assert!(
        matches!(&e, DatasetError::Image { path, .. } if *path == bad),
        "{e}"
    );
    write_png(&bad, 5, 3, |_, _| [0, 0, 0]);
    let e = image_folder(tmp.path()).unwrap_err();
    assert!(
        matches!(&e, DatasetError::Format { .. }) && e.to_string().contains("5.png"),
        "{e}"
    );
    assert!(matches!(
        image_folder(tmp.path().join("nope")).unwrap_err(),
        DatasetError::Missing { .. }
    ));
}

#[test]
fn kinds_parse_and_load() {
    for k in DatasetKind::ALL {
        assert_eq!(k.name().parse::<DatasetKind>().unwrap(), k);
    }
    assert!(matches!(
        "svhn".parse::<DatasetKind>(),
        Err(DatasetError::UnknownKind { .. })
    ));
    let s = load(DatasetKind::Digits, None).unwrap();
    assert_eq!(s.train.len() + s.test.len(), 1797);
    let e = load(DatasetKind::Mnist, None).unwrap_err();
    assert!(e.to_string().contains("mnist"), "{e}");
    assert_eq!(DatasetKind::Cifar10.remote(), Some(Remote::Cifar10));
}

#[test]
fn archive_entries_are_matched_by_their_exact_path() {
    let src = tempfile::tempdir().unwrap();
    let real = src.path().join("cifar-10-batches-bin");
    let decoy = src.path().join("decoy").join("cifar-10-batches-bin");
    for (d, label) in [(&real, 1u8), (&decoy, 7u8)] {
        std::fs::create_dir_all(d).unwrap();
        let rec = [vec![label], vec![label; 3072]].concat();
        for b in 1..=5 {
            std::fs::write(d.join(format!("data_batch_{b}.bin")), &rec).unwrap();
        }
        std::fs::write(d.join("test_batch.bin"), &rec).unwrap();
        let names: String = (0..10).map(|i| format!("c{i}\n")).collect();
        std::fs::write(d.join("batches.meta.txt"), names).unwrap();
    }
    // The decoy folder comes after the real one in the archive, so a match by file name alone
    // would take its files.
    let archive = src.path().join("cifar-10-binary.tar.gz");
    let gz = flate2::write::GzEncoder::new(
        std::fs::File::create(&archive).unwrap(),
        flate2::Compression::fast(),
    );
    let mut tar = tar::Builder::new(gz);
    tar.append_dir_all("cifar-10-batches-bin", &real).unwrap();
    tar.append_dir_all("decoy/cifar-10-batches-bin", &decoy)
        .unwrap();
    tar.append_path_with_name(decoy.join("test_batch.bin"), "test_batch.bin")
        .unwrap();
    tar.into_inner().unwrap().finish().unwrap();
    let s = cifar10(&archive).unwrap();
    assert_eq!(s.test.labels, vec![1]);
    assert_eq!(s.train.labels, vec![1; 5]);

    // Only the decoy: the real path is reported missing.
    let archive = src.path().join("decoy.tar.gz");
    let gz = flate2::write::GzEncoder::new(
        std::fs::File::create(&archive).unwrap(),
        flate2::Compression::fast(),
    );
    let mut tar = tar::Builder::new(gz);
    tar.append_dir_all("decoy/cifar-10-batches-bin", &decoy)
        .unwrap();
    tar.into_inner().unwrap().finish().unwrap();
    let e = cifar10(&archive).unwrap_err();
    assert!(
        matches!(&e, DatasetError::Missing { path, .. }
            if path.ends_with("decoy.tar.gz/cifar-10-batches-bin/data_batch_1.bin")),
        "{e}"
    );
}

#[test]
fn image_folder_splits_must_match_and_hold_images() {
    let tmp = tempfile::tempdir().unwrap();
    for (split, size) in [("train", 4), ("test", 6)] {
        let d = tmp.path().join(split).join("cat");
        std::fs::create_dir_all(&d).unwrap();
        write_png(&d.join("0.png"), size, size, |_, _| [1, 2, 3]);
    }
    let e = image_folder(tmp.path()).unwrap_err();
    let msg = e.to_string();
    assert!(matches!(&e, DatasetError::SplitShapes { .. }), "{e}");
    for part in ["3x6x6", "test/cat/0.png", "3x4x4", "train/cat/0.png"] {
        assert!(msg.contains(part), "{part} in {msg}");
    }
    // A test folder without images.
    std::fs::remove_file(tmp.path().join("test/cat/0.png")).unwrap();
    let e = image_folder(tmp.path()).unwrap_err();
    assert!(e.to_string().contains("no PNG or JPEG images"), "{e}");
    // Without train/ and test/, fewer than 5 images per class leave no test split.
    let flat = tempfile::tempdir().unwrap();
    let d = flat.path().join("cat");
    std::fs::create_dir_all(&d).unwrap();
    for k in 0..4 {
        write_png(&d.join(format!("{k}.png")), 2, 2, |_, _| [0, 0, 0]);
    }
    let e = image_folder(flat.path()).unwrap_err();
    assert!(e.to_string().contains("no test images"), "{e}");
}
