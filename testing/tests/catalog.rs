//! The catalog against the manifest: every case's kind is either in the table or one of the
//! module-only forms, and `KINDS` says exactly which.

use duet_testing::{cases, covers, under_test, LAYER_FIXTURES};

#[test]
fn the_table_and_its_kind_list_agree_on_every_case() {
    let all = cases(LAYER_FIXTURES, "layers");
    assert!(all.len() >= 40, "{} cases", all.len());
    for case in &all {
        assert_eq!(
            under_test(case).is_some(),
            covers(&case.kind),
            "{}: kind {}",
            case.name,
            case.kind
        );
    }
}

#[test]
#[should_panic(expected = "unknown kind `frobnicate`")]
fn a_kind_without_a_row_fails_loudly() {
    let mut case = cases(LAYER_FIXTURES, "layers").remove(0);
    case.kind = "frobnicate".into();
    let _ = under_test(&case);
}
