//! Every case of `fixtures/layers.json` (PyTorch, float64 reference): outputs and every gradient
//! of `sum(output * probe)`, at 1e-5 relative (max-abs error over max-abs reference) or 1e-6
//! absolute.
//!
//! Driven by the manifest, so the fixtures can be regenerated in place with another seed (or
//! other shapes) by `fixtures/generate.py`: hyper-parameters, shapes and ranks are read from the
//! files, never hard-coded. An unknown case kind, function, reduction or hyper-parameter fails
//! the test, so nothing is skipped silently.

use duet_core::burn::tensor::Device;
use duet_core::{value_and_grad_with_aux, DynTensor, Params};
use duet_testing::{assert_close, case_tolerance_scale, errors, test_device, Fixture};
use serde_json::Value;

const REL: f64 = 1e-5;
const ABS: f64 = 1e-6;
thread_local! {
    /// The tolerance factor of the device and case under test ([`case_tolerance_scale`]).
    static SCALE: std::cell::Cell<f64> = const { std::cell::Cell::new(1.0) };
    static WORST: std::cell::Cell<f64> = const { std::cell::Cell::new(0.0) };
}

/// [`assert_close`] at the suite's tolerance, remembering the worst relative error seen.
fn check(what: &str, actual: &[f32], expected: &[f32]) {
    let (rel, _) = errors(actual, expected);
    WORST.with(|w| w.set(w.get().max(rel)));
    let scale = SCALE.with(|s| s.get());
    assert_close(what, actual, expected, REL * scale, ABS * scale);
}

const DIR: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures");

mod golden_support;

use golden_support::{forward, transposed, Case};

/// Transposes a row-major `[r, c]` matrix.
fn t2(v: &[f32], shape: &[usize]) -> Vec<f32> {
    let (r, c) = (shape[0], shape[1]);
    (0..c)
        .flat_map(|j| (0..r).map(move |i| v[i * c + j]))
        .collect()
}

fn non_scalar(s: &[usize]) -> Vec<usize> {
    if s.is_empty() {
        vec![1]
    } else {
        s.to_vec()
    }
}

/// Runs one case; returns how many tensors were compared.
fn run_case(name: &str, entry: &Value, fx: &Fixture, dev: &Device) -> usize {
    let kind = entry["kind"].as_str().unwrap();
    let list = |k: &str| -> Vec<String> {
        entry[k]
            .as_array()
            .unwrap()
            .iter()
            .map(|v| v.as_str().unwrap().to_string())
            .collect()
    };
    let inputs = list("inputs");
    // Float leaves in duet layout; integer inputs (labels, ids, masks) stay constants.
    let mut leaves = Params::new();
    for n in inputs.iter().chain(&list("params")) {
        let s = fx.get(&format!("{name}.{n}"));
        if s.f32s.is_empty() && !s.i64s.is_empty() {
            continue;
        }
        let t = if transposed(kind, n) {
            assert_eq!(s.shape.len(), 2, "{name}: {n} should be a matrix");
            DynTensor::from_floats(t2(&s.f32s, &s.shape), &[s.shape[1], s.shape[0]], dev)
        } else {
            DynTensor::from_floats(s.f32s.clone(), &non_scalar(&s.shape), dev)
        };
        leaves.insert(n.clone(), t);
    }
    let probe = fx.get(&format!("{name}.probe"));
    let probe_shape = non_scalar(&probe.shape);
    let catalog_only = std::cell::Cell::new(false);
    let (_, (out, stats), grads) = value_and_grad_with_aux(
        |p| {
            let c = Case {
                name,
                kind,
                hyper: &entry["hyper"],
                inputs: inputs.clone(),
                p,
                fx,
                dev,
            };
            let Some((y, stats)) = forward(&c) else {
                catalog_only.set(true);
                let any = p.iter().next().expect("a leaf").1.clone();
                return ((any.clone() * 0.0).sum(), (any, None));
            };
            if kind == "loss" {
                // Reduced losses are `[1]` (PyTorch: `[]`); unreduced ones may be flattened.
                assert_eq!(y.num_elements(), probe.f32s.len(), "{name}: output size");
            } else {
                assert_eq!(y.dims(), probe_shape, "{name}: output shape");
            }
            let y = y.reshape(&probe_shape);
            let pr = DynTensor::from_floats(probe.f32s.clone(), &probe_shape, dev);
            ((y.clone() * pr).sum(), (y.without_autodiff(), stats))
        },
        &leaves,
    );
    if catalog_only.get() {
        return 0; // a layer with no typed op: duet-testing's catalog runs it in both APIs
    }
    let want = |k: &str| fx.get(&format!("{name}.{k}")).f32s.clone();
    check(&format!("{name}: output"), &out.to_vec(), &want("output"));
    let mut checked = 1;
    let expected: Vec<&String> = entry["tensors"]
        .as_object()
        .unwrap()
        .keys()
        .filter(|k| k.starts_with("grad_"))
        .collect();
    for key in &expected {
        let n = &key["grad_".len()..];
        let got = grads
            .get_dyn(n)
            .unwrap_or_else(|_| {
                panic!("{name}: `{key}` is in the manifest but `{n}` is no float leaf")
            })
            .to_vec();
        let w = fx.get(&format!("{name}.{key}"));
        let got = if transposed(kind, n) {
            t2(&got, &[w.shape[1], w.shape[0]])
        } else {
            got
        };
        check(&format!("{name}: {key}"), &got, &w.f32s);
        checked += 1;
    }
    if let Some((rm, rv)) = stats {
        check(
            &format!("{name}: running_mean"),
            &rm,
            &want("running_mean_after"),
        );
        check(
            &format!("{name}: running_var"),
            &rv,
            &want("running_var_after"),
        );
        checked += 2;
    } else {
        assert!(
            !entry["tensors"]
                .as_object()
                .unwrap()
                .contains_key("running_mean_after"),
            "{name}: running statistics in the manifest were not checked"
        );
    }
    checked
}

#[test]
fn every_golden_layer_case_matches_pytorch() {
    let m: Value =
        serde_json::from_str(&std::fs::read_to_string(format!("{DIR}/layers.json")).unwrap())
            .unwrap();
    let fx = Fixture::open(format!("{DIR}/layers.safetensors"));
    let dev = test_device();
    let cases = m["cases"].as_object().unwrap();
    assert!(!cases.is_empty(), "the manifest has no cases");
    let mut failures = Vec::new();
    let mut compared = 0;
    for (name, entry) in cases {
        WORST.with(|w| w.set(0.0));
        let scale = case_tolerance_scale(&dev, entry["hyper"]["function"].as_str());
        SCALE.with(|s| s.set(scale));
        let r = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
            run_case(name, entry, &fx, &dev)
        }));
        match r {
            Ok(n) => {
                compared += n;
                eprintln!(
                    "ok   {name} ({n} tensors, worst relative error {:.1e})",
                    WORST.with(|w| w.get())
                );
            }
            Err(e) => {
                let msg = e
                    .downcast_ref::<String>()
                    .cloned()
                    .or_else(|| e.downcast_ref::<&str>().map(|s| s.to_string()))
                    .unwrap_or_default();
                eprintln!("FAIL {name}: {msg}");
                failures.push(format!("{name}: {msg}"));
            }
        }
    }
    eprintln!("{} cases, {compared} tensors compared", cases.len());
    assert!(
        failures.is_empty(),
        "{} of {} golden cases failed:\n{}",
        failures.len(),
        cases.len(),
        failures.join("\n")
    );
}

fn first_case(kind: &str) -> (String, Value) {
    let m: Value =
        serde_json::from_str(&std::fs::read_to_string(format!("{DIR}/layers.json")).unwrap())
            .unwrap();
    let (name, entry) = m["cases"]
        .as_object()
        .unwrap()
        .iter()
        .find(|(_, e)| e["kind"] == kind)
        .map(|(n, e)| (n.clone(), e.clone()))
        .unwrap_or_else(|| panic!("no `{kind}` case in the manifest"));
    (name, entry)
}

#[test]
#[should_panic(expected = "unknown case kind `frobnicate`")]
fn a_case_kind_the_test_does_not_know_fails() {
    let (name, mut entry) = first_case("activation");
    entry["kind"] = "frobnicate".into();
    run_case(
        &name,
        &entry,
        &Fixture::open(format!("{DIR}/layers.safetensors")),
        &Device::flex(),
    );
}

#[test]
#[should_panic(expected = "unknown activation `frobnicate`")]
fn an_activation_the_test_does_not_know_fails() {
    let (name, mut entry) = first_case("activation");
    entry["hyper"]["function"] = "frobnicate".into();
    run_case(
        &name,
        &entry,
        &Fixture::open(format!("{DIR}/layers.safetensors")),
        &Device::flex(),
    );
}

#[test]
#[should_panic(expected = "hyper-parameter `ceil_mode` is unknown")]
fn a_hyper_parameter_the_test_does_not_know_fails() {
    let (name, mut entry) = first_case("max_pool2d");
    entry["hyper"]["ceil_mode"] = true.into();
    run_case(
        &name,
        &entry,
        &Fixture::open(format!("{DIR}/layers.safetensors")),
        &Device::flex(),
    );
}

#[test]
#[should_panic(expected = "output: relative error")]
fn a_wrong_hyper_parameter_is_caught_by_the_comparison() {
    // Guards against a comparison that passes vacuously.
    let (name, mut entry) = first_case("layer_norm");
    entry["hyper"]["eps"] = 0.5.into();
    run_case(
        &name,
        &entry,
        &Fixture::open(format!("{DIR}/layers.safetensors")),
        &Device::flex(),
    );
}

/// Guards the fixtures against cases that pass whatever eps is: for batch norm (train and eval),
/// layer norm and group norm, some case must fail its comparison once eps is set to 0.
#[test]
fn every_norm_kind_has_a_case_where_eps_matters() {
    let m: Value =
        serde_json::from_str(&std::fs::read_to_string(format!("{DIR}/layers.json")).unwrap())
            .unwrap();
    let fx = Fixture::open(format!("{DIR}/layers.safetensors"));
    let dev = Device::flex();
    let cases = m["cases"].as_object().unwrap();
    for (kind, mode) in [
        ("batch_norm2d", "train"),
        ("batch_norm2d", "eval"),
        ("layer_norm", ""),
        ("group_norm", ""),
    ] {
        let matching: Vec<_> = cases
            .iter()
            .filter(|(_, e)| e["kind"] == kind && e["hyper"]["mode"].as_str().unwrap_or("") == mode)
            .collect();
        assert!(!matching.is_empty(), "no {kind} {mode} case");
        let sensitive = matching.iter().any(|(name, e)| {
            let mut e = (*e).clone();
            e["hyper"]["eps"] = 0.0.into();
            let r = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
                run_case(name, &e, &fx, &dev)
            }));
            r.err()
                .and_then(|p| p.downcast_ref::<String>().cloned())
                .is_some_and(|msg| msg.contains("relative error"))
        });
        assert!(
            sensitive,
            "every {kind} {mode} case passes with eps = 0: add one whose variance is near eps"
        );
    }
}
