//! The `duet` command (being written).
fn main() {}
