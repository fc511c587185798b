//! The PyTorch golden cases (core/tests/fixtures/layers.*) run through the functional layers:
//! outputs and every gradient at 1e-5 relative / 1e-6 absolute. Cases whose layer form differs
//! from the op (cells vs whole-sequence recurrent layers, packed attention, embedding ids) are
//! covered by the core ops suite; every other case of the manifest must be handled here.

use duet_core::burn::tensor::Device;
use duet_core::ops::{ConvSpec, ConvTransposeSpec, CrossEntropy, Padding, PoolSpec};
use duet_core::{value_and_grad_with_aux, DynTensor, Params};
use duet_functional::*;
use duet_testing::{assert_close, Fixture};
use serde_json::Value;

const DIR: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../core/tests/fixtures");

fn u(h: &Value, k: &str) -> usize {
    h[k].as_u64().unwrap() as usize
}

/// The layer for a case, or `None` for the kinds covered only by the ops suite.
fn layer_for(
    case: &str,
    kind: &str,
    h: &Value,
    out_channels: usize,
    kernel: usize,
) -> Option<Box<dyn Layer>> {
    Some(match kind {
        "linear" => Box::new(Dense::new(out_channels)),
        "conv2d" => Box::new(Conv2d::new(out_channels, kernel).with_spec(ConvSpec {
            stride: u(h, "stride"),
            padding: Padding::Explicit(u(h, "padding")),
            dilation: u(h, "dilation"),
            groups: u(h, "groups"),
        })),
        "conv1d" => Box::new(Conv1d::new(out_channels, kernel).with_spec(ConvSpec {
            stride: u(h, "stride"),
            padding: Padding::Explicit(u(h, "padding")),
            ..Default::default()
        })),
        "conv_transpose2d" => Box::new(ConvTranspose2d::new(out_channels, kernel).with_spec(
            ConvTransposeSpec {
                stride: u(h, "stride"),
                padding: u(h, "padding"),
                output_padding: u(h, "output_padding"),
                ..Default::default()
            },
        )),
        "max_pool2d" => Box::new(MaxPool2d::new(u(h, "kernel")).with_spec(PoolSpec {
            kernel: u(h, "kernel"),
            stride: u(h, "stride"),
            padding: u(h, "padding"),
        })),
        "avg_pool2d" => {
            let p = AvgPool2d::new(u(h, "kernel")).with_spec(PoolSpec {
                kernel: u(h, "kernel"),
                stride: u(h, "stride"),
                padding: u(h, "padding"),
            });
            Box::new(if h.get("count_include_pad") == Some(&Value::Bool(false)) {
                p.excluding_padding()
            } else {
                p
            })
        }
        "adaptive_avg_pool2d" => Box::new(AdaptiveAvgPool2d::new([u(h, "output"); 2])),
        "batch_norm2d" => Box::new(BatchNorm::new().with_eps(h["eps"].as_f64().unwrap())),
        "layer_norm" => Box::new(LayerNorm::new().with_eps(h["eps"].as_f64().unwrap())),
        "group_norm" => {
            Box::new(GroupNorm::new(u(h, "groups")).with_eps(h["eps"].as_f64().unwrap()))
        }
        "prelu" => Box::new(PRelu::new().with_num_parameters(u(h, "num_parameters"))),
        "activation" => {
            let f = h["function"].as_str().unwrap();
            Box::new(f.parse::<Act>().unwrap_or_else(|e| panic!("{case}: {e}")))
        }
        "loss" => match h["function"].as_str().unwrap() {
            "softmax_cross_entropy" => Box::new(CrossEntropyLoss(CrossEntropy {
                label_smoothing: h
                    .get("label_smoothing")
                    .and_then(Value::as_f64)
                    .unwrap_or(0.0),
                ..Default::default()
            })),
            "bce_with_logits" => Box::new(BceWithLogitsLoss::default()),
            "mse" => Box::new(MseLoss::default()),
            "l1" => Box::new(L1Loss::default()),
            "huber" => Box::new(HuberLoss {
                delta: h["delta"].as_f64().unwrap(),
            }),
            f => panic!("{case}: unknown loss {f}"),
        },
        "embedding" | "lstm_cell" | "gru_cell" | "multi_head_attention" => return None,
        k => panic!("{case}: unknown kind {k}: teach this test"),
    })
}

fn to_dyn(fx: &Fixture, name: &str, transpose: bool, dev: &Device) -> DynTensor {
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
    if transpose {
        let (r, c) = (shape[0], shape[1]);
        let t: Vec<f32> = (0..c)
            .flat_map(|j| (0..r).map(move |i| (i, j)))
            .map(|(i, j)| vals[i * c + j])
            .collect();
        return DynTensor::from_floats(t, &[c, r], dev);
    }
    DynTensor::from_floats(vals, &shape, dev)
}

#[test]
fn golden_cases_through_the_functional_layers() {
    let m: Value =
        serde_json::from_str(&std::fs::read_to_string(format!("{DIR}/layers.json")).unwrap())
            .unwrap();
    let fx = Fixture::open(format!("{DIR}/layers.safetensors"));
    let dev = duet_testing::test_device();
    let mut ran = 0;
    for (case, e) in m["cases"].as_object().unwrap() {
        let (kind, h) = (e["kind"].as_str().unwrap(), &e["hyper"]);
        let k = duet_testing::case_tolerance_scale(&dev, h["function"].as_str());
        let (rel, abs) = (1e-5 * k, 1e-6 * k);
        let inputs: Vec<&str> = e["inputs"]
            .as_array()
            .unwrap()
            .iter()
            .map(|v| v.as_str().unwrap())
            .collect();
        let params: Vec<&str> = e["params"]
            .as_array()
            .unwrap()
            .iter()
            .map(|v| v.as_str().unwrap())
            .collect();
        let out_shape = &fx.get(&format!("{case}.output")).shape;
        let out_ch = if out_shape.len() > 1 { out_shape[1] } else { 0 };
        let kernel = if fx.contains(&format!("{case}.weight")) {
            *fx.get(&format!("{case}.weight")).shape.last().unwrap()
        } else {
            0
        };
        let Some(layer) = layer_for(case, kind, h, out_ch, kernel) else {
            continue;
        };
        let mut tree = Params::new();
        let mut state = Params::new();
        for &p in &params {
            let t = to_dyn(
                &fx,
                &format!("{case}.{p}"),
                kind == "linear" && p == "weight",
                &dev,
            );
            if p.starts_with("running_") {
                state.insert(p, t)
            } else {
                tree.insert(format!("layer.{p}"), t)
            }
        }
        if kind == "batch_norm2d" && h["mode"] == "train" {
            state.insert(
                "running_mean",
                to_dyn(&fx, &format!("{case}.running_mean_before"), false, &dev),
            );
            state.insert(
                "running_var",
                to_dyn(&fx, &format!("{case}.running_var_before"), false, &dev),
            );
        }
        for &i in &inputs {
            if !fx.get(&format!("{case}.{i}")).f32s.is_empty() {
                tree.insert(
                    format!("in.{i}"),
                    to_dyn(&fx, &format!("{case}.{i}"), false, &dev),
                );
            }
        }
        let mode = if h.get("mode").and_then(Value::as_str) == Some("train") {
            Mode::Train(duet_core::Key::new(0))
        } else {
            Mode::Eval
        };
        let probe = to_dyn(&fx, &format!("{case}.probe"), false, &dev);
        let (_, (y, new_state), g) = value_and_grad_with_aux(
            |p| {
                let xs: Vec<DynTensor> = inputs
                    .iter()
                    .map(|i| {
                        p.get_dyn(&format!("in.{i}"))
                            .cloned()
                            .unwrap_or_else(|_| to_dyn(&fx, &format!("{case}.{i}"), false, &dev))
                    })
                    .collect();
                let (mut ys, s) = layer.forward(&p.subtree("layer"), &state, xs, mode);
                let y = ys.remove(0);
                ((y.clone() * probe.clone()).sum(), (y.without_autodiff(), s))
            },
            &tree,
        );
        assert_close(
            &format!("{case}: output"),
            &y.to_vec(),
            &fx.get(&format!("{case}.output")).f32s,
            rel,
            abs,
        );
        for path in tree.paths() {
            let name = path.split_once('.').unwrap().1;
            let Some(want) = fx
                .contains(&format!("{case}.grad_{name}"))
                .then(|| fx.get(&format!("{case}.grad_{name}")))
            else {
                continue;
            };
            let got = g.get_dyn(path).unwrap().clone();
            let got = if kind == "linear" && name == "weight" {
                got.into_rank::<2>().transpose().into()
            } else {
                got
            };
            assert_close(
                &format!("{case}: grad_{name}"),
                &DynTensor::from(got).to_vec(),
                &want.f32s,
                rel,
                abs,
            );
        }
        if kind == "batch_norm2d" && h["mode"] == "train" {
            assert_close(
                &format!("{case}: running_mean"),
                &new_state.get_dyn("running_mean").unwrap().to_vec(),
                &fx.get(&format!("{case}.running_mean_after")).f32s,
                rel,
                abs,
            );
            assert_close(
                &format!("{case}: running_var"),
                &new_state.get_dyn("running_var").unwrap().to_vec(),
                &fx.get(&format!("{case}.running_var_after")).f32s,
                rel,
                abs,
            );
        }
        ran += 1;
    }
    assert!(ran >= 35, "only {ran} cases ran");
}
