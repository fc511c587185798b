//! `fetch`/`download` against a local HTTP server (127.0.0.1; tests never reach the internet):
//! a generated CIFAR-10 archive, its checksum, resuming a partial download, atomic extraction.

use duet_datasets::{cifar10, fetch, DatasetError, RemoteFile};
use std::io::{BufRead, BufReader, Write};
use std::net::TcpListener;
use std::sync::{Arc, Mutex};

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
