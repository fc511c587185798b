//! `duet bench --distributed mpi` (under `mpirun`): the gradient all-reduce against a plain
//! `MPI_Allreduce` of one buffer of the same size, out of place and in place (`--allreduce`;
//! the three interleaved, each call between barriers), and a data-parallel training
//! step over the ranks (each rank runs its share of the batch, as `duet train --distributed
//! mpi` does). Rank 0 prints one JSON line.

use super::args::BenchArgs;
use super::bench::{median, synthetic_batch, workload};
use super::CliError;
use duet_core::Key;
use duet_datasets::shard_rows;
use duet_train::{Classification, MpiGroup, ProcessGroup, Task, TreeReducer};
use std::time::Instant;

/// Runs the benchmark on this rank.
pub fn run(args: &BenchArgs) -> Result<(), CliError> {
    let group = MpiGroup::init().map_err(|e| CliError::Other(e.to_string()))?;
    let device = duet_core::device(&args.device)?;
    let (rank, ranks) = (group.rank(), group.size());
    if args.batch_size < ranks {
        return Err(CliError::Other(format!(
            "--batch-size {} is smaller than the {ranks} ranks",
            args.batch_size
        )));
    }
    let (chw, optimizer, lr) = workload(args.model);
    let mut model = super::models::build(args.model, args.api, chw, 10, Key::new(0), &device)?;
    let line = if args.allreduce {
        // The model's params stand in for its gradients: the same tree of tensors.
        let tree = model.params();
        let n = tree.num_params();
        let flat = vec![1.0f32; n];
        let (mut recv, mut inplace) = (vec![0.0f32; n], vec![1.0f32; n]);
        let (mut plain, mut plain_in_place, mut duet) = (Vec::new(), Vec::new(), Vec::new());
        let mut reducer = TreeReducer::default();
        for i in 0..args.warmup + args.steps {
            group.barrier();
            let t = Instant::now();
            group.all_reduce_sum(&flat, &mut recv);
            let p = t.elapsed().as_secs_f64() * 1e3;
            group.barrier();
            let t = Instant::now();
            group.all_reduce_sum_in_place(&mut inplace);
            let q = t.elapsed().as_secs_f64() * 1e3;
            // Fresh tensors, as a backward pass hands over (no other handle to their buffers).
            let grads = tree.map(|t| t.full_like(1.0));
            group.barrier();
            let t = Instant::now();
            let mut head = [1.0f32];
            std::hint::black_box(reducer.all_reduce(&group, grads, &mut head));
            let d = t.elapsed().as_secs_f64() * 1e3;
            if i >= args.warmup {
                plain.push(p);
                plain_in_place.push(q);
                duet.push(d);
            }
        }
        let (p, q, d) = (median(&plain), median(&plain_in_place), median(&duet));
        let gb = |ms: f64| 4.0 * n as f64 / ms / 1e6;
        serde_json::json!({
            "workload": "allreduce", "model": args.model, "ranks": ranks, "floats": n,
            "tensors": tree.len(), "plain_ms": p, "plain_in_place_ms": q, "duet_ms": d,
            "plain_gb_per_s": gb(p), "plain_in_place_gb_per_s": gb(q), "duet_gb_per_s": gb(d),
            "duet_over_plain": p / d, "duet_over_plain_in_place": q / d,
        })
    } else {
        let rows = shard_rows(args.batch_size, ranks, rank);
        let (x, y) = synthetic_batch(args.batch_size, chw, &device);
        let (x, y) = (x.slice(rows.clone()), y.slice(rows.clone()));
        let share = rows.len() as f32 / args.batch_size as f32;
        let mut opt = super::models::optimizer(optimizer, lr);
        let task = Classification::default();
        let mut times = Vec::new();
        let mut reducer = TreeReducer::default();
        for i in 0..args.warmup + args.steps {
            group.barrier();
            let t = Instant::now();
            let loss = |logits, r| {
                let mut s = task.loss(logits, &y, r);
                s.loss = s.loss * share;
                s
            };
            let out =
                model.loss_and_grad(x.clone(), Key::new(i as u64).fold_in(rank as u64), &loss);
            let mut head = [out.loss.into_scalar::<f32>()];
            let grads = reducer.all_reduce(&group, out.grads, &mut head);
            opt.update(model.as_mut(), grads).expect("same tree");
            if i >= args.warmup {
                times.push(t.elapsed().as_secs_f64() * 1e3);
            }
        }
        let med = median(&times);
        serde_json::json!({
            "model": args.model, "api": format!("{:?}", args.api).to_lowercase(),
            "ranks": ranks, "batch_size": args.batch_size, "steps": args.steps,
            "median_ms": med, "steps_per_s": 1e3 / med,
            "images_per_s": args.batch_size as f64 * 1e3 / med,
        })
    };
    if rank == 0 {
        println!("{line}");
    }
    Ok(())
}
