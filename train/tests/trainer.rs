//! One `Trainer` for any task and either API: a regression (MSE) trained to the known answer
//! with both APIs step for step equal, data-parallel equal to one device, the learning rate
//! logged from the optimizer's schedule, and two tasks defined here, outside duet-train, trained
//! without any change to it: a next-token language model (functional) and a VAE on its ELBO
//! (module).

use duet_core::burn::module::Module;
use duet_core::burn::tensor::{Device, Int, Tensor};
use duet_core::ops::{cross_entropy, CrossEntropy};
use duet_core::{Key, Mode, Parameterized};
use duet_datasets::InMemory;
use duet_functional::{serial, Dense, Embedding, LayerExt};
use duet_module::{Linear, Rngs};
use duet_optim::{sgd, Cosine, Optimizer, Sgd};
use duet_train::*;
use std::collections::BTreeMap;
use std::ops::Range;
use std::path::Path;

/// `y = x A + b` for fixed `A` (`[4, 2]`) and `b`, as batches of 8.
fn linear_data(batches: usize, seed: u64, dev: &Device) -> InMemory<(Tensor<2>, Tensor<2>)> {
    let a = Tensor::<1>::from_floats([0.5, -1.0, 2.0, 0.25, -0.75, 1.5, 1.0, -2.0], dev)
        .reshape([4, 2]);
    let b = Tensor::<1>::from_floats([0.3, -0.1], dev).reshape([1, 2]);
    let xs = (0..batches as u64).map(|i| {
        let x = Key::new(seed).fold_in(i).normal([8, 4], 0.0, 1.0, dev);
        let y = x.clone().matmul(a.clone()) + b.clone();
        (x, y)
    });
    InMemory::new(xs.collect(), 8)
}

fn functional_regressor(dev: &Device) -> FunctionalModel {
    let layer = serial!["fc" => Dense::new(2)];
    let (params, state) = layer.init_model(&[1, 4], Key::new(5), dev).unwrap();
    FunctionalModel {
        model: Box::new(layer),
        params,
        state,
    }
}

#[derive(Module, Debug)]
struct Regressor {
    fc: Linear,
}

impl Forward<Tensor<2>, Tensor<2>> for Regressor {
    fn forward(&self, x: Tensor<2>, _: Mode) -> Tensor<2> {
        self.fc.forward(x)
    }
}

fn config(out: &Path, steps: u64) -> TrainConfig {
    TrainConfig {
        total_steps: steps,
        log_every: 1,
        quiet: true,
        ..TrainConfig::new(out)
    }
}

fn read_log(dir: &Path) -> Vec<Record> {
    MetricsLog::read(dir.join("metrics.jsonl")).unwrap()
}

fn train_losses(dir: &Path) -> Vec<f64> {
    read_log(dir)
        .iter()
        .filter(|r| r.split == "train")
        .map(|r| r.loss)
        .collect()
}

#[test]
fn regression_reaches_the_answer_with_both_apis_step_for_step() {
    let dev = Device::flex();
    let tmp = tempfile::tempdir().unwrap();
    let (train, test) = (linear_data(16, 1, &dev), linear_data(2, 2, &dev));
    let trainer =
        |dir: &str| Trainer::new(Regression::default(), config(&tmp.path().join(dir), 160));
    let opt = || Optimizer::new(sgd(0.1, Sgd::default()));
    let mut f = functional_regressor(&dev);
    let mut m = ModuleModel(Regressor {
        fc: Linear::new(4, 2, &mut Rngs::new(0), &dev),
    });
    m.load_params(&f.params()).unwrap();
    let sf = trainer("f")
        .fit(&mut f, &mut opt(), &train, &test, None)
        .unwrap();
    let sm = trainer("m")
        .fit(&mut m, &mut opt(), &train, &test, None)
        .unwrap();
    let eval = sf.eval.unwrap();
    assert!(eval["loss"] < 1e-2, "test MSE {eval:?}");
    assert!(eval["mae"] < 0.1, "{eval:?}");
    let (lf, lm) = (
        train_losses(&tmp.path().join("f")),
        train_losses(&tmp.path().join("m")),
    );
    assert_eq!(lf.len(), 160);
    assert!(
        lf[0] > 10.0 * lf[159],
        "the loss fell: {} -> {}",
        lf[0],
        lf[159]
    );
    for (s, (a, b)) in lf.iter().zip(&lm).enumerate() {
        assert!(
            (a - b).abs() <= 1e-6 * a.abs().max(1e-3),
            "step {s}: {a} vs {b}"
        );
    }
    assert_eq!(
        sm.eval.unwrap()["loss"].to_bits() as f64,
        eval["loss"].to_bits() as f64
    );
    // `best.safetensors` is the lowest evaluation loss (Regression's `best` is the loss, lower).
    let evals: Vec<(u64, f64)> = read_log(&tmp.path().join("f"))
        .iter()
        .filter(|r| r.split == "eval")
        .map(|r| (r.step, r.loss))
        .collect();
    let lowest = evals.iter().min_by(|a, b| a.1.total_cmp(&b.1)).unwrap();
    let best = duet_core::CheckpointFile::open(tmp.path().join("f/best.safetensors")).unwrap();
    assert_eq!(
        best.metadata()["duet.step"],
        lowest.0.to_string(),
        "{evals:?}"
    );
}

#[test]
fn data_parallel_regression_equals_one_device() {
    let dev = Device::flex();
    let tmp = tempfile::tempdir().unwrap();
    let (train, test) = (linear_data(4, 3, &dev), linear_data(1, 4, &dev));
    let run = |dir: &str, model: &mut TaskModel<'_, Regression>| {
        let t = Trainer::new(Regression::default(), config(&tmp.path().join(dir), 8));
        let mut opt = Optimizer::new(sgd(0.05, Sgd::default()));
        t.fit(model, &mut opt, &train, &test, None).unwrap()
    };
    let one = run("one", &mut functional_regressor(&dev));
    let mut pair = DataParallel::new(
        &[dev.clone(), dev.clone(), dev.clone()],
        functional_regressor,
    )
    .unwrap();
    let three = run("three", &mut pair);
    let (a, b) = (
        train_losses(&tmp.path().join("one")),
        train_losses(&tmp.path().join("three")),
    );
    for (x, y) in a.iter().zip(&b) {
        assert!((x - y).abs() <= 1e-5 * x.abs(), "{a:?} vs {b:?}");
    }
    let (ea, eb) = (one.eval.unwrap(), three.eval.unwrap());
    assert!(
        (ea["mae"] - eb["mae"]).abs() <= 1e-5 * ea["mae"],
        "{ea:?} vs {eb:?}"
    );
}

#[test]
fn the_logged_learning_rate_is_the_optimizers_schedule() {
    let dev = Device::flex();
    let tmp = tempfile::tempdir().unwrap();
    let (train, test) = (linear_data(4, 1, &dev), linear_data(1, 2, &dev));
    let schedule = Cosine {
        lr: 0.1,
        steps: 10,
        alpha: 0.0,
    };
    let mut opt = Optimizer::new(sgd(schedule, Sgd::default()));
    let t = Trainer::new(Regression::default(), config(tmp.path(), 10));
    t.fit(
        &mut functional_regressor(&dev),
        &mut opt,
        &train,
        &test,
        None,
    )
    .unwrap();
    let logged: Vec<(u64, f64)> = read_log(tmp.path())
        .iter()
        .filter(|r| r.split == "train")
        .map(|r| (r.step, r.lr))
        .collect();
    assert_eq!(logged.len(), 10);
    for (step, lr) in logged {
        // Step `s` (1-based) applied the schedule's rate for update `s - 1`.
        let want = duet_optim::Schedule::lr(&schedule, step - 1);
        assert!((lr - want).abs() < 1e-12, "step {step}: {lr} vs {want}");
    }
}

/// Next-token prediction over `[B, T + 1]` token ids: a task written outside duet-train.
struct NextToken;

impl Task for NextToken {
    type Batch = Tensor<2, Int>;
    type Input = Tensor<2, Int>;
    type Target = Tensor<2, Int>;
    type Output = Tensor<3>;

    fn split(&self, tokens: Tensor<2, Int>) -> (Tensor<2, Int>, Tensor<2, Int>, usize) {
        let [b, t1] = tokens.dims();
        (
            tokens.clone().slice([0..b, 0..t1 - 1]),
            tokens.slice([0..b, 1..t1]),
            b,
        )
    }

    fn loss(&self, logits: Tensor<3>, next: &Tensor<2, Int>, rows: Option<Range<usize>>) -> Scored {
        let next = next.part(rows, &logits.device().without_autodiff());
        let [b, t, v] = logits.dims();
        let loss = cross_entropy(
            logits.reshape([b * t, v]),
            next.reshape([b * t]),
            &CrossEntropy::default(),
        );
        Scored {
            loss,
            sums: Metrics::default(),
        }
    }

    fn finish(&self, means: &mut BTreeMap<String, f64>) {
        means.insert("perplexity".into(), means["loss"].exp());
    }
}

#[test]
fn a_language_model_task_defined_outside_the_crate_trains() {
    let dev = Device::flex();
    let tmp = tempfile::tempdir().unwrap();
    // A cyclic text over 5 symbols: each token determines the next.
    let seqs = |offset: i64| -> Tensor<2, Int> {
        let ids: Vec<i32> = (0..4 * 9)
            .map(|i| (((i / 9) + (i % 9) + offset) % 5) as i32)
            .collect();
        Tensor::<1, Int>::from_ints(ids.as_slice(), &dev).reshape([4, 9])
    };
    let (train, test) = (
        InMemory::new(vec![seqs(0), seqs(1)], 4),
        InMemory::new(vec![seqs(2)], 4),
    );
    let layer = serial!["wte" => Embedding::new(5, 8), "head" => Dense::new(5)];
    let (params, state) = layer.init_model(&[1, 8], Key::new(0), &dev).unwrap();
    let mut model = FunctionalModel {
        model: Box::new(layer),
        params,
        state,
    };
    let mut opt = Optimizer::new(duet_optim::adam(0.05, duet_optim::Adam::default()));
    let t = Trainer::new(NextToken, config(tmp.path(), 60));
    let s = t.fit(&mut model, &mut opt, &train, &test, None).unwrap();
    let eval = s.eval.unwrap();
    let first = read_log(tmp.path())
        .into_iter()
        .find(|r| r.split == "eval")
        .unwrap();
    assert!(first.metric("perplexity").unwrap() > 1.5, "{first:?}");
    assert!(
        eval["perplexity"] < 1.1,
        "a deterministic sequence is learned: {eval:?}"
    );
    assert!((eval["perplexity"] - eval["loss"].exp()).abs() < 1e-9);
}

/// A variational autoencoder on the embedded 8x8 digits, as a module: encoder to a Gaussian
/// posterior, a reparameterised sample (noise from the step's key), decoder to Bernoulli logits.
#[derive(Module, Debug)]
struct Vae {
    enc: Linear,
    mu: Linear,
    logvar: Linear,
    dec1: Linear,
    dec2: Linear,
}

/// Decoder logits and the posterior's `(mu, log variance)`.
type VaeOut = (Tensor<2>, (Tensor<2>, Tensor<2>));

impl Forward<Tensor<2>, VaeOut> for Vae {
    fn forward(&self, x: Tensor<2>, mode: Mode) -> VaeOut {
        use duet_core::ops::activation::relu;
        let h = relu(self.enc.forward(x));
        let (mu, logvar) = (self.mu.forward(h.clone()), self.logvar.forward(h));
        let z = match mode {
            Mode::Train(key) => {
                let eps = key.normal(mu.dims(), 0.0, 1.0, &mu.device());
                mu.clone() + (logvar.clone() * 0.5).exp() * eps
            }
            Mode::Eval => mu.clone(),
        };
        (self.dec2.forward(relu(self.dec1.forward(z))), (mu, logvar))
    }
}

/// The negative ELBO per example: Bernoulli reconstruction (summed over pixels) plus the
/// analytic KL of the posterior from N(0, I); both logged.
struct Elbo;

impl Task for Elbo {
    type Batch = Tensor<2>;
    type Input = Tensor<2>;
    type Target = Tensor<2>;
    type Output = VaeOut;

    fn split(&self, x: Tensor<2>) -> (Tensor<2>, Tensor<2>, usize) {
        let n = x.dims()[0];
        (x.clone(), x, n)
    }

    fn loss(
        &self,
        (logits, (mu, logvar)): VaeOut,
        x: &Tensor<2>,
        rows: Option<Range<usize>>,
    ) -> Scored {
        use duet_core::ops::{bce_with_logits, Reduction};
        let x = x.part(rows, &logits.device().without_autodiff());
        let n = logits.dims()[0] as f64;
        let recon = bce_with_logits(logits, x, Reduction::Sum);
        let kl = ((mu.square() + logvar.clone().exp() - logvar - 1.0) * 0.5).sum();
        let mut sums = Metrics::default();
        sums.add("recon", recon.clone().without_autodiff());
        sums.add("kl", kl.clone().without_autodiff());
        Scored {
            loss: (recon + kl) / n,
            sums,
        }
    }
}

#[test]
fn a_vae_trains_on_its_elbo_through_the_same_trainer() {
    let dev = Device::flex();
    let tmp = tempfile::tempdir().unwrap();
    let data = duet_datasets::digits().unwrap();
    // 8x8 intensities in [0, 1], as Bernoulli means; batches of 32.
    let batches = |d: &duet_datasets::ImageDataset, count: usize| -> InMemory<Tensor<2>> {
        let xs = (0..count).map(|b| {
            let px: Vec<f32> = (b * 32..(b + 1) * 32)
                .flat_map(|i| d.image(i).iter().map(|&p| p as f32 / 255.0))
                .collect();
            Tensor::<1>::from_floats(px.as_slice(), &dev).reshape([32, 64])
        });
        InMemory::new(xs.collect(), 32)
    };
    let (train, test) = (batches(&data.train, 10), batches(&data.test, 2));
    let mut r = Rngs::new(0);
    let vae = Vae {
        enc: Linear::new(64, 64, &mut r, &dev),
        mu: Linear::new(64, 8, &mut r, &dev),
        logvar: Linear::new(64, 8, &mut r, &dev),
        dec1: Linear::new(8, 64, &mut r, &dev),
        dec2: Linear::new(64, 64, &mut r, &dev),
    };
    let mut model = ModuleModel(vae);
    let mut opt = Optimizer::new(duet_optim::adam(3e-3, duet_optim::Adam::default()));
    let t = Trainer::new(Elbo, config(tmp.path(), 200));
    let s = t.fit(&mut model, &mut opt, &train, &test, None).unwrap();
    let log = read_log(tmp.path());
    let evals: Vec<&Record> = log.iter().filter(|r| r.split == "eval").collect();
    let (first, last) = (evals[0], s.eval.unwrap());
    eprintln!(
        "negative ELBO per example: epoch 1 {:.2}, end {last:?}",
        first.loss
    );
    // The loss is the sum of the logged parts, and training lowered it.
    assert!(
        (last["loss"] - last["recon"] - last["kl"]).abs() < 1e-3 * last["loss"],
        "{last:?}"
    );
    assert!(
        last["loss"] < 0.8 * first.loss,
        "{} -> {}",
        first.loss,
        last["loss"]
    );
    assert!(last["kl"] > 0.1, "the posterior is used: {last:?}");
}
