//! duet's `flex` convolution kernels on the workloads' shapes, batch 128: LeNet's two layers
//! (W1: 3->6 and 6->16 channels, 5x5, no padding) and ResNet-20's commonest one (W6: 16->16,
//! 3x3, padding 1, 32x32). Per layer: the forward alone (inference), and forward + backward
//! (dX and dW, as in a training step; for LeNet's first layer dW only, since the input
//! needs no gradient).
//!
//! It runs on the `duet` binary's allocator setup (mimalloc keeping freed memory, see
//! `duet_examples::alloc`): with glibc's malloc every call page-faults its buffers back in.
//!
//! `cargo bench -p duet-core --bench conv -- --warm-up-time 1 --measurement-time 3`

#![allow(missing_docs)]

use criterion::{criterion_group, criterion_main, Criterion};
use duet_core::burn::tensor::{Device, Distribution, Tensor};
use duet_core::kernels::{conv2d, ConvGeom};

#[global_allocator]
static ALLOC: mimalloc::MiMalloc = mimalloc::MiMalloc;

struct Case {
    name: &'static str,
    x: [usize; 4],
    w: [usize; 4],
    pad: usize,
    input_grad: bool,
}

const CASES: [Case; 7] = [
    Case {
        name: "lenet conv1 3->6 5x5 32x32",
        x: [128, 3, 32, 32],
        w: [6, 3, 5, 5],
        pad: 0,
        input_grad: false,
    },
    Case {
        name: "lenet conv2 6->16 5x5 14x14",
        x: [128, 6, 14, 14],
        w: [16, 6, 5, 5],
        pad: 0,
        input_grad: true,
    },
    Case {
        name: "resnet 16->16 3x3 32x32",
        x: [128, 16, 32, 32],
        w: [16, 16, 3, 3],
        pad: 1,
        input_grad: true,
    },
    Case {
        name: "resnet 32->32 3x3 16x16",
        x: [128, 32, 16, 16],
        w: [32, 32, 3, 3],
        pad: 1,
        input_grad: true,
    },
    Case {
        name: "resnet 64->64 3x3 8x8",
        x: [128, 64, 8, 8],
        w: [64, 64, 3, 3],
        pad: 1,
        input_grad: true,
    },
    Case {
        name: "alexnet 64->192 3x3 16x16",
        x: [128, 64, 16, 16],
        w: [192, 64, 3, 3],
        pad: 1,
        input_grad: true,
    },
    Case {
        name: "alexnet 192->384 3x3 8x8",
        x: [128, 192, 8, 8],
        w: [384, 192, 3, 3],
        pad: 1,
        input_grad: true,
    },
];

fn bench(c: &mut Criterion) {
    // SAFETY: mimalloc's purge delay (option 15) set to -1, as `duet_examples::alloc` does.
    unsafe { libmimalloc_sys::mi_option_set(15, -1) };
    let mut group = c.benchmark_group("conv2d (flex kernels, batch 128)");
    for case in &CASES {
        let geom = ConvGeom {
            stride: [1, 1],
            pad: [(case.pad, case.pad); 2],
            dilation: [1, 1],
            groups: 1,
        };
        let normal = Distribution::Normal(0.0, 1.0);
        let plain = Device::flex();
        let (x, w) = (
            Tensor::<4>::random(case.x, normal, &plain),
            Tensor::<4>::random(case.w, normal, &plain),
        );
        let b = Tensor::<1>::zeros([case.w[0]], &plain);
        group.bench_function(format!("{} forward", case.name), |bench| {
            bench.iter(|| conv2d(x.clone(), w.clone(), b.clone(), geom).dims())
        });
        let ad = plain.autodiff();
        let (xa, wa, ba) = (
            Tensor::<4>::from_data(x.to_data(), &ad),
            Tensor::<4>::from_data(w.to_data(), &ad).require_grad(),
            Tensor::<1>::from_data(b.to_data(), &ad).require_grad(),
        );
        let xa = if case.input_grad {
            xa.require_grad()
        } else {
            xa
        };
        group.bench_function(format!("{} forward + backward", case.name), |bench| {
            bench.iter(|| {
                let y = conv2d(xa.clone(), wa.clone(), ba.clone(), geom);
                let grads = y.sum().backward();
                wa.grad(&grads).map(|g| g.dims())
            })
        });
    }
    group.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
