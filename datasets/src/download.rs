//! Downloading the official archives: progress bar, published checksum, resumable, atomic.
//!
//! A download goes to `<file>.part`; an existing `.part` is resumed with an HTTP `Range`
//! request. The finished file's MD5 is checked against the published sum before it is renamed
//! into place; `.tar.gz` archives are then extracted into a temporary directory that is renamed
//! into place, so an interrupted run never leaves a half-extracted dataset (a marker file
//! `.<archive>.extracted` records a finished extraction, so a rerun after a crash extracts again).
//!
//! Nothing waits or grows without bound: a server that sends nothing for
//! [`DownloadOptions::timeout`] is an error, a body longer than the published size
//! ([`RemoteFile::size`]) is cut off and removed, and extraction stops after
//! [`RemoteFile::max_extracted`] bytes.
//!
//! The URLs can be redirected to a mirror (or a test server): [`DownloadOptions::mirror`], or the
//! `DUET_DATASETS_MIRROR` environment variable for [`download`]. A mirror serves the official
//! file names under its base URL.

use crate::error::DatasetError;
use std::fs::{self, File, OpenOptions};
use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::time::Duration;

/// One file of a remote dataset.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RemoteFile {
    /// Where it is published.
    pub url: String,
    /// Its published MD5, lowercase hex.
    pub md5: String,
    /// The name to store it under.
    pub file_name: String,
    /// Its published size in bytes: a server that sends more is cut off there (`None`: no cap).
    pub size: Option<u64>,
    /// The most a `.tar.gz` may decompress to when it is extracted (ignored for other files).
    pub max_extracted: u64,
}

/// The datasets that can be downloaded.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Remote {
    /// `cifar-10-binary.tar.gz` from the University of Toronto.
    Cifar10,
    /// `cifar-100-binary.tar.gz` from the University of Toronto.
    Cifar100,
    /// The four MNIST IDX files (PyTorch's mirror).
    Mnist,
    /// The four Fashion-MNIST IDX files (Zalando's bucket).
    FashionMnist,
}

/// [`RemoteFile::max_extracted`] of the official files: the CIFAR archives extract to ~185 MB.
pub const DEFAULT_MAX_EXTRACTED: u64 = 512 << 20;

fn rf(url: &str, md5: &str, size: u64) -> RemoteFile {
    RemoteFile {
        url: url.into(),
        md5: md5.into(),
        file_name: url.rsplit('/').next().unwrap_or(url).into(),
        size: Some(size),
        max_extracted: DEFAULT_MAX_EXTRACTED,
    }
}

impl Remote {
    /// The official files with their URLs on `mirror` (a base URL, the file names unchanged).
    ///
    /// ```
    /// use duet_datasets::Remote;
    /// let f = &Remote::Cifar10.files_from("http://127.0.0.1:8000/data/")[0];
    /// assert_eq!(f.url, "http://127.0.0.1:8000/data/cifar-10-binary.tar.gz");
    /// assert_eq!(f.md5, "c32a1d4ab5d03f1284b67883e8d87530");
    /// ```
    pub fn files_from(self, mirror: &str) -> Vec<RemoteFile> {
        let base = mirror.trim_end_matches('/');
        self.files()
            .into_iter()
            .map(|f| RemoteFile {
                url: format!("{base}/{}", f.file_name),
                ..f
            })
            .collect()
    }

    /// The official files and their published MD5 sums.
    pub fn files(self) -> Vec<RemoteFile> {
        match self {
            Remote::Cifar10 => vec![rf(
                "https://www.cs.toronto.edu/~kriz/cifar-10-binary.tar.gz",
                "c32a1d4ab5d03f1284b67883e8d87530",
                170052171,
            )],
            Remote::Cifar100 => vec![rf(
                "https://www.cs.toronto.edu/~kriz/cifar-100-binary.tar.gz",
                "03b5dce01913d631647c71ecec9e9cb8",
                168513733,
            )],
            Remote::Mnist => {
                let m = "https://ossci-datasets.s3.amazonaws.com/mnist/";
                vec![
                    rf(
                        &format!("{m}train-images-idx3-ubyte.gz"),
                        "f68b3c2dcbeaaa9fbdd348bbdeb94873",
                        9912422,
                    ),
                    rf(
                        &format!("{m}train-labels-idx1-ubyte.gz"),
                        "d53e105ee54ea40749a09fcbcd1e9432",
                        28881,
                    ),
                    rf(
                        &format!("{m}t10k-images-idx3-ubyte.gz"),
                        "9fb629c4189551a2d022fa330f9573f3",
                        1648877,
                    ),
                    rf(
                        &format!("{m}t10k-labels-idx1-ubyte.gz"),
                        "ec29112dd5afa0611ce80d1b7f02629c",
                        4542,
                    ),
                ]
            }
            Remote::FashionMnist => {
                let m = "http://fashion-mnist.s3-website.eu-central-1.amazonaws.com/";
                vec![
                    rf(
                        &format!("{m}train-images-idx3-ubyte.gz"),
                        "8d4fb7e6c68d591d4c3dfef9ec88bf0d",
                        26421880,
                    ),
                    rf(
                        &format!("{m}train-labels-idx1-ubyte.gz"),
                        "25c81989df183df01b3e8a0aad5dffbe",
                        29515,
                    ),
                    rf(
                        &format!("{m}t10k-images-idx3-ubyte.gz"),
                        "bef4ecab320f06d8554ea6380940ec79",
                        4422102,
                    ),
                    rf(
                        &format!("{m}t10k-labels-idx1-ubyte.gz"),
                        "bb300cfdad3c16e7a12a480ee83cd310",
                        5148,
                    ),
                ]
            }
        }
    }
}

/// Options of [`download_with`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DownloadOptions {
    /// A base URL serving the official file names instead of the official hosts.
    pub mirror: Option<String>,
    /// Show a progress bar (indicatif, on stderr).
    pub progress: bool,
    /// How long connecting, or waiting for the next bytes of the response, may take before the
    /// download fails.
    pub timeout: Duration,
}

impl Default for DownloadOptions {
    /// No mirror, a progress bar, a 30-second timeout.
    fn default() -> Self {
        DownloadOptions {
            mirror: None,
            progress: true,
            timeout: Duration::from_secs(30),
        }
    }
}

/// Downloads `dataset` into `dir` (extracting archives) and returns `dir`, ready for the
/// matching reader ([`cifar10`](crate::cifar10)`(dir)`, [`mnist`](crate::mnist)`(dir)`, ...).
/// Files already present with the right checksum are not fetched again. Shows a progress bar;
/// uses the mirror in `DUET_DATASETS_MIRROR` if that is set.
///
/// # Errors
/// A network failure or HTTP error (naming the URL), a checksum mismatch (the bad file is
/// removed), an archive that does not extract.
pub fn download(dataset: Remote, dir: impl AsRef<Path>) -> Result<PathBuf, DatasetError> {
    let opts = DownloadOptions {
        mirror: std::env::var("DUET_DATASETS_MIRROR")
            .ok()
            .filter(|m| !m.is_empty()),
        ..Default::default()
    };
    download_with(dataset, dir, &opts)
}

/// [`download`] with explicit options (a mirror, no progress bar).
///
/// # Errors
/// As [`download`].
pub fn download_with(
    dataset: Remote,
    dir: impl AsRef<Path>,
    opts: &DownloadOptions,
) -> Result<PathBuf, DatasetError> {
    let dir = dir.as_ref();
    let files = match &opts.mirror {
        Some(m) => dataset.files_from(m),
        None => dataset.files(),
    };
    for f in files {
        fetch_with(&f, dir, opts)?;
    }
    Ok(dir.to_path_buf())
}

fn io(path: &Path) -> impl FnOnce(std::io::Error) -> DatasetError + '_ {
    move |source| DatasetError::Io {
        path: path.to_path_buf(),
        source,
    }
}

fn md5_of(path: &Path) -> Result<String, DatasetError> {
    let mut f = File::open(path).map_err(io(path))?;
    let mut ctx = md5::Context::new();
    let mut buf = vec![0u8; 1 << 16];
    loop {
        let n = f.read(&mut buf).map_err(io(path))?;
        if n == 0 {
            break;
        }
        ctx.consume(&buf[..n]);
    }
    Ok(format!("{:x}", ctx.compute()))
}

/// Downloads one file into `dir` (resuming a `.part`), verifies its MD5, renames it into place,
/// and extracts it if it is a `.tar.gz`. Returns the downloaded file's path. Uses the default
/// [`DownloadOptions::timeout`].
///
/// # Errors
/// As [`download`].
pub fn fetch(file: &RemoteFile, dir: &Path, progress: bool) -> Result<PathBuf, DatasetError> {
    let opts = DownloadOptions {
        progress,
        ..Default::default()
    };
    fetch_with(file, dir, &opts)
}

/// [`fetch`] with explicit options (the mirror is ignored: `file.url` is used as is).
///
/// # Errors
/// As [`download`]; also no bytes for `opts.timeout`, a body longer than `file.size` (the
/// partial file is removed), an archive extracting to more than `file.max_extracted` bytes.
pub fn fetch_with(
    file: &RemoteFile,
    dir: &Path,
    opts: &DownloadOptions,
) -> Result<PathBuf, DatasetError> {
    fs::create_dir_all(dir).map_err(io(dir))?;
    let target = dir.join(&file.file_name);
    if target.exists() && md5_of(&target)? == file.md5 {
        finish(file, &target, dir)?;
        return Ok(target);
    }
    let part = dir.join(format!("{}.part", file.file_name));
    let mut have = fs::metadata(&part).map(|m| m.len()).unwrap_or(0);
    if file.size.is_some_and(|size| have > size) {
        // Longer than the whole file: not a prefix of it.
        fs::remove_file(&part).map_err(io(&part))?;
        have = 0;
    }
    let net = |reason: String| DatasetError::Download {
        url: file.url.clone(),
        reason,
    };
    let agent = ureq::AgentBuilder::new()
        .timeout_connect(opts.timeout)
        .timeout_read(opts.timeout)
        .timeout_write(opts.timeout)
        .build();
    let mut req = agent.get(&file.url);
    if have > 0 {
        req = req.set("Range", &format!("bytes={have}-"));
    }
    let resp = if have > 0 && file.size == Some(have) {
        // The `.part` already holds the whole file.
        None
    } else {
        match req.call() {
            Ok(r) => Some(r),
            // The `.part` already holds the whole file.
            Err(ureq::Error::Status(416, _)) if have > 0 => None,
            Err(e) => return Err(net(e.to_string())),
        }
    };
    if let Some(resp) = resp {
        receive(resp, file, &part, have, opts.progress)?;
    }
    let found = md5_of(&part)?;
    if found != file.md5 {
        let _ = fs::remove_file(&part);
        return Err(DatasetError::Checksum {
            path: target,
            expected: file.md5.clone(),
            found,
        });
    }
    fs::rename(&part, &target).map_err(io(&target))?;
    finish(file, &target, dir)?;
    Ok(target)
}

/// Extracts a verified `.tar.gz` unless its marker says that was done.
fn finish(file: &RemoteFile, target: &Path, dir: &Path) -> Result<(), DatasetError> {
    let name = target.file_name().unwrap_or_default().to_string_lossy();
    if !(name.ends_with(".tar.gz") || name.ends_with(".tgz")) {
        return Ok(());
    }
    let marker = dir.join(format!(".{name}.extracted"));
    if marker.exists() {
        return Ok(());
    }
    crate::archive::extract_tar_gz(target, dir, file.max_extracted)?;
    fs::write(&marker, b"").map_err(io(&marker))
}

/// Streams the response body into `part` (appending after `have` bytes on a 206).
fn receive(
    resp: ureq::Response,
    file: &RemoteFile,
    part: &Path,
    have: u64,
    progress: bool,
) -> Result<(), DatasetError> {
    let net = |reason: String| DatasetError::Download {
        url: file.url.clone(),
        reason,
    };
    let resumed = resp.status() == 206;
    let total = resp
        .header("Content-Length")
        .and_then(|v| v.parse::<u64>().ok())
        .map(|n| if resumed { n.saturating_add(have) } else { n });
    if let (Some(size), Some(total)) = (file.size, total) {
        if total > size {
            return Err(net(format!(
                "the server announces {total} bytes, the published size is {size}"
            )));
        }
    }
    let mut out = OpenOptions::new()
        .create(true)
        .write(true)
        .append(resumed)
        .truncate(!resumed)
        .open(part)
        .map_err(io(part))?;
    let bar = if progress {
        indicatif::ProgressBar::new(total.unwrap_or(0))
    } else {
        indicatif::ProgressBar::hidden()
    };
    bar.set_style(
        indicatif::ProgressStyle::with_template(
            "{msg} {bar:30} {bytes}/{total_bytes} {bytes_per_sec} eta {eta}",
        )
        .expect("template"),
    );
    bar.set_message(file.file_name.clone());
    let mut written = if resumed { have } else { 0 };
    bar.set_position(written);
    let mut reader = resp.into_reader();
    let mut buf = vec![0u8; 1 << 16];
    loop {
        let n = reader
            .read(&mut buf)
            .map_err(|e| net(format!("reading the body: {e}")))?;
        if n == 0 {
            break;
        }
        written += n as u64;
        if let Some(size) = file.size.filter(|&size| written > size) {
            drop(out);
            let _ = fs::remove_file(part);
            return Err(net(format!(
                "the server sent more than the published {size} bytes; the partial download was removed"
            )));
        }
        out.write_all(&buf[..n]).map_err(io(part))?;
        bar.inc(n as u64);
    }
    out.sync_all().map_err(io(part))?;
    bar.finish_and_clear();
    Ok(())
}
