//! `duet bench`: median training-step (or forward) time on synthetic data.

use super::args::{Api, BenchArgs, OptimizerKind};
use super::CliError;
use crate::burn_models::{BurnAlexNet, BurnLeNet, BurnMlp, BurnNet, BurnTrainer};
use crate::models::ModelKind;
use duet_core::burn::tensor::{Device, Int, Tensor, TensorData};
use duet_core::Key;
use std::time::Instant;

/// The input shape and optimizer of each benchmark workload (W1-W3 of the performance issue).
pub fn workload(model: ModelKind) -> ([usize; 3], OptimizerKind, f64) {
    match model {
        ModelKind::Lenet => ([3, 32, 32], OptimizerKind::Rmsprop, 3e-4),
        ModelKind::Alexnet => ([3, 32, 32], OptimizerKind::Adam, 1e-3),
        ModelKind::Mlp => ([1, 28, 28], OptimizerKind::Adam, 1e-3),
        ModelKind::Resnet20 | ModelKind::Resnet18 => ([3, 32, 32], OptimizerKind::Sgd, 0.1),
        // Token windows, not images: `gpt_step` times it (W7); the shape is unused.
        ModelKind::Gpt => ([1, 1, 128], OptimizerKind::Adamw, 1e-3),
        // Flat images: `train_vae::bench_step` times it; the shape is MNIST's.
        ModelKind::Vae => ([1, 28, 28], OptimizerKind::Adam, 1e-3),
    }
}

/// A fixed-seed synthetic batch: `x ~ N(0, 1)`, labels uniform in `0..10`.
pub fn synthetic_batch(
    batch: usize,
    chw: [usize; 3],
    device: &Device,
) -> (Tensor<4>, Tensor<1, Int>) {
    let [c, h, w] = chw;
    let [kx, ky] = Key::new(1234).split2();
    let x = kx.normal([batch, c, h, w], 0.0, 1.0, device);
    let labels: Vec<i64> = ky
        .uniform_vec(batch, 0.0, 10.0)
        .into_iter()
        .map(|v| v as i64)
        .collect();
    (
        x,
        Tensor::from_data(TensorData::new(labels, [batch]), device),
    )
}

/// Runs `warmup` untimed then `steps` timed calls of `step`; each call must finish its work
/// (return a value read from the device). Returns the per-step times in milliseconds.
pub fn time_steps(warmup: usize, steps: usize, mut step: impl FnMut() -> f32) -> Vec<f64> {
    for _ in 0..warmup {
        step();
    }
    (0..steps)
        .map(|_| {
            let t = Instant::now();
            std::hint::black_box(step());
            t.elapsed().as_secs_f64() * 1e3
        })
        .collect()
}

/// The process's peak resident memory in MiB (`VmHWM` of `/proc/self/status`; `None` where there is no
/// such file), what the peers' scripts report as `peak_rss_mb`.
pub fn peak_rss_mb() -> Option<f64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
    let kib: f64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kib / 1024.0)
}

/// The median of `v` (sorted copy).
pub fn median(v: &[f64]) -> f64 {
    let mut s = v.to_vec();
    s.sort_by(f64::total_cmp);
    if s.is_empty() {
        return f64::NAN;
    }
    let m = s.len() / 2;
    if s.len() % 2 == 1 {
        s[m]
    } else {
        (s[m - 1] + s[m]) / 2.0
    }
}

fn burn_net(model: ModelKind, chw: [usize; 3], device: &Device) -> Result<BurnNet, CliError> {
    Ok(match model {
        ModelKind::Lenet => BurnNet::LeNet(BurnLeNet::new(chw[0], 10, device)),
        ModelKind::Alexnet => BurnNet::AlexNet(BurnAlexNet::new(10, device)),
        ModelKind::Mlp => BurnNet::Mlp(BurnMlp::new(chw.iter().product(), 10, device)),
        ModelKind::Resnet20 | ModelKind::Resnet18 | ModelKind::Gpt | ModelKind::Vae => {
            return Err(CliError::Other(format!(
                "--api burn: the plain-burn baseline has LeNet, AlexNet and the MLP, not {model}"
            )))
        }
    })
}

/// W5: images per second through the full input pipeline (with 2 batches of prefetch).
fn pipeline(args: &BenchArgs, device: &Device) -> Result<(), CliError> {
    use duet_datasets::{ImageDataset, Loader, LoaderConfig, Transform, CIFAR10_MEAN_STD};
    let n = 10_000;
    if args.batch_size > n {
        return Err(CliError::Other(format!(
            "--batch-size {} is larger than the pipeline benchmark's {n} images",
            args.batch_size
        )));
    }
    let pixels = Key::new(7)
        .uniform_vec(n * 3072, 0.0, 256.0)
        .into_iter()
        .map(|v| v as u8)
        .collect();
    let labels = (0..n).map(|i| (i % 10) as u16).collect();
    let data = ImageDataset {
        pixels,
        labels,
        channels: 3,
        height: 32,
        width: 32,
        class_names: (0..10).map(|i| i.to_string()).collect(),
    };
    let (m, s) = CIFAR10_MEAN_STD;
    let t = Transform {
        resize: None,
        random_crop_padding: Some(4),
        horizontal_flip: true,
        normalize: Some((m.to_vec(), s.to_vec())),
    };
    let loader = Loader::new(
        data,
        LoaderConfig {
            batch_size: args.batch_size,
            drop_last: true,
            shuffle: true,
            transform: t,
            prefetch: 2,
        },
        Key::new(0),
        device.clone(),
    );
    let start = Instant::now();
    let mut images = 0;
    for epoch in 0..2 {
        for b in loader.epoch(epoch) {
            let b = b.map_err(|e| CliError::Other(e.to_string()))?;
            images += b.labels.dims()[0];
            std::hint::black_box(b.images.into_data());
        }
    }
    let s = start.elapsed().as_secs_f64();
    println!(
        "{}",
        serde_json::json!({"workload": "W5", "api": "pipeline", "device": args.device, "batch_size": args.batch_size, "images": images, "seconds": s, "images_per_s": images as f64 / s})
    );
    Ok(())
}

/// The optimizer update alone on AlexNet's parameters: duet's Adam vs burn's `Adam`.
fn update_only(args: &BenchArgs, device: &Device) -> Result<(), CliError> {
    use duet_core::burn::module::{Module, ModuleVisitor, Param, ParamId};
    use duet_core::burn::optim::{AdamConfig, GradientsParams};
    use duet_core::{module_params, DynTensor};
    /// Random gradients for every float parameter of a burn module, by id.
    struct Grads(Vec<(ParamId, DynTensor)>, Key);
    impl ModuleVisitor for Grads {
        fn visit_float<const D: usize>(&mut self, p: &Param<Tensor<D>>) {
            let k = self.1.fold_in(self.0.len() as u64);
            let dims = p.val().dims();
            self.0.push((
                p.id,
                DynTensor::from(k.normal(dims, 0.0, 1e-3, &p.val().device())).without_autodiff(),
            ));
        }
    }
    // burn's optimizers update modules on an autodiff device; duet's work on plain tensors.
    let model = BurnAlexNet::new(10, &device.clone().autodiff());
    let mut g = Grads(Vec::new(), Key::new(5));
    model.visit(&mut g);
    let burn_grads = || {
        let mut gp = GradientsParams::new();
        for (id, t) in &g.0 {
            match t.rank() {
                1 => gp.register(*id, t.clone().into_rank::<1>()),
                2 => gp.register(*id, t.clone().into_rank::<2>()),
                _ => gp.register(*id, t.clone().into_rank::<4>()),
            }
        }
        gp
    };
    let mut burn_opt = AdamConfig::new().with_epsilon(1e-8).init();
    let mut m = Some(model.clone());
    let burn_ms = median(&time_steps(args.warmup, args.steps, || {
        let next = burn_opt.step(1e-3, m.take().expect("model"), burn_grads());
        let v = next.fcs[2]
            .weight
            .val()
            .slice([0..1, 0..1])
            .into_scalar::<f32>();
        m = Some(next);
        v
    }));
    let mut params = module_params(&model).without_autodiff();
    let grads = params.map_with_path(|_, t| t.full_like(1e-3));
    let mut opt = super::models::optimizer(OptimizerKind::Adam, 1e-3);
    let duet_ms = median(&time_steps(args.warmup, args.steps, || {
        opt.update_params(&mut params, grads.clone())
            .expect("same tree");
        params
            .iter()
            .last()
            .map(|(_, t)| t.clone().flatten().slice(0..1).into_scalar::<f32>())
            .unwrap_or(0.0)
    }));
    let n = params.num_params();
    println!(
        "{}",
        serde_json::json!({"workload": "adam-update", "params": n, "tensors": params.len(), "device": args.device, "duet_ms": duet_ms, "burn_ms": burn_ms, "duet_over_burn": duet_ms / burn_ms})
    );
    Ok(())
}

/// W7: one GPT training step ([`GptConfig::small`](crate::gpt::GptConfig::small) over a
/// 96-character vocabulary, `--batch-size` windows of 128 tokens; AdamW 1e-3 with gradients
/// clipped to norm 1, as `duet train --model gpt`), on fixed random token ids.
fn gpt_step(args: &BenchArgs, device: &Device) -> Result<(), CliError> {
    use crate::gpt::GptConfig;
    use duet_train::{NextToken, Task};
    if args.inference || args.pipeline || args.update_only {
        return Err(CliError::Other(
            "--model gpt times a training step only".into(),
        ));
    }
    let cfg = GptConfig::small(96);
    let (b, t) = (args.batch_size, cfg.block_size);
    let ids: Vec<i64> = Key::new(1234)
        .uniform_vec(b * (t + 1), 0.0, cfg.vocab as f32)
        .into_iter()
        .map(|v| (v as i64).min(cfg.vocab as i64 - 1))
        .collect();
    let window = Tensor::<2, Int>::from_data(TensorData::new(ids, [b, t + 1]), device);
    let (x, next, _) = NextToken.split(window);
    if args.api == Api::Burn {
        return burn_net(args.model, [1, 1, t], device).map(|_| ());
    }
    let mut model = super::models::build_gpt(args.api, cfg, Key::new(0), device)?;
    let recipe = super::recipe::Recipe {
        clip_norm: Some(1.0),
        ..super::recipe::Recipe::constant(OptimizerKind::Adamw, 1e-3)
    };
    let mut opt = recipe.optimizer();
    let mut step = 0u64;
    let times = time_steps(args.warmup, args.steps, || {
        step += 1;
        let out = model.loss_and_grad(x.clone(), Key::new(step), &|logits, rows| {
            NextToken.loss(logits, &next, rows)
        });
        opt.update(model.as_mut(), out.grads)
            .expect("gradients match the model");
        out.loss.into_scalar::<f32>()
    });
    let med = median(&times);
    let line = serde_json::json!({
        "model": "gpt", "api": format!("{:?}", args.api).to_lowercase(), "device": args.device,
        "dense_gemm": duet_core::kernels::DENSE_GEMM, "blas_core": duet_core::kernels::blas_core(), "peak_rss_mb": peak_rss_mb(), "batch_size": b, "context": t, "steps": args.steps, "median_ms": med,
        "steps_per_s": 1e3 / med, "tokens_per_s": (b * t) as f64 * 1e3 / med,
    });
    println!("{line}");
    Ok(())
}

/// Runs the benchmark and prints one JSON line.
pub fn run(args: &BenchArgs) -> Result<(), CliError> {
    if args.distributed.is_some() {
        #[cfg(feature = "mpi")]
        return super::bench_mpi::run(args);
        #[cfg(not(feature = "mpi"))]
        return Err(CliError::Other(
            "--distributed mpi: this duet was built without MPI; rebuild it with `--features mpi`"
                .into(),
        ));
    }
    if args.gemm {
        return super::bench_gemm::run(args);
    }
    let device = duet_core::device(&args.device)?;
    if args.model == ModelKind::Gpt {
        return gpt_step(args, &device);
    }
    if args.model == ModelKind::Vae {
        return super::train_vae::bench_step(args, &device);
    }
    if args.pipeline {
        return pipeline(args, &device);
    }
    if args.update_only {
        return update_only(args, &device);
    }
    let (chw, optimizer, lr) = workload(args.model);
    let (x, y) = synthetic_batch(args.batch_size, chw, &device);
    let times = match args.api {
        Api::Burn if args.inference => {
            let net = burn_net(args.model, chw, &device)?;
            time_steps(args.warmup, args.steps, || {
                net.forward(x.clone()).sum().into_scalar::<f32>()
            })
        }
        Api::Burn => {
            let ad = device.clone().autodiff();
            let mut t = BurnTrainer::new(
                burn_net(args.model, chw, &ad)?,
                if optimizer == OptimizerKind::Rmsprop {
                    "rmsprop"
                } else {
                    "adam"
                },
                lr,
            );
            let (x, y) = (x.clone().autodiff(), y.clone());
            time_steps(args.warmup, args.steps, || {
                t.step(x.clone(), y.clone()).into_scalar::<f32>()
            })
        }
        Api::Functional | Api::Module => {
            let mut trainer =
                super::models::build(args.model, args.api, chw, 10, Key::new(0), &device)?;
            let mut opt = super::models::optimizer(optimizer, lr);
            if args.inference {
                time_steps(args.warmup, args.steps, || {
                    trainer.forward(x.clone()).sum().into_scalar::<f32>()
                })
            } else {
                let mut step = 0u64;
                time_steps(args.warmup, args.steps, || {
                    step += 1;
                    super::models::train_step(
                        trainer.as_mut(),
                        &mut opt,
                        x.clone(),
                        y.clone(),
                        Key::new(step),
                    )
                })
            }
        }
    };
    let med = median(&times);
    let line = serde_json::json!({
        "model": args.model,
        "api": format!("{:?}", args.api).to_lowercase(),
        "device": args.device,
        "dense_gemm": duet_core::kernels::DENSE_GEMM,
        "blas_core": duet_core::kernels::blas_core(),
        "peak_rss_mb": peak_rss_mb(),
        "batch_size": args.batch_size,
        "steps": args.steps,
        "inference": args.inference,
        "median_ms": med,
        "steps_per_s": 1e3 / med,
        "images_per_s": args.batch_size as f64 * 1e3 / med,
    });
    println!("{line}");
    Ok(())
}
