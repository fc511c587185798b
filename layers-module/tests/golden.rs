//! The PyTorch golden cases (core/tests/fixtures/layers.*) through the modules: outputs, input
//! gradients and parameter gradients at 1e-5 relative / 1e-6 absolute, and batch norm's running
//! statistics. Recurrent cells run through `Lstm`/`Gru` on a one-step sequence from the given
//! state; only the loss cases are skipped (losses are functions, not modules).

use duet_core::burn::module::Module;
use duet_core::burn::tensor::{Device, Tensor};
use duet_core::layers::{Conv1dConfig, Conv2dConfig, ConvTranspose2dConfig};
use duet_core::ops::{ConvSpec, ConvTransposeSpec, Padding, PoolSpec};
use duet_core::{
    load_module_params, load_module_state, module_state, value_and_grad_with_aux, DynTensor, Key,
    Mode, Params,
};
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
        let eps = || h["eps"].as_f64().unwrap();
        match kind {
            "linear" => {
                let w = transpose(p("weight"));
                let [i, o] = [w.dims()[0], w.dims()[1]];
                let tree =
                    x("x").nest("m", Params::new().with("weight", w).with("bias", p("bias")));
                check(
                    case,
                    &fx,
                    Linear::new(i, o, &mut rngs, &dev),
                    tree,
                    |m, x| m.forward(x.into_rank::<2>()).into(),
                    |n, g| if n == "weight" { transpose(g) } else { g },
                );
            }
            "conv2d" => {
                let w = p("weight").dims();
                let spec = ConvSpec {
                    stride: u("stride"),
                    padding: Padding::Explicit(u("padding")),
                    dilation: u("dilation"),
                    groups: u("groups"),
                };
                let c = Conv2dConfig::new(w[0], w[2]).with_spec(spec).build(
                    w[1] * spec.groups,
                    &mut rngs,
                    &dev,
                );
                let tree = x("x").nest(
                    "m",
                    Params::new()
                        .with("weight", p("weight"))
                        .with("bias", p("bias")),
                );
                check(
                    case,
                    &fx,
                    c,
                    tree,
                    |m, x| m.forward(x.into_rank::<4>()).into(),
                    same,
                );
            }
            "conv1d" => {
                let w = p("weight").dims();
                let spec = ConvSpec {
                    stride: u("stride"),
                    padding: Padding::Explicit(u("padding")),
                    ..Default::default()
                };
                let tree = x("x").nest(
                    "m",
                    Params::new()
                        .with("weight", p("weight"))
                        .with("bias", p("bias")),
                );
                check(
                    case,
                    &fx,
                    Conv1dConfig::new(w[0], w[2])
                        .with_spec(spec)
                        .build(w[1], &mut rngs, &dev),
                    tree,
                    |m, x| m.forward(x.into_rank::<3>()).into(),
                    same,
                );
            }
            "conv_transpose2d" => {
                let w = p("weight").dims();
                let spec = ConvTransposeSpec {
                    stride: u("stride"),
                    padding: u("padding"),
                    output_padding: u("output_padding"),
                    ..Default::default()
                };
                let tree = x("x").nest(
                    "m",
                    Params::new()
                        .with("weight", p("weight"))
                        .with("bias", p("bias")),
                );
                check(
                    case,
                    &fx,
                    ConvTranspose2dConfig::new(w[1], w[2])
                        .with_spec(spec)
                        .build(w[0], &mut rngs, &dev),
                    tree,
                    |m, x| m.forward(x.into_rank::<4>()).into(),
                    same,
                );
            }
            "max_pool2d" | "avg_pool2d" => {
                let spec = PoolSpec {
                    kernel: u("kernel"),
                    stride: u("stride"),
                    padding: u("padding"),
                };
                let include_pad = h.get("count_include_pad") != Some(&Value::Bool(false));
                if kind == "max_pool2d" {
                    check(
                        case,
                        &fx,
                        MaxPool2d::with_spec(spec),
                        x("x"),
                        |m, x| m.forward(x.into_rank::<4>()).into(),
                        same,
                    );
                } else {
                    check(
                        case,
                        &fx,
                        AvgPool2d::with_spec(spec, include_pad),
                        x("x"),
                        |m, x| m.forward(x.into_rank::<4>()).into(),
                        same,
                    );
                }
            }
            "batch_norm2d" => {
                let c = p("weight").dims()[0];
                let train = h["mode"] == "train";
                let (rm, rv) = if train {
                    (p("running_mean_before"), p("running_var_before"))
                } else {
                    (p("running_mean"), p("running_var"))
                };
                let mut bn = BatchNorm::new(c, &dev);
                bn.eps = eps();
                let bn = load_module_state(
                    bn,
                    &Params::new()
                        .with("running_mean", rm)
                        .with("running_var", rv),
                )
                .unwrap();
                let tree = x("x").nest(
                    "m",
                    Params::new()
                        .with("weight", p("weight"))
                        .with("bias", p("bias")),
                );
                let mode = if train {
                    Mode::Train(Key::new(0))
                } else {
                    Mode::Eval
                };
                let bn = check(
                    case,
                    &fx,
                    bn,
                    tree,
                    move |m, x| m.forward(x.into_rank::<4>(), mode).into(),
                    same,
                );
                if train {
                    let s = module_state(&bn);
                    assert_close(
                        &format!("{case}: running_mean"),
                        &s.get_dyn("running_mean").unwrap().to_vec(),
                        &fx.get(&format!("{case}.running_mean_after")).f32s,
                        1e-5,
                        1e-6,
                    );
                    assert_close(
                        &format!("{case}: running_var"),
                        &s.get_dyn("running_var").unwrap().to_vec(),
                        &fx.get(&format!("{case}.running_var_after")).f32s,
                        1e-5,
                        1e-6,
                    );
                }
            }
            "layer_norm" => {
                let tree = x("x").nest(
                    "m",
                    Params::new()
                        .with("weight", p("weight"))
                        .with("bias", p("bias")),
                );
                let mut ln = LayerNorm::new(p("weight").dims()[0], &dev);
                ln.eps = eps();
                check(
                    case,
                    &fx,
                    ln,
                    tree,
                    |m, x| m.forward(x.into_rank::<3>()).into(),
                    same,
                );
            }
            "prelu" => {
                let n = u("num_parameters");
                let tree = x("x").nest("m", Params::new().with("weight", p("weight")));
                check(
                    case,
                    &fx,
                    PRelu::new(n, &mut Rngs::new(0), &dev),
                    tree,
                    |m, x| m.forward_dyn(x),
                    same,
                );
            }
            "group_norm" => {
                let tree = x("x").nest(
                    "m",
                    Params::new()
                        .with("weight", p("weight"))
                        .with("bias", p("bias")),
                );
                let mut gn = GroupNorm::new(p("weight").dims()[0], u("groups"), &dev);
                gn.eps = eps();
                check(
                    case,
                    &fx,
                    gn,
                    tree,
                    |m, x| m.forward(x.into_rank::<4>()).into(),
                    same,
                );
            }
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
                    lin.insert(format!("{n}.bias"), inb.clone().slice([i * e..(i + 1) * e]));
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
            "activation" => {
                let f = h["function"].as_str().unwrap();
                let act: Act = f.parse().unwrap_or_else(|e| panic!("{case}: {e}"));
                check(
                    case,
                    &fx,
                    Activation::new(act),
                    x("x"),
                    |m, x| match x.rank() {
                        2 => m.forward(x.into_rank::<2>()).into(),
                        3 => m.forward(x.into_rank::<3>()).into(),
                        _ => m.forward(x.into_rank::<4>()).into(),
                    },
                    same,
                );
            }
            "adaptive_avg_pool2d" => {
                let o = u("output");
                check(
                    case,
                    &fx,
                    AdaptiveAvgPool2d::new([o, o]),
                    x("x"),
                    |m, x| m.forward(x.into_rank::<4>()).into(),
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
            "loss" => continue, // losses are functions (duet_core::ops::loss), not modules
            k => panic!("{case}: unknown kind {k}: teach this test"),
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
    assert!(ran >= 30, "only {ran} cases ran");
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
