//! [`CheckpointDir`]: a directory of training checkpoints, keeping the last K and the best.
//!
//! Files are `step-00000123.safetensors` (zero-padded so that names sort by step) plus
//! `best.safetensors`. Each is written atomically by [`duet_core::checkpoint::save`], so a crash
//! (even `kill -9`) mid-write leaves every previous checkpoint loadable.

use duet_core::checkpoint::{self, CheckpointError, CheckpointFile};
use duet_core::Params;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

/// Which way a metric is better.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Better {
    /// Larger is better (accuracy).
    Higher,
    /// Smaller is better (loss).
    Lower,
}

/// A checkpoint directory with retention rules.
///
/// # Example
/// ```
/// use duet_train::{Better, CheckpointDir};
/// use duet_core::{burn::tensor::{Device, Tensor}, Params};
/// let dir = std::env::temp_dir().join(format!("duet-ckdir-doc-{}", std::process::id()));
/// let mut ck = CheckpointDir::new(&dir, 2, Better::Higher).unwrap();
/// let p = Params::new().with("w", Tensor::<1>::zeros([1], &Device::flex()));
/// for step in [10, 20, 30] {
///     ck.save(step, &[("params", &p)], &Default::default(), Some(step as f64)).unwrap();
/// }
/// // The last two are kept, and `best` is step 30.
/// assert_eq!(ck.steps().unwrap(), vec![20, 30]);
/// assert_eq!(CheckpointDir::latest(&dir).unwrap().unwrap().file_name().unwrap(), "step-00000030.safetensors");
/// assert!(dir.join("best.safetensors").exists());
/// std::fs::remove_dir_all(&dir).unwrap();
/// ```
#[derive(Debug)]
pub struct CheckpointDir {
    dir: PathBuf,
    keep_last: usize,
    better: Better,
    best: Option<f64>,
    last_good: Option<u64>,
}

impl CheckpointDir {
    /// Opens (creating it if needed) `dir`, keeping the `keep_last` newest step checkpoints.
    /// The best metric so far is read back from `best.safetensors`, so a resumed run keeps it.
    pub fn new(
        dir: impl AsRef<Path>,
        keep_last: usize,
        better: Better,
    ) -> Result<Self, CheckpointError> {
        let dir = dir.as_ref().to_path_buf();
        std::fs::create_dir_all(&dir).map_err(|source| CheckpointError::Io {
            path: dir.clone(),
            source,
        })?;
        let best = CheckpointFile::open(dir.join("best.safetensors"))
            .ok()
            .and_then(|f| {
                f.metadata()
                    .get("duet.best_metric")
                    .and_then(|v| v.parse().ok())
            });
        Ok(CheckpointDir {
            dir,
            keep_last: keep_last.max(1),
            better,
            best,
            last_good: None,
        })
    }

    /// The directory.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// The path of the checkpoint for `step`.
    pub fn path_for(&self, step: u64) -> PathBuf {
        self.dir.join(format!("step-{step:08}.safetensors"))
    }

    /// Saves a checkpoint for `step`; if `metric` beats the best so far, also as `best`.
    /// Then deletes step checkpoints beyond the newest `keep_last`.
    pub fn save(
        &mut self,
        step: u64,
        trees: &[(&str, &Params)],
        metadata: &BTreeMap<String, String>,
        metric: Option<f64>,
    ) -> Result<PathBuf, CheckpointError> {
        let mut meta = metadata.clone();
        meta.insert("duet.step".into(), step.to_string());
        let path = self.path_for(step);
        let bytes = checkpoint::to_bytes(trees, &meta);
        checkpoint::write_atomic(&path, &bytes)?;
        if let Some(m) = metric.filter(|m| m.is_finite()) {
            let improved = match (self.best, self.better) {
                (None, _) => true,
                (Some(b), Better::Higher) => m > b,
                (Some(b), Better::Lower) => m < b,
            };
            if improved {
                meta.insert("duet.best_metric".into(), m.to_string());
                checkpoint::write_atomic(
                    &self.dir.join("best.safetensors"),
                    &checkpoint::to_bytes(trees, &meta),
                )?;
                self.best = Some(m);
            }
        }
        self.prune()?;
        Ok(path)
    }

    /// Marks `step`'s checkpoint as known good (its params gave a finite loss): pruning never
    /// deletes it, so a run that diverges later can always be resumed from it.
    pub fn set_last_good(&mut self, step: u64) {
        self.last_good = Some(step);
    }

    /// Renames `step`'s checkpoint to `diverged-step-*.safetensors` (kept for inspection, no
    /// longer picked by [`latest`](Self::latest) or `--resume`). Returns the new path.
    pub fn mark_diverged(&self, step: u64) -> Result<PathBuf, CheckpointError> {
        let from = self.path_for(step);
        let to = self
            .dir
            .join(format!("diverged-step-{step:08}.safetensors"));
        std::fs::rename(&from, &to).map_err(|source| CheckpointError::Io {
            path: from.clone(),
            source,
        })?;
        Ok(to)
    }

    /// The steps that have a checkpoint, ascending.
    pub fn steps(&self) -> Result<Vec<u64>, CheckpointError> {
        Ok(list(&self.dir)?.into_iter().map(|(s, _)| s).collect())
    }

    fn prune(&self) -> Result<(), CheckpointError> {
        let all = list(&self.dir)?;
        let excess = all.len().saturating_sub(self.keep_last);
        for (_, p) in all[..excess]
            .iter()
            .filter(|(s, _)| Some(*s) != self.last_good)
        {
            std::fs::remove_file(p).map_err(|source| CheckpointError::Io {
                path: p.clone(),
                source,
            })?;
        }
        Ok(())
    }

    /// The newest step checkpoint in `dir`, if any.
    pub fn latest(dir: impl AsRef<Path>) -> Result<Option<PathBuf>, CheckpointError> {
        Ok(list(dir.as_ref())?.pop().map(|(_, p)| p))
    }
}

/// `(step, path)` of every `step-*.safetensors` in `dir`, ascending by step.
fn list(dir: &Path) -> Result<Vec<(u64, PathBuf)>, CheckpointError> {
    let rd = std::fs::read_dir(dir).map_err(|source| CheckpointError::Io {
        path: dir.to_path_buf(),
        source,
    })?;
    let mut out: Vec<(u64, PathBuf)> = rd
        .filter_map(Result::ok)
        .filter_map(|e| {
            let name = e.file_name().to_string_lossy().into_owned();
            let step = name
                .strip_prefix("step-")?
                .strip_suffix(".safetensors")?
                .parse()
                .ok()?;
            Some((step, e.path()))
        })
        .collect();
    out.sort();
    Ok(out)
}
