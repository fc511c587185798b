//! One image file of an image folder (PNG or JPEG, recognised by content).
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let _ = duet_datasets::parse::image(std::path::Path::new("fuzz.png"), data);
});
