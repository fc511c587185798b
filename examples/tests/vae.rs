//! The VAE in both APIs: the ELBO (analytic and Monte-Carlo KL) and every parameter's gradient
//! against PyTorch (`prob/tests/fixtures/distributions.*`, case `vae`: tanh, 64-32-4, fixed
//! noise), the same params evaluating identically in both APIs, and `duet train --model vae`
//! (images, curves, resume, bad flags).

use duet_core::burn::tensor::{Device, Tensor};
use duet_core::{value_and_grad, Act, DynTensor, Mode, Parameterized, Params};
use duet_examples::vae::{decoder, elbo_terms, encoder, Vae, VaeConfig};
use duet_functional::{Layer, LayerExt};
use duet_prob::{Distribution, Independent, Normal};
use duet_testing::{assert_close, test_device, tolerance_scale, Fixture};
use duet_train::Forward;
use serde_json::Value;
use std::path::PathBuf;
use std::process::Command;

fn dir() -> PathBuf {
    std::env::var_os("DUET_PROB_FIXTURES")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../prob/tests/fixtures"))
}

/// duet's path for a PyTorch name of the case (`enc.0` -> `enc.fc`, `enc.2` -> `enc.out`).
fn duet_path(torch: &str) -> String {
    torch.replace(".0.", ".fc.").replace(".2.", ".out.")
}

struct Case {
    fx: Fixture,
    torch_names: Vec<String>,
    params: Params,
    x: Tensor<2>,
    eps: Tensor<2>,
    cfg: VaeConfig,
}

fn case(dev: &Device) -> Case {
    let m: Value =
        serde_json::from_str(&std::fs::read_to_string(dir().join("distributions.json")).unwrap())
            .unwrap();
    let fx = Fixture::open(dir().join("distributions.safetensors"));
    let torch_names: Vec<String> = m["cases"]["vae"]["params"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_str().unwrap().to_string())
        .collect();
    let mut params = Params::new();
    for n in &torch_names {
        let t = fx.tensor(&format!("vae.{n}"), dev);
        // PyTorch's Linear weight is [out, in]; duet's is [in, out].
        let t = if t.rank() == 2 {
            DynTensor::from(t.into_rank::<2>().transpose())
        } else {
            t
        };
        params.insert(duet_path(n), t);
    }
    let x = fx.float::<2>("vae.x", dev);
    let eps = fx.float::<2>("vae.eps", dev);
    let cfg = VaeConfig {
        input: x.dims()[1],
        hidden: params.get_dyn("enc.fc.bias").unwrap().dims()[0],
        latent: eps.dims()[1],
        act: Act::Tanh,
    };
    Case {
        fx,
        torch_names,
        params,
        x,
        eps,
        cfg,
    }
}

/// `(stats, logits)` with `z = μ + σ ε` for the stored `ε`, through an encoder and a decoder.
fn terms(
    c: &Case,
    encode: impl Fn(Tensor<2>) -> Tensor<2>,
    decode: impl Fn(Tensor<2>) -> Tensor<2>,
) -> (Tensor<1>, Tensor<1>, Tensor<1>) {
    let stats = encode(c.x.clone());
    let [b, two_l] = stats.dims();
    let l = two_l / 2;
    let (loc, logvar) = (
        stats.clone().slice([0..b, 0..l]),
        stats.clone().slice([0..b, l..two_l]),
    );
    let q = Independent::new(Normal::new(loc.clone(), (logvar * 0.5).exp()).unwrap(), 1).unwrap();
    let z = q.rsample_from(&c.eps.clone().into()).unwrap();
    let logits = decode(z.clone().into_rank::<2>());
    let prior = Independent::new(Normal::standard(&[b, l], &loc.device()), 1).unwrap();
    let kl_mc = (q.log_prob(&z).unwrap() - prior.log_prob(&z).unwrap()).into_rank::<1>();
    let (rec, kl) = elbo_terms(logits, stats, c.x.clone());
    (rec, kl, kl_mc)
}

#[test]
fn the_elbo_and_its_gradients_match_torch_in_both_apis() {
    let dev = test_device();
    let c = case(&dev);
    let s = tolerance_scale(&dev);
    let (rel, abs) = (1e-4 * s, 1e-5 * s);
    let (enc, dec) = (encoder(c.cfg), decoder(c.cfg));
    let functional = |p: &Params| {
        terms(
            &c,
            |x| {
                enc.apply(&p.subtree("enc"), &Params::new(), x.into(), Mode::Eval)
                    .0
                    .into_rank()
            },
            |z| {
                dec.apply(&p.subtree("dec"), &Params::new(), z.into(), Mode::Eval)
                    .0
                    .into_rank()
            },
        )
    };
    let mut module = Vae::new(c.cfg, &mut duet_module::Rngs::new(0), &dev);
    module.load_params(&c.params).unwrap();
    for (api, (rec, kl, kl_mc)) in [
        ("functional", functional(&c.params)),
        (
            "module",
            terms(&c, |x| module.encode(x), |z| module.decode(z)),
        ),
    ] {
        let v = |t: Tensor<1>| DynTensor::from(t).to_vec();
        assert_close(
            &format!("{api} rec"),
            &v(rec),
            &c.fx.get("vae.rec").f32s,
            rel,
            abs,
        );
        assert_close(
            &format!("{api} kl"),
            &v(kl),
            &c.fx.get("vae.kl").f32s,
            rel,
            abs,
        );
        assert_close(
            &format!("{api} kl_mc"),
            &v(kl_mc),
            &c.fx.get("vae.kl_mc").f32s,
            rel,
            abs,
        );
    }
    // Gradients of -ELBO: functional through value_and_grad over the tree; module through burn's
    // backward over its fields (the same paths).
    let b = c.x.dims()[0] as f32;
    for mc in [false, true] {
        let (key, elbo_key) = if mc {
            ("grad_mc", "vae.elbo_mc")
        } else {
            ("grad", "vae.elbo")
        };
        let neg = |(rec, kl, kl_mc): (Tensor<1>, Tensor<1>, Tensor<1>)| {
            (rec - if mc { kl_mc } else { kl }).sum().neg() / b
        };
        let (loss, grads) = value_and_grad(|p| neg(functional(p)), &c.params);
        assert_close(
            &format!("functional {elbo_key}"),
            &[-loss.into_scalar::<f32>()],
            &c.fx.get(elbo_key).f32s,
            rel,
            abs,
        );
        let (_, module_grads) = duet_module::value_and_grad(
            |m: &Vae| neg(terms(&c, |x| m.encode(x), |z| m.decode(z))),
            &module,
        );
        for n in &c.torch_names {
            let want = &c.fx.get(&format!("vae.{key}.{n}")).f32s;
            let path = duet_path(n);
            for (api, g) in [
                ("functional", grads.get_dyn(&path).unwrap().clone()),
                ("module", module_grads.get_dyn(&path).unwrap().clone()),
            ] {
                let g = if g.rank() == 2 {
                    DynTensor::from(g.into_rank::<2>().transpose())
                } else {
                    g
                };
                assert_close(&format!("{api} {key}.{n}"), &g.to_vec(), want, rel, abs);
            }
        }
    }
}

#[test]
fn one_set_of_params_evaluates_identically_in_both_apis() {
    let dev = test_device();
    let cfg = VaeConfig {
        input: 64,
        hidden: 16,
        latent: 3,
        act: Act::Relu,
    };
    let model = duet_examples::vae::vae(cfg);
    let (params, state) = model
        .init_model(&[1, 64], duet_core::Key::new(3), &dev)
        .unwrap();
    let x = duet_core::Key::new(4).uniform([5, 64], 0.0, 1.0, &dev);
    let (ys, _) = model.forward(&params, &state, vec![x.clone().into()], Mode::Eval);
    let mut m = Vae::new(cfg, &mut duet_module::Rngs::new(9), &dev);
    m.load_params(&params).unwrap();
    let (logits, stats) = m.forward(x, Mode::Eval);
    assert_eq!(ys[0].to_vec(), DynTensor::from(logits).to_vec());
    assert_eq!(ys[1].to_vec(), DynTensor::from(stats).to_vec());
}

fn duet(args: &[&str]) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_duet"))
        .args(args)
        .output()
        .unwrap()
}

#[test]
fn duet_train_vae_writes_curves_grids_and_resumes_exactly() {
    let tmp = tempfile::tempdir().unwrap();
    let run = |out: &str, steps: &str, extra: &[&str]| {
        let out = tmp.path().join(out);
        let mut a = vec![
            "train",
            "--model",
            "vae",
            "--dataset",
            "digits",
            "--steps",
            steps,
            "--batch-size",
            "64",
            "--quiet",
            "--checkpoint-every",
            "20",
        ];
        a.extend_from_slice(extra);
        let o = duet(&[a.as_slice(), &["--out", out.to_str().unwrap()]].concat());
        assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
        (out, String::from_utf8_lossy(&o.stdout).into_owned())
    };
    for api in ["functional", "module"] {
        let (out, stdout) = run(&format!("full-{api}"), "60", &["--api", api]);
        assert!(stdout.contains("test negative ELBO"), "{stdout}");
        for f in ["curves.png", "samples.png", "reconstructions.png"] {
            let img = image::open(out.join(f)).unwrap_or_else(|e| panic!("{api} {f}: {e}"));
            assert!(img.width() > 100, "{f}");
        }
        let log = duet_train::MetricsLog::read(out.join("metrics.jsonl")).unwrap();
        let evals: Vec<_> = log.iter().filter(|r| r.split == "eval").collect();
        let last = evals.last().unwrap();
        assert!(
            (last.loss - last.metric("recon").unwrap() - last.metric("kl").unwrap()).abs()
                < 1e-3 * last.loss
        );
        let train: Vec<f64> = log
            .iter()
            .filter(|r| r.split == "train")
            .map(|r| r.loss)
            .collect();
        assert!(
            train.last().unwrap() < &(0.8 * train[0]),
            "{api}: the negative ELBO fell: {train:?}"
        );
    }
    // 40 steps, then resumed to 60: the same params as 60 in one go (the draws are keyed by step).
    let (half, _) = run("half", "40", &[]);
    let resumed = tmp.path().join("half");
    let o = duet(&[
        "train",
        "--model",
        "vae",
        "--dataset",
        "digits",
        "--steps",
        "60",
        "--batch-size",
        "64",
        "--quiet",
        "--checkpoint-every",
        "20",
        "--resume",
        resumed.to_str().unwrap(),
    ]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    // It continued from the step-40 checkpoint rather than starting over.
    let stdout = String::from_utf8_lossy(&o.stdout);
    assert!(
        stdout.contains("(20 in this run, resumed at step 40)"),
        "{stdout}"
    );
    let read = |p: PathBuf| {
        duet_core::CheckpointFile::open(&p)
            .unwrap()
            .tree("params", &Device::flex())
            .unwrap()
    };
    let (a, b) = (
        read(tmp.path().join("full-functional/step-00000060.safetensors")),
        read(half.join("step-00000060.safetensors")),
    );
    for (path, t) in a.iter() {
        assert_eq!(
            t.to_vec(),
            b.get_dyn(path).unwrap().to_vec(),
            "{path} after resume"
        );
    }
}

#[test]
fn bad_vae_flags_get_one_line() {
    let o = duet(&[
        "train",
        "--model",
        "vae",
        "--dataset",
        "text",
        "--steps",
        "1",
    ]);
    assert!(!o.status.success());
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(err.contains("--model vae trains on images"), "{err}");
    assert_eq!(err.trim().lines().count(), 1, "{err}");
    let o = duet(&[
        "import-torch",
        "--model",
        "vae",
        "--checkpoint",
        "x.pt",
        "--out",
        "y",
    ]);
    assert!(!o.status.success());
}
