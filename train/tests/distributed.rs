//! A `Trainer` over a process group, with the ranks as threads (`ThreadGroup`; the MPI suite in
//! duet-examples runs the same loop as processes under `mpirun`): 2 and 3 ranks train like one
//! process step for step, stay bitwise identical, write nothing but through rank 0, resume
//! with another rank count, stop together, and a rank that drifts is caught.

use duet_core::burn::tensor::{Device, Tensor};
use duet_core::checkpoint::CheckpointFile;
use duet_core::{Key, Parameterized, Params};
use duet_datasets::{shard_rows, InMemory};
use duet_functional::{serial, BatchNorm, Dense, LayerExt, Relu};
use duet_optim::{adam, Adam, Optimizer};
use duet_train::*;
use std::path::Path;
use std::rc::Rc;
use std::sync::atomic::Ordering;

const ROWS: usize = 12;

/// Batches of `ROWS` regression pairs; `part = (rank, ranks)` keeps that rank's rows.
fn data(part: (usize, usize), dev: &Device) -> InMemory<(Tensor<2>, Tensor<2>)> {
    let batches = (0..6u64).map(|i| {
        let x = Key::new(7).fold_in(i).normal([ROWS, 4], 0.0, 1.0, dev);
        let y = x.clone().slice([0..ROWS, 0..2]) * 1.5 - x.clone().slice([0..ROWS, 2..4]);
        let rows = shard_rows(ROWS, part.1, part.0);
        (x.slice([rows.clone(), 0..4]), y.slice([rows, 0..2]))
    });
    InMemory::new(batches.collect(), ROWS)
}

/// A small net; with `bn`, batch norm after the first layer (its running statistics are state,
/// which each rank would compute from its own shard: rank 0's are broadcast).
fn model_with(bn: bool, dev: &Device) -> FunctionalModel {
    let layer: Box<dyn duet_functional::Layer> = match bn {
        true => Box::new(serial![
            Dense::new(8),
            BatchNorm::new(),
            Relu,
            Dense::new(2)
        ]),
        false => Box::new(serial![Dense::new(8), Relu, Dense::new(2)]),
    };
    let (params, state) = layer.init_model(&[1, 4], Key::new(3), dev).unwrap();
    FunctionalModel {
        model: layer,
        params,
        state,
    }
}

fn model(dev: &Device) -> FunctionalModel {
    model_with(false, dev)
}

fn config(out: &Path, steps: u64) -> TrainConfig {
    TrainConfig {
        total_steps: steps,
        log_every: 1,
        checkpoint_every: 5,
        quiet: true,
        ..TrainConfig::new(out)
    }
}

fn optimizer() -> Optimizer {
    Optimizer::new(adam(1e-2, Adam::default()))
}

/// Trains on `ranks` threads (resuming from `resume`); returns each rank's params and state.
fn train_ranks_with(
    bn: bool,
    ranks: usize,
    out: &Path,
    steps: u64,
    resume: Option<&Path>,
) -> Vec<(Params, Params)> {
    ThreadGroup::run(ranks, |g| {
        let dev = Device::flex();
        let rank = g.rank();
        let (mut m, mut opt) = (model_with(bn, &dev), optimizer());
        let d = data((rank, ranks), &dev);
        // Ranks other than 0 are given their own directory, which must stay absent.
        let out = match rank {
            0 => out.to_path_buf(),
            r => out.with_extension(format!("rank{r}")),
        };
        Trainer::new(Regression::default(), config(&out, steps))
            .with_group(Rc::new(g))
            .fit(&mut m, &mut opt, &d, &d, resume)
            .unwrap();
        assert!(rank == 0 || !out.exists(), "rank {rank} wrote {out:?}");
        (m.params(), m.state())
    })
}

fn train_ranks(ranks: usize, out: &Path, steps: u64, resume: Option<&Path>) -> Vec<Params> {
    let finals = train_ranks_with(false, ranks, out, steps, resume);
    finals.into_iter().map(|(p, _)| p).collect()
}

fn train_alone(out: &Path, steps: u64) -> Params {
    let dev = Device::flex();
    let (mut m, mut opt, d) = (model(&dev), optimizer(), data((0, 1), &dev));
    Trainer::new(Regression::default(), config(out, steps))
        .fit(&mut m, &mut opt, &d, &d, None)
        .unwrap();
    m.params()
}

fn losses(dir: &Path, split: &str) -> Vec<(u64, f64)> {
    let records = MetricsLog::read(dir.join("metrics.jsonl")).unwrap();
    records
        .iter()
        .filter(|r| r.split == split)
        .map(|r| (r.step, r.loss))
        .collect()
}

/// Every tensor within `tol` of `b`'s, relative to `b`'s largest magnitude.
fn assert_close(a: &Params, b: &Params, tol: f32) {
    for (path, t) in b.iter() {
        let (x, y) = (a.get_dyn(path).unwrap().to_vec(), t.to_vec());
        let scale = y.iter().fold(0.0f32, |m, v| m.max(v.abs())).max(1e-6);
        let worst = x
            .iter()
            .zip(&y)
            .map(|(p, q)| (p - q).abs())
            .fold(0.0, f32::max);
        assert!(
            worst <= tol * scale,
            "{path}: off by {worst} (scale {scale})"
        );
    }
}

fn bits(p: &Params) -> Vec<(String, Vec<u32>)> {
    p.iter()
        .map(|(k, t)| {
            (
                k.to_string(),
                t.to_vec().iter().map(|v| v.to_bits()).collect(),
            )
        })
        .collect()
}

#[test]
fn ranks_train_like_one_process() {
    let dir = tempfile::tempdir().unwrap();
    let alone = dir.path().join("alone");
    let reference = train_alone(&alone, 18);
    for ranks in [2, 3] {
        let out = dir.path().join(format!("ranks{ranks}"));
        let finals = train_ranks(ranks, &out, 18, None);
        for p in &finals[1..] {
            assert_eq!(bits(p), bits(&finals[0]), "ranks differ");
        }
        assert_close(&finals[0], &reference, 1e-5);
        for split in ["train", "eval"] {
            let (a, b) = (losses(&alone, split), losses(&out, split));
            assert_eq!(a.len(), b.len());
            for ((s, x), (t, y)) in a.iter().zip(&b) {
                assert_eq!(s, t);
                assert!(
                    (x - y).abs() <= 1e-5 * x.abs(),
                    "{split} step {s}: {x} vs {y}"
                );
            }
        }
        let ck = CheckpointFile::open(out.join("step-00000018.safetensors")).unwrap();
        assert_eq!(
            bits(&ck.tree("params", &Device::flex()).unwrap()),
            bits(&finals[0])
        );
    }
}

/// Batch norm normalises each shard by its own statistics (as DDP without SyncBatchNorm), so
/// such a net is not expected to equal one process; its ranks must still agree bit for bit,
/// state included (each shard's running statistics differ until rank 0's are broadcast).
#[test]
fn ranks_share_rank_0s_batch_norm_statistics() {
    let dir = tempfile::tempdir().unwrap();
    let finals = train_ranks_with(true, 2, &dir.path().join("bn"), 7, None);
    let state = &finals[0].1;
    assert!(!state.is_empty());
    for (p, s) in &finals[1..] {
        assert_eq!(bits(p), bits(&finals[0].0));
        assert_eq!(bits(s), bits(state));
    }
}

#[test]
fn resume_with_another_rank_count_continues_the_run() {
    let dir = tempfile::tempdir().unwrap();
    let reference = train_alone(&dir.path().join("alone"), 20);
    let out = dir.path().join("run");
    let first = train_ranks(3, &out, 10, None);
    // The first part really trained: its params are not the reference's end point.
    let drift = |p: &Params| {
        let (a, b) = (
            p.get_dyn("2.weight").unwrap().to_vec(),
            reference.get_dyn("2.weight").unwrap().to_vec(),
        );
        a.iter()
            .zip(&b)
            .map(|(x, y)| (x - y).abs())
            .fold(0.0, f32::max)
    };
    assert!(drift(&first[0]) > 1e-3);
    let resumed = train_ranks(2, &out, 20, Some(&out));
    assert_close(&resumed[0], &reference, 1e-5);
    assert_eq!(bits(&resumed[0]), bits(&resumed[1]));
}

#[test]
fn a_stop_on_one_rank_stops_all_after_the_same_step() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("run");
    let steps = ThreadGroup::run(2, |g| {
        let dev = Device::flex();
        let rank = g.rank();
        let (mut m, mut opt, d) = (model(&dev), optimizer(), data((rank, 2), &dev));
        let cfg = config(&out, 1000);
        if rank == 1 {
            cfg.stop.store(true, Ordering::SeqCst);
        }
        let s = Trainer::new(Regression::default(), cfg)
            .with_group(Rc::new(g))
            .fit(&mut m, &mut opt, &d, &d, None)
            .unwrap();
        (s.steps, s.interrupted)
    });
    assert_eq!(steps, vec![(1, true), (1, true)]);
    assert!(out.join("step-00000001.safetensors").exists());
}

/// A model whose rank-1 replica nudges a param at step 3, as a non-deterministic kernel would.
struct Drifting {
    inner: FunctionalModel,
    drift: bool,
    calls: u64,
}

impl Parameterized for Drifting {
    fn params(&self) -> Params {
        self.inner.params()
    }
    fn load_params(&mut self, p: &Params) -> Result<(), duet_core::TreeError> {
        self.inner.load_params(p)
    }
}

impl Stateful for Drifting {
    fn state(&self) -> Params {
        self.inner.state()
    }
    fn load_state(&mut self, s: &Params) -> Result<(), duet_core::TreeError> {
        self.inner.load_state(s)
    }
}

impl Model<Tensor<2>, Tensor<2>> for Drifting {
    fn loss_and_grad(
        &mut self,
        x: Tensor<2>,
        key: Key,
        loss: &LossFn<'_, Tensor<2>>,
    ) -> StepOutput {
        self.calls += 1;
        if self.drift && self.calls == 3 {
            let nudged = self.inner.params().map(|t| t.full_like(1e-7) + t);
            self.inner.load_params(&nudged).unwrap();
        }
        self.inner.loss_and_grad(x, key, loss)
    }
    fn forward(&self, x: Tensor<2>) -> Tensor<2> {
        self.inner.forward(x)
    }
}

#[test]
fn a_rank_that_drifts_stops_every_rank() {
    let dir = tempfile::tempdir().unwrap();
    let errors = ThreadGroup::run(2, |g| {
        let dev = Device::flex();
        let rank = g.rank();
        let mut m = Drifting {
            inner: model(&dev),
            drift: rank == 1,
            calls: 0,
        };
        let (mut opt, d) = (optimizer(), data((rank, 2), &dev));
        Trainer::new(Regression::default(), config(dir.path(), 10))
            .with_group(Rc::new(g))
            .fit(&mut m, &mut opt, &d, &d, None)
            .map(|s| s.steps)
            .unwrap_err()
            .to_string()
    });
    for e in errors {
        assert!(
            e.contains("after step 3, the params of 1 rank(s) differ"),
            "{e}"
        );
    }
}

/// Large tensors are reduced in place in their own buffers, small ones in the shared bucket:
/// the sums, paths and shapes come back right whatever the mix, call after call.
#[test]
fn the_reducer_sums_large_and_small_tensors_alike() {
    let big = DIRECT_FLOATS + 3;
    let sums = ThreadGroup::run(3, |g| {
        let dev = Device::flex();
        let r = g.rank() as f32;
        let mut reducer = TreeReducer::default();
        let mut out = Vec::new();
        for call in 0..2 {
            let c = call as f32;
            let tree = Params::new()
                .with("a.big", Tensor::<2>::full([big, 1], r + c, &dev))
                .with("b.small", Tensor::<1>::from_floats([r, 10.0 * r, c], &dev))
                .with("c.big", Tensor::<1>::full([big], 2.0 * r, &dev));
            let mut head = [r, 1.0];
            let sum = reducer.all_reduce(&g, tree, &mut head);
            assert_eq!(sum.paths(), ["a.big", "b.small", "c.big"]);
            assert_eq!(sum.get_dyn("a.big").unwrap().dims(), [big, 1]);
            let v = |p: &str| sum.get_dyn(p).unwrap().to_vec();
            let (a, b, cb) = (v("a.big"), v("b.small"), v("c.big"));
            out.push((head, a[0], a[big - 1], b, cb[0], cb[big - 1]));
        }
        out
    });
    for rank in sums {
        assert_eq!(
            rank[0],
            ([3.0, 3.0], 3.0, 3.0, vec![3.0, 30.0, 0.0], 6.0, 6.0)
        );
        assert_eq!(
            rank[1],
            ([3.0, 3.0], 6.0, 6.0, vec![3.0, 30.0, 3.0], 6.0, 6.0)
        );
    }
}
