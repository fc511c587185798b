//! Every trajectory of `fixtures/optim.json` (torch.optim, 6 steps, two params, fixed gradients)
//! must match at 1e-6 relative (max-abs error over max-abs reference). Hyper-parameters are
//! parsed from each case's description; an unknown case fails the test.

use duet_core::burn::tensor::Device;
use duet_core::golden::{assert_close, Fixture};
use duet_core::{DynTensor, Params};
use duet_optim::*;
use serde_json::Value;

const DIR: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures");

/// The number after `key=` in `desc`.
fn kv(desc: &str, key: &str) -> Option<f64> {
    let pat = format!("{key}=");
    let at = desc.match_indices(&pat).map(|(i, _)| i).find(|&i| {
        i == 0 || !desc.as_bytes()[i - 1].is_ascii_alphanumeric() && desc.as_bytes()[i - 1] != b'_'
    })?;
    number_at(&desc[at + pat.len()..])
}

fn number_at(s: &str) -> Option<f64> {
    let end = s
        .find(|c: char| !(c.is_ascii_digit() || "eE.+-".contains(c)))
        .unwrap_or(s.len());
    s[..end].parse().ok()
}

fn optimizer_for(case: &str, desc: &str) -> Box<dyn Transform> {
    let lr = kv(desc, "lr");
    let has = |flag: &str| desc.contains(&format!("{flag}=True"));
    let wd = kv(desc, "weight_decay").unwrap_or(0.0);
    match case {
        c if c.starts_with("sgd") => Box::new(sgd(
            lr.unwrap(),
            Sgd {
                momentum: kv(desc, "momentum").unwrap_or(0.0),
                nesterov: has("nesterov"),
                weight_decay: wd,
                ..Default::default()
            },
        )),
        c if c.starts_with("adamw") => Box::new(adamw(
            lr.unwrap(),
            Adam {
                weight_decay: wd,
                ..Default::default()
            },
        )),
        c if c.starts_with("adam") => Box::new(adam(
            lr.unwrap(),
            Adam {
                weight_decay: wd,
                amsgrad: has("amsgrad"),
                eps: kv(desc, "eps").unwrap_or(1e-8),
                ..Default::default()
            },
        )),
        "rmsprop_inverse_time_decay" => {
            // "lr_t = LR/(1+DECAY*t); v=rho*v+(1-rho)*g^2 with rho=RHO; p -= lr_t*g/(sqrt(v)+EPS)"
            let base = number_at(desc.split("lr_t = ").nth(1).unwrap()).unwrap();
            let decay = number_at(desc.split("(1+").nth(1).unwrap()).unwrap();
            let eps = number_at(desc.rsplit("sqrt(v)+").next().unwrap()).unwrap();
            Box::new(rmsprop(
                InverseTimeDecay { lr: base, decay },
                RmsProp {
                    alpha: kv(desc, "rho").unwrap(),
                    eps,
                    ..Default::default()
                },
            ))
        }
        c if c.starts_with("rmsprop") => Box::new(rmsprop(
            lr.unwrap(),
            RmsProp {
                alpha: kv(desc, "alpha").unwrap_or(0.99),
                centered: has("centered"),
                momentum: kv(desc, "momentum").unwrap_or(0.0),
                weight_decay: wd,
                ..Default::default()
            },
        )),
        c if c.starts_with("adagrad") => {
            Box::new(adagrad(lr.unwrap(), kv(desc, "eps").unwrap_or(1e-10)))
        }
        c if c.starts_with("clip_global_norm") => {
            let sgd_lr = number_at(desc.split("SGD(lr=").nth(1).unwrap()).unwrap();
            Box::new(chain(vec![
                Box::new(clip_by_global_norm(kv(desc, "max_norm").unwrap())),
                Box::new(sgd(sgd_lr, Sgd::default())),
            ]))
        }
        c => panic!("unknown optimizer case `{c}` ({desc}): teach the golden test"),
    }
}

fn tree(fx: &Fixture, prefix: &str, names: &[String], dev: &Device) -> Params {
    names
        .iter()
        .map(|n| {
            (
                n.clone(),
                DynTensor::from_floats(
                    fx.get(&format!("{prefix}.{n}")).f32s.clone(),
                    &fx.get(&format!("{prefix}.{n}")).shape,
                    dev,
                ),
            )
        })
        .collect()
}

#[test]
fn every_torch_trajectory_matches() {
    let m: Value =
        serde_json::from_str(&std::fs::read_to_string(format!("{DIR}/optim.json")).unwrap())
            .unwrap();
    let fx = Fixture::open(format!("{DIR}/optim.safetensors"));
    let dev = Device::flex();
    let names: Vec<String> = m["params"].as_object().unwrap().keys().cloned().collect();
    let steps = m["steps"].as_u64().unwrap();
    let cases = m["cases"].as_object().unwrap();
    assert!(cases.len() >= 13);
    for (case, desc) in cases {
        let mut opt = Optimizer::new(optimizer_for(case, desc.as_str().unwrap()));
        let mut p = tree(&fx, "init", &names, &dev);
        for t in 1..=steps {
            opt.update_params(&mut p, tree(&fx, &format!("grad{t}"), &names, &dev))
                .unwrap();
            for n in &names {
                let want = &fx.get(&format!("{case}.step{t}.{n}")).f32s;
                assert_close(
                    &format!("{case} step {t} `{n}`"),
                    &p.get_dyn(n).unwrap().to_vec(),
                    want,
                    1e-6,
                    0.0,
                );
            }
        }
    }
}
