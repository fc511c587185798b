//! Per-example gradient norms (the building block of differentially private SGD) for a batch
//! of the embedded digits through the functional LeNet (`Layer::forward_per_example`), in one
//! backward pass (`transform::try_per_example_grads`), checked against the ordinary batch
//! gradient (their mean).
//!
//!     cargo run --release -p duet-examples --example per_example_norms

use duet_core::burn::tensor::Device;
use duet_core::layers::{cross_entropy, PerExample};
use duet_core::ops::{CrossEntropy, Reduction};
use duet_core::transform::{try_per_example_grads, Unsupported};
use duet_core::{value_and_grad, DynTensor, Key, Mode, Val};
use duet_datasets::{digits, Loader, LoaderConfig, Transform};
use duet_examples::functional_models::lenet;
use duet_functional::{Layer, LayerExt};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let dev = Device::flex();
    let t = Transform {
        resize: Some((32, 32)),
        normalize: Some((vec![0.3], vec![0.4])),
        ..Default::default()
    };
    let cfg = LoaderConfig {
        batch_size: 16,
        shuffle: false,
        transform: t,
        ..Default::default()
    };
    let batch = Loader::new(digits()?.test, cfg, Key::new(0), dev.clone())
        .epoch(0)
        .next()
        .expect("a batch")?;
    let (x, labels) = (DynTensor::from(batch.images), batch.labels);
    let model = lenet(10);
    let (params, state) = model.init_model(&[1, 1, 32, 32], Key::new(0), &dev)?;
    let b = x.dims()[0];
    // Each example's cross-entropy, through the functional layers on `PerExample` values.
    let each = CrossEntropy {
        reduction: Reduction::None,
        ..Default::default()
    };
    let (_, per_example) = try_per_example_grads(
        |p| {
            let input = vec![PerExample::plain(x.clone())];
            let (mut logits, _) = model.forward_per_example(p, &state, input, Mode::Eval)?;
            Ok::<_, Unsupported>(cross_entropy(logits.remove(0), labels.clone(), &each))
        },
        &params,
        b,
    )?;
    // Each example's gradient norm over every param.
    let mut sq = vec![0.0f32; b];
    for (_, g) in per_example.iter() {
        let v = g.clone().to_vec();
        let per = v.len() / b;
        for (i, s) in sq.iter_mut().enumerate() {
            *s += v[i * per..(i + 1) * per].iter().map(|x| x * x).sum::<f32>();
        }
    }
    println!("per-example gradient norms (LeNet at initialisation, {b} digits):");
    for (i, s) in sq.iter().enumerate() {
        println!("  example {i:>2}: {:.4}", s.sqrt());
    }
    // Their mean is the batch gradient of the mean loss.
    let (_, batch_grad) = value_and_grad(
        |p| {
            let (logits, _) = model.apply(p, &state, x.clone(), Mode::Eval);
            cross_entropy(logits, labels.clone(), &Default::default()).into_rank::<1>()
        },
        &params,
    );
    let mut worst = 0.0f32;
    for (path, g) in per_example.iter() {
        let mean = g.clone().mean_dim(0).to_vec();
        let want = batch_grad.get_dyn(path)?.clone().to_vec();
        worst = mean
            .iter()
            .zip(&want)
            .map(|(a, b)| (a - b).abs())
            .fold(worst, f32::max);
    }
    println!("max |mean of per-example gradients - batch gradient|: {worst:.2e}");
    Ok(())
}
