//! A training loop written by hand from duet's public pieces (about 40 lines): LeNet with the
//! module API on the embedded digits, Adam, evaluation each epoch, a checkpoint at the end.
//!
//!     cargo run --release -p duet-examples --example custom_loop

use duet_core::burn::tensor::Device;
use duet_core::{checkpoint, module_params, module_state, ops, Key, Mode};
use duet_datasets::{digits, Loader, LoaderConfig, Transform};
use duet_examples::module_models::LeNet;
use duet_module::{value_and_grad, Rngs};
use duet_optim::{adam, Adam, Optimizer};
use duet_train::Forward;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    // This thread joins the CPU backend's thread pool: it does its share of each parallel
    // operation instead of handing it to a sleeping worker and waiting.
    duet_core::init_cpu_threads(None)?;
    let dev = Device::flex();
    let data = digits()?;
    let t = Transform {
        resize: Some((32, 32)),
        normalize: Some((vec![0.3], vec![0.4])),
        ..Default::default()
    };
    let train = Loader::new(
        data.train,
        LoaderConfig {
            batch_size: 64,
            drop_last: true,
            transform: t.clone(),
            ..Default::default()
        },
        Key::new(1),
        dev.clone(),
    );
    let test = Loader::new(
        data.test,
        LoaderConfig {
            batch_size: 256,
            shuffle: false,
            transform: t,
            ..Default::default()
        },
        Key::new(1),
        dev.clone(),
    );
    let mut rngs = Rngs::new(0);
    let mut model = LeNet::new(1, 10, &mut rngs, &dev);
    let mut opt = Optimizer::new(adam(2e-3, Adam::default()));
    for epoch in 0..8 {
        for batch in train.epoch(epoch) {
            let batch = batch?;
            let mode = Mode::Train(rngs.dropout.next());
            let (loss, grads) = value_and_grad(
                |m: &LeNet| {
                    ops::cross_entropy(
                        m.forward(batch.images.clone(), mode),
                        batch.labels.clone(),
                        &Default::default(),
                    )
                },
                &model,
            );
            opt.update(&mut model, grads)
                .expect("gradients have the model's paths");
            if batch.index.is_multiple_of(10) {
                println!(
                    "epoch {epoch} batch {:>2}: loss {:.4}",
                    batch.index,
                    loss.into_scalar::<f32>()
                );
            }
        }
        let (mut right, mut n) = (0.0, 0);
        for b in test.epoch(0) {
            let b = b?;
            n += b.labels.dims()[0];
            right +=
                ops::correct(model.forward(b.images, Mode::Eval), b.labels).into_scalar::<f32>();
        }
        println!(
            "epoch {epoch}: test accuracy {:.2}%",
            100.0 * right / n as f32
        );
    }
    let path = std::env::temp_dir().join("duet-custom-loop.safetensors");
    checkpoint::save(
        &path,
        &[
            ("params", &module_params(&model)),
            ("state", &module_state(&model)),
        ],
        &Default::default(),
    )?;
    println!("saved {}", path.display());
    Ok(())
}
