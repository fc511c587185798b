//! MNIST IDX files, gzipped: the input is the `.gz` of the images file (then of the labels).
#![no_main]

use duet_datasets::parse;
use libfuzzer_sys::fuzz_target;
use std::path::Path;

fuzz_target!(|data: &[u8]| {
    let names: Vec<String> = (0..10).map(|i| i.to_string()).collect();
    let labels = [0, 0, 8, 1, 0, 0, 0, 1, 3];
    let _ = parse::idx_split(
        Path::new("train-images-idx3-ubyte.gz"),
        data,
        Path::new("train-labels-idx1-ubyte"),
        &labels,
        &names,
    );
    let images = [0, 0, 8, 3, 0, 0, 0, 1, 0, 0, 0, 1, 0, 0, 0, 1, 200];
    let _ = parse::idx_split(
        Path::new("i"),
        &images,
        Path::new("train-labels-idx1-ubyte.gz"),
        data,
        &names,
    );
});
