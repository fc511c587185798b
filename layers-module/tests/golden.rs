//! The PyTorch golden cases (core/tests/fixtures/layers.*) through the modules: outputs, input
//! gradients and parameter gradients at 1e-5 relative / 1e-6 absolute, and batch norm's running
//! statistics. Activations, losses, adaptive pooling and recurrent cells have no module of their
//! own here (modules call the same `duet_core::ops` functions, tested in core) and are skipped by kind.

use duet_core::burn::module::Module;
use duet_core::burn::tensor::{Device, Tensor};
use duet_core::golden::{assert_close, Fixture};
use duet_core::ops::{ConvSpec, ConvTransposeSpec, Padding, PoolSpec};
use duet_core::{
    load_module_params, load_module_state, module_state, value_and_grad_with_aux, DynTensor, Key,
    Mode, Params,
};
use duet_module::*;
use serde_json::Value;

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
    let dev = Device::flex();
    let probe = t(fx, &format!("{case}.probe"), &dev);
    let (_, y, g) = value_and_grad_with_aux(
        |p| {
            let lifted = load_module_params(m.clone(), &p.subtree("m")).unwrap();
            let y = run(&lifted, p.get_dyn("x").unwrap().clone());
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
        let key = format!("{case}.grad_{name}");
        if fx.contains(&key) {
            assert_close(
                &format!("{case}: grad_{name}"),
                &map_grad(name, grad.clone()).to_vec(),
                &fx.get(&key).f32s,
                1e-5,
                1e-6,
            );
        }
    }
    m
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
                let c = Conv2d::with_spec(w[1] * spec.groups, w[0], w[2], spec, &mut rngs, &dev);
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
                    Conv1d::new(w[1], w[0], w[2], spec, &mut rngs, &dev),
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
                    ConvTranspose2d::new(w[0], w[1], w[2], spec, &mut rngs, &dev),
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
                if h.get("count_include_pad") == Some(&Value::Bool(false)) {
                    continue; // the module counts padding (PyTorch's default); the op covers the rest
                }
                if kind == "max_pool2d" {
                    check(
                        case,
                        &fx,
                        MaxPool2d { spec },
                        x("x"),
                        |m, x| m.forward(x.into_rank::<4>()).into(),
                        same,
                    );
                } else {
                    check(
                        case,
                        &fx,
                        AvgPool2d { spec },
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
                let bn = load_module_state(
                    BatchNorm::new(c, &dev),
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
                check(
                    case,
                    &fx,
                    LayerNorm::new(p("weight").dims()[0], &dev),
                    tree,
                    |m, x| m.forward(x.into_rank::<3>()).into(),
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
                check(
                    case,
                    &fx,
                    GroupNorm::new(u("groups"), p("weight").dims()[0], &dev),
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
                let (k, v) = (p("k").into_rank::<3>(), p("v").into_rank::<3>());
                let mha = MultiHeadAttention::new(e, u("heads"), &mut rngs, &dev);
                check(
                    case,
                    &fx,
                    mha,
                    Params::new().with("x", p("q")).nest("m", lin),
                    move |m, q| {
                        m.forward(
                            q.into_rank::<3>(),
                            k.clone(),
                            v.clone(),
                            &Default::default(),
                        )
                        .into()
                    },
                    |n, g| {
                        if n == "out_proj.weight" {
                            transpose(g)
                        } else {
                            g
                        }
                    },
                );
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
            "activation" | "loss" | "lstm_cell" | "gru_cell" | "adaptive_avg_pool2d" => continue,
            k => panic!("{case}: unknown kind {k}: teach this test"),
        }
        ran += 1;
    }
    assert!(ran >= 16, "only {ran} cases ran");
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
