//! The same programs on another device, and on several devices at once.
//!
//! Every test runs on the CPU (`flex`) in the default suite and on the device named by
//! `DUET_TEST_DEVICE` (CI sets `wgpu`: lavapipe, Mesa's software Vulkan device), against a
//! CPU run of the same program. Tolerances: [`tolerance_scale`] (1x the CPU tolerance on
//! `flex`, 20x on GPU backends: different reduction orders and WGSL transcendentals).

use duet_core::burn::tensor::{Device, Int, Tensor};
use duet_core::{value_and_grad, DynTensor, Key, Params};
use duet_examples::cli::args::OptimizerKind;
use duet_examples::{cli::models, functional_models};
use duet_functional::{serial, Dense, LayerExt, Mode, OnDevice, Relu};
use duet_testing::{assert_close, test_device, tolerance_scale};
use duet_train::{DataParallel, FunctionalModel, ImageClassifier};

fn lenet(device: &Device) -> FunctionalModel {
    let model = functional_models::lenet(10);
    let (params, state) = model
        .init_model(&[1, 3, 32, 32], Key::new(7), device)
        .unwrap();
    FunctionalModel {
        model: Box::new(model),
        params,
        state,
    }
}

/// A fixed synthetic batch (the same values on every device).
fn batch(n: usize, device: &Device) -> (Tensor<4>, Tensor<1, Int>) {
    let x = Key::new(3).normal_vec(n * 3 * 32 * 32, 0.0, 1.0);
    let y: Vec<i64> = (0..n as i64).map(|i| (i * 7) % 10).collect();
    (
        Tensor::<1>::from_floats(x.as_slice(), device).reshape([n, 3, 32, 32]),
        Tensor::<1, Int>::from_ints(y.as_slice(), device),
    )
}

fn values(p: &Params) -> Vec<(String, Vec<f32>)> {
    p.iter()
        .map(|(k, t)| (k.to_string(), t.clone().to_vec()))
        .collect()
}

/// `steps` optimizer steps on one batch; returns the losses.
fn train(
    model: &mut ImageClassifier<'_>,
    (kind, lr): (OptimizerKind, f64),
    steps: usize,
    x: Tensor<4>,
    y: Tensor<1, Int>,
) -> Vec<f32> {
    let mut opt = models::optimizer(kind, lr);
    (0..steps)
        .map(|s| models::train_step(model, &mut opt, x.clone(), y.clone(), Key::new(s as u64)))
        .collect()
}

/// The W1 benchmark's optimizer.
const RMSPROP: (OptimizerKind, f64) = (OptimizerKind::Rmsprop, 1e-3);
/// SGD with momentum: its update is linear in the gradient, so params from differently rounded
/// gradients stay as close as the gradients (RMSProp divides tiny gradients by their own scale,
/// which turns 1e-9 rounding noise into a full `lr` step).
const SGD: (OptimizerKind, f64) = (OptimizerKind::Sgd, 0.05);

#[test]
fn lenet_trains_on_the_test_device_as_on_the_cpu() {
    let (cpu, dev) = (Device::flex(), test_device());
    let k = tolerance_scale(&dev);
    let (x, y) = batch(32, &cpu);
    let reference = train(&mut lenet(&cpu), RMSPROP, 12, x.clone(), y.clone());
    let mut model = lenet(&dev);
    let losses = train(
        &mut model,
        RMSPROP,
        12,
        x.to_device(&dev),
        y.to_device(&dev),
    );
    eprintln!("cpu {reference:?}\n{dev:?} {losses:?}");
    // The first loss is the forward pass alone; later ones accumulate rounding differences.
    assert_close(
        "first loss",
        &losses[..1],
        &reference[..1],
        1e-5 * k,
        1e-6 * k,
    );
    assert_close("losses", &losses, &reference, 1e-3 * k.sqrt(), 1e-4);
    assert!(
        losses[11] < losses[0] - 0.3,
        "LeNet does not learn a fixed batch: {losses:?}"
    );
}

#[test]
fn data_parallel_training_matches_one_device_and_keeps_replicas_identical() {
    let (cpu, dev) = (Device::flex(), test_device());
    let k = tolerance_scale(&dev);
    let (x, y) = batch(17, &cpu); // odd: shards of 9 and 8 images
    let mut one = lenet(&cpu);
    let single = train(&mut one, SGD, 4, x.clone(), y.clone());
    let mut pair = DataParallel::new(&[cpu.clone(), dev.clone()], lenet).unwrap();
    let losses = train(&mut pair, SGD, 4, x, y);
    eprintln!("one device {single:?}\ntwo devices {losses:?}");
    assert_close("losses", &losses, &single, 1e-5 * k, 1e-6 * k);
    // Replicas hold the same params, bit for bit, each on its own device.
    let [a, b] = [0, 1].map(|i| pair.replicas()[i].params.clone());
    assert_eq!(values(&a), values(&b));
    let on = |p: &Params| p.iter().next().unwrap().1.device();
    assert_eq!((on(&a), on(&b)), (cpu.clone(), dev.clone()));
    // ... and the same params as training on one device with the whole batch.
    for ((path, got), (_, want)) in values(&a).iter().zip(values(&one.params)) {
        assert_close(path, got, &want, 1e-4 * k, 1e-6 * k);
    }
}

/// `sum(model(x)^2)`, wherever the model leaves its output.
fn sq_loss(
    model: &dyn duet_functional::Layer,
    state: &Params,
    x: &DynTensor,
    p: &Params,
) -> Tensor<1> {
    let (y, _) = model.apply(p, state, x.clone(), Mode::Eval);
    let y = y.into_rank::<2>();
    (y.clone() * y).sum()
}

#[test]
fn a_model_split_over_two_devices_matches_one_device() {
    let (cpu, dev) = (Device::flex(), test_device());
    let k = tolerance_scale(&dev);
    let split = serial![
        OnDevice::new(Dense::new(16), cpu.clone()),
        Relu,
        OnDevice::new(Dense::new(3), dev.clone())
    ];
    let whole = serial![Dense::new(16), Relu, Dense::new(3)];
    let (ps, ss) = split.init_model(&[4, 8], Key::new(1), &cpu).unwrap();
    let (pw, sw) = whole.init_model(&[4, 8], Key::new(1), &cpu).unwrap();
    assert_eq!(ps.get_dyn("2.weight").unwrap().device(), dev);
    let x = DynTensor::from_floats(Key::new(2).normal_vec(32, 0.0, 1.0), &[4, 8], &cpu);
    let (ls, gs) = value_and_grad(|p| sq_loss(&split, &ss, &x, p), &ps);
    let (lw, gw) = value_and_grad(|p| sq_loss(&whole, &sw, &x, p), &pw);
    let scalar = |t: Tensor<1>| t.into_data().try_to_vec::<f32>().unwrap();
    assert_close("loss", &scalar(ls), &scalar(lw), 1e-5 * k, 1e-6 * k);
    for path in pw.paths() {
        let (a, b) = (gs.get_dyn(path).unwrap(), gw.get_dyn(path).unwrap());
        assert_eq!(
            a.device(),
            ps.get_dyn(path).unwrap().device(),
            "{path}: gradient device"
        );
        assert_close(
            path,
            &a.clone().to_vec(),
            &b.clone().to_vec(),
            1e-5 * k,
            1e-6 * k,
        );
    }
}
