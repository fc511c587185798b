//! duet-prob against `torch.distributions` (fixtures from `tests/fixtures/generate_dist.py` and
//! `generate_special.py`; `DUET_PROB_FIXTURES` points at a directory regenerated with another
//! seed). Every distribution and KL pair the manifest lists is checked: log_prob, entropy, mean,
//! variance, reparameterised samples from the stored noise, and the gradients of each with
//! respect to every parameter (and the value).

use duet_core::burn::tensor::{Device, Tensor};
use duet_core::{value_and_grad, DynTensor, Params};
use duet_prob::special::{digamma, lgamma};
use duet_prob::*;
use duet_testing::{assert_close, test_device, tolerance_scale, Fixture};
use serde_json::Value;
use std::path::PathBuf;

fn dir() -> PathBuf {
    std::env::var_os("DUET_PROB_FIXTURES")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures"))
}

struct Golden {
    fx: Fixture,
    manifest: Value,
    dev: Device,
    rel: f64,
    abs: f64,
}

impl Golden {
    fn open() -> Golden {
        let dev = test_device();
        let d = dir();
        let text = std::fs::read_to_string(d.join("distributions.json")).expect("manifest");
        let s = tolerance_scale(&dev);
        Golden {
            fx: Fixture::open(d.join("distributions.safetensors")),
            manifest: serde_json::from_str(&text).expect("json"),
            dev,
            rel: 1e-4 * s,
            abs: 1e-5 * s,
        }
    }

    fn tensor(&self, name: &str) -> DynTensor {
        let s = self.fx.get(name);
        if s.f32s.is_empty() && !s.i64s.is_empty() {
            let v: Vec<f32> = s.i64s.iter().map(|&i| i as f32).collect();
            DynTensor::from_floats(v, &s.shape, &self.dev)
        } else {
            self.fx.tensor(name, &self.dev)
        }
    }

    fn check(&self, what: &str, actual: &DynTensor, name: &str) {
        let want = self.fx.get(name);
        let got_dims = actual.dims();
        let want_dims = if want.shape.is_empty() {
            vec![1]
        } else {
            want.shape.clone()
        };
        assert_eq!(got_dims, want_dims, "{what}: shape");
        assert_close(what, &actual.to_vec(), &want.f32s, self.rel, self.abs);
    }
}

/// The manifest's temperature of a relaxed distribution (`RelaxedBernoulli(temperature=0.5, ..)`).
fn temperature(case: &Value) -> f32 {
    let t = case["torch"].as_str().expect("torch constructor");
    let rest = &t[t.find("temperature=").expect("temperature") + 12..];
    rest[..rest.find(',').unwrap()]
        .parse()
        .expect("temperature value")
}

/// Builds the distribution the manifest names from its parameters.
fn build(name: &str, case: &Value, get: &dyn Fn(&str) -> DynTensor) -> Box<dyn Distribution> {
    match name {
        "normal" => Box::new(Normal::new(get("loc"), get("scale")).unwrap()),
        "laplace" => Box::new(Laplace::new(get("loc"), get("scale")).unwrap()),
        "uniform" => Box::new(Uniform::new(get("low"), get("high")).unwrap()),
        "bernoulli" => Box::new(Bernoulli::new(get("logits")).unwrap()),
        "categorical" => Box::new(Categorical::new(get("logits")).unwrap()),
        "independent_normal" => {
            Box::new(Independent::new(Normal::new(get("loc"), get("scale")).unwrap(), 1).unwrap())
        }
        "multivariate_normal" => {
            Box::new(MultivariateNormal::new(get("loc"), get("scale_tril")).unwrap())
        }
        "beta" => Box::new(Beta::new(get("concentration1"), get("concentration0")).unwrap()),
        "gamma" => Box::new(Gamma::new(get("concentration"), get("rate")).unwrap()),
        "dirichlet" => Box::new(Dirichlet::new(get("concentration")).unwrap()),
        "exponential" => Box::new(Exponential::new(get("rate")).unwrap()),
        "lognormal" => Box::new(LogNormal::new(get("loc"), get("scale")).unwrap()),
        "relaxed_bernoulli" => {
            Box::new(RelaxedBernoulli::new(temperature(case), get("logits")).unwrap())
        }
        "relaxed_one_hot_categorical" => {
            Box::new(RelaxedOneHotCategorical::new(temperature(case), get("logits")).unwrap())
        }
        other => panic!("the manifest lists `{other}`, which this suite does not know"),
    }
}

fn names(v: &Value) -> Vec<String> {
    v.as_array()
        .expect("array")
        .iter()
        .map(|s| s.as_str().unwrap().to_string())
        .collect()
}

/// `d sum(f(dist) * probe) / d leaves`, with the leaves named `<prefix><param>` in `params`.
fn grads_of(g: &Golden, params: &Params, probe: &str, f: impl Fn(&Params) -> DynTensor) -> Params {
    let probe = g.tensor(probe);
    let (_, grads) = value_and_grad(|p| (f(p) * probe.clone()).sum(), params);
    grads
}

#[test]
fn every_distribution_matches_torch() {
    let g = Golden::open();
    let dists = names(&g.manifest["distributions"]);
    assert!(
        dists.len() >= 14,
        "the manifest lists {} distributions",
        dists.len()
    );
    for d in &dists {
        let case = &g.manifest["cases"][d];
        let tensors = case["tensors"].as_object().expect("tensors");
        let has = |k: &str| tensors.contains_key(k);
        let mut params = Params::new();
        for p in names(&case["params"]) {
            params.insert(p.clone(), g.tensor(&format!("{d}.{p}")));
        }
        let make = |p: &Params| build(d, case, &|n| p.get_dyn(n).unwrap().clone());
        let dist = make(&params);
        let t = |k: &str| format!("{d}.{k}");
        let value = g.tensor(&t("value"));

        g.check(
            &format!("{d} log_prob"),
            &dist.log_prob(&value).unwrap(),
            &t("log_prob"),
        );
        let continuous = has("grad_value");
        let mut with_value = params.clone();
        if continuous {
            with_value.insert("__value", value.clone());
        }
        let grads = grads_of(&g, &with_value, &t("probe"), |p| {
            let v = if continuous {
                p.get_dyn("__value").unwrap().clone()
            } else {
                value.clone()
            };
            make(p).log_prob(&v).unwrap()
        });
        for p in names(&case["params"]) {
            g.check(
                &format!("{d} d log_prob / d {p}"),
                grads.get_dyn(&p).unwrap(),
                &t(&format!("grad_{p}")),
            );
        }
        if continuous {
            g.check(
                &format!("{d} d log_prob / d value"),
                grads.get_dyn("__value").unwrap(),
                &t("grad_value"),
            );
        }

        if has("entropy") {
            g.check(
                &format!("{d} entropy"),
                &dist.entropy().unwrap(),
                &t("entropy"),
            );
            let grads = grads_of(&g, &params, &t("entropy_probe"), |p| {
                make(p).entropy().unwrap()
            });
            for p in names(&case["params"]) {
                g.check(
                    &format!("{d} d entropy / d {p}"),
                    grads.get_dyn(&p).unwrap(),
                    &t(&format!("entropy_grad_{p}")),
                );
            }
        } else {
            assert!(
                dist.entropy().is_err(),
                "{d}: torch leaves entropy undefined, duet defines it"
            );
        }
        if has("mean") {
            g.check(&format!("{d} mean"), &dist.mean().unwrap(), &t("mean"));
            g.check(
                &format!("{d} variance"),
                &dist.variance().unwrap(),
                &t("variance"),
            );
        } else {
            assert!(
                dist.mean().is_err() && dist.variance().is_err(),
                "{d}: mean defined"
            );
        }

        if has("eps") {
            assert!(dist.has_rsample(), "{d}: reparameterisable in torch");
            let eps = g.tensor(&t("eps"));
            g.check(
                &format!("{d} rsample"),
                &dist.rsample_from(&eps).unwrap(),
                &t("sample"),
            );
            let grads = grads_of(&g, &params, &t("sample_probe"), |p| {
                make(p).rsample_from(&eps).unwrap()
            });
            for p in names(&case["params"]) {
                g.check(
                    &format!("{d} d rsample / d {p}"),
                    grads.get_dyn(&p).unwrap(),
                    &t(&format!("sample_grad_{p}")),
                );
            }
            // A fresh draw has the documented shape: [*sample, *batch, *event].
            let s = dist.rsample(duet_core::Key::new(1), &[2]).unwrap();
            assert_eq!(
                s.dims(),
                value.dims().iter().skip(1).fold(vec![2], |mut v, d| {
                    v.push(*d);
                    v
                }),
                "{d}"
            );
        }
    }
}

#[test]
fn every_kl_pair_matches_torch() {
    let g = Golden::open();
    let cases = names(&g.manifest["kl_cases"]);
    assert!(cases.len() >= 10);
    let reg = KlRegistry::default();
    for c in &cases {
        let pair = c.strip_prefix("kl.").unwrap();
        let name = &pair[..(pair.len() - 1) / 2];
        assert_eq!(pair, format!("{name}_{name}"), "{c}: a pair of one type");
        let case = &g.manifest["cases"][c];
        let mut params = Params::new();
        for side in ["p", "q"] {
            for p in names(&case["params"]) {
                params.insert(format!("{side}_{p}"), g.tensor(&format!("{c}.{side}_{p}")));
            }
        }
        let kl = |ps: &Params| {
            let p = build(name, case, &|n| {
                ps.get_dyn(&format!("p_{n}")).unwrap().clone()
            });
            let q = build(name, case, &|n| {
                ps.get_dyn(&format!("q_{n}")).unwrap().clone()
            });
            reg.kl(p.as_ref(), q.as_ref()).unwrap()
        };
        g.check(c, &kl(&params), &format!("{c}.kl"));
        let grads = grads_of(&g, &params, &format!("{c}.probe"), kl);
        for side in ["p", "q"] {
            for p in names(&case["params"]) {
                let k = format!("{side}_{p}");
                g.check(
                    &format!("{c} d/d {k}"),
                    grads.get_dyn(&k).unwrap(),
                    &format!("{c}.grad_{k}"),
                );
            }
        }
    }
}

#[test]
fn monte_carlo_kl_approaches_the_analytic_one() {
    let dev = test_device();
    let p = Normal::new(
        Tensor::<1>::from_floats([0.5, -1.0], &dev),
        Tensor::<1>::from_floats([0.7, 1.3], &dev),
    )
    .unwrap();
    let q = Normal::new(
        Tensor::<1>::from_floats([0.0, 0.0], &dev),
        Tensor::<1>::from_floats([1.0, 2.0], &dev),
    )
    .unwrap();
    let exact = kl_divergence(&p, &q).unwrap().to_vec();
    let mc = kl_monte_carlo(&p, &q, duet_core::Key::new(3), 40_000)
        .unwrap()
        .to_vec();
    for (m, e) in mc.iter().zip(&exact) {
        // the estimator's standard deviation here is < 0.01
        assert!((m - e).abs() < 0.03, "{m} vs {e}");
    }
    // A pair without an analytic form is refused by name.
    let u = Uniform::new(
        Tensor::<1>::from_floats([0.0, 0.0], &dev),
        Tensor::<1>::from_floats([1.0, 1.0], &dev),
    )
    .unwrap();
    let err = kl_divergence(&u, &q).unwrap_err().to_string();
    assert!(err.contains("KL(Uniform || Normal)"), "{err}");
}

#[test]
fn special_functions_match_float64_references() {
    let dev = test_device();
    let text = std::fs::read_to_string(dir().join("special.json")).expect("special.json");
    let m: Value = serde_json::from_str(&text).unwrap();
    let col = |k: &str| -> Vec<f64> {
        m[k].as_array()
            .unwrap()
            .iter()
            .map(|v| v.as_f64().unwrap())
            .collect()
    };
    let (x, lg, dg, tg) = (col("x"), col("lgamma"), col("digamma"), col("trigamma"));
    let xs: Vec<f32> = x.iter().map(|&v| v as f32).collect();
    let t = || Tensor::<1>::from_floats(xs.as_slice(), &dev);
    let scale = tolerance_scale(&dev);
    let check = |what: &str, got: Vec<f32>, want: &[f64], atol: f64, rtol: f64| {
        for i in 0..want.len() {
            // The reference is evaluated at the float32-rounded x, as duet sees it; the float64 x
            // differs by up to 6e-8 relative, which moves f by |x f'(x)| 6e-8: allowed for.
            let err = (got[i] as f64 - want[i]).abs();
            let lim = (atol + rtol * want[i].abs()) * scale;
            assert!(
                err <= lim,
                "{what}({}) = {} vs {} (error {err:.2e} > {lim:.2e})",
                x[i],
                got[i],
                want[i]
            );
        }
    };
    let dx = |i: usize, d: &[f64]| (x[i] * 6e-8 * d[i]).abs();
    let lg_lim: Vec<f64> = (0..x.len()).map(|i| dx(i, &dg)).collect();
    let got = lgamma(t()).into_data().try_to_vec::<f32>().unwrap();
    for i in 0..x.len() {
        let err = (got[i] as f64 - lg[i]).abs();
        assert!(
            err <= (3e-6 + 1e-6 * lg[i].abs() + lg_lim[i]) * scale,
            "lgamma({}) = {} vs {}",
            x[i],
            got[i],
            lg[i]
        );
    }
    check(
        "digamma",
        digamma(t()).into_data().try_to_vec::<f32>().unwrap(),
        &dg,
        3e-6,
        1e-6 + 6e-8,
    );
    // Autodiff through the series: d lgamma = digamma, d digamma = trigamma.
    let p = Params::new().with("x", t());
    let (_, g1) = value_and_grad(|p| lgamma(p.get::<1>("x").unwrap()).sum(), &p);
    check(
        "d lgamma",
        g1.get_dyn("x").unwrap().to_vec(),
        &dg,
        3e-6,
        2e-6,
    );
    let (_, g2) = value_and_grad(|p| digamma(p.get::<1>("x").unwrap()).sum(), &p);
    check(
        "trigamma",
        g2.get_dyn("x").unwrap().to_vec(),
        &tg,
        3e-6,
        2e-6,
    );
}

#[test]
fn invalid_parameters_are_refused_in_one_line() {
    let dev = test_device();
    let t = |v: &[f32]| DynTensor::from(Tensor::<1>::from_floats(v, &dev));
    let msg = |e: ProbError| e.to_string();
    assert_eq!(
        msg(Normal::new(t(&[0.0, 0.0]), t(&[1.0, -2.0])).unwrap_err()),
        "Normal: scale must be > 0 and finite (got -2 at flat index 1)"
    );
    assert!(msg(Normal::new(t(&[0.0]), t(&[f32::NAN])).unwrap_err()).contains("scale must be > 0"));
    assert!(
        msg(Bernoulli::from_probs(t(&[0.5, 1.2])).unwrap_err()).contains("probs must be in [0, 1]")
    );
    assert!(
        msg(Beta::new(t(&[1.0]), t(&[0.0])).unwrap_err()).contains("concentration0 must be > 0")
    );
    assert!(
        msg(Gamma::new(t(&[-1.0]), t(&[1.0])).unwrap_err()).contains("concentration must be > 0")
    );
    assert!(msg(Dirichlet::new(t(&[1.0, -0.5])).unwrap_err()).contains("concentration must be > 0"));
    assert!(msg(Uniform::new(t(&[1.0]), t(&[1.0])).unwrap_err()).contains("high must be > low"));
    assert!(msg(Exponential::new(t(&[0.0])).unwrap_err()).contains("rate must be > 0"));
    assert!(
        msg(RelaxedBernoulli::new(0.0, t(&[0.0])).unwrap_err()).contains("temperature must be > 0")
    );
    let l = Tensor::<2>::from_floats([[1.0, 0.0], [0.5, -1.0]], &dev);
    let e = MultivariateNormal::new(t(&[0.0, 0.0]), l).unwrap_err();
    assert!(msg(e).contains("scale_tril must be > 0 on the diagonal (got -1 at flat index 3)"));
    let l3 = Tensor::<2>::from_floats([[1.0, 0.0, 0.0], [0.0, 1.0, 0.0], [0.0, 0.0, 1.0]], &dev);
    assert!(
        msg(MultivariateNormal::new(t(&[0.0, 0.0]), l3).unwrap_err())
            .contains("scale_tril has shape [3, 3], expected [2, 2]")
    );
    assert!(
        msg(Normal::new(t(&[0.0, 0.0]), t(&[1.0, 1.0, 1.0])).unwrap_err())
            .contains("scale has shape [3]")
    );
    // Values of the wrong shape and out-of-support classes.
    let n = Normal::new(t(&[0.0, 0.0]), t(&[1.0, 1.0])).unwrap();
    assert!(msg(n.log_prob(&t(&[0.0, 0.0, 0.0])).unwrap_err())
        .contains("value has shape [3], expected [..., 2]"));
    let c = Categorical::new(t(&[0.0, 0.0, 0.0])).unwrap();
    assert!(
        msg(c.log_prob(&t(&[3.0])).unwrap_err()).contains("value must be a class index in 0..3")
    );
    assert!(msg(c.mean().unwrap_err()).contains("Categorical: mean is not defined"));
    assert!(msg(Gamma::new(t(&[1.0]), t(&[1.0]))
        .unwrap()
        .rsample(duet_core::Key::new(0), &[2])
        .unwrap_err())
    .contains("Gamma: rsample is not available"));
}

#[test]
fn samples_have_the_right_moments() {
    // Each sampler (device noise or host draws) against its own mean and variance: 20 000 draws,
    // limits of 5 standard errors.
    let dev = test_device();
    let t = |v: &[f32]| DynTensor::from(Tensor::<1>::from_floats(v, &dev));
    let dists: Vec<Box<dyn Distribution>> = vec![
        Box::new(Normal::new(t(&[1.0, -2.0]), t(&[0.5, 2.0])).unwrap()),
        Box::new(Laplace::new(t(&[1.0, -2.0]), t(&[0.5, 2.0])).unwrap()),
        Box::new(Uniform::new(t(&[1.0, -2.0]), t(&[1.5, 2.0])).unwrap()),
        Box::new(Exponential::new(t(&[0.5, 3.0])).unwrap()),
        Box::new(Gamma::new(t(&[0.3, 4.0]), t(&[1.0, 2.0])).unwrap()),
        Box::new(Beta::new(t(&[0.5, 3.0]), t(&[2.0, 1.0])).unwrap()),
        Box::new(Bernoulli::new(t(&[-1.0, 2.0])).unwrap()),
        Box::new(LogNormal::new(t(&[0.0, -1.0]), t(&[0.3, 0.5])).unwrap()),
    ];
    let n = 20_000;
    for (i, d) in dists.iter().enumerate() {
        let s = d.sample(duet_core::Key::new(i as u64), &[n]);
        assert_eq!(s.dims(), vec![n, 2], "{}", d.name());
        let v = s.to_vec();
        let (mean, var) = (d.mean().unwrap().to_vec(), d.variance().unwrap().to_vec());
        for j in 0..2 {
            let m = v.iter().skip(j).step_by(2).map(|&x| x as f64).sum::<f64>() / n as f64;
            let se = (var[j] as f64 / n as f64).sqrt();
            assert!(
                (m - mean[j] as f64).abs() < 5.0 * se,
                "{} mean {m} vs {}",
                d.name(),
                mean[j]
            );
        }
    }
    let dir = Dirichlet::new(Tensor::<2>::from_floats([[0.5, 1.0, 2.5]], &dev)).unwrap();
    let v = dir.sample(duet_core::Key::new(9), &[n]).to_vec();
    assert!((v.iter().step_by(3).sum::<f32>() / n as f32 - 0.125).abs() < 0.01);
    let cat = Categorical::new(t(&[0.0, 1.0, 2.0])).unwrap();
    let v = cat.sample(duet_core::Key::new(10), &[n]).to_vec();
    let p2 = v.iter().filter(|&&x| x == 2.0).count() as f64 / n as f64;
    let want = (2f64).exp() / (1.0 + 1f64.exp() + 2f64.exp());
    assert!((p2 - want).abs() < 0.02, "{p2} vs {want}");
}

#[test]
fn a_transformed_event_distribution_sums_its_log_jacobian_over_the_event() {
    // exp of an Independent normal over 3 dims is 3 independent log-normals.
    let dev = test_device();
    let loc = Tensor::<1>::from_floats([0.1, -0.4, 0.3], &dev);
    let scale = Tensor::<1>::from_floats([0.5, 1.2, 0.8], &dev);
    let y: DynTensor = Tensor::<2>::from_floats([[0.5, 1.5, 2.0], [1.1, 0.2, 0.9]], &dev).into();
    let base = Independent::new(Normal::new(loc.clone(), scale.clone()).unwrap(), 1).unwrap();
    let t = Transformed::new(base, vec![Box::new(Exp)]);
    assert_eq!((t.batch_shape(), t.event_shape()), (vec![], vec![3]));
    let got = t.log_prob(&y).unwrap();
    assert_eq!(got.dims(), vec![2]);
    let want = LogNormal::new(loc, scale)
        .unwrap()
        .log_prob(&y)
        .unwrap()
        .to_vec();
    for r in 0..2 {
        let sum: f32 = want[r * 3..(r + 1) * 3].iter().sum();
        assert!(
            (got.to_vec()[r] - sum).abs() < 1e-5,
            "{} vs {sum}",
            got.to_vec()[r]
        );
    }
}
