//! Stable mutation testing: thousands of deterministic mutations (bit flips, truncations,
//! inserted and deleted bytes, header fields set to extreme values) of small valid files of every
//! format a user can hand to duet. Every parser must return `Ok` or `Err`, never panic. Inputs
//! that `cargo fuzz` (see `fuzz/README.md`) finds crashing belong here as regression cases; its
//! runs so far found none.

use duet_core::burn::tensor::Device;
use duet_core::{CheckpointFile, DynTensor, LoadOptions, Params};
use duet_datasets::{extract_tar_gz, image_folder, parse};
use std::collections::BTreeMap;
use std::io::Write;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::path::Path;

/// splitmix64: a fixed sequence, so a failure names a reproducible case.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }
    fn below(&mut self, n: usize) -> usize {
        (self.next() % n.max(1) as u64) as usize
    }
}

/// One mutation of `base`; `header` is the length of the region holding size fields, which
/// half of the mutations aim at.
fn mutate(base: &[u8], header: usize, rng: &mut Rng) -> Vec<u8> {
    let mut v = base.to_vec();
    let at = |rng: &mut Rng, len: usize| {
        if rng.below(2) == 0 && header > 0 {
            rng.below(header.min(len))
        } else {
            rng.below(len)
        }
    };
    for _ in 0..1 + rng.below(3) {
        match rng.below(6) {
            0 if !v.is_empty() => {
                let i = at(rng, v.len());
                v[i] ^= 1 << rng.below(8);
            }
            1 => v.truncate(rng.below(v.len() + 1)),
            2 => {
                let i = rng.below(v.len() + 1);
                let n = 1 + rng.below(8);
                let bytes: Vec<u8> = (0..n).map(|_| rng.next() as u8).collect();
                v.splice(i..i, bytes);
            }
            3 if v.len() >= 4 => {
                // A 32-bit field set to an extreme value, big- or little-endian.
                let i = at(rng, v.len() - 3);
                let x = [0u32, 1, 0xff, 0x7fff_ffff, u32::MAX, 0x8000_0000][rng.below(6)];
                let b = if rng.below(2) == 0 {
                    x.to_be_bytes()
                } else {
                    x.to_le_bytes()
                };
                v[i..i + 4].copy_from_slice(&b);
            }
            4 if !v.is_empty() => {
                let i = rng.below(v.len());
                let j = (i + 1 + rng.below(64)).min(v.len());
                v.drain(i..j);
            }
            5 if !v.is_empty() => {
                let i = rng.below(v.len());
                let j = (i + 1 + rng.below(64)).min(v.len());
                let chunk = v[i..j].to_vec();
                let k = rng.below(v.len() + 1);
                v.splice(k..k, chunk);
            }
            _ => v.push(rng.next() as u8),
        }
    }
    v
}

/// Runs `parse` on `n` mutations of `base`; fails naming the case and input of the first panic.
fn run(name: &str, base: &[u8], header: usize, n: usize, parse: impl Fn(&[u8])) {
    parse(base);
    let mut rng = Rng(name
        .bytes()
        .fold(7u64, |h, b| h.wrapping_mul(31).wrapping_add(b as u64)));
    for case in 0..n {
        let m = mutate(base, header, &mut rng);
        if catch_unwind(AssertUnwindSafe(|| parse(&m))).is_err() {
            let hex: String = m.iter().take(256).map(|b| format!("{b:02x}")).collect();
            panic!(
                "{name}: mutation {case} panicked; input ({} bytes): {hex}",
                m.len()
            );
        }
    }
}

fn gz(bytes: &[u8]) -> Vec<u8> {
    let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    e.write_all(bytes).unwrap();
    e.finish().unwrap()
}

fn idx(magic: u32, dims: &[u32], body: &[u8]) -> Vec<u8> {
    let mut v = magic.to_be_bytes().to_vec();
    for d in dims {
        v.extend(d.to_be_bytes());
    }
    v.extend_from_slice(body);
    v
}

fn digit_names() -> Vec<String> {
    (0..10).map(|i| i.to_string()).collect()
}

#[test]
fn idx_files_raw_and_gzipped() {
    let names = digit_names();
    let images = idx(0x803, &[3, 4, 5], &(0..60).collect::<Vec<u8>>());
    let labels = idx(0x801, &[3], &[1, 9, 0]);
    let (ip, lp) = (Path::new("i"), Path::new("l"));
    run("idx images", &images, 16, 1500, |b| {
        let _ = parse::idx_split(ip, b, lp, &labels, &names);
    });
    run("idx labels", &labels, 8, 500, |b| {
        let _ = parse::idx_split(ip, &images, lp, b, &names);
    });
    let gzp = Path::new("i.gz");
    run("idx gz stream", &gz(&images), 24, 1000, |b| {
        let _ = parse::idx_split(gzp, b, lp, &labels, &names);
    });
    run("idx gz content", &images, 16, 500, |b| {
        let _ = parse::idx_split(gzp, &gz(b), lp, &labels, &names);
    });
}

#[test]
fn cifar_records_and_names() {
    let names = |n: usize| (0..n).map(|i| format!("c{i}")).collect::<Vec<_>>();
    let rec = |l: u8| [vec![l, l], vec![l; 3072]].concat();
    let base: Vec<u8> = [rec(3), rec(7)].concat();
    let p = Path::new("b.bin");
    let (n10, n100, n20) = (names(10), names(100), names(20));
    run("cifar", &base[1..], 8, 1500, |b| {
        let _ = parse::cifar10_records(p, b, &n10);
        let _ = parse::cifar100_records(p, b, true, &n100);
        let _ = parse::cifar100_records(p, b, false, &n20);
    });
    let meta: String = (0..10).map(|i| format!("class{i}\n")).collect();
    run("class names", meta.as_bytes(), 0, 500, |b| {
        let _ = parse::class_names(p, b, 10);
    });
}

fn png_and_jpeg() -> (Vec<u8>, Vec<u8>) {
    let img = image::RgbImage::from_fn(8, 6, |x, y| image::Rgb([x as u8 * 30, y as u8 * 40, 99]));
    let enc = |f| {
        let mut out = std::io::Cursor::new(Vec::new());
        img.write_to(&mut out, f).unwrap();
        out.into_inner()
    };
    (enc(image::ImageFormat::Png), enc(image::ImageFormat::Jpeg))
}

#[test]
fn images_and_an_image_folder() {
    let (png, jpeg) = png_and_jpeg();
    let p = Path::new("x.png");
    run("png", &png, 33, 1500, |b| {
        let _ = parse::image(p, b);
    });
    run("jpeg", &jpeg, 200, 1500, |b| {
        let _ = parse::image(p, b);
    });
    // A folder with one mutated image among good ones, through the directory reader.
    let dir = tempfile::tempdir().unwrap();
    for k in 0..5 {
        let d = dir.path().join("cat");
        std::fs::create_dir_all(&d).unwrap();
        std::fs::write(d.join(format!("{k}.png")), &png).unwrap();
    }
    let target = dir.path().join("cat").join("2.png");
    run("image folder", &png, 33, 150, |b| {
        std::fs::write(&target, b).unwrap();
        let _ = image_folder(dir.path());
    });
}

fn small_tar(entries: &[(&str, &[u8])]) -> Vec<u8> {
    let mut tar = tar::Builder::new(Vec::new());
    for (path, data) in entries {
        let mut h = tar::Header::new_gnu();
        h.set_size(data.len() as u64);
        h.set_mode(0o644);
        tar.append_data(&mut h, path, *data).unwrap();
    }
    tar.into_inner().unwrap()
}

#[test]
fn tar_gz_archives_read_and_extracted() {
    let tar = small_tar(&[
        ("cifar-10-batches-bin/test_batch.bin", &[1u8; 300]),
        ("cifar-10-batches-bin/batches.meta.txt", b"a\nb\n"),
        ("other/readme.txt", b"hello"),
    ]);
    let wanted = vec![
        "cifar-10-batches-bin/test_batch.bin".to_string(),
        "cifar-10-batches-bin/batches.meta.txt".to_string(),
    ];
    let p = Path::new("a.tar.gz");
    run("tar.gz stream", &gz(&tar), 24, 800, |b| {
        let _ = parse::tar_gz_entries(p, b, &wanted);
    });
    // Mutating the tar itself (headers are at 0, 1024 and 2048).
    run("tar content", &tar, 512, 1500, |b| {
        let _ = parse::tar_gz_entries(p, &gz(b), &wanted);
    });
    let dir = tempfile::tempdir().unwrap();
    let archive = dir.path().join("a.tar.gz");
    let out = dir.path().join("out");
    run("tar extraction", &tar, 512, 300, |b| {
        std::fs::write(&archive, gz(b)).unwrap();
        let _ = std::fs::remove_dir_all(&out);
        std::fs::create_dir_all(&out).unwrap();
        let _ = extract_tar_gz(&archive, &out, 64 << 10);
    });
}

#[test]
fn checkpoints() {
    let device = Device::flex();
    let mut params = Params::new();
    params.insert(
        "conv.weight",
        DynTensor::from_floats((0..12).map(|i| i as f32).collect(), &[2, 3, 2], &device),
    );
    params.insert(
        "conv.bias",
        DynTensor::from_floats(vec![0.5, -1.0], &[2], &device),
    );
    let mut meta = BTreeMap::new();
    meta.insert("duet.classes".to_string(), "10".to_string());
    meta.insert("duet.input".to_string(), "1,28,28".to_string());
    let bytes = duet_core::checkpoint::to_bytes(&[("params", &params)], &meta);
    let header = 8 + u64::from_le_bytes(bytes[..8].try_into().unwrap()) as usize;
    let path = std::path::PathBuf::from("m.safetensors");
    run("checkpoint", &bytes, header, 2500, |b| {
        let Ok(f) = CheckpointFile::from_bytes(path.clone(), b.to_vec()) else {
            return;
        };
        let _ = f.metadata().len();
        for name in f.tree_names() {
            if let Ok(t) = f.tree(name, &device) {
                let _ = f.load_like(name, &t, &LoadOptions::default(), &device);
            }
        }
    });
}
