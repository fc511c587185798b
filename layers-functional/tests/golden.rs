//! The PyTorch golden cases (core/tests/fixtures/layers.*) run through the functional layers:
//! outputs and every gradient at 1e-5 relative / 1e-6 absolute, by the one driver of
//! `duet-testing` (its catalog maps each case to the layer). Cases whose layer form differs
//! from the op (cells vs whole-sequence recurrent layers, packed attention, embedding ids) are
//! covered by the core ops suite.

use duet_testing::{every_layer_case, Api};

#[test]
fn golden_cases_through_the_functional_layers() {
    let ran = every_layer_case(Api::Functional);
    eprintln!("{ran} cases ran");
    assert!(ran >= 46, "only {ran} cases ran");
}
