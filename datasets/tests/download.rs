//! `fetch`/`download` against a local HTTP server (127.0.0.1; tests never reach the internet):
//! a generated CIFAR-10 archive, its checksum, resuming a partial download, atomic extraction;
//! a stalled server times out, an endless body is cut at the published size, a decompression
//! bomb stops at the extraction cap.

use duet_datasets::{cifar10, fetch, fetch_with, DatasetError, DownloadOptions, RemoteFile};
use std::io::{BufRead, BufReader, Write};
use std::net::{TcpListener, TcpStream};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// Serves `body` at `/data.tar.gz` (honouring `Range: bytes=N-`), 404 elsewhere. Records the
/// Range headers it saw.
fn serve(body: Vec<u8>) -> (String, Arc<Mutex<Vec<String>>>) {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    let seen = Arc::new(Mutex::new(Vec::new()));
    let log = seen.clone();
    std::thread::spawn(move || {
        for stream in listener.incoming() {
            let mut s = stream.unwrap();
            let mut r = BufReader::new(s.try_clone().unwrap());
            let mut line = String::new();
            r.read_line(&mut line).unwrap();
            let path = line.split_whitespace().nth(1).unwrap_or("").to_string();
            let mut start = 0usize;
            loop {
                let mut h = String::new();
                r.read_line(&mut h).unwrap();
                if h.trim().is_empty() {
                    break;
                }
                if let Some(v) = h
                    .strip_prefix("Range: bytes=")
                    .or_else(|| h.strip_prefix("range: bytes="))
                {
                    log.lock().unwrap().push(v.trim().to_string());
                    start = v.trim().trim_end_matches('-').parse().unwrap();
                }
            }
            if path != "/data.tar.gz" {
                let _ = s.write_all(
                    b"HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\nConnection: close\r\n\r\n",
                );
                continue;
            }
            let part = &body[start..];
            let head = if start > 0 {
                format!("HTTP/1.1 206 Partial Content\r\nContent-Length: {}\r\nContent-Range: bytes {start}-{}/{}\r\nConnection: close\r\n\r\n", part.len(), body.len() - 1, body.len())
            } else {
                format!(
                    "HTTP/1.1 200 OK\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
                    part.len()
                )
            };
            let _ = s.write_all(head.as_bytes());
            let _ = s.write_all(part);
        }
    });
    (format!("http://{addr}"), seen)
}

fn cifar_archive() -> Vec<u8> {
    let tmp = tempfile::tempdir().unwrap();
    let d = tmp.path().join("cifar-10-batches-bin");
    std::fs::create_dir_all(&d).unwrap();
    let rec = |l: u8| [vec![l], vec![l * 10; 3072]].concat();
    for b in 1..=5 {
        std::fs::write(d.join(format!("data_batch_{b}.bin")), rec(b)).unwrap();
    }
    std::fs::write(d.join("test_batch.bin"), rec(0)).unwrap();
    std::fs::write(
        d.join("batches.meta.txt"),
        (0..10).map(|i| format!("c{i}\n")).collect::<String>(),
    )
    .unwrap();
    let gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    let mut tar = tar::Builder::new(gz);
    tar.append_dir_all("cifar-10-batches-bin", &d).unwrap();
    tar.into_inner().unwrap().finish().unwrap()
}

#[test]
fn download_verifies_resumes_and_extracts() {
    let body = cifar_archive();
    let md5 = format!("{:x}", md5::compute(&body));
    let (base, seen) = serve(body.clone());
    let file = RemoteFile {
        url: format!("{base}/data.tar.gz"),
        md5: md5.clone(),
        file_name: "cifar-10-binary.tar.gz".into(),
        size: Some(body.len() as u64),
        max_extracted: 1 << 20,
    };

    // A fresh download: verified, extracted, readable.
    let dir = tempfile::tempdir().unwrap();
    fetch(&file, dir.path(), false).unwrap();
    let s = cifar10(dir.path()).unwrap();
    assert_eq!((s.train.len(), s.test.len()), (5, 1));
    assert!(!dir.path().join("cifar-10-binary.tar.gz.part").exists());

    // A partial download is resumed with a Range request.
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("cifar-10-binary.tar.gz.part"),
        &body[..body.len() / 2],
    )
    .unwrap();
    fetch(&file, dir.path(), false).unwrap();
    assert_eq!(
        seen.lock().unwrap().last().unwrap(),
        &format!("{}-", body.len() / 2)
    );
    assert_eq!(
        std::fs::read(dir.path().join("cifar-10-binary.tar.gz")).unwrap(),
        body
    );
    assert_eq!(cifar10(dir.path()).unwrap().train, s.train);

    // A wrong checksum is an error and the bad file is removed.
    let dir = tempfile::tempdir().unwrap();
    let bad = RemoteFile {
        md5: "0".repeat(32),
        ..file.clone()
    };
    let e = fetch(&bad, dir.path(), false).unwrap_err();
    assert!(
        matches!(&e, DatasetError::Checksum { found, .. } if *found == md5),
        "{e}"
    );
    assert!(
        std::fs::read_dir(dir.path()).unwrap().next().is_none(),
        "nothing is left behind"
    );

    // An HTTP error names the URL.
    let missing = RemoteFile {
        url: format!("{base}/nope.tar.gz"),
        ..file
    };
    let e = fetch(&missing, dir.path(), false).unwrap_err();
    assert!(
        matches!(&e, DatasetError::Download { url, .. } if url.ends_with("/nope.tar.gz")),
        "{e}"
    );
}

/// Serves every connection with `respond(connection number, stream)` after reading the request
/// head; returns the base URL.
fn serve_with(respond: impl Fn(usize, TcpStream) + Send + Sync + 'static) -> String {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    let count = AtomicUsize::new(0);
    let respond = Arc::new(respond);
    std::thread::spawn(move || {
        for stream in listener.incoming() {
            let s = stream.unwrap();
            let n = count.fetch_add(1, Ordering::SeqCst);
            let respond = respond.clone();
            // One thread per connection: a stalled one does not hold up the next.
            std::thread::spawn(move || {
                let mut r = BufReader::new(s.try_clone().unwrap());
                let mut line = String::new();
                while r.read_line(&mut line).is_ok_and(|k| k > 0) && line.trim() != "" {
                    line.clear();
                }
                respond(n, s);
            });
        }
    });
    format!("http://{addr}")
}

fn remote(base: &str, size: u64, max_extracted: u64) -> RemoteFile {
    RemoteFile {
        url: format!("{base}/x.tar.gz"),
        md5: "0".repeat(32),
        file_name: "x.tar.gz".into(),
        size: Some(size),
        max_extracted,
    }
}

/// `fetch_with` on a thread, failing the test instead of hanging if it takes over 20 s.
fn fetch_bounded(file: RemoteFile, dir: &std::path::Path, timeout_ms: u64) -> DatasetError {
    let opts = DownloadOptions {
        mirror: None,
        progress: false,
        timeout: Duration::from_millis(timeout_ms),
    };
    let dir = dir.to_path_buf();
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let _ = tx.send(fetch_with(&file, &dir, &opts));
    });
    let r = rx
        .recv_timeout(Duration::from_secs(20))
        .expect("fetch returned within 20 s");
    r.expect_err("the download must fail")
}

#[test]
fn a_stalled_server_times_out() {
    // Connection 0 sends nothing at all; connection 1 stalls after part of the body.
    let base = serve_with(|n, mut s| {
        if n == 1 {
            let _ = s.write_all(b"HTTP/1.1 200 OK\r\nContent-Length: 1000\r\n\r\n0123456789");
        }
        std::thread::sleep(Duration::from_secs(30));
    });
    for stage in ["before the headers", "inside the body"] {
        let dir = tempfile::tempdir().unwrap();
        let start = Instant::now();
        let e = fetch_bounded(remote(&base, 1000, 1 << 20), dir.path(), 300);
        assert!(
            start.elapsed() < Duration::from_secs(5),
            "{stage}: {:?}",
            start.elapsed()
        );
        assert!(
            matches!(&e, DatasetError::Download { url, .. } if url.ends_with("/x.tar.gz")),
            "{stage}: {e}"
        );
    }
}

#[test]
fn an_endless_body_is_cut_at_the_published_size() {
    // Connection 0: no Content-Length and bytes without end; connection 1 announces 1 TB.
    let base = serve_with(|n, mut s| {
        if n == 0 {
            let _ = s.write_all(b"HTTP/1.1 200 OK\r\nConnection: close\r\n\r\n");
            while s.write_all(&[7u8; 1 << 16]).is_ok() {}
        } else {
            let _ = s.write_all(b"HTTP/1.1 200 OK\r\nContent-Length: 1000000000000\r\n\r\nabc");
        }
    });
    let dir = tempfile::tempdir().unwrap();
    let e = fetch_bounded(remote(&base, 100_000, 1 << 20), dir.path(), 5000);
    assert!(
        e.to_string()
            .contains("more than the published 100000 bytes"),
        "{e}"
    );
    assert!(
        std::fs::read_dir(dir.path()).unwrap().next().is_none(),
        "the partial download is removed"
    );
    let e = fetch_bounded(remote(&base, 100_000, 1 << 20), dir.path(), 5000);
    assert!(
        e.to_string().contains("announces 1000000000000 bytes"),
        "{e}"
    );
}

/// A `.tar.gz` holding `entries` (path, size in zero bytes) and a symlink if `link`.
fn zeros_archive(entries: &[(&str, usize)], link: bool) -> Vec<u8> {
    let gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::best());
    let mut tar = tar::Builder::new(gz);
    for (path, len) in entries {
        let mut h = tar::Header::new_gnu();
        h.set_size(*len as u64);
        h.set_mode(0o644);
        tar.append_data(
            &mut h,
            path,
            std::io::Read::take(std::io::repeat(0), *len as u64),
        )
        .unwrap();
    }
    if link {
        let mut h = tar::Header::new_gnu();
        h.set_entry_type(tar::EntryType::Symlink);
        h.set_size(0);
        tar.append_link(&mut h, "data/escape", "/etc").unwrap();
    }
    tar.into_inner().unwrap().finish().unwrap()
}

#[test]
fn extraction_is_capped_and_leaves_nothing_on_failure() {
    let bomb = zeros_archive(&[("data/zeros.bin", 8 << 20)], false);
    assert!(bomb.len() < 64 << 10, "{} bytes", bomb.len());
    let (base, _) = serve(bomb.clone());
    let file = RemoteFile {
        url: format!("{base}/data.tar.gz"),
        md5: format!("{:x}", md5::compute(&bomb)),
        file_name: "bomb.tar.gz".into(),
        size: Some(bomb.len() as u64),
        max_extracted: 1 << 20,
    };
    let dir = tempfile::tempdir().unwrap();
    let e = fetch(&file, dir.path(), false).unwrap_err();
    assert!(
        matches!(&e, DatasetError::Format { path, reason }
            if path.ends_with("bomb.tar.gz") && reason.contains("more than 1048576 bytes")),
        "{e}"
    );
    let left: Vec<_> = std::fs::read_dir(dir.path())
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .collect();
    assert_eq!(
        left,
        vec!["bomb.tar.gz"],
        "nothing extracted, no temporary directory"
    );
    // With room for it, the same archive extracts.
    let roomy = RemoteFile {
        max_extracted: 16 << 20,
        ..file.clone()
    };
    fetch(&roomy, dir.path(), false).unwrap();
    let extracted = std::fs::metadata(dir.path().join("data/zeros.bin")).unwrap();
    assert_eq!(extracted.len(), 8 << 20);
    // A link is refused by the extractor itself.
    let dir = tempfile::tempdir().unwrap();
    let linked = dir.path().join("linked.tar.gz");
    std::fs::write(&linked, zeros_archive(&[("data/a.bin", 10)], true)).unwrap();
    let e = duet_datasets::extract_tar_gz(&linked, dir.path(), 1 << 20).unwrap_err();
    assert!(e.to_string().contains("data/escape"), "{e}");
    assert!(!dir.path().join("data").exists());
}
