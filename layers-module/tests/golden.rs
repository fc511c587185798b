//! The PyTorch golden cases (core/tests/fixtures/layers.*) through the modules: outputs, input
//! gradients and parameter gradients at 1e-5 relative / 1e-6 absolute, and batch norm's running
//! statistics. The catalog's cases run through duet-testing's driver; the module-only forms here:
//! recurrent cells through `Lstm`/`Gru` on a one-step sequence from the given state, attention
//! with separate projections, embedding on integer ids. Losses are functions, not modules.

use duet_core::burn::module::Module;
use duet_core::burn::tensor::{Device, Tensor};
use duet_core::{load_module_params, value_and_grad_with_aux, DynTensor, Params};
use duet_module::*;
use duet_testing::{assert_close, Fixture};
use serde_json::Value;
use std::sync::Mutex;

/// The `grad_*` fixture keys compared for the current case.
static COMPARED: Mutex<Vec<String>> = Mutex::new(Vec::new());

const DIR: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../core/tests/fixtures");

fn t(fx: &Fixture, name: &str, dev: &Device) -> DynTensor {
    let s = fx.get(name);
    DynTensor::from_floats(s.f32s.clone(), &s.shape, dev)
}

fn transpose(x: DynTensor) -> DynTensor {
    x.into_rank::<2>().transpose().into()
}

/// Runs `m` on input `x` (a tree leaf) and its params from `tree` (prefix `m.`): output, grads.
fn check<M: Module>(
    case: &str,
    fx: &Fixture,
    m: M,
    tree: Params,
    run: impl Fn(&M, DynTensor) -> DynTensor,
    map_grad: impl Fn(&str, DynTensor) -> DynTensor,
) -> M {
    let run = move |m: &M, p: &Params| run(m, p.get_dyn("x").unwrap().clone());
    check_inputs(case, fx, m, tree, run, map_grad)
}

/// As [`check`] with every non-`m.` leaf of `tree` an input (`x`, `h`, `c`, ...).
fn check_inputs<M: Module>(
    case: &str,
    fx: &Fixture,
    m: M,
    tree: Params,
    run: impl Fn(&M, &Params) -> DynTensor,
    map_grad: impl Fn(&str, DynTensor) -> DynTensor,
) -> M {
    let dev = Device::flex();
    let probe = t(fx, &format!("{case}.probe"), &dev);
    let (_, y, g) = value_and_grad_with_aux(
        |p| {
            let lifted = load_module_params(m.clone(), &p.subtree("m")).unwrap();
            let y = run(&lifted, p);
            ((y.clone() * probe.clone()).sum(), y.without_autodiff())
        },
        &tree,
    );
    assert_close(
        &format!("{case}: output"),
        &y.to_vec(),
        &fx.get(&format!("{case}.output")).f32s,
        1e-5,
        1e-6,
    );
    for (path, grad) in g.iter() {
        let name = path.strip_prefix("m.").unwrap_or(path);
        compare(
            fx,
            case,
            &format!("grad_{}", name.replace('.', "_")),
            &map_grad(name, grad.clone()),
        );
    }
    m
}

/// Compares `got` with `{case}.{name}` if the fixture has it, and records the comparison.
fn compare(fx: &Fixture, case: &str, name: &str, got: &DynTensor) {
    let key = format!("{case}.{name}");
    if fx.contains(&key) {
        assert_close(
            &format!("{case}: {name}"),
            &got.to_vec(),
            &fx.get(&key).f32s,
            1e-5,
            1e-6,
        );
        COMPARED.lock().unwrap().push(name.to_string());
    }
}

#[test]
fn golden_cases_through_the_modules() {
    let ran = duet_testing::every_layer_case(duet_testing::Api::Module);
    eprintln!("{ran} cases ran");
    assert!(ran >= 39, "only {ran} cases ran");
}

/// The cases whose module differs from the op the case was generated from: attention with
/// separate projections (PyTorch packs them), embedding on integer ids, the recurrent cells as
/// one step of the sequence layers.
#[test]
fn golden_cases_of_the_module_only_forms() {
    let m: Value =
        serde_json::from_str(&std::fs::read_to_string(format!("{DIR}/layers.json")).unwrap())
            .unwrap();
    let fx = Fixture::open(format!("{DIR}/layers.safetensors"));
    let dev = Device::flex();
    let mut rngs = Rngs::new(0);
    let mut ran = 0;
    for (case, e) in m["cases"].as_object().unwrap() {
        let (kind, h) = (e["kind"].as_str().unwrap(), &e["hyper"]);
        let u = |k: &str| h[k].as_u64().unwrap() as usize;
        let p = |n: &str| t(&fx, &format!("{case}.{n}"), &dev);
        let x = |n: &str| Params::new().with("x", p(n));
        let same = |_: &str, g: DynTensor| g;
        match kind {
            "multi_head_attention" => {
                let e = u("embed_dim");
                let inw = p("in_proj_weight").into_rank::<2>();
                let inb = p("in_proj_bias").into_rank::<1>();
                let mut lin = Params::new();
                for (i, n) in ["q_proj", "k_proj", "v_proj"].iter().enumerate() {
                    lin.insert(
                        format!("{n}.weight"),
                        inw.clone().slice([i * e..(i + 1) * e, 0..e]).transpose(),
                    );
                    lin.insert(format!("{n}.bias"), inb.clone().slice(i * e..(i + 1) * e));
                }
                lin.insert("out_proj.weight", transpose(p("out_proj_weight")));
                lin.insert("out_proj.bias", p("out_proj_bias"));
                let mha = MultiHeadAttention::new(e, u("heads"), &mut rngs, &dev);
                let tree = Params::new()
                    .with("q", p("q"))
                    .with("k", p("k"))
                    .with("v", p("v"))
                    .nest("m", lin);
                // The packed PyTorch in-projection gradients: rows [q; k; v] of the transposes.
                let grads = std::cell::RefCell::new(Params::new());
                check_inputs(
                    case,
                    &fx,
                    mha,
                    tree,
                    |m, p| {
                        let get = |n: &str| p.get::<3>(n).unwrap();
                        m.forward(get("q"), get("k"), get("v"), &Default::default())
                            .into()
                    },
                    |n, g| {
                        let g = if n.ends_with("weight") {
                            transpose(g)
                        } else {
                            g
                        };
                        grads.borrow_mut().insert(n, g.clone());
                        g
                    },
                );
                let g = grads.into_inner();
                for part in ["weight", "bias"] {
                    let packed = ["q_proj", "k_proj", "v_proj"]
                        .map(|n| g.get_dyn(&format!("{n}.{part}")).unwrap().clone());
                    compare(
                        &fx,
                        case,
                        &format!("grad_in_proj_{part}"),
                        &DynTensor::cat(packed.to_vec(), 0),
                    );
                }
            }
            "embedding" => {
                let ids = fx.int::<2>(&format!("{case}.ids"), &dev);
                let emb = Embedding::new(10, 4, &mut rngs, &dev);
                let tree = Params::new()
                    .with("x", Tensor::<1>::zeros([1], &dev))
                    .nest("m", Params::new().with("weight", p("weight")));
                check(
                    case,
                    &fx,
                    emb,
                    tree,
                    move |m, _| m.forward(ids.clone()).into(),
                    same,
                );
            }
            "lstm_cell" | "gru_cell" => {
                let hid = p("h").dims()[1];
                let input = p("x").dims()[1];
                let weights = Params::new()
                    .with("weight_ih", transpose(p("weight_ih")))
                    .with("weight_hh", transpose(p("weight_hh")))
                    .with("bias_ih", p("bias_ih"))
                    .with("bias_hh", p("bias_hh"));
                let tree = x("x").with("h", p("h"));
                let back = |n: &str, g: DynTensor| {
                    if n.starts_with("weight") {
                        transpose(g)
                    } else {
                        g
                    }
                };
                if kind == "lstm_cell" {
                    // The sequence layer on one step, from the given (h, c): output cat(h', c').
                    let run = |m: &Lstm, p: &Params| {
                        let seq = p.get::<2>("x").unwrap().unsqueeze_dim::<3>(1);
                        let (_, (h, c)) = m.forward_with_state(
                            seq,
                            p.get::<2>("h").unwrap(),
                            p.get::<2>("c").unwrap(),
                        );
                        Tensor::cat(vec![h, c], 1).into()
                    };
                    let lstm = Lstm::new(input, hid, &mut rngs, &dev);
                    check_inputs(
                        case,
                        &fx,
                        lstm,
                        tree.with("c", p("c")).nest("m", weights),
                        run,
                        back,
                    );
                } else {
                    let run = |m: &Gru, p: &Params| {
                        let seq = p.get::<2>("x").unwrap().unsqueeze_dim::<3>(1);
                        m.forward_with_state(seq, p.get::<2>("h").unwrap()).1.into()
                    };
                    let gru = Gru::new(input, hid, &mut rngs, &dev);
                    check_inputs(case, &fx, gru, tree.nest("m", weights), run, back);
                }
            }
            _ => continue, // the catalog's cases: `golden_cases_through_the_modules`
        }
        let compared = std::mem::take(&mut *COMPARED.lock().unwrap());
        for (name, _) in e["tensors"].as_object().unwrap() {
            if name.starts_with("grad_") {
                assert!(
                    compared.contains(name),
                    "{case}: {name} was not compared (compared {compared:?})"
                );
            }
        }
        ran += 1;
    }
    assert!(ran >= 4, "only {ran} cases ran");
}

#[test]
fn a_checkpoint_with_a_wrong_shape_names_the_path() {
    let dev = Device::flex();
    let fc = Linear::new(4, 3, &mut Rngs::new(0), &dev);
    let bad = Params::new()
        .with("weight", Tensor::<2>::zeros([3, 4], &dev))
        .with("bias", Tensor::<1>::zeros([3], &dev));
    let e = load_module_params(fc, &bad).unwrap_err().to_string();
    assert!(
        e.contains("weight") && e.contains("[4, 3]") && e.contains("[3, 4]"),
        "{e}"
    );
}
