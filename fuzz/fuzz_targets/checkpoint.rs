//! A checkpoint file: safetensors header, duet metadata (`duet.trees`, ...), every tree.
#![no_main]

use duet_core::burn::tensor::Device;
use duet_core::{CheckpointFile, LoadOptions};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(file) = CheckpointFile::from_bytes("fuzz.safetensors".into(), data.to_vec()) else {
        return;
    };
    let device = Device::flex();
    let _ = format!("{:?}", file.metadata());
    for name in file.tree_names() {
        if let Ok(params) = file.tree(name, &device) {
            let _ = file.load_like(name, &params, &LoadOptions::default(), &device);
            let _ = file.load_like(name, &params, &LoadOptions::partial(), &device);
        }
    }
});
