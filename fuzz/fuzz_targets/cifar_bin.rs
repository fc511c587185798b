//! CIFAR-10 and CIFAR-100 binary records, and a class-names file.
#![no_main]

use duet_datasets::parse;
use libfuzzer_sys::fuzz_target;
use std::path::Path;

fuzz_target!(|data: &[u8]| {
    let names = |n: usize| (0..n).map(|i| format!("c{i}")).collect::<Vec<_>>();
    let path = Path::new("fuzz.bin");
    let _ = parse::cifar10_records(path, data, &names(10));
    let _ = parse::cifar100_records(path, data, true, &names(100));
    let _ = parse::cifar100_records(path, data, false, &names(20));
    let _ = parse::class_names(path, data, 10);
});
