//! The backend suites on CUDA. Ignored by default (CI has no GPU and cannot build burn-cuda);
//! run where both exist with
//! `cargo test --features duet-core/cuda -p duet-examples --test cuda -- --ignored`.
#![cfg(feature = "cuda")]

use std::process::Command;

/// Runs one test target of one package with `DUET_TEST_DEVICE=cuda` (same features, no rebuild).
fn suite(package: &str, target: &str) {
    let status = Command::new(env!("CARGO"))
        .args([
            "test",
            "--features",
            "duet-core/cuda",
            "-p",
            package,
            "--test",
            target,
        ])
        .env("DUET_TEST_DEVICE", "cuda")
        .status()
        .expect("cargo runs");
    assert!(status.success(), "{package} --test {target} failed on CUDA");
}

#[test]
#[ignore = "needs an NVIDIA GPU and a CUDA build"]
fn the_cuda_device_opens() {
    duet_core::device("cuda").expect("a CUDA device");
}

#[test]
#[ignore = "needs an NVIDIA GPU and a CUDA build"]
fn golden_layers_on_cuda() {
    suite("duet-core", "golden_layers");
    suite("duet-functional", "golden");
}

#[test]
#[ignore = "needs an NVIDIA GPU and a CUDA build"]
fn golden_optimizers_on_cuda() {
    suite("duet-optim", "golden_optim");
}

#[test]
#[ignore = "needs an NVIDIA GPU and a CUDA build"]
fn training_data_parallel_and_split_models_on_cuda() {
    suite("duet-examples", "backends");
}
