//! The effect handlers, the ELBO and SVI: handler semantics, the conjugate Bayesian linear
//! regression of `tests/fixtures/distributions.*` (SVI with an AutoNormal guide reaches the
//! mean-field optimum), and the VAE ELBO with its gradients against PyTorch.

use duet_core::burn::tensor::{Device, Tensor};
use duet_core::{value_and_grad, DynTensor, Key, Params};
use duet_optim::{adam, Adam, Cosine};
use duet_prob::*;
use duet_testing::{assert_close, test_device, tolerance_scale, Fixture};
use serde_json::Value;
use std::path::PathBuf;

fn dir() -> PathBuf {
    std::env::var_os("DUET_PROB_FIXTURES")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures"))
}

fn manifest() -> Value {
    serde_json::from_str(&std::fs::read_to_string(dir().join("distributions.json")).unwrap())
        .unwrap()
}

fn t1(v: &[f32], dev: &Device) -> DynTensor {
    Tensor::<1>::from_floats(v, dev).into()
}

#[test]
fn handlers_do_what_numpyro_does() {
    let dev = test_device();
    let model = |ctx: &mut Ctx| -> Result<DynTensor> {
        let a = ctx.sample("a", Normal::standard(&[2], &dev))?;
        let s = ctx.param("s", t1(&[1.0], &dev))?;
        ctx.scope("inner", |ctx| ctx.sample("b", Normal::new(a.clone(), s)?))
    };
    // seed: the same key gives the same draws, another key others.
    let draw = |k: u64| {
        trace(|c| c.seed(Key::new(k), model))
            .unwrap()
            .1
            .get("a")
            .unwrap()
            .value
            .to_vec()
    };
    assert_eq!(draw(1), draw(1));
    assert_ne!(draw(1), draw(2));
    // No key: one clear error naming the site.
    let err = trace(model).unwrap_err().to_string();
    assert!(
        err.contains("sample site 'a' has no value and no key"),
        "{err}"
    );
    // scope prefixes names; param sites are recorded.
    let (_, tr) = trace(|c| c.seed(Key::new(1), model)).unwrap();
    assert_eq!(tr.names(), vec!["a", "s", "inner.b"]);
    assert_eq!(tr.params().paths(), vec!["s"]);
    // substitute fixes params and samples; condition makes a site observed.
    let fixed = Params::new()
        .with("a", Tensor::<1>::from_floats([3.0, 4.0], &dev))
        .with("s", Tensor::<1>::from_floats([2.0], &dev));
    let data = Params::new().with("inner.b", Tensor::<1>::from_floats([0.0, 0.0], &dev));
    let (b, tr) = trace(|c| {
        c.seed(Key::new(1), |c| {
            c.substitute(&fixed, |c| c.condition(&data, model))
        })
    })
    .unwrap();
    assert_eq!(b.to_vec(), vec![0.0, 0.0]);
    assert!(tr.get("a").unwrap().is_latent() && tr.get("inner.b").unwrap().is_observed());
    assert_eq!(tr.get("a").unwrap().value.to_vec(), vec![3.0, 4.0]);
    // log p(a) + log p(b | a, s): N(3|0,1) N(4|0,1) N(0|3,2) N(0|4,2)
    let want = -0.5 * (9.0 + 16.0) - 0.5 * (2.25 + 4.0) - 2.0 * 2f32.ln() - 4.0 * 0.918_938_5;
    assert!((tr.log_joint().unwrap().into_scalar::<f32>() - want).abs() < 1e-4);
    // replay takes latent values from another trace.
    let (_, guide_tr) = trace(|c| c.seed(Key::new(7), model)).unwrap();
    let (_, replayed) = trace(|c| c.seed(Key::new(8), |c| c.replay(&guide_tr, model))).unwrap();
    assert_eq!(
        replayed.get("a").unwrap().value.to_vec(),
        guide_tr.get("a").unwrap().value.to_vec()
    );
    // block hides sites from the handlers outside it (all, or by name): outer traces, and an
    // outer seed too (so a seed goes inside the block, as in NumPyro).
    let (_, tr) = trace(|c| c.block(Some(&["a"]), |c| c.seed(Key::new(1), model))).unwrap();
    assert_eq!(tr.names(), vec!["s", "inner.b"]);
    let (_, tr) = trace(|c| c.block(None, |c| c.seed(Key::new(1), model))).unwrap();
    assert!(tr.names().is_empty());
    let err = trace(|c| c.seed(Key::new(1), |c| c.block(None, model))).unwrap_err();
    assert!(err.to_string().contains("no key"));
    // A name used twice is an error; a subsampled plate scales the log-density.
    let twice = |ctx: &mut Ctx| {
        ctx.sample("z", Normal::standard(&[1], &dev))?;
        ctx.sample("z", Normal::standard(&[1], &dev))
    };
    assert!(trace(|c| c.seed(Key::new(0), twice))
        .unwrap_err()
        .to_string()
        .contains("'z' appears twice"));
    let sub = |ctx: &mut Ctx| {
        ctx.subsample("data", 100, 4, |ctx| {
            ctx.observe("x", Normal::standard(&[1], &dev), &t1(&[0.0; 4], &dev))
        })
    };
    let (_, tr) = trace(sub).unwrap();
    let site = tr.get("x").unwrap();
    assert_eq!(
        (site.scale, site.plates.clone()),
        (25.0, vec!["data".to_string()])
    );
    assert!((tr.log_joint().unwrap().into_scalar::<f32>() + 100.0 * 0.918_938_5).abs() < 1e-3);
}

/// The regression of the `bayes_linreg` case: `w ~ N(0, α⁻¹ I)`, `y ~ N(x w, σ²)`.
struct Regression {
    x: Tensor<2>,
    y: DynTensor,
    alpha: f32,
    sigma: f32,
    fx: Fixture,
}

impl Regression {
    fn open(dev: &Device) -> Regression {
        let m = manifest();
        let case = &m["cases"]["bayes_linreg"];
        let fx = Fixture::open(dir().join("distributions.safetensors"));
        Regression {
            x: fx.float::<2>("bayes_linreg.x", dev),
            y: fx.tensor("bayes_linreg.y", dev),
            alpha: case["alpha"].as_f64().unwrap() as f32,
            sigma: case["sigma"].as_f64().unwrap() as f32,
            fx,
        }
    }

    fn model(&self, ctx: &mut Ctx) -> Result<DynTensor> {
        let dev = self.x.device();
        let [n, d] = self.x.dims();
        let prior = Normal::new(
            Tensor::<1>::zeros([d], &dev),
            Tensor::<1>::full([d], self.alpha.powf(-0.5), &dev),
        )?;
        let w = ctx.sample("w", Independent::new(prior, 1)?)?;
        let mean = self
            .x
            .clone()
            .matmul(w.into_rank::<1>().reshape([d, 1]))
            .reshape([n]);
        ctx.plate("data", n, |ctx| {
            ctx.observe("y", Normal::new(mean, t1(&[self.sigma], &dev))?, &self.y)
        })
    }
}

#[test]
fn svi_with_auto_normal_reaches_the_mean_field_optimum() {
    let dev = test_device();
    let reg = Regression::open(&dev);
    let model = |ctx: &mut Ctx| reg.model(ctx);
    // The exact log joint at w_true is what a direct computation gives (the model is right).
    let w_true = reg.fx.tensor("bayes_linreg.w_true", &dev);
    let (_, tr) = trace(|c| c.substitute(&Params::new().with("w", w_true), model)).unwrap();
    assert!(tr.log_joint().unwrap().into_scalar::<f32>().is_finite());

    let auto = AutoNormal::new(&model, Key::new(0)).unwrap();
    assert_eq!(auto.sites(), vec!["w"]);
    let guide = |ctx: &mut Ctx| auto.guide(ctx);
    let steps = 3000;
    let lr = Cosine {
        lr: 0.05,
        steps,
        alpha: 0.01,
    };
    let elbo = Elbo {
        particles: 4,
        analytic_kl: true,
    };
    let mut svi = Svi::new(model, guide, adam(lr, Adam::default()), elbo);
    let mut params = svi.init(Key::new(1)).unwrap();
    assert_eq!(params.paths(), vec!["auto.w.loc", "auto.w.raw_scale"]);
    let first = svi.loss(&params, Key::new(99)).unwrap();
    for step in 0..steps {
        svi.step(&mut params, Key::new(2).fold_in(step)).unwrap();
    }
    let (loc, scale) = auto.loc_scale(&params, "w").unwrap();
    let post_mean = reg.fx.get("bayes_linreg.post_mean").f32s.clone();
    let mf_var = reg.fx.get("bayes_linreg.mf_var").f32s.clone();
    let post_cov = reg.fx.get("bayes_linreg.post_cov").f32s.clone();
    let var: Vec<f32> = scale.to_vec().iter().map(|s| s * s).collect();
    // Tolerances: the learning rate decays to 5e-4 and the 4-particle gradients are noisy at the
    // optimum, so the guide ends near it, not on it. Measured over fixtures of seeds 1234 and 4321
    // and five SVI keys each: means within 0.06 mean-field sd, variances within 0.93-1.09 of the
    // optimum, ELBO within 0.052 of it (200-particle estimate). Limits: 0.25 sd, 20%, 0.2 nats. The exact posterior's
    // variances (diag of post_cov) are 2-6x larger than the mean-field ones, so a guide that did not
    // converge to the mean-field optimum (or matched the full posterior) fails.
    for i in 0..post_mean.len() {
        let sd = mf_var[i].sqrt();
        assert!(
            (loc.to_vec()[i] - post_mean[i]).abs() < 0.25 * sd,
            "mean {i}: {} vs {}",
            loc.to_vec()[i],
            post_mean[i]
        );
        assert!(
            (var[i] / mf_var[i] - 1.0).abs() < 0.2,
            "variance {i}: {} vs mean-field {} (exact posterior {})",
            var[i],
            mf_var[i],
            post_cov[i * 4]
        );
    }
    // The ELBO at the end approaches the best mean-field ELBO (log evidence - KL(q_mf || posterior)).
    let mf_elbo = reg.fx.get("bayes_linreg.mf_elbo").f32s[0];
    let last = -Elbo {
        particles: 200,
        analytic_kl: true,
    }
    .loss(&model, &guide, &params, Key::new(5))
    .unwrap()
    .into_scalar::<f32>();
    assert!(
        (last - mf_elbo).abs() < 0.2,
        "ELBO {last} vs optimum {mf_elbo} (started at {})",
        -first
    );
}

#[test]
fn vae_elbo_and_gradients_match_torch() {
    // The prob parts of a VAE (a reparameterised diagonal Gaussian, a Bernoulli likelihood, the
    // analytic and the Monte-Carlo KL) with the encoder and decoder as plain tensor maths; the
    // examples crate checks the same case through both layer APIs.
    let dev = test_device();
    let m = manifest();
    let case = &m["cases"]["vae"];
    let fx = Fixture::open(dir().join("distributions.safetensors"));
    let mut params = Params::new();
    for p in case["params"].as_array().unwrap() {
        let p = p.as_str().unwrap();
        params.insert(p, fx.tensor(&format!("vae.{p}"), &dev));
    }
    let x = fx.float::<2>("vae.x", &dev);
    let eps = fx.tensor("vae.eps", &dev);
    let [b, _] = x.dims();
    let latent = eps.dims()[1];
    let linear = |p: &Params, name: &str, h: Tensor<2>| {
        let w = p.get::<2>(&format!("{name}.weight")).unwrap();
        let bias = p.get::<1>(&format!("{name}.bias")).unwrap();
        h.matmul(w.transpose()) + bias.unsqueeze_dim::<2>(0)
    };
    let terms = |p: &Params| {
        let h = linear(p, "enc.2", linear(p, "enc.0", x.clone()).tanh());
        let loc = h.clone().slice([0..b, 0..latent]);
        let scale = (h.slice([0..b, latent..2 * latent]) * 0.5).exp();
        let q = Independent::new(Normal::new(loc, scale).unwrap(), 1).unwrap();
        let prior = Independent::new(Normal::standard(&[b, latent], &dev), 1).unwrap();
        let z = q.rsample_from(&eps).unwrap();
        let logits = linear(
            p,
            "dec.2",
            linear(p, "dec.0", z.clone().into_rank::<2>()).tanh(),
        );
        let lik = Independent::new(Bernoulli::new(logits).unwrap(), 1).unwrap();
        let rec = lik.log_prob(&x.clone().into()).unwrap();
        let kl = kl_divergence(&q, &prior).unwrap();
        let kl_mc = q.log_prob(&z).unwrap() - prior.log_prob(&z).unwrap();
        (z, rec, kl, kl_mc)
    };
    let (z, rec, kl, kl_mc) = terms(&params);
    let s = tolerance_scale(&dev);
    let (rel, abs) = (1e-4 * s, 1e-5 * s);
    let chk = |what: &str, a: &DynTensor| {
        assert_close(
            what,
            &a.to_vec(),
            &fx.get(&format!("vae.{what}")).f32s,
            rel,
            abs,
        )
    };
    chk("z", &z);
    chk("rec", &rec);
    chk("kl", &kl);
    chk("kl_mc", &kl_mc);
    for (mc, key) in [(false, "grad"), (true, "grad_mc")] {
        let (elbo, grads) = value_and_grad(
            |p| {
                let (_, rec, kl, kl_mc) = terms(p);
                let k = if mc { kl_mc } else { kl };
                ((rec - k).sum() / b as f32).neg()
            },
            &params,
        );
        let want = fx.get(if mc { "vae.elbo_mc" } else { "vae.elbo" }).f32s[0];
        assert_close(key, &[-elbo.into_scalar::<f32>()], &[want], rel, abs);
        for (path, g) in grads.iter() {
            assert_close(
                &format!("{key}.{path}"),
                &g.to_vec(),
                &fx.get(&format!("vae.{key}.{path}")).f32s,
                rel,
                abs,
            );
        }
    }
}

#[test]
fn neural_parts_from_either_api_train_under_svi() {
    // A small VAE written as a model and a guide: the decoder is a functional layer whose params
    // are param sites (`param_tree`), the encoder a module (`module`). SVI lowers the negative
    // ELBO on 8x8 digits and moves both networks' params.
    use duet_functional::{serial, Dense, LayerExt, Tanh};
    let dev = test_device();
    let data = duet_datasets::digits().unwrap();
    let (b, d, l) = (64, 64, 4);
    let px: Vec<f32> = (0..b)
        .flat_map(|i| data.train.image(i).iter().map(|&p| p as f32 / 255.0))
        .collect();
    let x: DynTensor = Tensor::<1>::from_floats(px.as_slice(), &dev)
        .reshape([b, d])
        .into();
    let dec = serial!["fc" => Dense::new(32), Tanh, "out" => Dense::new(d)];
    let (dec_init, _) = dec.init_model(&[1, l], Key::new(0), &dev).unwrap();
    let mut rngs = duet_module::Rngs::new(1);
    let enc = duet_module::Sequential::new(vec![
        duet_module::Linear::new(d, 32, &mut rngs, &dev).into(),
        duet_module::Act::Tanh.into(),
        duet_module::Linear::new(32, 2 * l, &mut rngs, &dev).into(),
    ]);
    let model = |ctx: &mut Ctx| {
        let p = ctx.param_tree("dec", &dec_init)?;
        ctx.plate("data", b, |ctx| {
            let z = ctx.sample("z", Independent::new(Normal::standard(&[b, l], &dev), 1)?)?;
            let (logits, _) = dec.apply(&p, &Params::new(), z, duet_core::Mode::Eval);
            ctx.observe("x", Independent::new(Bernoulli::new(logits)?, 1)?, &x)
        })
    };
    let guide = |ctx: &mut Ctx| {
        let enc = ctx.module("enc", &enc)?;
        let stats = enc
            .forward(x.clone(), duet_core::Mode::Eval)
            .into_rank::<2>();
        let (loc, logvar) = (
            stats.clone().slice([0..b, 0..l]),
            stats.slice([0..b, l..2 * l]),
        );
        ctx.plate("data", b, |ctx| {
            ctx.sample(
                "z",
                Independent::new(Normal::new(loc, (logvar * 0.5).exp())?, 1)?,
            )
        })
    };
    let mut svi = Svi::new(model, guide, adam(3e-3, Adam::default()), Elbo::default());
    let mut params = svi.init(Key::new(2)).unwrap();
    let init = params.clone();
    assert!(
        params.contains("dec.fc.weight") && params.contains("enc.0.weight"),
        "{:?}",
        params.paths()
    );
    let first = svi.loss(&params, Key::new(3)).unwrap();
    for step in 0..300 {
        svi.step(&mut params, Key::new(4).fold_in(step)).unwrap();
    }
    let last = svi.loss(&params, Key::new(3)).unwrap();
    assert!(last < 0.8 * first, "-ELBO {first} -> {last}");
    for path in ["dec.fc.weight", "enc.0.weight", "enc.2.bias"] {
        let moved = init
            .get_dyn(path)
            .unwrap()
            .to_vec()
            .iter()
            .zip(params.get_dyn(path).unwrap().to_vec())
            .any(|(a, b)| (a - b).abs() > 1e-3);
        assert!(moved, "{path} did not train");
    }
}

#[test]
fn auto_normal_handles_positive_sites_through_exp() {
    // rate ~ Gamma(2, 1), x_i ~ Exponential(rate): the posterior is Gamma(2 + n, 1 + Σx). A
    // log-normal guide (AutoNormal on a positive site) matched to it has its median near the
    // posterior's (Gamma(22, 11): mean 2, median 1.97, sd 0.43).
    let dev = test_device();
    let xs = [
        0.3f32, 0.7, 0.2, 0.9, 0.4, 0.6, 0.1, 0.5, 0.8, 0.5, 0.4, 0.6, 0.3, 0.7, 0.5, 0.5, 0.2,
        0.8, 0.6, 0.4,
    ];
    let x = t1(&xs, &dev);
    let model = |ctx: &mut Ctx| {
        let rate = ctx.sample("rate", Gamma::new(t1(&[2.0], &dev), t1(&[1.0], &dev))?)?;
        ctx.plate("data", xs.len(), |ctx| {
            ctx.observe("x", Exponential::new(rate)?, &x)
        })
    };
    let auto = AutoNormal::new(&model, Key::new(0)).unwrap();
    let guide = |ctx: &mut Ctx| auto.guide(ctx);
    let steps = 2000;
    let lr = Cosine {
        lr: 0.05,
        steps,
        alpha: 0.01,
    };
    let mut svi = Svi::new(
        model,
        guide,
        adam(lr, Adam::default()),
        Elbo {
            particles: 4,
            analytic_kl: true,
        },
    );
    let mut params = svi.init(Key::new(1)).unwrap();
    for step in 0..steps {
        svi.step(&mut params, Key::new(2).fold_in(step)).unwrap();
    }
    let median = auto.median(&params, "rate").unwrap().to_vec()[0];
    let (_, scale) = auto.loc_scale(&params, "rate").unwrap();
    let (a, b) = (2.0 + xs.len() as f32, 1.0 + xs.iter().sum::<f32>());
    // The log-normal fit to Gamma(a, b): median ~ (a - 1/3) / b, log-scale ~ 1/sqrt(a). Measured:
    // median 1.946 (1.2% off), log-scale 0.217 (0.004 off); limits 5% and 0.02.
    let want = (a - 1.0 / 3.0) / b;
    assert!(
        (median - want).abs() < 0.05 * want,
        "median {median} vs {want}"
    );
    let s = scale.to_vec()[0];
    assert!(
        (s - 1.0 / a.sqrt()).abs() < 0.02,
        "log-scale {s} vs {}",
        1.0 / a.sqrt()
    );
}
