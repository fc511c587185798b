//! MNIST IDX files, raw: the input is split into an images file and a labels file.
#![no_main]

use duet_datasets::parse;
use libfuzzer_sys::fuzz_target;
use std::path::Path;

fuzz_target!(|data: &[u8]| {
    let names: Vec<String> = (0..10).map(|i| i.to_string()).collect();
    // The first byte says where the labels file starts (as a share of the rest).
    let Some((&cut, rest)) = data.split_first() else {
        return;
    };
    let at = rest.len() * cut as usize / 255;
    let (images, labels) = rest.split_at(at);
    let _ = parse::idx_split(
        Path::new("train-images-idx3-ubyte"),
        images,
        Path::new("train-labels-idx1-ubyte"),
        labels,
        &names,
    );
    // The whole input as either file, with a valid other half.
    let ok_labels = [0, 0, 8, 1, 0, 0, 0, 1, 3];
    let _ = parse::idx_split(
        Path::new("i"),
        data,
        Path::new("l"),
        &ok_labels,
        &names,
    );
});
