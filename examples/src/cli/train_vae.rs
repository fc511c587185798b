//! `duet train --model vae`: a variational autoencoder on an image dataset (intensities in
//! `[0, 1]` as Bernoulli targets), through the same `Trainer`, checkpoints, resume and curves as
//! the classifiers; at the end, `samples.png` (decoded prior draws) and `reconstructions.png`
//! (test images next to their reconstructions) in the run directory. Also `duet bench --model
//! vae`: one training step of PyTorch's MNIST VAE (784-400-20, batch 128).

use super::args::{Api, BenchArgs, TrainArgs};
use super::recipe::Recipe;
use super::{data, CliError};
use crate::models::ModelKind;
use crate::vae::{decoder, prior_samples, vae, write_grid, Vae, VaeConfig, VaeElbo, VAE_KEY};
use duet_core::burn::tensor::{Device, Tensor};
use duet_core::{CheckpointFile, Key, Params};
use duet_datasets::{Batch, DatasetKind, Loader, LoaderConfig, Transform};
use duet_functional::LayerExt;
use duet_train::{
    check_metadata, CheckpointDir, FunctionalModel, Model, ModuleModel, ProcessGroup, Task, Trainer,
};
use std::collections::BTreeMap;
use std::rc::Rc;

type VaeModel = dyn Model<Tensor<2>, (Tensor<2>, Tensor<2>)>;

fn fail(e: impl std::fmt::Display) -> CliError {
    CliError::Other(e.to_string())
}

/// A VAE of `cfg` in `api`, initialised from `key`.
pub fn build_vae(
    api: Api,
    cfg: VaeConfig,
    key: Key,
    device: &Device,
) -> Result<Box<VaeModel>, CliError> {
    Ok(match api {
        Api::Functional => {
            let layer = vae(cfg);
            let (params, state) = layer.init_model(&[1, cfg.input], key, device)?;
            Box::new(FunctionalModel {
                model: Box::new(layer),
                params,
                state,
            })
        }
        Api::Module => Box::new(ModuleModel(Vae::new(
            cfg,
            &mut duet_module::Rngs::new(key.to_raw()[0]),
            device,
        ))),
        Api::Burn => {
            return Err(fail(
                "--api burn is only for `duet bench` of the classifiers",
            ))
        }
    })
}

/// Runs `duet train --model vae`, alone or as a rank of `group`.
pub fn run(args: &TrainArgs, group: Option<Rc<dyn ProcessGroup>>) -> Result<(), CliError> {
    let (rank, ranks) = group.as_ref().map_or((0, 1), |g| (g.rank(), g.size()));
    let primary = rank == 0;
    if args.data.dataset == DatasetKind::Text {
        return Err(fail(
            "--model vae trains on images: pass --dataset digits, mnist, cifar10, ...",
        ));
    }
    if args.device.contains(',') {
        return Err(fail("--device: the VAE trains on one device"));
    }
    let device = duet_core::device(args.device.trim())?;
    let out = super::train::out_dir(args, primary)?;
    let splits = data::load(&args.data)?;
    let (c, h, w) = (
        splits.train.channels,
        splits.train.height,
        splits.train.width,
    );
    let cfg = VaeConfig::for_pixels(c * h * w);
    let batch = args.batch_size.unwrap_or(128);
    if batch < ranks {
        return Err(fail(format!(
            "--batch-size {batch} is smaller than the {ranks} ranks"
        )));
    }
    let key = Key::new(args.seed);
    let [k_init, k_data, k_steps, k_grid] = [0, 1, 2, 3].map(|i| key.fold_in(i));
    let loader = |data, batch_size, shuffle| {
        let cfg = LoaderConfig {
            batch_size,
            drop_last: shuffle,
            shuffle,
            transform: Transform::default(),
            prefetch: 2,
        };
        Loader::new(data, cfg, k_data, device.clone()).shard(rank, ranks)
    };
    let (train, test) = (
        loader(splits.train, batch, true),
        loader(splits.test, 256, false),
    );
    if train.batches_per_epoch() == 0 {
        return Err(fail(format!(
            "the training split has {} images, fewer than one batch of {batch}",
            train.data().len()
        )));
    }
    let spe = train.batches_per_epoch() as u64;
    let total_steps = match (args.steps, args.epochs.unwrap_or(20)) {
        (Some(steps), _) => steps,
        (None, epochs) => epochs.saturating_mul(spe),
    };
    let mut model = build_vae(args.api, cfg, k_init, &device)?;
    let recipe = Recipe::of(args, ModelKind::Vae, total_steps);
    let mut opt = recipe.optimizer();
    let api = format!("{:?}", args.api).to_lowercase();
    let sizes = serde_json::json!({"input": cfg.input, "hidden": cfg.hidden, "latent": cfg.latent})
        .to_string();
    let metadata = BTreeMap::from([
        ("duet.model".to_string(), "vae".to_string()),
        ("duet.api".to_string(), api.clone()),
        ("duet.dataset".to_string(), args.data.dataset.to_string()),
        ("duet.seed".to_string(), args.seed.to_string()),
        (duet_train::OPTIMIZER_KEY.to_string(), recipe.description()),
        (VAE_KEY.to_string(), sizes),
    ]);
    if let (Some(dir), true) = (&args.resume, primary) {
        if let Some(latest) = CheckpointDir::latest(dir)? {
            check_metadata(
                &CheckpointFile::open(&latest)?,
                &metadata,
                args.reset_optimizer,
            )
            .map_err(fail)?;
        }
    }
    let train_cfg = super::train::config(args, &out, total_steps, spe, k_steps, metadata);
    let mut trainer = Trainer::new(VaeElbo, train_cfg);
    if let Some(g) = group {
        trainer = trainer.with_group(g);
    }
    if primary {
        eprintln!(
            "training a VAE ({api} API) on {}: {} train / {} test images of {c}x{h}x{w}, {}-{}-{} ({} params), {total_steps} steps of {batch}",
            args.data.dataset,
            train.data().len(),
            test.data().len(),
            cfg.input,
            cfg.hidden,
            cfg.latent,
            model.params().num_params()
        );
    }
    let summary = trainer
        .fit(
            model.as_mut(),
            &mut opt,
            &train,
            &test,
            args.resume.as_deref(),
        )
        .map_err(fail)?;
    if !primary {
        return Ok(());
    }
    let eval = match &summary.eval {
        Some(m) => format!(
            "test negative ELBO {:.3} nats per image (reconstruction {:.3} + KL {:.3})",
            m["loss"], m["recon"], m["kl"]
        ),
        None => "not evaluated yet".into(),
    };
    let first = test.epoch(0).next().transpose().map_err(fail)?;
    grids(model.as_ref(), cfg, (h, w), first, k_grid, &device, &out)?;
    super::train::report(&summary, &eval, &out);
    println!(
        "prior samples {}; reconstructions {}",
        out.join("samples.png").display(),
        out.join("reconstructions.png").display()
    );
    Ok(())
}

/// Writes `samples.png` (64 decoded prior draws, 8 per row) and `reconstructions.png` (up to 16
/// test images, each followed by its reconstruction `σ(dec(μ(x)))`). Images of several
/// channels are shown as the mean of their channels.
fn grids(
    model: &VaeModel,
    cfg: VaeConfig,
    (h, w): (usize, usize),
    test: Option<Batch>,
    key: Key,
    device: &Device,
    out: &std::path::Path,
) -> Result<(), CliError> {
    let params: Params = model.params().subtree("dec");
    let dec = decoder(cfg);
    let decode = |z: Tensor<2>| {
        dec.apply(&params, &Params::new(), z.into(), duet_core::Mode::Eval)
            .0
            .into_rank::<2>()
    };
    let grey = |t: Tensor<2>| grey(&host(t), cfg.input / (h * w), h * w);
    let samples = grey(prior_samples(decode, cfg.latent, 64, key, device));
    write_grid(&out.join("samples.png"), &samples, (h, w), 8).map_err(fail)?;
    if let Some(b) = test {
        let (x, _, n) = VaeElbo.split(b);
        let n = n.min(16);
        let x = x.slice([0..n, 0..cfg.input]);
        let (logits, _) = model.forward(x.clone());
        let (xs, rs) = (grey(x), grey(duet_core::ops::activation::sigmoid(logits)));
        let pairs: Vec<f32> = (0..n)
            .flat_map(|i| [&xs[i * h * w..][..h * w], &rs[i * h * w..][..h * w]].concat())
            .collect();
        write_grid(&out.join("reconstructions.png"), &pairs, (h, w), 8).map_err(fail)?;
    }
    Ok(())
}

/// `[N, C·P]` images (channels first) as `[N, P]`, the mean over channels.
fn grey(v: &[f32], c: usize, p: usize) -> Vec<f32> {
    v.chunks(c * p)
        .flat_map(|img| (0..p).map(move |i| (0..c).map(|k| img[k * p + i]).sum::<f32>() / c as f32))
        .collect()
}

/// A tensor's values on the host.
fn host(t: Tensor<2>) -> Vec<f32> {
    duet_core::DynTensor::from(t).to_vec()
}

/// `duet bench --model vae`: median ms of one training step (forward, ELBO, backward, Adam) of
/// the 784-400-20 VAE on a fixed batch of `--batch-size` images with intensities in `[0, 1]`.
pub fn bench_step(args: &BenchArgs, device: &Device) -> Result<(), CliError> {
    if args.inference || args.pipeline || args.update_only {
        return Err(fail("--model vae times a training step only"));
    }
    let cfg = VaeConfig::mnist();
    let b = args.batch_size;
    let x = Tensor::<1>::from_floats(
        Key::new(1234)
            .uniform_vec(b * cfg.input, 0.0, 1.0)
            .as_slice(),
        device,
    )
    .reshape([b, cfg.input]);
    let mut model = build_vae(args.api, cfg, Key::new(0), device)?;
    let mut opt = Recipe::constant(super::args::OptimizerKind::Adam, 1e-3).optimizer();
    let mut step = 0u64;
    let times = super::bench::time_steps(args.warmup, args.steps, || {
        step += 1;
        let out = model.loss_and_grad(x.clone(), Key::new(step), &|o, rows| {
            VaeElbo.loss(o, &x, rows)
        });
        opt.update(model.as_mut(), out.grads)
            .expect("gradients match the model");
        out.loss.into_scalar::<f32>()
    });
    let med = super::bench::median(&times);
    let line = serde_json::json!({
        "model": "vae", "api": format!("{:?}", args.api).to_lowercase(), "device": args.device,
        "dense_gemm": duet_core::kernels::DENSE_GEMM,
        "blas_core": duet_core::kernels::blas_core(),
        "peak_rss_mb": super::bench::peak_rss_mb(), "batch_size": b, "steps": args.steps, "median_ms": med, "steps_per_s": 1e3 / med,
    });
    println!("{line}");
    Ok(())
}
