//! [`OptState`]: an optimizer's state as plain data (a tensor tree plus integer counters).

use duet_core::Params;
use indexmap::IndexMap;

/// The state of a gradient transformation: moment tensors as a [`Params`] tree (paths like
/// `mu.conv1.weight`, prefixed by the position in a chain: `0.mu.conv1.weight`) and integer
/// counters (`count`, `skipped`, ...), prefixed the same way.
///
/// It is plain data: [`OptState::tensors`] goes into a checkpoint as a tree, and
/// [`OptState::counters_json`] into its metadata, so training resumes exactly.
#[derive(Clone, Debug, Default)]
pub struct OptState {
    /// Moment and accumulator tensors.
    pub tensors: Params,
    /// Integer counters.
    pub counters: IndexMap<String, u64>,
}

impl OptState {
    /// An empty state.
    pub fn new() -> Self {
        Self::default()
    }

    /// The counter `name` (0 if absent).
    pub fn counter(&self, name: &str) -> u64 {
        self.counters.get(name).copied().unwrap_or(0)
    }

    /// Sets the counter `name`.
    pub fn set_counter(&mut self, name: &str, value: u64) {
        self.counters.insert(name.to_string(), value);
    }

    /// The tensors under `name.` as their own tree (e.g. `mu`).
    pub fn tree(&self, name: &str) -> Params {
        self.tensors.subtree(name)
    }

    /// Removes the tensors under `name.` and returns them as their own tree. Update rules take
    /// their moments out of the state this way so that each moment is uniquely owned and the
    /// element-wise ops can overwrite it instead of allocating.
    pub fn take_tree(&mut self, name: &str) -> Params {
        self.tensors.take_subtree(name)
    }

    /// Adds `tree` under `name.`.
    pub fn put_tree(&mut self, name: &str, tree: Params) {
        self.tensors.extend(tree.prefix(name));
    }

    /// The child state stored under `prefix` (tensors and counters, prefix removed).
    pub fn sub(&self, prefix: &str) -> OptState {
        let dotted = format!("{prefix}.");
        let counters = self
            .counters
            .iter()
            .filter_map(|(k, v)| k.strip_prefix(&dotted).map(|r| (r.to_string(), *v)))
            .collect();
        OptState {
            tensors: self.tensors.subtree(prefix),
            counters,
        }
    }

    /// Removes the child state stored under `prefix` and returns it (the owning form of
    /// [`sub`](Self::sub)).
    pub fn take_sub(&mut self, prefix: &str) -> OptState {
        let dotted = format!("{prefix}.");
        let mut counters = IndexMap::new();
        self.counters.retain(|k, v| match k.strip_prefix(&dotted) {
            Some(rest) => {
                counters.insert(rest.to_string(), *v);
                false
            }
            None => true,
        });
        OptState {
            tensors: self.tensors.take_subtree(prefix),
            counters,
        }
    }

    /// Adds a child state under `prefix`.
    pub fn nest(&mut self, prefix: &str, child: OptState) {
        self.tensors.extend(child.tensors.prefix(prefix));
        for (k, v) in child.counters {
            self.counters.insert(format!("{prefix}.{k}"), v);
        }
    }

    /// The counters as a JSON object (for checkpoint metadata).
    pub fn counters_json(&self) -> String {
        serde_json::to_string(&self.counters).expect("counters serialize")
    }

    /// Rebuilds a state from a checkpoint's tensor tree and [`counters_json`](Self::counters_json).
    ///
    /// # Errors
    /// A message if the JSON is not an object of integers.
    pub fn from_parts(tensors: Params, counters_json: &str) -> Result<OptState, String> {
        let counters =
            serde_json::from_str(counters_json).map_err(|e| format!("optimizer counters: {e}"))?;
        Ok(OptState { tensors, counters })
    }
}

/// A tree of zeros shaped like `p`, detached from autodiff (the initial moments).
pub(crate) fn zeros(p: &Params) -> Params {
    p.map(|t| t.without_autodiff().zeros_like())
}

/// The `what` moment of `path` in `tree`, or a state error naming both.
pub(crate) fn moment(
    tree: &Params,
    path: &str,
    what: &str,
) -> Result<duet_core::DynTensor, crate::OptimError> {
    tree.get_dyn(path).cloned().map_err(|_| missing(path, what))
}

/// Removes the `what` moment of `path` from `tree` (uniquely owned if the state held the only
/// handle), or a state error naming both.
pub(crate) fn take_moment(
    tree: &mut Params,
    path: &str,
    what: &str,
) -> Result<duet_core::DynTensor, crate::OptimError> {
    tree.remove(path).ok_or_else(|| missing(path, what))
}

fn missing(path: &str, what: &str) -> crate::OptimError {
    crate::OptimError::State(format!("no `{what}` moment for `{path}`"))
}
