//! The cost of duet's parameter-tree plumbing around a training step, on LeNet-sized trees
//! (10 tensors, 62 k values): lifting the params to autodiff leaves and collecting the gradient
//! tree (`value_and_grad` with a trivial loss), `zip_map` over two trees, and a checkpoint-style
//! `to_device` copy. The step it wraps (W1) takes ~12 ms; these should stay in the microseconds.
//!
//! `cargo bench -p duet-core --bench tree -- --warm-up-time 1 --measurement-time 3`

#![allow(missing_docs)]

use criterion::{criterion_group, criterion_main, Criterion};
use duet_core::burn::tensor::{Device, Distribution, Tensor};
use duet_core::{value_and_grad, DynTensor, Params};

fn lenet_params(dev: &Device) -> Params {
    let shapes: [(&str, &[usize]); 10] = [
        ("conv1.weight", &[6, 3, 5, 5]),
        ("conv1.bias", &[6]),
        ("conv2.weight", &[16, 6, 5, 5]),
        ("conv2.bias", &[16]),
        ("fc1.weight", &[400, 120]),
        ("fc1.bias", &[120]),
        ("fc2.weight", &[120, 84]),
        ("fc2.bias", &[84]),
        ("fc3.weight", &[84, 10]),
        ("fc3.bias", &[10]),
    ];
    let mut p = Params::new();
    for (path, shape) in shapes {
        let n = shape.iter().product::<usize>();
        let t = Tensor::<1>::random([n], Distribution::Normal(0.0, 0.1), dev);
        p.insert(path, DynTensor::from(t).reshape(shape));
    }
    p
}

fn bench(c: &mut Criterion) {
    let dev = Device::flex();
    let p = lenet_params(&dev);
    let mut group = c.benchmark_group("tree (LeNet params)");
    group.bench_function("value_and_grad, loss = sum of squares", |b| {
        b.iter(|| {
            let loss = |p: &Params| {
                let mut terms = p.iter().map(|(_, t)| t.clone().sum_squares());
                let first = terms.next().unwrap();
                terms.fold(first, |a, b| a + b)
            };
            let (loss, g) = value_and_grad(loss, &p);
            (loss.into_scalar::<f32>(), g.len())
        })
    });
    group.bench_function("zip_map (a + b)", |b| {
        b.iter(|| p.zip_map(&p, |a, b| a + b).unwrap().len())
    });
    group.bench_function("to_device (same device)", |b| {
        b.iter(|| p.to_device(&dev).len())
    });
    group.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
