//! # duet-testing
//!
//! Test support shared by duet's golden suites (a dev-dependency, never published): reading
//! PyTorch reference fixtures (safetensors + a JSON manifest of typed cases), comparing
//! tensors at a tolerance, the device the suites run on, and the one golden driver: a table
//! from a case to the layer under test ([`under_test`]) run through either front-end
//! ([`every_layer_case`]).
//!
//! Only integration tests (`tests/*.rs`) use it. A `#[cfg(test)]` module inside a crate's
//! `src/` must not: through the dev-dependency cycle it would see a second copy of that crate's
//! types.

mod catalog;
mod fixture;
mod generic;
mod jvp;
mod manifest;
mod penalty;
mod per_example;
mod run;

pub use catalog::{covers, under_test, GenericCheck, ModuleBuilder, UnderTest, KINDS};
pub use fixture::{
    assert_close, case_tolerance_scale, errors, test_device, tolerance_scale, Fixture, Stored,
};
pub use generic::{both, check_generic, Counting};
pub use jvp::jvp_case;
pub use manifest::{cases, Case, Hyper};
pub use penalty::grad_penalty_case;
pub use per_example::assert_lenet_per_example;
pub use run::{every_layer_case, run_case, Api, LAYER_FIXTURES};
