//! A checkpoint write interrupted for real: a child process rewrites a large checkpoint in a
//! loop and is killed with SIGKILL at random moments, many times. After every kill the file
//! loads whole (one of the two versions the child alternates between), and the temporary file
//! a kill leaves behind is removed when the next run takes the directory.

use duet_core::burn::tensor::{Device, Tensor};
use duet_core::{checkpoint, CheckpointFile, Params};
use duet_train::{RunDir, RunMode};
use std::collections::BTreeMap;
use std::io::{BufRead, BufReader, Write};
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::Duration;

const ENV: &str = "DUET_CRASH_WRITE_PATH";
const LEN: usize = 4_000_000; // 16 MB of float32

fn version(v: f32) -> Vec<u8> {
    let p = Params::new().with("w", Tensor::<1>::full([LEN], v, &Device::flex()));
    let meta = BTreeMap::from([("duet.step".to_string(), (v as u64).to_string())]);
    checkpoint::to_bytes(&[("params", &p)], &meta)
}

/// The child: rewrites the checkpoint at `$DUET_CRASH_WRITE_PATH` forever, alternating two
/// versions. Ignored in normal runs; the test below starts it in its own process.
#[test]
#[ignore = "started as a child process by interrupted_writes_never_break_the_checkpoint"]
fn crash_child_writer() {
    let Ok(path) = std::env::var(ENV) else { return };
    let (a, b) = (version(1.0), version(2.0));
    checkpoint::write_atomic(Path::new(&path), &a).unwrap();
    println!("ready");
    std::io::stdout().flush().unwrap();
    loop {
        for bytes in [&a, &b] {
            checkpoint::write_atomic(Path::new(&path), bytes).unwrap();
        }
    }
}

#[test]
fn interrupted_writes_never_break_the_checkpoint() {
    let tmp = tempfile::tempdir().unwrap();
    let target = tmp.path().join("step-00000001.safetensors");
    let is_tmp = |p: &Path| {
        p.file_name()
            .unwrap()
            .to_string_lossy()
            .starts_with(".step-00000001.safetensors.tmp.")
    };
    let (mut interrupted, kills) = (0, 12);
    for i in 0..kills {
        let mut child = Command::new(std::env::current_exe().unwrap())
            .args(["--ignored", "--exact", "crash_child_writer", "--nocapture"])
            .env(ENV, &target)
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        // Wait until the child has written once and is in its write loop.
        let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
        assert!(
            lines.any(|l| l.is_ok_and(|l| l.trim() == "ready")),
            "the child writer did not start"
        );
        // Kill at a different point of the write cycle each time.
        std::thread::sleep(Duration::from_millis(7 * i as u64 % 45));
        child.kill().unwrap();
        child.wait().unwrap();
        let f = CheckpointFile::open(&target).unwrap_or_else(|e| panic!("kill {i}: {e}"));
        let w = f.tree("params", &Device::flex()).unwrap();
        let v = w.get_dyn("w").unwrap().to_vec();
        assert_eq!(v.len(), LEN);
        assert!(
            v.iter().all(|&x| x == v[0]) && (v[0] == 1.0 || v[0] == 2.0),
            "kill {i}: a mix of versions"
        );
        let leftovers: Vec<_> = std::fs::read_dir(tmp.path())
            .unwrap()
            .map(|e| e.unwrap().path())
            .filter(|p| is_tmp(p))
            .collect();
        if !leftovers.is_empty() {
            interrupted += 1;
            // The next run in this directory removes what the killed write left.
            drop(RunDir::open(tmp.path(), RunMode::Resume).unwrap());
            assert!(
                leftovers.iter().all(|p| !p.exists()),
                "kill {i}: {leftovers:?}"
            );
        }
    }
    eprintln!("{interrupted} of {kills} kills interrupted a write");
    // The test is only meaningful if kills did land inside writes.
    assert!(
        interrupted >= kills / 4,
        "only {interrupted} of {kills} kills interrupted a write"
    );
}
