//! One Adam step over AlexNet-sized parameters (CIFAR-style AlexNet: five convolutions and three
//! dense layers with biases, 16 tensors, ~8.7 M values): duet's `adam` (a chain of transforms over
//! a `Params` tree) against burn's own `burn::optim::Adam` applied tensor by tensor through its
//! per-parameter `Optimizer::step`. Both use eps 1e-8 and lr 1e-3; each iteration reads one
//! value back so lazy backends finish the step inside the measurement.
//!
//! `cargo bench -p duet-optim -- --warm-up-time 1 --measurement-time 3`

#![allow(missing_docs)]

use criterion::{criterion_group, criterion_main, Criterion};
use duet_core::burn::optim::{Adam as BurnAdam, AdamConfig, AdamState, Optimizer as BurnOptimizer};
use duet_core::burn::tensor::{Device, Distribution, Tensor};
use duet_core::{DynTensor, Params};
use duet_optim::{adam, Adam, Optimizer};

/// `(path, shape)` of AlexNet's parameters (conv `[out, in, kh, kw]`, dense `[in, out]`).
fn shapes() -> Vec<(String, Vec<usize>)> {
    let convs = [(64, 3), (192, 64), (384, 192), (256, 384), (256, 256)];
    let dense = [(4096, 1024), (1024, 1024), (1024, 10)];
    let mut v = Vec::new();
    for (i, (o, c)) in convs.iter().enumerate() {
        v.push((format!("features.{i}.weight"), vec![*o, *c, 3, 3]));
        v.push((format!("features.{i}.bias"), vec![*o]));
    }
    for (i, (n_in, n_out)) in dense.iter().enumerate() {
        v.push((format!("classifier.{i}.weight"), vec![*n_in, *n_out]));
        v.push((format!("classifier.{i}.bias"), vec![*n_out]));
    }
    v
}

fn random(shape: &[usize], dev: &Device) -> DynTensor {
    let n = shape.iter().product::<usize>();
    DynTensor::from(Tensor::<1>::random(
        [n],
        Distribution::Normal(0.0, 0.01),
        dev,
    ))
    .reshape(shape)
}

/// burn's per-tensor state, by rank.
enum Slot {
    R1(Tensor<1>, Tensor<1>, Option<AdamState<1>>),
    R2(Tensor<2>, Tensor<2>, Option<AdamState<2>>),
    R4(Tensor<4>, Tensor<4>, Option<AdamState<4>>),
}

fn burn_step(opt: &BurnAdam, slots: &mut [Slot]) -> f32 {
    for s in slots.iter_mut() {
        match s {
            Slot::R1(p, g, st) => {
                let (np, ns) = opt.step(1e-3, p.clone(), g.clone(), st.take());
                (*p, *st) = (np, ns);
            }
            Slot::R2(p, g, st) => {
                let (np, ns) = opt.step(1e-3, p.clone(), g.clone(), st.take());
                (*p, *st) = (np, ns);
            }
            Slot::R4(p, g, st) => {
                let (np, ns) = opt.step(1e-3, p.clone(), g.clone(), st.take());
                (*p, *st) = (np, ns);
            }
        }
    }
    match slots.last().expect("params") {
        Slot::R1(p, ..) => p.clone().slice(0..1).into_scalar::<f32>(),
        _ => unreachable!("the last parameter is a bias"),
    }
}

fn bench(c: &mut Criterion) {
    let dev = Device::flex();
    let mut params = Params::new();
    let mut grads = Params::new();
    for (path, shape) in shapes() {
        params.insert(&path, random(&shape, &dev));
        grads.insert(&path, random(&shape, &dev));
    }
    eprintln!(
        "{} tensors, {} values",
        params.len(),
        params.iter().map(|(_, t)| t.num_elements()).sum::<usize>()
    );
    let mut group = c.benchmark_group("adam_step_alexnet");
    group.sample_size(20);

    let mut duet_params = params.clone();
    let mut opt = Optimizer::new(adam(
        1e-3,
        Adam {
            eps: 1e-8,
            ..Default::default()
        },
    ));
    group.bench_function("duet", |b| {
        b.iter(|| {
            opt.update_params(&mut duet_params, grads.clone())
                .expect("same tree");
            let (_, last) = duet_params.iter().last().expect("params");
            last.clone().flatten().slice(0..1).into_scalar::<f32>()
        })
    });

    let burn_opt = AdamConfig::new().with_epsilon(1e-8).build();
    let mut slots: Vec<Slot> = params
        .iter()
        .map(|(path, p)| {
            let g = grads.get_dyn(path).expect("same paths").clone();
            match p.rank() {
                1 => Slot::R1(p.clone().into_rank(), g.into_rank(), None),
                2 => Slot::R2(p.clone().into_rank(), g.into_rank(), None),
                _ => Slot::R4(p.clone().into_rank(), g.into_rank(), None),
            }
        })
        .collect();
    group.bench_function("burn", |b| b.iter(|| burn_step(&burn_opt, &mut slots)));
    group.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
