//! [`restore`]: loading a training checkpoint back into a model and an optimizer, after checking
//! that it belongs to this run (model, data, optimizer) and that every tensor fits.

use crate::error::TrainError;
use crate::model::Stateful;
use duet_core::checkpoint::CheckpointFile;
use duet_core::Params;
use duet_optim::{OptState, Optimizer};
use std::collections::BTreeMap;
use std::path::Path;

/// Metadata keys that must agree between a checkpoint and the run resuming it, when both have
/// them (`duet.api` may differ: both APIs share one layout).
pub const RUN_KEYS: [&str; 4] = ["duet.model", "duet.dataset", "duet.input", "duet.classes"];

/// The metadata key describing the optimizer (kind and hyper-parameters, as JSON).
pub const OPTIMIZER_KEY: &str = "duet.optimizer";

/// The path of the first tensor of `tree` holding a NaN or an infinity.
pub fn first_non_finite(tree: &Params) -> Option<String> {
    tree.iter()
        .find(|(_, t)| t.to_vec().iter().any(|v| !v.is_finite()))
        .map(|(p, _)| p.to_string())
}

/// Restores model, optimizer and step from a training checkpoint, with the checks of
/// [`restore_checked`] against no expected metadata.
///
/// # Errors
/// As [`restore_checked`].
pub fn restore(
    path: &Path,
    model: &mut dyn Stateful,
    opt: &mut Optimizer,
) -> Result<u64, TrainError> {
    restore_checked(path, model, opt, &BTreeMap::new(), false)
}

/// Restores model, optimizer and step from a training checkpoint.
///
/// Checked before anything is loaded: the [`RUN_KEYS`] and (unless `reset_optimizer`)
/// [`OPTIMIZER_KEY`] of the checkpoint equal `expect`'s where both have them; params and state
/// have the model's paths and shapes and are finite; the optimizer tensors have exactly the
/// paths and shapes the optimizer's own `init` gives for these params. With `reset_optimizer`
/// the optimizer starts fresh (for resuming with another optimizer or hyper-parameters).
///
/// # Errors
/// [`TrainError::Resume`] naming the key or tensor that does not fit; checkpoint errors.
pub fn restore_checked(
    path: &Path,
    model: &mut dyn Stateful,
    opt: &mut Optimizer,
    expect: &BTreeMap<String, String>,
    reset_optimizer: bool,
) -> Result<u64, TrainError> {
    restore_from(
        &CheckpointFile::open(path)?,
        model,
        opt,
        expect,
        reset_optimizer,
    )
}

/// [`restore_checked`] from a checkpoint already opened (or received in memory).
///
/// # Errors
/// As [`restore_checked`].
pub fn restore_from(
    ck: &CheckpointFile,
    model: &mut dyn Stateful,
    opt: &mut Optimizer,
    expect: &BTreeMap<String, String>,
    reset_optimizer: bool,
) -> Result<u64, TrainError> {
    let bad = |message: String| TrainError::Resume {
        path: ck.path().to_path_buf(),
        message,
    };
    check_metadata(ck, expect, reset_optimizer)?;
    let meta = ck.metadata();
    let step = meta
        .get("duet.step")
        .and_then(|s| s.parse().ok())
        .ok_or_else(|| bad("no valid duet.step in the metadata".into()))?;
    let current = model.params();
    let device = current
        .iter()
        .next()
        .map(|(_, t)| t.device())
        .unwrap_or_default();
    let params = ck.load_like("params", &current, &Default::default(), &device)?;
    let state = ck.load_like("state", &model.state(), &Default::default(), &device)?;
    for (what, tree) in [("params", &params), ("state", &state)] {
        if let Some(t) = first_non_finite(tree) {
            return Err(bad(format!("{what}/{t} holds NaN or infinite values")));
        }
    }
    let opt_state = if reset_optimizer {
        None
    } else {
        let counters = meta.get("opt.counters").map(String::as_str).unwrap_or("{}");
        let tensors = if ck.tree_names().contains(&"opt") {
            ck.tree("opt", &device)?
        } else {
            Params::new()
        };
        let state = OptState::from_parts(tensors, counters).map_err(&bad)?;
        let fresh = state.tensors.is_empty() && state.counters.is_empty();
        if !fresh {
            check_opt_state(&state.tensors, &opt.transform().init(&params)).map_err(&bad)?;
        }
        (!fresh).then_some(state)
    };
    model.load_params(&params).map_err(|e| bad(e.to_string()))?;
    model.load_state(&state).map_err(|e| bad(e.to_string()))?;
    match opt_state {
        Some(s) => opt.set_state(s),
        None => opt.reset(),
    }
    Ok(step)
}

/// The metadata checks of [`restore_checked`] alone: the checkpoint's [`RUN_KEYS`] and (unless
/// `reset_optimizer`) [`OPTIMIZER_KEY`] equal `expect`'s where both have them. Cheap (reads no
/// tensor), so a front-end can report a mismatch before it starts loading data.
///
/// # Errors
/// [`TrainError::Resume`] naming the first key that differs.
pub fn check_metadata(
    ck: &CheckpointFile,
    expect: &BTreeMap<String, String>,
    reset_optimizer: bool,
) -> Result<(), TrainError> {
    let bad = |message: String| TrainError::Resume {
        path: ck.path().to_path_buf(),
        message,
    };
    let meta = ck.metadata();
    for key in RUN_KEYS {
        if let (Some(have), Some(want)) = (meta.get(key), expect.get(key)) {
            if have != want {
                return Err(bad(format!(
                    "the checkpoint has {key} = {have}, this run has {want}"
                )));
            }
        }
    }
    if !reset_optimizer {
        if let (Some(have), Some(want)) = (meta.get(OPTIMIZER_KEY), expect.get(OPTIMIZER_KEY)) {
            if have != want {
                return Err(bad(format!(
                    "the checkpoint's optimizer is {have}, this run asks for {want}: pass the same \
                     optimizer flags, or --reset-optimizer to start a fresh optimizer state"
                )));
            }
        }
    }
    Ok(())
}

/// `found` must have exactly `expected`'s paths and shapes (the optimizer's fresh state).
fn check_opt_state(found: &Params, expected: &OptState) -> Result<(), String> {
    for (p, t) in expected.tensors.iter() {
        let Ok(f) = found.get_dyn(p) else {
            return Err(format!(
                "optimizer tensor opt/{p} is missing (does the checkpoint come from another optimizer? --reset-optimizer starts a fresh one)"
            ));
        };
        if f.dims() != t.dims() {
            return Err(format!(
                "optimizer tensor opt/{p} has shape {:?}, the params need {:?}",
                f.dims(),
                t.dims()
            ));
        }
    }
    if let Some((p, _)) = found
        .iter()
        .find(|(p, _)| expected.tensors.get_dyn(p).is_err())
    {
        return Err(format!(
            "unexpected optimizer tensor opt/{p} (this optimizer has no such state)"
        ));
    }
    match first_non_finite(found) {
        Some(p) => Err(format!(
            "optimizer tensor opt/{p} holds NaN or infinite values"
        )),
        None => Ok(()),
    }
}
