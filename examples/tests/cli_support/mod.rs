//! Helpers of `cli_errors.rs`: running the `duet` binary, crafted checkpoints, state dicts and
//! MNIST directories.

use duet_core::burn::tensor::Device;
use duet_core::{checkpoint, DynTensor, Key, Params};
use duet_examples::cli::args::Api;
use duet_examples::cli::models;
use duet_examples::models::ModelKind;
use serde_json::{Map, Value};
use std::collections::BTreeMap;
use std::ffi::OsStr;
use std::fmt::Debug;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

/// Runs the `duet` binary.
pub fn duet<S: AsRef<OsStr>>(args: &[S]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_duet"))
        .args(args)
        .output()
        .unwrap()
}

/// Runs `duet args`, which must fail with one line on stderr and no panic; returns the line.
pub fn fails<S: AsRef<OsStr> + Debug>(args: &[S]) -> String {
    let out = duet(args);
    let err = String::from_utf8_lossy(&out.stderr).into_owned();
    assert!(!out.status.success(), "duet {args:?} succeeded:\n{err}");
    assert!(!err.contains("panicked"), "duet {args:?} panicked:\n{err}");
    assert_eq!(
        err.trim().lines().count(),
        1,
        "duet {args:?}: not one line:\n{err}"
    );
    err
}

/// Runs `duet args`, which must succeed; returns stderr.
pub fn succeeds<S: AsRef<OsStr> + Debug>(args: &[S]) -> String {
    let out = duet(args);
    let err = String::from_utf8_lossy(&out.stderr).into_owned();
    assert!(out.status.success(), "duet {args:?} failed:\n{err}");
    err
}

/// A path as a `&str`.
pub fn s(p: &Path) -> &str {
    p.to_str().unwrap()
}

/// The words of `line` with each `{}` replaced by the next of `paths`.
pub fn cmd(line: &str, paths: &[&Path]) -> Vec<String> {
    let mut paths = paths.iter();
    line.split(' ')
        .map(|w| match w {
            "{}" => s(paths.next().expect("a path per {}")).to_string(),
            w => w.to_string(),
        })
        .collect()
}

/// An untrained LeNet checkpoint for `[1, 32, 32]` digits, 10 classes, with training metadata.
pub fn lenet_checkpoint(dir: &Path) -> PathBuf {
    lenet_with_classes(dir, 10, "good.safetensors")
}

/// As [`lenet_checkpoint`] with `classes` outputs, in `dir/name`.
pub fn lenet_with_classes(dir: &Path, classes: usize, name: &str) -> PathBuf {
    let dev = Device::flex();
    let kind = ModelKind::Lenet;
    let m = models::build(
        kind,
        Api::Functional,
        [1, 32, 32],
        classes,
        Key::new(0),
        &dev,
    )
    .unwrap();
    let classes = classes.to_string();
    let meta: BTreeMap<String, String> = [
        ("duet.model", "lenet"),
        ("duet.api", "functional"),
        ("duet.input", "1,32,32"),
        ("duet.classes", classes.as_str()),
        ("duet.norm_mean", "0.3"),
        ("duet.norm_std", "0.4"),
    ]
    .map(|(k, v)| (k.to_string(), v.to_string()))
    .into();
    let file = dir.join(name);
    checkpoint::save(
        &file,
        &[("params", &m.params()), ("state", &m.state())],
        &meta,
    )
    .unwrap();
    file
}

/// A copy of checkpoint `src` next to it, named `name`, with its safetensors header (tensor
/// entries and `__metadata__`) edited by `edit`.
pub fn with_header(src: &Path, name: &str, edit: impl FnOnce(&mut Map<String, Value>)) -> PathBuf {
    let b = std::fs::read(src).unwrap();
    let n = u64::from_le_bytes(b[..8].try_into().unwrap()) as usize;
    let mut header: Value = serde_json::from_slice(&b[8..8 + n]).unwrap();
    edit(header.as_object_mut().unwrap());
    let mut h = serde_json::to_vec(&header).unwrap();
    while !h.len().is_multiple_of(8) {
        h.push(b' ');
    }
    let dst = src.with_file_name(name);
    let out = [&(h.len() as u64).to_le_bytes()[..], &h, &b[8 + n..]].concat();
    std::fs::write(&dst, out).unwrap();
    dst
}

/// A copy of checkpoint `src` with its metadata edited by `edit` (see [`with_header`]).
pub fn with_meta(src: &Path, name: &str, edit: impl FnOnce(&mut Map<String, Value>)) -> PathBuf {
    with_header(src, name, |h| {
        edit(h["__metadata__"].as_object_mut().unwrap())
    })
}

/// An edit for [`with_meta`]: metadata `key` set to `value`.
pub fn set(key: &'static str, value: &'static str) -> impl FnOnce(&mut Map<String, Value>) {
    move |m| {
        m.insert(key.into(), value.into());
    }
}

/// An MNIST directory: `n` training and `n_test` test images of `h` x `w`, labels `i % 10`.
pub fn mnist_dir(dir: &Path, n: u32, n_test: u32, h: u32, w: u32) -> PathBuf {
    let d = dir.join(format!("mnist-{n}-{n_test}-{h}x{w}"));
    std::fs::create_dir_all(&d).unwrap();
    for (prefix, count) in [("train", n), ("t10k", n_test)] {
        let mut images: Vec<u8> = [0x803, count, h, w]
            .iter()
            .flat_map(|v: &u32| v.to_be_bytes())
            .collect();
        images.extend((0..count * h * w).map(|i| (i % 251) as u8));
        let mut labels: Vec<u8> = [0x801, count]
            .iter()
            .flat_map(|v: &u32| v.to_be_bytes())
            .collect();
        labels.extend((0..count).map(|i| (i % 10) as u8));
        std::fs::write(d.join(format!("{prefix}-images-idx3-ubyte")), images).unwrap();
        std::fs::write(d.join(format!("{prefix}-labels-idx1-ubyte")), labels).unwrap();
    }
    d
}

/// A LeNet state dict in PyTorch's layout (dense weights `[out, in]`).
pub fn torch_lenet() -> Params {
    let dev = Device::flex();
    let m = models::build(
        ModelKind::Lenet,
        Api::Functional,
        [1, 32, 32],
        10,
        Key::new(0),
        &dev,
    )
    .unwrap();
    m.params().map(|t| match t.rank() {
        2 => DynTensor::from(t.into_rank::<2>().transpose()),
        _ => t,
    })
}
