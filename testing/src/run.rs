//! The one golden driver: a case of `layers.*` through the functional layer or the module of
//! [`crate::catalog`], against PyTorch's output, every gradient and batch norm's running
//! statistics.

use crate::catalog::{under_test, UnderTest};
use crate::fixture::{assert_close, case_tolerance_scale, test_device, Fixture};
use crate::manifest::{cases, Case};
use duet_core::burn::tensor::Device;
use duet_core::checkpoint::torch::{layout, Layout};
use duet_core::{
    load_module_params, load_module_state, module_state, value_and_grad_with_aux, DynTensor, Key,
    Mode, Params,
};
use std::collections::BTreeMap;

/// Where `layers.json` and `layers.safetensors` live.
pub const LAYER_FIXTURES: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../core/tests/fixtures");

/// Which front-end runs a case.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Api {
    /// `duet_functional`: the config as a layer over a params tree.
    Functional,
    /// `duet_module`: the module the config builds, params loaded into its fields.
    Module,
}

/// A fixture tensor in duet's layout: integer values as floats, a scalar as `[1]`, transposed
/// when `layout` says so.
pub(crate) fn leaf(fx: &Fixture, name: &str, l: Layout, dev: &Device) -> DynTensor {
    let s = fx.get(name);
    let vals = if s.f32s.is_empty() {
        s.i64s.iter().map(|&i| i as f32).collect()
    } else {
        s.f32s.clone()
    };
    let shape = if s.shape.is_empty() {
        vec![1]
    } else {
        s.shape.clone()
    };
    let t = DynTensor::from_floats(vals, &shape, dev);
    match l {
        Layout::Same => t,
        Layout::Transpose => t.into_rank::<2>().transpose().into(),
    }
}

/// Runs every case of `layers.*` that the catalog covers in `api` on the test device; returns
/// how many ran.
///
/// # Panics
/// The first case whose output, gradients or state differ from PyTorch's (naming it).
pub fn every_layer_case(api: Api) -> usize {
    let fx = Fixture::open(format!("{LAYER_FIXTURES}/layers.safetensors"));
    let dev = test_device();
    let mut ran = 0;
    for case in cases(LAYER_FIXTURES, "layers") {
        if let Some(ut) = under_test(&case) {
            ran += usize::from(run_case(&case, &ut, &fx, api, &dev));
        }
    }
    ran
}

/// Runs one case in `api`: the value and gradient of `sum(y * probe)` with respect to the
/// layer's params and float inputs; returns `false` if `api` has no form of this layer.
///
/// # Panics
/// A mismatch with PyTorch, or a `grad_*` tensor of the case that was not compared.
pub fn run_case(case: &Case, ut: &UnderTest, fx: &Fixture, api: Api, dev: &Device) -> bool {
    let module = match (api, &ut.module) {
        (Api::Module, None) => return false,
        (Api::Module, Some(build)) => Some(build),
        (Api::Functional, _) => None,
    };
    let name = &case.name;
    let k = case_tolerance_scale(dev, case.hyper.str("function"));
    let (rel, abs) = (1e-5 * k, 1e-6 * k);
    let get = |n: &str, l: Layout| leaf(fx, &format!("{name}.{n}"), l, dev);
    let (mut tree, mut state) = (Params::new(), Params::new());
    for p in &case.params {
        let t = get(p, layout(&case.kind, p));
        match p.starts_with("running_") {
            true => state.insert(p, t),
            false => tree.insert(format!("layer.{p}"), t),
        }
    }
    let train = case.hyper.train();
    if case.kind == "batch_norm2d" && train {
        state.insert("running_mean", get("running_mean_before", Layout::Same));
        state.insert("running_var", get("running_var_before", Layout::Same));
    }
    // Float inputs are leaves (their gradients are compared); integer ones enter as constants.
    let mut constants = BTreeMap::new();
    for i in &case.inputs {
        match fx.get(&format!("{name}.{i}")).f32s.is_empty() {
            true => {
                constants.insert(i.clone(), get(i, Layout::Same));
            }
            false => tree.insert(format!("in.{i}"), get(i, Layout::Same)),
        }
    }
    let mode = if train {
        Mode::Train(Key::new(0))
    } else {
        Mode::Eval
    };
    let probe = get("probe", Layout::Same);
    let built = module.map(|build| {
        let input = &case.tensors[&case.inputs[0]];
        load_module_state(build(input, dev), &state).expect("the module's state paths")
    });
    let (_, (y, new_state), g) = value_and_grad_with_aux(
        |p| {
            let input = |i: &String| {
                p.get_dyn(&format!("in.{i}"))
                    .cloned()
                    .unwrap_or_else(|_| constants[i].clone())
            };
            let xs: Vec<DynTensor> = case.inputs.iter().map(input).collect();
            let (y, s) = match &built {
                None => {
                    let (mut ys, s) = ut.functional.forward(&p.subtree("layer"), &state, xs, mode);
                    (ys.remove(0), s)
                }
                Some(m) => {
                    let lifted = load_module_params(m.clone(), &p.subtree("layer"))
                        .expect("the module's paths");
                    let y = lifted.forward(xs.into_iter().next().expect("one input"), mode);
                    (y, module_state(&lifted))
                }
            };
            (
                (y.clone() * probe.clone()).sum(),
                (y.without_autodiff(), s.without_autodiff()),
            )
        },
        &tree,
    );
    let what = |x: &str| format!("{name} ({api:?}): {x}");
    assert_close(
        &what("output"),
        &y.to_vec(),
        &fx.get(&format!("{name}.output")).f32s,
        rel,
        abs,
    );
    let mut compared = Vec::new();
    for path in tree.paths() {
        let (prefix, leaf_name) = path.split_once('.').expect("in.* or layer.*");
        let key = format!("grad_{}", leaf_name.replace('.', "_"));
        if !case.tensors.contains_key(&key) {
            continue;
        }
        let got = g.get_dyn(path).expect("a gradient per leaf").clone();
        let got = match (prefix, layout(&case.kind, leaf_name)) {
            ("layer", Layout::Transpose) => got.into_rank::<2>().transpose().into(),
            _ => got,
        };
        assert_close(
            &what(&key),
            &got.to_vec(),
            &fx.get(&format!("{name}.{key}")).f32s,
            rel,
            abs,
        );
        compared.push(key);
    }
    for key in case.tensors.keys().filter(|k| k.starts_with("grad_")) {
        assert!(
            compared.contains(key),
            "{}",
            what(&format!("{key} was not compared ({compared:?})"))
        );
    }
    if case.kind == "batch_norm2d" && train {
        for s in ["running_mean", "running_var"] {
            let got = new_state.get_dyn(s).expect("running statistics").to_vec();
            assert_close(
                &what(s),
                &got,
                &fx.get(&format!("{name}.{s}_after")).f32s,
                rel,
                abs,
            );
        }
    }
    true
}
