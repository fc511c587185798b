//! Every trajectory of `fixtures/optim.json` (torch.optim) and `fixtures/optax.json` (optax's
//! Lion and LAMB, which torch.optim does not have), `steps` steps on fixed gradients, must match
//! at 1e-6 relative (max-abs error over max-abs reference), after every step.
//!
//! The suite is driven by the manifests: the optimizer of each case is built from its description
//! (`Adam(lr=1e-2, betas=(0.9,0.999), amsgrad=True)`, `clip_grad_norm_(max_norm=1.0) ... then
//! SGD(lr=0.1)`, S4TF's `lr_t = LR/(1+DECAY*t); ...`, `optax.lion(learning_rate=0.01)`), with
//! PyTorch's or optax's defaults for what it does not say, so the fixtures can be regenerated in
//! place with other seeds and hyper-parameters. A description the harness does not understand
//! (an unknown optimizer, an unknown keyword, a case name that contradicts its description) fails
//! the test. `DUET_OPTIM_FIXTURES=DIR` runs the suite on `DIR/optim.{json,safetensors}` and
//! `DIR/optax.{json,safetensors}` instead of the committed files.

use duet_core::burn::tensor::Device;
use duet_core::{DynTensor, Params};
use duet_optim::*;
use duet_testing::{errors, Fixture};
use serde_json::Value;

mod golden_optim_support;
use golden_optim_support::{after, calls, Args, Call};

const DIR: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures");

/// The fixture directory: `tests/fixtures`, or `DUET_OPTIM_FIXTURES` (files with the same names
/// made by `generate.py` and `generate_optax.py` with another seed, kept outside the repository).
fn dir() -> String {
    std::env::var("DUET_OPTIM_FIXTURES").unwrap_or_else(|_| DIR.to_string())
}
const REL: f64 = 1e-6;

/// The duet optimizer for one `torch.optim` or optax constructor call, with its library's
/// defaults.
fn torch_optimizer(call: &Call) -> Result<Box<dyn Transform>, String> {
    let mut a = Args::new(call);
    let tx: Box<dyn Transform> = match call.name.as_str() {
        "SGD" => Box::new(sgd(
            a.num("lr", 1e-3)?,
            Sgd {
                momentum: a.num("momentum", 0.0)?,
                dampening: a.num("dampening", 0.0)?,
                nesterov: a.flag("nesterov")?,
                weight_decay: a.num("weight_decay", 0.0)?,
            },
        )),
        name @ ("Adam" | "AdamW") => {
            let decoupled = name == "AdamW";
            let lr = a.num("lr", 1e-3)?;
            let (b1, b2) = a.pair("betas", (0.9, 0.999))?;
            let o = Adam {
                b1,
                b2,
                eps: a.num("eps", 1e-8)?,
                weight_decay: a.num("weight_decay", if decoupled { 1e-2 } else { 0.0 })?,
                amsgrad: a.flag("amsgrad")?,
            };
            if decoupled {
                Box::new(adamw(lr, o))
            } else {
                Box::new(adam(lr, o))
            }
        }
        "RMSprop" => Box::new(rmsprop(
            a.num("lr", 1e-2)?,
            RmsProp {
                alpha: a.num("alpha", 0.99)?,
                eps: a.num("eps", 1e-8)?,
                centered: a.flag("centered")?,
                momentum: a.num("momentum", 0.0)?,
                weight_decay: a.num("weight_decay", 0.0)?,
            },
        )),
        "Adagrad" => Box::new(adagrad(
            a.num("lr", 1e-2)?,
            Adagrad {
                eps: a.num("eps", 1e-10)?,
                initial_accumulator: a.num("initial_accumulator_value", 0.0)?,
                weight_decay: a.num("weight_decay", 0.0)?,
                lr_decay: a.num("lr_decay", 0.0)?,
            },
        )),
        // optax.lion(learning_rate, b1=0.9, b2=0.99, weight_decay=1e-3): the same chain as duet's.
        "lion" => Box::new(lion(
            a.required("learning_rate")?,
            a.num("b1", 0.9)?,
            a.num("b2", 0.99)?,
            a.num("weight_decay", 1e-3)?,
        )),
        // optax.lamb(learning_rate, b1=0.9, b2=0.999, eps=1e-6, eps_root=0, weight_decay=0):
        // duet's lamb fixes eps and eps_root at optax's defaults.
        "lamb" => {
            a.fixed("eps", 1e-6, "duet's lamb fixes eps at 1e-6")?;
            a.fixed("eps_root", 0.0, "duet's lamb has no eps_root")?;
            Box::new(lamb(
                a.required("learning_rate")?,
                a.num("b1", 0.9)?,
                a.num("b2", 0.999)?,
                a.num("weight_decay", 0.0)?,
            ))
        }
        other => return Err(format!("`{other}` is not an optimizer")),
    };
    a.done()?;
    Ok(tx)
}

/// S4TF's RMSProp with inverse-time decay:
/// `lr_t = LR/(1+DECAY*t); v=rho*v+(1-rho)*g^2 with rho=RHO; p -= lr_t*g/(sqrt(v)+EPS)`.
fn inverse_time_rmsprop(desc: &str) -> Result<Box<dyn Transform>, String> {
    let lr = after(desc, "lr_t =")?;
    let decay = after(desc, "/(1+")?;
    let alpha = after(desc, "rho=")?;
    let eps = after(desc, "sqrt(v)+")?;
    if !desc.contains("*t)") {
        return Err(format!("expected `DECAY*t` in `{desc}`"));
    }
    Ok(Box::new(rmsprop(
        InverseTimeDecay { lr, decay },
        RmsProp {
            alpha,
            eps,
            ..Default::default()
        },
    )))
}

/// The optimizer family a case name announces (`adamw_...` is AdamW), if any.
fn family(case: &str) -> Option<&'static str> {
    [
        "adamw", "adam", "sgd", "rmsprop", "adagrad", "clip", "lion", "lamb",
    ]
    .into_iter()
    .find(|f| case.starts_with(f))
}

/// The duet optimizer for a manifest case, or why the harness cannot build one.
fn optimizer_for(case: &str, desc: &str) -> Result<Box<dyn Transform>, String> {
    let unknown = |why: String| format!("unknown optimizer case `{case}` ({desc}): {why}");
    if desc.trim_start().starts_with("lr_t =") {
        if !matches!(family(case), Some("rmsprop")) {
            return Err(unknown("an inverse-time schedule on something else".into()));
        }
        return inverse_time_rmsprop(desc).map_err(unknown);
    }
    let cs = calls(desc).map_err(unknown)?;
    let (tx, kind): (Box<dyn Transform>, &str) = match &cs[..] {
        [opt] => (torch_optimizer(opt).map_err(unknown)?, opt.name.as_str()),
        [clip, opt] if clip.name == "clip_grad_norm_" && desc.contains(" then ") => {
            let mut a = Args::new(clip);
            let max_norm = a
                .num("max_norm", f64::NAN)
                .and_then(|m| {
                    if m.is_nan() {
                        Err("no max_norm".into())
                    } else {
                        Ok(m)
                    }
                })
                .map_err(unknown)?;
            if a.num("norm_type", 2.0).map_err(unknown)? != 2.0 {
                return Err(unknown("only the L2 norm is supported".into()));
            }
            a.done().map_err(unknown)?;
            let tx = chain(vec![
                Box::new(clip_by_global_norm(max_norm)),
                torch_optimizer(opt).map_err(unknown)?,
            ]);
            (Box::new(tx), "clip")
        }
        _ => return Err(unknown("no optimizer the harness knows".into())),
    };
    let expected = match kind {
        "SGD" => "sgd",
        "Adam" => "adam",
        "AdamW" => "adamw",
        "RMSprop" => "rmsprop",
        "Adagrad" => "adagrad",
        "lion" => "lion",
        "lamb" => "lamb",
        _ => "clip",
    };
    match family(case) {
        Some(f) if f != expected => Err(unknown(format!(
            "the name says `{f}`, the description `{kind}`"
        ))),
        _ => Ok(tx),
    }
}

fn tree(fx: &Fixture, prefix: &str, names: &[String], dev: &Device) -> Params {
    names
        .iter()
        .map(|n| {
            let s = fx.get(&format!("{prefix}.{n}"));
            (
                n.clone(),
                DynTensor::from_floats(s.f32s.clone(), &s.shape, dev),
            )
        })
        .collect()
}

/// Runs one case; the worst relative error over all steps and params, or the first failure.
fn run_case(
    fx: &Fixture,
    case: &str,
    desc: &str,
    names: &[String],
    steps: u64,
) -> Result<f64, String> {
    let dev = duet_testing::test_device();
    let limit = REL * duet_testing::tolerance_scale(&dev);
    let mut opt = Optimizer::new(optimizer_for(case, desc)?);
    let mut p = tree(fx, "init", names, &dev);
    let mut worst: f64 = 0.0;
    for t in 1..=steps {
        opt.update_params(&mut p, tree(fx, &format!("grad{t}"), names, &dev))
            .map_err(|e| format!("{case} step {t}: {e}"))?;
        for n in names {
            let want = &fx.get(&format!("{case}.step{t}.{n}")).f32s;
            let (rel, abs) = errors(&p.get_dyn(n).unwrap().to_vec(), want);
            if rel.is_nan() || rel > limit {
                return Err(format!(
                    "{case} step {t} `{n}`: relative error {rel:.3e} > {limit:.0e} (absolute {abs:.3e})"
                ));
            }
            worst = worst.max(rel);
        }
    }
    Ok(worst)
}

/// Runs every case of `DIR/<stem>.{json,safetensors}`; fails with every failing case. Returns
/// the names of the cases that ran.
fn run_manifest(stem: &str) -> Vec<String> {
    let path = format!("{}/{stem}.json", dir());
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{path}: {e}"));
    let m: Value = serde_json::from_str(&text).unwrap_or_else(|e| panic!("{path}: {e}"));
    let fx = Fixture::open(format!("{}/{stem}.safetensors", dir()));
    let names: Vec<String> = m["params"].as_object().unwrap().keys().cloned().collect();
    let steps = m["steps"].as_u64().unwrap();
    let cases = m["cases"].as_object().unwrap();
    assert!(
        !cases.is_empty() && !names.is_empty() && steps > 0,
        "{path}"
    );
    let mut failures = Vec::new();
    for (case, desc) in cases {
        let desc = desc.as_str().expect("descriptions are strings");
        match run_case(&fx, case, desc, &names, steps) {
            Ok(worst) => eprintln!("ok   {case:<32} worst relative error {worst:.2e}"),
            Err(e) => {
                eprintln!("FAIL {e}");
                failures.push(e);
            }
        }
    }
    assert!(
        failures.is_empty(),
        "{} of {} cases of {path} failed:\n{}",
        failures.len(),
        cases.len(),
        failures.join("\n")
    );
    cases.keys().cloned().collect()
}

#[test]
fn every_torch_trajectory_matches() {
    run_manifest("optim");
}

#[test]
fn every_optax_trajectory_matches() {
    let ran = run_manifest("optax");
    for f in ["lion", "lamb"] {
        assert!(
            ran.iter().any(|c| family(c) == Some(f)),
            "no `{f}` case in optax.json: {ran:?}"
        );
    }
}

#[test]
fn the_harness_rejects_what_it_does_not_know() {
    for (case, desc) in [
        ("nadam", "NAdam(lr=1e-3)"),
        ("adam_typo", "Adam(lr=1e-2, betas=(0.9,0.999), foo=3)"),
        ("sgd_max", "SGD(lr=0.1, maximize=True)"),
        ("adam_but_sgd", "SGD(lr=0.1)"),
        ("sgd_bad", "SGD(lr=fast)"),
        (
            "clip_inf",
            "clip_grad_norm_(max_norm=1.0, norm_type=3) then SGD(lr=0.1)",
        ),
        (
            "adam_inverse",
            "lr_t = 0.03/(1+0.1*t); v=rho*v+(1-rho)*g^2 with rho=0.9; p -= lr_t*g/(sqrt(v)+1e-08)",
        ),
        ("mystery", "something else entirely"),
        ("lamb_eps", "optax.lamb(learning_rate=0.01, eps=1e-8)"),
        ("lamb_root", "optax.lamb(learning_rate=0.01, eps_root=1e-8)"),
        ("lion_no_lr", "optax.lion(b1=0.9)"),
        ("lion_but_lamb", "optax.lamb(learning_rate=0.01)"),
    ] {
        let e = optimizer_for(case, desc).err();
        assert!(
            e.as_deref().is_some_and(|e| e.contains(case)),
            "`{case}` ({desc}) should be rejected, got {e:?}"
        );
    }
}

#[test]
fn the_harness_reads_every_hyper_parameter() {
    // Each of these differs from PyTorch's defaults, so a hyper-parameter the harness dropped
    // would build a different optimizer; build both and compare one step.
    let dev = Device::flex();
    let p = Params::new().with(
        "w",
        duet_core::burn::tensor::Tensor::<1>::from_floats([0.5, -1.0, 2.0], &dev),
    );
    // Gradients that change sign: with a constant gradient, Lion's and Adam's betas cancel out.
    let g = |v: [f32; 3]| {
        Params::new().with(
            "w",
            duet_core::burn::tensor::Tensor::<1>::from_floats(v, &dev),
        )
    };
    let gs = [
        g([0.3, 0.2, -0.7]),
        g([-0.6, 0.1, 0.4]),
        g([0.2, -0.9, 0.05]),
    ];
    let step = |tx: Box<dyn Transform>| {
        let mut opt = Optimizer::new(tx);
        let mut q = p.clone();
        for g in &gs {
            opt.update_params(&mut q, g.clone()).unwrap();
        }
        q.get_dyn("w").unwrap().to_vec()
    };
    let cases: Vec<(&str, Box<dyn Transform>)> = vec![
        (
            "SGD(lr=0.2, momentum=0.5, dampening=0.3, weight_decay=0.1)",
            Box::new(sgd(
                0.2,
                Sgd {
                    momentum: 0.5,
                    dampening: 0.3,
                    nesterov: false,
                    weight_decay: 0.1,
                },
            )),
        ),
        (
            "Adam(lr=0.05, betas=(0.8, 0.9), eps=1e-3, weight_decay=0.2, amsgrad=True)",
            Box::new(adam(
                0.05,
                Adam {
                    b1: 0.8,
                    b2: 0.9,
                    eps: 1e-3,
                    weight_decay: 0.2,
                    amsgrad: true,
                },
            )),
        ),
        (
            "AdamW(lr=0.05)",
            Box::new(adamw(
                0.05,
                Adam {
                    weight_decay: 1e-2,
                    ..Default::default()
                },
            )),
        ),
        (
            "RMSprop(lr=0.05, alpha=0.8, eps=1e-2, centered=True, momentum=0.3, weight_decay=0.1)",
            Box::new(rmsprop(
                0.05,
                RmsProp {
                    alpha: 0.8,
                    eps: 1e-2,
                    centered: true,
                    momentum: 0.3,
                    weight_decay: 0.1,
                },
            )),
        ),
        (
            "Adagrad(lr=0.3, lr_decay=0.5, weight_decay=0.1, initial_accumulator_value=0.2, eps=1e-3)",
            Box::new(adagrad(
                0.3,
                Adagrad {
                    eps: 1e-3,
                    initial_accumulator: 0.2,
                    weight_decay: 0.1,
                    lr_decay: 0.5,
                },
            )),
        ),
        (
            "optax.lion(learning_rate=0.05, b1=0.7, b2=0.8, weight_decay=0.2)",
            Box::new(lion(0.05, 0.7, 0.8, 0.2)),
        ),
        (
            "optax.lion(learning_rate=0.05)",
            Box::new(lion(0.05, 0.9, 0.99, 1e-3)),
        ),
        (
            "optax.lamb(learning_rate=0.05, b1=0.7, b2=0.8, eps=1e-6, eps_root=0.0, weight_decay=0.2)",
            Box::new(lamb(0.05, 0.7, 0.8, 0.2)),
        ),
        (
            "optax.lamb(learning_rate=0.05)",
            Box::new(lamb(0.05, 0.9, 0.999, 0.0)),
        ),
    ];
    for (desc, want) in cases {
        let got = optimizer_for("case", desc).unwrap();
        assert_eq!(step(got), step(want), "{desc}");
    }
}
