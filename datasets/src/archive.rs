//! [`extract_tar_gz`]: bounded, all-or-nothing extraction of a downloaded `.tar.gz`.

use crate::error::DatasetError;
use std::fs;
use std::io::Read;
use std::path::Path;

/// A reader that fails once more than `left` bytes would be read.
struct Capped<R> {
    inner: R,
    left: u64,
    exceeded: bool,
}

impl<R: Read> Read for Capped<R> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        if buf.is_empty() {
            return Ok(0);
        }
        // With the budget spent, one more byte tells a stream that ends exactly there from one
        // that goes on.
        let want = buf.len().min(self.left.saturating_add(1) as usize);
        let n = self.inner.read(&mut buf[..want])?;
        if n as u64 > self.left {
            self.exceeded = true;
            return Err(std::io::Error::other("extraction limit reached"));
        }
        self.left -= n as u64;
        Ok(n)
    }
}

/// Extracts the `.tar.gz` at `archive` into `dir`, through a temporary directory whose top-level
/// entries are then renamed into place (replacing existing ones of the same name), so a failed
/// extraction leaves nothing behind.
///
/// Only regular files and directories are extracted, and only inside `dir`. At most `max_bytes`
/// of decompressed tar stream are read: a larger archive (a decompression bomb) is an error.
///
/// # Errors
/// [`DatasetError::Format`] naming the archive: a bad gzip or tar stream, an entry that is a
/// link or a device or points outside `dir`, more than `max_bytes` decompressed bytes.
/// [`DatasetError::Io`] when `dir` cannot be written.
pub fn extract_tar_gz(archive: &Path, dir: &Path, max_bytes: u64) -> Result<(), DatasetError> {
    let io = |path: &Path| {
        let path = path.to_path_buf();
        move |source| DatasetError::Io { path, source }
    };
    let tmp = dir.join(format!(".extract-{}", std::process::id()));
    let _ = fs::remove_dir_all(&tmp);
    fs::create_dir_all(&tmp).map_err(io(&tmp))?;
    let result = unpack(archive, &tmp, max_bytes);
    if let Err(e) = result {
        let _ = fs::remove_dir_all(&tmp);
        return Err(e);
    }
    for e in fs::read_dir(&tmp).map_err(io(&tmp))? {
        let e = e.map_err(io(&tmp))?;
        let dest = dir.join(e.file_name());
        if dest.exists() {
            fs::remove_dir_all(&dest)
                .or_else(|_| fs::remove_file(&dest))
                .map_err(io(&dest))?;
        }
        fs::rename(e.path(), &dest).map_err(io(&dest))?;
    }
    fs::remove_dir_all(&tmp).map_err(io(&tmp))
}

fn unpack(archive: &Path, tmp: &Path, max_bytes: u64) -> Result<(), DatasetError> {
    let file = fs::File::open(archive).map_err(|source| DatasetError::Io {
        path: archive.into(),
        source,
    })?;
    let gz = flate2::read::GzDecoder::new(std::io::BufReader::new(file));
    let mut tar = tar::Archive::new(Capped {
        inner: gz,
        left: max_bytes,
        exceeded: false,
    });
    tar.set_preserve_permissions(false);
    tar.set_preserve_mtime(false);
    tar.set_unpack_xattrs(false);
    let fail = |reason: String| DatasetError::Format {
        path: archive.into(),
        reason,
    };
    let result = (|| -> Result<(), DatasetError> {
        for entry in tar
            .entries()
            .map_err(|e| fail(format!("cannot extract: {e}")))?
        {
            let mut e = entry.map_err(|e| fail(format!("cannot extract: {e}")))?;
            let name = e
                .path()
                .map(|p| p.display().to_string())
                .unwrap_or_else(|_| "?".into());
            let kind = e.header().entry_type();
            if !(kind.is_file() || kind.is_dir()) {
                return Err(fail(format!(
                    "entry `{name}` is a {kind:?}; only files and directories are extracted"
                )));
            }
            let inside = e
                .unpack_in(tmp)
                .map_err(|e| fail(format!("cannot extract `{name}`: {e}")))?;
            if !inside {
                return Err(fail(format!("entry `{name}` points outside the archive")));
            }
        }
        Ok(())
    })();
    if tar.into_inner().exceeded {
        return Err(fail(format!(
            "extracts to more than {max_bytes} bytes; stopped there"
        )));
    }
    result
}
