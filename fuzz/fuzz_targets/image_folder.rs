//! A whole image folder on disk: the input is cut into up to four files placed in class
//! folders, flat or under `train/` and `test/`.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Some((&layout, mut rest)) = data.split_first() else {
        return;
    };
    let Ok(dir) = tempfile::tempdir() else {
        return;
    };
    for k in 0..4 {
        // Each file but the last is preceded by its length (2 bytes, little-endian).
        let len = if k < 3 && rest.len() >= 2 {
            let n = u16::from_le_bytes([rest[0], rest[1]]) as usize;
            rest = &rest[2..];
            n.min(rest.len())
        } else {
            rest.len()
        };
        let (file, tail) = rest.split_at(len);
        rest = tail;
        let split = if layout & 1 == 0 {
            ""
        } else if k % 2 == 0 {
            "train/"
        } else {
            "test/"
        };
        let class = if layout & 2 == 0 || k < 2 { "a" } else { "b" };
        let ext = if layout & 4 == 0 { "png" } else { "jpg" };
        let d = dir.path().join(format!("{split}{class}"));
        let _ = std::fs::create_dir_all(&d);
        let _ = std::fs::write(d.join(format!("{k}.{ext}")), file);
    }
    let _ = duet_datasets::image_folder(dir.path());
});
