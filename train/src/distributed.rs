//! Parameter trees across the ranks of a [`ProcessGroup`]: the bucketed gradient all-reduce
//! and the broadcasts a distributed [`crate::Trainer`] is made of (Horovod's and PyTorch DDP's
//! scheme: every rank holds the whole model, reads its shard of each global batch, and applies
//! the same update to the same params).

use crate::group::ProcessGroup;
use crate::model::Stateful;
use crate::resume::restore_from;
use crate::TrainError;
use duet_core::checkpoint::{to_bytes, CheckpointFile};
use duet_core::{DynTensor, Params};
use duet_optim::{OptState, Optimizer};
use std::collections::BTreeMap;

/// The most floats one collective call reduces (32 MiB): larger trees are reduced in several
/// contiguous buckets, so the send and receive buffers stay bounded in size per call while
/// the number of calls stays small (AlexNet's 7.5 M gradients: one call).
pub const BUCKET_FLOATS: usize = 8 << 20;

/// `head` followed by every tensor of `tree`, in path order, as one buffer.
fn flatten(head: &[f32], tree: &Params) -> Vec<f32> {
    let mut buf = Vec::with_capacity(head.len() + tree.num_params());
    buf.extend_from_slice(head);
    for (_, t) in tree.iter() {
        buf.extend_from_slice(&t.to_vec());
    }
    buf
}

/// The tensors of `like`'s paths, shapes and devices, read from `buf` (laid out as
/// [`flatten`] wrote them).
fn unflatten(buf: &[f32], like: &Params) -> Params {
    let mut at = 0;
    like.iter()
        .map(|(path, t)| {
            let n = t.num_elements();
            let values = buf[at..at + n].to_vec();
            at += n;
            let out = DynTensor::from_floats(values, &t.dims(), &t.device());
            (path.to_string(), out)
        })
        .collect()
}

/// Sums `tree` over the ranks, with the small `head` of scalars (loss, example counts,
/// metric sums) reduced in the same call: `head` is overwritten with its sum, the summed tree
/// is returned (same paths, shapes and devices). The tree travels as one contiguous buffer,
/// reduced in buckets of at most [`BUCKET_FLOATS`]; the result is bitwise the same on every
/// rank.
///
/// # Example
/// Three ranks, each with a gradient equal to its rank and one example:
/// ```
/// use duet_core::{burn::tensor::{Device, Tensor}, Params};
/// use duet_train::{all_reduce_tree, ThreadGroup};
/// let sums = ThreadGroup::run(3, |g| {
///     let dev = Device::flex();
///     let grad = Params::new().with("w", Tensor::<1>::from_floats([g.rank() as f32; 2], &dev));
///     let mut head = [1.0];
///     let total = all_reduce_tree(&g, &grad, &mut head);
///     (head[0], total.get::<1>("w").unwrap().to_data().to_vec::<f32>().unwrap())
/// });
/// assert_eq!(sums, vec![(3.0, vec![3.0, 3.0]); 3]);
/// ```
pub fn all_reduce_tree(group: &dyn ProcessGroup, tree: &Params, head: &mut [f32]) -> Params {
    let send = flatten(head, tree);
    let mut recv = vec![0.0f32; send.len()];
    for (s, r) in send
        .chunks(BUCKET_FLOATS)
        .zip(recv.chunks_mut(BUCKET_FLOATS))
    {
        group.all_reduce_sum(s, r);
    }
    head.copy_from_slice(&recv[..head.len()]);
    unflatten(&recv[head.len()..], tree)
}

/// Rank `root`'s `tree` on every rank (each rank passes a tree of the same paths and shapes;
/// the result keeps each rank's devices).
pub fn broadcast_tree(group: &dyn ProcessGroup, tree: &Params, root: usize) -> Params {
    let floats = flatten(&[], tree);
    let mut bytes: Vec<u8> = floats.iter().flat_map(|v| v.to_le_bytes()).collect();
    group.broadcast(&mut bytes, root);
    let floats: Vec<f32> = bytes
        .chunks_exact(4)
        .map(|c| f32::from_le_bytes([c[0], c[1], c[2], c[3]]))
        .collect();
    unflatten(&floats, tree)
}

/// Makes every rank start where rank 0 is: its params, state, optimizer state and step (a
/// fresh start or the checkpoint rank 0 resumed from, which the other ranks need not be able
/// to read). The state travels as a checkpoint in memory, and the other ranks load it with
/// [`crate::restore`]'s checks. Returns the step.
///
/// # Errors
/// [`TrainError::Resume`] if rank 0's trees do not fit this rank's model (the ranks were not
/// started with the same model and optimizer).
pub fn broadcast_start(
    group: &dyn ProcessGroup,
    model: &mut dyn Stateful,
    opt: &mut Optimizer,
    step: u64,
) -> Result<u64, TrainError> {
    let bytes = if group.rank() == 0 {
        let empty = OptState::new();
        let opt_state = opt.state().unwrap_or(&empty);
        let meta = BTreeMap::from([
            ("duet.step".to_string(), step.to_string()),
            ("opt.counters".to_string(), opt_state.counters_json()),
        ]);
        let (params, state) = (model.params(), model.state());
        let trees = [
            ("params", &params),
            ("state", &state),
            ("opt", &opt_state.tensors),
        ];
        to_bytes(&trees, &meta)
    } else {
        Vec::new()
    };
    let bytes = group.broadcast_vec(bytes, 0);
    if group.rank() == 0 {
        return Ok(step);
    }
    let ck = CheckpointFile::from_bytes("<rank 0's training state>".into(), bytes)?;
    restore_from(&ck, model, opt, &BTreeMap::new(), false)
}

/// The evaluation means over every rank's shard: rank `r` passes its summed loss, its metric
/// sums and its example count. Rank 0's metric names are the reference (a rank whose shard
/// was empty has none), so every rank returns the same map.
pub(crate) fn reduce_eval(
    group: &dyn ProcessGroup,
    loss: f64,
    sums: &[(&'static str, f32)],
    n: usize,
) -> BTreeMap<String, f64> {
    let names: Vec<&str> = sums.iter().map(|(k, _)| *k).collect();
    let names = group.broadcast_vec(names.join("\n").into_bytes(), 0);
    let names: Vec<String> = String::from_utf8_lossy(&names)
        .split('\n')
        .filter(|k| !k.is_empty())
        .map(str::to_string)
        .collect();
    let mine = |k: &str| sums.iter().find(|(m, _)| *m == k).map_or(0.0, |(_, v)| *v);
    let send: Vec<f32> = [loss as f32, n as f32]
        .into_iter()
        .chain(names.iter().map(|k| mine(k)))
        .collect();
    let mut total = vec![0.0f32; send.len()];
    group.all_reduce_sum(&send, &mut total);
    let count = f64::from(total[1]).max(1.0);
    let mut means: BTreeMap<String, f64> = names
        .into_iter()
        .zip(&total[2..])
        .map(|(k, v)| (k, f64::from(*v) / count))
        .collect();
    means.insert("loss".into(), f64::from(total[0]) / count);
    means
}

/// A 64-bit fingerprint of `tree`'s values (their bits, in path order): equal trees give
/// equal fingerprints, and any changed bit changes it with near certainty.
pub(crate) fn fingerprint(tree: &Params) -> u64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for (path, t) in tree.iter() {
        for b in path.bytes() {
            h = (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3);
        }
        for v in t.to_vec() {
            h = (h ^ u64::from(v.to_bits())).wrapping_mul(0x0100_0000_01b3);
        }
    }
    h
}

/// Checks that every rank holds bitwise the same `params` as rank 0 (after `step`); every rank
/// gets the same verdict, so all of them stop together if one has drifted.
///
/// # Errors
/// [`TrainError::Distributed`] saying how many ranks differ.
pub(crate) fn check_in_sync(
    group: &dyn ProcessGroup,
    params: &Params,
    step: u64,
) -> Result<(), TrainError> {
    let mine = fingerprint(params);
    let mut root = mine.to_le_bytes();
    group.broadcast(&mut root, 0);
    let differs = f32::from(u8::from(u64::from_le_bytes(root) != mine));
    let mut count = [0.0f32];
    group.all_reduce_sum(&[differs], &mut count);
    match count[0] {
        0.0 => Ok(()),
        n => Err(TrainError::Distributed(format!(
            "after step {step}, the params of {n} rank(s) differ from rank 0's (the ranks \
             must run the same program on the same devices; a non-deterministic kernel or a \
             rank-dependent update makes them drift)"
        ))),
    }
}
