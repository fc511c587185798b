//! A `.tar.gz`: read as a CIFAR archive (entries at exact paths, in memory), and extracted to
//! disk as a download is.
#![no_main]

use duet_datasets::{extract_tar_gz, parse};
use libfuzzer_sys::fuzz_target;
use std::path::Path;

fuzz_target!(|data: &[u8]| {
    let wanted = vec![
        "cifar-10-batches-bin/test_batch.bin".to_string(),
        "cifar-10-batches-bin/batches.meta.txt".to_string(),
    ];
    let _ = parse::tar_gz_entries(Path::new("fuzz.tar.gz"), data, &wanted);
    let Ok(dir) = tempfile::tempdir() else {
        return;
    };
    let archive = dir.path().join("fuzz.tar.gz");
    if std::fs::write(&archive, data).is_ok() {
        let out = dir.path().join("out");
        let _ = std::fs::create_dir_all(&out);
        let _ = extract_tar_gz(&archive, &out, 1 << 20);
    }
});
