//! duet's side of the transformation benchmark (`benchmarks/transforms.sh` runs it next to
//! `benchmarks/transforms_torch.py`): LeNet (3x32x32, 10 classes) on a batch of B, mean
//! cross-entropy; median ms of a gradient, a Hessian-vector product (reverse over forward) and
//! per-example gradients (one backward pass). One JSON line per timing.
//!
//!     cargo run --release -p duet-examples --example transforms_bench -- [B] [REPS] [WORK]
//!
//! `WORK` (`grad`, `hvp` or `per_example_grads`) times that one alone (for profiling).

use duet_core::burn::tensor::{Device, Int, Tensor};
use duet_core::layers::{cross_entropy, Dual, PerExample};
use duet_core::transform::{hvp, per_example_grads};
use duet_core::{value_and_grad, Act, DynTensor, Key, Mode, Params, Val};
use duet_examples::functional_models::lenet;
use duet_functional::{Layer, LayerExt};
use std::time::Instant;

/// Median ms of `reps` runs of `f` after a warm-up; NaN (and no run) when `reps` is 0.
fn median_ms(reps: usize, mut f: impl FnMut() -> f32) -> f64 {
    if reps == 0 {
        return f64::NAN;
    }
    // Warm-up: the allocator's pools and the thread pool settle over the first passes.
    for _ in 0..10 {
        f();
    }
    let mut ts: Vec<f64> = (0..reps)
        .map(|_| {
            let t0 = Instant::now();
            std::hint::black_box(f());
            t0.elapsed().as_secs_f64() * 1e3
        })
        .collect();
    ts.sort_by(f64::total_cmp);
    ts[ts.len() / 2]
}

/// The `duet` binary's allocator setup (see `duet_examples::alloc`).
#[global_allocator]
static ALLOC: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() {
    duet_examples::alloc::keep_freed_memory();
    if let Err(e) = duet_core::init_cpu_threads(None) {
        eprintln!("warning: {e}");
    }
    let args: Vec<usize> = std::env::args()
        .skip(1)
        .filter_map(|a| a.parse().ok())
        .collect();
    let (b, reps) = (
        args.first().copied().unwrap_or(128),
        args.get(1).copied().unwrap_or(20),
    );
    let only = std::env::args().nth(3);
    let wanted = |work: &str| only.as_deref().is_none_or(|o| o == work);
    let dev = Device::flex();
    let model = lenet(10);
    let (params, _) = model
        .init_model(&[1, 3, 32, 32], Key::new(0), &dev)
        .expect("LeNet");
    let x = DynTensor::from(Key::new(1).normal([b, 3, 32, 32], 0.0, 1.0, &dev));
    let ids: Vec<i32> = (0..b as i32).map(|i| (i * 7) % 10).collect();
    let y = Tensor::<1, Int>::from_ints(ids.as_slice(), &dev);
    let v = params.map_with_path(|path, t| {
        let k = Key::new(2).fold_in(path.len() as u64 * 131 + t.num_elements() as u64);
        DynTensor::from_floats(k.normal_vec(t.num_elements(), 0.0, 1.0), &t.dims(), &dev)
    });
    let read = |p: &Params| {
        p.iter()
            .map(|(_, t)| t.clone().sum().into_scalar::<f32>())
            .sum::<f32>()
    };
    let reps_of = |work: &str| if wanted(work) { reps } else { 0 };
    let first_grad_ms = median_ms(reps_of("grad"), || {
        let (_, g) = value_and_grad(
            |p| {
                let (logits, _) = model.apply(p, &Params::new(), x.clone(), Mode::Eval);
                cross_entropy(logits, y.clone(), &Default::default()).into_rank::<1>()
            },
            &params,
        );
        read(&g)
    });
    let hvp_ms = median_ms(reps_of("hvp"), || {
        let loss = |p: &duet_core::transform::DualParams| {
            let (mut l, _) = model
                .forward_jvp(
                    p,
                    &Params::new(),
                    vec![Dual::zero_tangent(x.clone())],
                    Mode::Eval,
                )
                .expect("forward mode");
            cross_entropy(l.remove(0), y.clone(), &Default::default())
        };
        read(&hvp(loss, &params, &v).1)
    });
    let pe_ms = median_ms(reps_of("per_example_grads"), || {
        let nll = |p: &duet_core::transform::PerExampleParams| {
            let (mut l, _) = model
                .forward_per_example(
                    p,
                    &Params::new(),
                    vec![PerExample::plain(x.clone())],
                    Mode::Eval,
                )
                .expect("per-example rules");
            l.remove(0).act(Act::LogSoftmax).pick(y.clone()).scale(-1.0)
        };
        read(&per_example_grads(nll, &params, b).1)
    });
    let grad_ms = median_ms(reps_of("grad"), || {
        let (_, g) = value_and_grad(
            |p| {
                let (logits, _) = model.apply(p, &Params::new(), x.clone(), Mode::Eval);
                cross_entropy(logits, y.clone(), &Default::default()).into_rank::<1>()
            },
            &params,
        );
        read(&g)
    });
    // The first timing of a process pays its warm-up (the allocator's growth, first-touch page
    // faults), whatever it measures: the gradient is measured first (to absorb it) and last.
    eprintln!("gradient measured first: {first_grad_ms:.1} ms; last (reported): {grad_ms:.1} ms");
    for (work, ms) in [
        ("grad", grad_ms),
        ("hvp", hvp_ms),
        ("per_example_grads", pe_ms),
    ] {
        if !wanted(work) {
            continue;
        }
        println!(
            "{{\"impl\": \"duet\", \"work\": \"{work}\", \"batch\": {b}, \"median_ms\": {ms}}}"
        );
    }
}
