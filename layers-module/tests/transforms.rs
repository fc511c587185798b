//! Forward mode through the module API against PyTorch's `torch.func`
//! (core/tests/fixtures/transforms.*): the jvp of every layer case the catalog builds a module
//! for, through `ValForward::forward_val` on `Dual` values (params loaded into the module, their
//! tangents read by path). At 1e-4 relative.

use duet_testing::{cases, jvp_case, test_device, under_test, Api, Fixture};

const DIR: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../core/tests/fixtures");

#[test]
fn the_jvp_of_every_catalog_module_matches_torch_func() {
    let (fx, dev) = (
        Fixture::open(format!("{DIR}/transforms.safetensors")),
        test_device(),
    );
    let mut ran = Vec::new();
    for case in cases(DIR, "transforms")
        .iter()
        .filter(|c| c.name.starts_with("jvp."))
    {
        let Some(ut) = under_test(case) else { continue };
        if jvp_case(&ut, Api::Module, case, &fx, &dev) {
            ran.push(case.name.clone());
        }
    }
    eprintln!("{} cases: {ran:?}", ran.len());
    assert!(ran.len() >= 29, "only {} cases: {ran:?}", ran.len());
}
