//! [`MetricsLog`]: one JSON object per line (`metrics.jsonl`), flushed as it is written.

use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::fs::{File, OpenOptions};
use std::io::{BufRead, BufReader, Write};
use std::path::{Path, PathBuf};

/// One logged measurement.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Record {
    /// Optimizer steps taken so far (from the start of training, across resumes).
    pub step: u64,
    /// The epoch the step belongs to (0-based).
    pub epoch: u64,
    /// `"train"` or `"eval"`.
    pub split: String,
    /// Mean loss over the window (train) or the split (eval).
    pub loss: f64,
    /// Examples per second over the window (train only; 0 for eval). The name is kept from
    /// image classification, so older files still read.
    pub images_per_s: f64,
    /// Learning rate of the step's update.
    pub lr: f64,
    /// The task's metrics (`accuracy` in `[0, 1]` for classification), as top-level keys.
    #[serde(flatten)]
    pub metrics: BTreeMap<String, f64>,
}

impl Record {
    /// The metric `name`, if this record has it.
    pub fn metric(&self, name: &str) -> Option<f64> {
        self.metrics.get(name).copied()
    }
}

/// An append-only JSONL metrics file.
///
/// # Example
/// ```
/// use duet_train::{MetricsLog, Record};
/// let path = std::env::temp_dir().join(format!("duet-metrics-doc-{}.jsonl", std::process::id()));
/// let mut log = MetricsLog::create(&path, false).unwrap();
/// let metrics = [("accuracy".to_string(), 0.1)].into();
/// let r = Record { step: 1, epoch: 0, split: "train".into(), loss: 2.3, images_per_s: 5e3, lr: 1e-3, metrics };
/// log.write(&r).unwrap();
/// assert_eq!(MetricsLog::read(&path).unwrap(), vec![r]);
/// std::fs::remove_file(&path).unwrap();
/// ```
#[derive(Debug)]
pub struct MetricsLog {
    path: PathBuf,
    file: File,
}

impl MetricsLog {
    /// Opens `path`, truncating it unless `append` (a resumed run appends).
    pub fn create(path: impl AsRef<Path>, append: bool) -> std::io::Result<Self> {
        let path = path.as_ref().to_path_buf();
        let file = OpenOptions::new()
            .create(true)
            .write(true)
            .append(append)
            .truncate(!append)
            .open(&path)?;
        Ok(MetricsLog { path, file })
    }

    /// Reopens the log of a run resumed at `step`: records after `step` (written by the
    /// interrupted process after its last checkpoint) and a torn last line are dropped, so that
    /// each step is logged once; the file is rewritten atomically, then appended to.
    ///
    /// # Example
    /// ```
    /// use duet_train::{MetricsLog, Record};
    /// let path = std::env::temp_dir().join(format!("duet-metrics-resume-{}.jsonl", std::process::id()));
    /// let rec = |step| Record { step, epoch: 0, split: "train".into(), loss: 1.0, images_per_s: 0.0, lr: 1e-3, metrics: Default::default() };
    /// let mut log = MetricsLog::create(&path, false).unwrap();
    /// for s in 1..=5 { log.write(&rec(s)).unwrap(); }
    /// // The last checkpoint was at step 3: resuming there drops steps 4 and 5.
    /// let mut log = MetricsLog::resume(&path, 3).unwrap();
    /// log.write(&rec(4)).unwrap();
    /// let steps: Vec<u64> = MetricsLog::read(&path).unwrap().iter().map(|r| r.step).collect();
    /// assert_eq!(steps, vec![1, 2, 3, 4]);
    /// std::fs::remove_file(&path).unwrap();
    /// ```
    pub fn resume(path: impl AsRef<Path>, step: u64) -> std::io::Result<Self> {
        let path = path.as_ref();
        let kept: Vec<Record> = match Self::read(path) {
            Ok(all) => all.into_iter().filter(|r| r.step <= step).collect(),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Vec::new(),
            Err(e) => return Err(e),
        };
        let mut text = String::new();
        for r in &kept {
            text.push_str(&serde_json::to_string(r).map_err(std::io::Error::other)?);
            text.push('\n');
        }
        duet_core::checkpoint::write_atomic(path, text.as_bytes())
            .map_err(std::io::Error::other)?;
        Self::create(path, true)
    }

    /// The file's path.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Appends one record and flushes.
    pub fn write(&mut self, r: &Record) -> std::io::Result<()> {
        let line = serde_json::to_string(r).map_err(std::io::Error::other)?;
        writeln!(self.file, "{line}")?;
        self.file.flush()
    }

    /// Reads every record of a metrics file (skipping a torn last line from a crash).
    pub fn read(path: impl AsRef<Path>) -> std::io::Result<Vec<Record>> {
        let f = File::open(path)?;
        Ok(BufReader::new(f)
            .lines()
            .map_while(Result::ok)
            .filter_map(|l| serde_json::from_str(&l).ok())
            .collect())
    }
}
