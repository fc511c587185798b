//! Sharpness: the largest eigenvalue of the Hessian of LeNet's loss on a batch of the embedded
//! digits, by power iteration on exact Hessian-vector products (`transform::hvp`, reverse over
//! forward through the functional LeNet's `forward_jvp`), at initialisation and after training
//! with the same `Trainer` the `duet` command uses.
//!
//!     cargo run --release -p duet-examples --example sharpness

use duet_core::burn::tensor::{Device, Int, Tensor};
use duet_core::layers::{cross_entropy, Dual};
use duet_core::transform::{hvp, DualParams};
use duet_core::{DynTensor, Key, Mode, Params};
use duet_datasets::{digits, Batch, Loader, LoaderConfig, Transform};
use duet_examples::functional_models::lenet;
use duet_functional::{Layer, LayerExt};
use duet_optim::{sgd, Optimizer, Sgd};
use duet_train::{Classification, FunctionalModel, TrainConfig, Trainer};

/// `sum(a * b)` over the tree.
fn dot(a: &Params, b: &Params) -> f32 {
    let term =
        |p: &str, t: &DynTensor| (t.clone() * b.get_dyn(p).expect("same paths").clone()).sum();
    a.iter().map(|(p, t)| term(p, t).into_scalar::<f32>()).sum()
}

/// The top eigenvalue of the loss's Hessian at `params` on one batch (power iteration).
fn top_eigenvalue(
    model: &dyn Layer,
    params: &Params,
    x: &DynTensor,
    labels: &Tensor<1, Int>,
) -> f32 {
    let loss = |p: &DualParams| {
        let inputs = vec![Dual::zero_tangent(x.clone())];
        let (mut logits, _) = model
            .forward_jvp(p, &Params::new(), inputs, Mode::Eval)
            .expect("LeNet has forward mode");
        cross_entropy(logits.remove(0), labels.clone(), &Default::default())
    };
    let key = Key::new(42);
    let mut v = params.map_with_path(|path, t| {
        let k = key.fold_in(path.len() as u64 * 7919 + t.num_elements() as u64);
        DynTensor::from_floats(
            k.normal_vec(t.num_elements(), 0.0, 1.0),
            &t.dims(),
            &t.device(),
        )
    });
    let mut lambda = 0.0;
    for _ in 0..20 {
        let norm = dot(&v, &v).sqrt();
        v = v.map(|t| t / norm);
        let (_, hv) = hvp(loss, params, &v);
        lambda = dot(&v, &hv);
        v = hv;
    }
    lambda
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let dev = Device::flex();
    let data = digits()?;
    let t = Transform {
        resize: Some((32, 32)),
        normalize: Some((vec![0.3], vec![0.4])),
        ..Default::default()
    };
    let cfg = |batch_size, shuffle| LoaderConfig {
        batch_size,
        shuffle,
        drop_last: true,
        transform: t.clone(),
        ..Default::default()
    };
    let train = Loader::new(data.train, cfg(64, true), Key::new(1), dev.clone());
    let test = Loader::new(data.test, cfg(128, false), Key::new(1), dev.clone());
    let Batch { images, labels, .. } = test.epoch(0).next().expect("a batch")?;
    let x = DynTensor::from(images);
    let net = lenet(10);
    let (params, state) = net.init_model(&[1, 1, 32, 32], Key::new(0), &dev)?;
    println!(
        "top Hessian eigenvalue at initialisation: {:.3}",
        top_eigenvalue(&net, &params, &x, &labels)
    );
    let mut model = FunctionalModel {
        model: Box::new(lenet(10)),
        params,
        state,
    };
    let out = std::env::temp_dir().join(format!("duet-sharpness-{}", std::process::id()));
    let run = TrainConfig {
        total_steps: 300,
        quiet: true,
        overwrite: true,
        ..TrainConfig::new(&out)
    };
    let mut opt = Optimizer::new(sgd(
        0.05,
        Sgd {
            momentum: 0.9,
            ..Default::default()
        },
    ));
    let summary = Trainer::new(Classification::default(), run)
        .fit(&mut model, &mut opt, &train, &test, None)?;
    let eval = summary.eval.unwrap_or_default();
    println!(
        "after 300 SGD steps (test accuracy {:.1}%): {:.3}",
        eval.get("accuracy").copied().unwrap_or(0.0) * 100.0,
        top_eigenvalue(&net, &model.params, &x, &labels)
    );
    std::fs::remove_dir_all(&out)?;
    Ok(())
}
