//! # duet-testing
//!
//! Test support shared by duet's golden suites (a dev-dependency, never published): reading
//! PyTorch reference fixtures (safetensors + a JSON manifest), comparing tensors at a tolerance,
//! and the device the suites run on.
//!
//! Only integration tests (`tests/*.rs`) use it. A `#[cfg(test)]` module inside a crate's
//! `src/` must not: through the dev-dependency cycle it would see a second copy of that crate's
//! types.

mod fixture;

pub use fixture::{
    assert_close, case_tolerance_scale, errors, test_device, tolerance_scale, Fixture, Stored,
};
