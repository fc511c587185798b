//! `mpirun -np N duet train ... --distributed mpi` (feature `mpi`, needs Open MPI or MPICH):
//! 2 and 3 ranks train LeNet like one process (every step's loss, the final params; the ranks
//! check at every logged step that their params are bitwise identical), and a rank killed in
//! the middle of a run stops the job within 30 s naming it, after which the run resumes with
//! the same or another number of ranks and ends where an uninterrupted run ends.

use duet_core::burn::tensor::Device;
use duet_core::checkpoint::CheckpointFile;
use duet_core::Params;
use duet_train::MetricsLog;
use std::path::Path;
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

/// `mpirun` with what running as root (CI) and more ranks than cores need.
fn mpirun(ranks: usize) -> Command {
    let mut c = Command::new("mpirun");
    c.env("OMPI_ALLOW_RUN_AS_ROOT", "1")
        .env("OMPI_ALLOW_RUN_AS_ROOT_CONFIRM", "1")
        .args(["--oversubscribe", "-np", &ranks.to_string()]);
    c
}

fn train_args(out: &Path, extra: &str) -> Vec<String> {
    let line = format!(
        "train --log-every 1 --quiet --out {} {extra}",
        out.display()
    );
    line.split_whitespace().map(str::to_string).collect()
}

/// `duet train` in one process, or over `ranks` MPI ranks; must succeed.
fn train(ranks: usize, out: &Path, extra: &str) {
    let args = train_args(out, extra);
    let output: Output = match ranks {
        0 => Command::new(env!("CARGO_BIN_EXE_duet"))
            .args(&args)
            .output(),
        n => mpirun(n)
            .arg(env!("CARGO_BIN_EXE_duet"))
            .args(&args)
            .args(["--distributed", "mpi"])
            .output(),
    }
    .expect("mpirun and duet start (is Open MPI installed?)");
    let err = String::from_utf8_lossy(&output.stderr);
    assert!(output.status.success(), "{ranks} ranks, {extra}: {err}");
}

fn losses(dir: &Path, split: &str) -> Vec<(u64, f64)> {
    let records = MetricsLog::read(dir.join("metrics.jsonl")).unwrap();
    records
        .iter()
        .filter(|r| r.split == split)
        .map(|r| (r.step, r.loss))
        .collect()
}

fn params(checkpoint: &Path) -> Params {
    let ck = CheckpointFile::open(checkpoint).unwrap();
    ck.tree("params", &Device::flex()).unwrap()
}

/// Every tensor within `tol` of `b`'s, relative to `b`'s largest magnitude (at least 1e-3).
fn assert_close(a: &Params, b: &Params, tol: f32) {
    assert_eq!(a.paths(), b.paths());
    for (path, t) in b.iter() {
        let (x, y) = (a.get_dyn(path).unwrap().to_vec(), t.to_vec());
        // A tensor that stays ~0 (the attention's key bias: softmax ignores it, so its
        // gradient is 0 up to rounding) is compared at the scale of 1e-3, not of its noise.
        let scale = y.iter().fold(1e-3f32, |m, v| m.max(v.abs()));
        let worst = x
            .iter()
            .zip(&y)
            .map(|(p, q)| (p - q).abs())
            .fold(0.0, f32::max);
        assert!(
            worst <= tol * scale,
            "{path}: off by {worst} (scale {scale})"
        );
    }
}

fn assert_same_run(a: &Path, b: &Path, last: &str, tol: f32) {
    for split in ["train", "eval"] {
        let (x, y) = (losses(a, split), losses(b, split));
        assert_eq!(x.len(), y.len(), "{split} records");
        for ((s, p), (t, q)) in x.iter().zip(&y) {
            assert_eq!(s, t);
            assert!(
                (p - q).abs() <= 1e-5 * p.abs(),
                "{split} step {s}: {p} vs {q}"
            );
        }
    }
    assert_close(&params(&b.join(last)), &params(&a.join(last)), tol);
}

#[test]
fn two_and_three_ranks_train_like_one_process() {
    let dir = tempfile::tempdir().unwrap();
    // The MLP's first weight (784 x 512) is above DIRECT_FLOATS: it is reduced in place in its
    // own buffer, the other tensors in the bucket. Each rank sums its shard's gradient and the
    // shards are then added, so the sums round differently from one process's; Adam divides by
    // `sqrt(v)`, so on weights with near-zero gradients (the MLP's never-lit pixels, LeNet's
    // last layers late in the run) that rounding moves the weight by a fraction of the step
    // size. SGD keeps it at rounding level: the MLP run, with SGD, is held to 1e-5; the LeNet
    // runs, with Adam, to 3e-5 (measured after 20 steps: 1.2e-5 on `fc2.weight` with the
    // direct convolution's weight gradient, whose per-thread lane sums split the batch
    // differently from the gemm's).
    let runs = [
        (2, "functional", "lenet", "adam", 3e-5),
        (3, "module", "lenet", "adam", 3e-5),
        (2, "module", "mlp", "sgd", 1e-5),
    ];
    for (ranks, api, model, opt, tol) in runs {
        let alone = dir.path().join(format!("{model}-{api}"));
        let many = dir.path().join(format!("{model}-{api}{ranks}"));
        let extra =
            format!("--dataset digits --steps 20 --batch-size 30 --api {api} --model {model} --optimizer {opt}");
        train(0, &alone, &extra);
        train(ranks, &many, &extra);
        assert_eq!(losses(&many, "train").len(), 20, "a loss per step");
        assert_same_run(&alone, &many, "step-00000020.safetensors", tol);
    }
}

/// The pid of rank `rank` among `mpirun`'s children (from their environment).
fn rank_pid(mpirun: &Child, rank: usize) -> Option<u32> {
    let want = format!("OMPI_COMM_WORLD_RANK={rank}");
    std::fs::read_dir("/proc").ok()?.flatten().find_map(|e| {
        let pid: u32 = e.file_name().to_str()?.parse().ok()?;
        let stat = std::fs::read_to_string(e.path().join("stat")).ok()?;
        let ppid: u32 = stat
            .rsplit(')')
            .next()?
            .split_whitespace()
            .nth(1)?
            .parse()
            .ok()?;
        let env = std::fs::read(e.path().join("environ")).ok()?;
        let has = env.split(|b| *b == 0).any(|v| v == want.as_bytes());
        (ppid == mpirun.id() && has).then_some(pid)
    })
}

fn latest_step(dir: &Path) -> u64 {
    duet_train::CheckpointDir::latest(dir)
        .ok()
        .flatten()
        .and_then(|p| {
            let name = p.file_stem()?.to_str()?.to_string();
            name.strip_prefix("step-")?.parse().ok()
        })
        .unwrap_or(0)
}

fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for e in std::fs::read_dir(from).unwrap().flatten() {
        std::fs::copy(e.path(), to.join(e.file_name())).unwrap();
    }
}

/// Rounding differs with the number of ranks (each shard's loss is summed in another order),
/// and training amplifies it: runs with different rank counts agree to 1e-5 over tens of
/// steps, not hundreds (on the digits, LeNet's loss leaves its plateau near step 80 and
/// differences of 1e-7 grow to 1e-2 within 25 steps, whatever the rank count; Adam, which
/// divides by each gradient's running magnitude, turns 1e-7 differences in near-zero
/// gradients into 4e-5 within 40 steps, SGD keeps them at 1e-6). So the run here is short and
/// uses SGD, and a resume with the same rank count must be bitwise exact.
#[test]
fn a_killed_rank_stops_the_job_and_the_run_resumes_with_any_rank_count() {
    const STEPS: u64 = 40;
    let dir = tempfile::tempdir().unwrap();
    let run = dir.path().join("run");
    let extra = format!(
        "--dataset digits --steps {STEPS} --batch-size 90 --optimizer sgd --lr 0.01 --checkpoint-every 10 --keep 2"
    );
    let mut job = mpirun(3)
        .arg(env!("CARGO_BIN_EXE_duet"))
        .args(train_args(&run, &extra))
        .args(["--distributed", "mpi"])
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    // Wait for a few checkpoints, then kill rank 1.
    let t = Instant::now();
    while latest_step(&run) < 20 {
        assert!(
            t.elapsed() < Duration::from_secs(120),
            "no checkpoint appeared"
        );
        assert!(job.try_wait().unwrap().is_none(), "the job ended early");
        std::thread::sleep(Duration::from_millis(5));
    }
    let victim = rank_pid(&job, 1).expect("rank 1's process");
    Command::new("kill")
        .args(["-9", &victim.to_string()])
        .status()
        .unwrap();
    let killed = Instant::now();
    let status = loop {
        if let Some(s) = job.try_wait().unwrap() {
            break s;
        }
        assert!(
            killed.elapsed() < Duration::from_secs(30),
            "the job outlived rank 1 by 30 s"
        );
        std::thread::sleep(Duration::from_millis(50));
    };
    let mut err = String::new();
    std::io::Read::read_to_string(job.stderr.as_mut().unwrap(), &mut err).unwrap();
    assert!(!status.success(), "the job exited 0 after losing a rank");
    assert!(
        err.contains("rank 1"),
        "the error does not name rank 1:\n{err}"
    );
    let stopped_at = latest_step(&run);
    assert!((20..STEPS).contains(&stopped_at), "stopped at {stopped_at}");
    // The last checkpoint loads; the run continues with 3 ranks (exactly as if never
    // stopped), and with 2 (as one process, to rounding).
    let last = format!("step-{stopped_at:08}.safetensors");
    let _ = params(&run.join(&last));
    let (alone, three) = (dir.path().join("alone"), dir.path().join("three"));
    train(0, &alone, &extra);
    train(3, &three, &extra);
    let end = format!("step-{STEPS:08}.safetensors");
    for ranks in [3, 2] {
        let again = dir.path().join(format!("again{ranks}"));
        copy_dir(&run, &again);
        let resume = format!("{extra} --resume {}", again.display());
        train(ranks, &again, &resume);
        let finals = params(&again.join(&end));
        if ranks == 3 {
            assert_close(&finals, &params(&three.join(&end)), 0.0);
        }
        assert_close(&finals, &params(&alone.join(&end)), 1e-5);
        // Training records past the restart match the uninterrupted run's.
        let after = |d: &Path| -> Vec<(u64, f64)> {
            let all = losses(d, "train");
            all.into_iter().filter(|(s, _)| *s > stopped_at).collect()
        };
        let (a, b) = (after(&alone), after(&again));
        assert_eq!(a.len() as u64, STEPS - stopped_at);
        for ((s, p), (_, q)) in a.iter().zip(&b) {
            assert!((p - q).abs() <= 1e-5 * p.abs(), "step {s}: {p} vs {q}");
        }
    }
}

/// A global batch smaller than the rank count is refused on every rank, in one line, and the job
/// exits non-zero without writing anything.
#[test]
fn a_batch_smaller_than_the_rank_count_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("run");
    let output = mpirun(2)
        .arg(env!("CARGO_BIN_EXE_duet"))
        .args(train_args(
            &out,
            "--dataset digits --steps 5 --batch-size 1",
        ))
        .args(["--distributed", "mpi"])
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&output.stderr);
    assert!(!output.status.success(), "{err}");
    assert!(
        err.contains("error: rank 0 of 2: --batch-size 1 is smaller than the 2 ranks"),
        "{err}"
    );
    assert!(!err.contains("panicked"), "{err}");
    assert!(!out.exists());
}

/// The GPT on the embedded text over 2 ranks: each reads its windows of every batch, and the run
/// is the single-process run (every step's loss and the final params within 1e-5).
#[test]
fn two_ranks_train_the_gpt_like_one_process() {
    let dir = tempfile::tempdir().unwrap();
    let (alone, many) = (dir.path().join("gpt"), dir.path().join("gpt2"));
    let extra = "--model gpt --dataset text --steps 8 --batch-size 6 --context 16 --layers 1 \
                 --heads 2 --width 16 --optimizer sgd --lr 0.05";
    train(0, &alone, extra);
    train(2, &many, extra);
    assert_same_run(&alone, &many, "step-00000008.safetensors", 1e-5);
}
