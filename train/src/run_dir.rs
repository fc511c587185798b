//! [`RunDir`]: the output directory of one training run, held exclusively while it trains.
//!
//! A run writes `step-*.safetensors`, `best.safetensors`, `metrics.jsonl` and `curves.png`.
//! Opening a directory that already holds those files is refused unless the caller resumes that
//! run ([`RunMode::Resume`]) or asks to replace it ([`RunMode::Overwrite`], which deletes only
//! those files, never anything else). An advisory lock on `.duet.lock` (released by the OS when
//! the process ends, even by `kill -9`) stops a second process from training into the same
//! directory, and temporary files that a killed run left behind are removed when the next run
//! takes the lock.

use crate::error::TrainError;
use std::fs::{self, File, OpenOptions, TryLockError};
use std::path::{Path, PathBuf};

/// How a run uses its output directory.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RunMode {
    /// A new run: the directory must not hold a run yet (it may exist and hold other files).
    New,
    /// Replace the run in the directory: its checkpoints, metrics and curves are deleted first.
    Overwrite,
    /// Continue the run in the directory (it must hold at least one step checkpoint).
    Resume,
}

/// Why a run directory cannot be used.
#[derive(Debug, thiserror::Error)]
pub enum RunDirError {
    /// The directory holds a run and the mode is [`RunMode::New`].
    #[error("{} already holds a training run ({found}): continue it with `--resume {}`, or replace it with `--overwrite`", dir.display(), dir.display())]
    HoldsRun {
        /// The directory.
        dir: PathBuf,
        /// Some of the run's files, for the message.
        found: String,
    },
    /// Another process holds the directory's lock.
    #[error("{} is in use by another training run (lock {} is held); wait for it to finish or choose another --out", dir.display(), lock.display())]
    Locked {
        /// The directory.
        dir: PathBuf,
        /// The lock file.
        lock: PathBuf,
    },
    /// A file-system operation failed.
    #[error("{}: {source}", path.display())]
    Io {
        /// The file or directory.
        path: PathBuf,
        /// The cause.
        source: std::io::Error,
    },
}

/// An output directory locked for one run; the lock is released when this is dropped.
///
/// # Example
/// ```
/// use duet_train::{RunDir, RunMode};
/// let dir = std::env::temp_dir().join(format!("duet-rundir-doc-{}", std::process::id()));
/// let run = RunDir::open(&dir, RunMode::New).unwrap();
/// // A second run into the same directory is refused while the first holds it.
/// assert!(RunDir::open(&dir, RunMode::New).is_err());
/// std::fs::write(dir.join("metrics.jsonl"), "").unwrap();
/// drop(run);
/// // Now the directory holds a run: a new run is refused, overwriting is allowed.
/// let err = RunDir::open(&dir, RunMode::New).unwrap_err().to_string();
/// assert!(err.contains("--overwrite"), "{err}");
/// let run = RunDir::open(&dir, RunMode::Overwrite).unwrap();
/// assert!(!dir.join("metrics.jsonl").exists());
/// drop(run);
/// std::fs::remove_dir_all(&dir).unwrap();
/// ```
#[derive(Debug)]
pub struct RunDir {
    dir: PathBuf,
    _lock: File,
}

impl RunDir {
    /// Creates `dir` if needed, takes its lock, removes temporary files left by a killed run,
    /// and applies `mode`.
    ///
    /// # Errors
    /// [`RunDirError::HoldsRun`] for a new run into a directory holding one,
    /// [`RunDirError::Locked`] if another process trains into it, I/O errors.
    pub fn open(dir: impl AsRef<Path>, mode: RunMode) -> Result<RunDir, RunDirError> {
        Self::open_inner(dir.as_ref(), mode, true)
    }

    /// Whether [`open`](Self::open) would succeed now, changing nothing of the run (the
    /// directory is not created, nothing is deleted; at most the empty `.duet.lock` is created,
    /// and the lock is released at once). For
    /// front-ends that want to report a bad directory before they start loading data.
    ///
    /// # Errors
    /// As [`open`](Self::open).
    pub fn check(dir: impl AsRef<Path>, mode: RunMode) -> Result<(), RunDirError> {
        match dir.as_ref().is_dir() {
            true => Self::open_inner(dir.as_ref(), mode, false).map(drop),
            false => Ok(()),
        }
    }

    fn open_inner(dir: &Path, mode: RunMode, apply: bool) -> Result<RunDir, RunDirError> {
        let dir = dir.to_path_buf();
        let io = |path: &Path| {
            let path = path.to_path_buf();
            move |source| RunDirError::Io { path, source }
        };
        fs::create_dir_all(&dir).map_err(io(&dir))?;
        let lock_path = dir.join(".duet.lock");
        let lock = OpenOptions::new()
            .create(true)
            .truncate(false)
            .write(true)
            .open(&lock_path)
            .map_err(io(&lock_path))?;
        match lock.try_lock() {
            Ok(()) => {}
            Err(TryLockError::WouldBlock) => {
                return Err(RunDirError::Locked {
                    dir,
                    lock: lock_path,
                })
            }
            Err(TryLockError::Error(source)) => {
                return Err(RunDirError::Io {
                    path: lock_path,
                    source,
                })
            }
        }
        if apply {
            for tmp in entries(&dir, is_temp_file).map_err(io(&dir))? {
                fs::remove_file(&tmp).map_err(io(&tmp))?;
            }
        }
        let run_files = entries(&dir, is_run_file).map_err(io(&dir))?;
        match mode {
            RunMode::New if !run_files.is_empty() => {
                let mut names: Vec<String> = run_files
                    .iter()
                    .filter_map(|p| p.file_name())
                    .map(|n| n.to_string_lossy().into_owned())
                    .collect();
                names.sort();
                let found = match names.len() {
                    0..=3 => names.join(", "),
                    n => format!("{} and {} more", names[..3].join(", "), n - 3),
                };
                return Err(RunDirError::HoldsRun { dir, found });
            }
            RunMode::Overwrite if apply => {
                for f in &run_files {
                    fs::remove_file(f).map_err(io(f))?;
                }
            }
            _ => {}
        }
        Ok(RunDir { dir, _lock: lock })
    }

    /// The directory.
    pub fn path(&self) -> &Path {
        &self.dir
    }

    /// The first of `base`, `base2`, `base3`, ... that does not hold a run (the default output
    /// directory of `duet train`, as in `runs/train`, `runs/train2`, ...).
    ///
    /// # Errors
    /// An I/O error reading an existing candidate directory.
    pub fn next_free(base: impl AsRef<Path>) -> Result<PathBuf, RunDirError> {
        let base = base.as_ref();
        for i in 1u64.. {
            let cand = match i {
                1 => base.to_path_buf(),
                i => {
                    let mut s = base.as_os_str().to_owned();
                    s.push(i.to_string());
                    PathBuf::from(s)
                }
            };
            if !cand.exists() {
                return Ok(cand);
            }
            let held = entries(&cand, is_run_file).map_err(|source| RunDirError::Io {
                path: cand.clone(),
                source,
            })?;
            if held.is_empty() {
                return Ok(cand);
            }
        }
        unreachable!("u64 candidates are not exhausted")
    }
}

/// Files a run writes (and [`RunMode::Overwrite`] may delete).
fn is_run_file(name: &str) -> bool {
    name == "best.safetensors"
        || name == "metrics.jsonl"
        || name == "curves.png"
        || (name.starts_with("step-") && name.ends_with(".safetensors"))
        || (name.starts_with("diverged-step-") && name.ends_with(".safetensors"))
}

/// Temporary files of an interrupted atomic write (`.<run file>.tmp.<pid>`).
fn is_temp_file(name: &str) -> bool {
    name.strip_prefix('.')
        .and_then(|rest| rest.rsplit_once(".tmp."))
        .is_some_and(|(target, pid)| {
            is_run_file(target) && !pid.is_empty() && pid.bytes().all(|b| b.is_ascii_digit())
        })
}

fn entries(dir: &Path, keep: fn(&str) -> bool) -> std::io::Result<Vec<PathBuf>> {
    let mut out = Vec::new();
    for e in fs::read_dir(dir)? {
        let e = e?;
        if e.file_type()?.is_file() && keep(&e.file_name().to_string_lossy()) {
            out.push(e.path());
        }
    }
    Ok(out)
}

fn same_dir(a: &Path, b: &Path) -> bool {
    match (a.canonicalize(), b.canonicalize()) {
        (Ok(x), Ok(y)) => x == y,
        _ => a == b,
    }
}

/// How a run writing to `out` uses it: [`RunMode::Resume`] when it resumes `out` itself,
/// [`RunMode::Overwrite`] when asked to, else [`RunMode::New`].
///
/// # Errors
/// [`TrainError::Resume`] for `overwrite` of the directory being resumed (it would delete the
/// checkpoint the run reads).
pub fn run_mode(out: &Path, resume: Option<&Path>, overwrite: bool) -> Result<RunMode, TrainError> {
    let same = resume.is_some_and(|r| same_dir(r, out));
    match (same, overwrite) {
        (true, true) => Err(TrainError::Resume {
            path: out.to_path_buf(),
            message: "--overwrite would delete the run being resumed: drop --overwrite, or \
                      write to another --out"
                .into(),
        }),
        (true, false) => Ok(RunMode::Resume),
        (false, true) => Ok(RunMode::Overwrite),
        (false, false) => Ok(RunMode::New),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names() {
        assert!(is_run_file("step-00000012.safetensors"));
        assert!(!is_run_file("step-notes.txt"));
        assert!(!is_run_file("my-weights.safetensors"));
        assert!(is_temp_file(".step-00000012.safetensors.tmp.4242"));
        assert!(is_temp_file(".metrics.jsonl.tmp.7"));
        assert!(!is_temp_file(".step-00000012.safetensors.tmp."));
        assert!(!is_temp_file(".bashrc.tmp.1"));
        assert!(!is_temp_file("step-00000012.safetensors.tmp.1"));
    }
}
