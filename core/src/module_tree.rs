//! The bridge between burn [`Module`]s and parameter trees.
//!
//! Paths come from field names (`conv1.weight`; `Vec` elements are `0`, `1`, ...; enum variants
//! add no segment), as burn's own visitors see them, so duet's modules, a user's derived modules and burn's modules
//! all work. **State** (non-trainable tensors) is told apart by name: a tensor whose last path
//! segment starts with `running_` (`running_mean`, `running_var`, as PyTorch and burn name
//! batch-norm statistics) belongs to the state tree; every other float tensor is a parameter.
//! The functional API uses the same names, so both APIs produce the same two trees.

use crate::kernels::add_scaled;
use crate::parameterized::Parameterized;
use crate::params::{Params, TreeError};
use crate::tensor::DynTensor;
use burn::module::{Module, ModuleMapper, ModuleVisitor, Param};
use burn::tensor::Tensor;

/// Whether a path names state rather than a trainable parameter.
pub fn is_state_path(path: &str) -> bool {
    path.rsplit('.')
        .next()
        .is_some_and(|leaf| leaf.starts_with("running_"))
}

struct Collect {
    path: Vec<String>,
    out: Params,
    state: bool,
}

/// The path segment for a container: enum variants add none (as a PyTorch `Sequential` of mixed
/// layers names only the index), everything else its field name or index.
fn segment(name: &str, container_type: &str) -> String {
    if container_type.starts_with("Enum:") {
        String::new()
    } else {
        name.to_string()
    }
}

fn join(path: &[String]) -> String {
    path.iter()
        .filter(|s| !s.is_empty())
        .map(String::as_str)
        .collect::<Vec<_>>()
        .join(".")
}

impl ModuleVisitor for Collect {
    fn enter_module(&mut self, name: &str, container_type: &str) {
        self.path.push(segment(name, container_type));
    }
    fn exit_module(&mut self, _: &str, _: &str) {
        self.path.pop();
    }
    fn visit_float<const D: usize>(&mut self, param: &Param<Tensor<D>>) {
        let p = join(&self.path);
        if is_state_path(&p) == self.state {
            self.out.insert(p, param.val());
        }
    }
}

fn collect<M: Module>(m: &M, state: bool) -> Params {
    let mut c = Collect {
        path: Vec::new(),
        out: Params::new(),
        state,
    };
    m.visit(&mut c);
    c.out
}

/// A module's trainable parameters as a tree (handle clones; no data is copied).
///
/// # Example
/// ```
/// use duet_core::{burn, module_params};
/// use burn::module::{Module, Param};
/// use burn::tensor::{Device, Tensor};
/// #[derive(Module, Debug)]
/// struct Block { proj: Linear, running_mean: Param<Tensor<1>> }
/// #[derive(Module, Debug)]
/// struct Linear { weight: Param<Tensor<2>> }
/// let dev = Device::flex();
/// let b = Block {
///     proj: Linear { weight: Param::from_tensor(Tensor::ones([2, 3], &dev)) },
///     running_mean: Param::from_tensor(Tensor::zeros([3], &dev)),
/// };
/// assert_eq!(module_params(&b).paths(), vec!["proj.weight"]);
/// assert_eq!(duet_core::module_state(&b).paths(), vec!["running_mean"]);
/// ```
pub fn module_params<M: Module>(m: &M) -> Params {
    collect(m, false)
}

/// A module's non-trainable state (paths ending in `running_*`) as a tree.
pub fn module_state<M: Module>(m: &M) -> Params {
    collect(m, true)
}

/// Where [`Load`] takes the new tensors from.
enum Source<'a> {
    /// Replace each param with the tree's tensor.
    Replace(&'a Params),
    /// Add the tree's tensor to each param (an optimizer step); each is taken out of the tree,
    /// so the sum can be written into its buffer.
    Add(Params),
}

struct Load<'a> {
    path: Vec<String>,
    source: Source<'a>,
    state: bool,
    used: usize,
    error: Option<TreeError>,
}

impl ModuleMapper for Load<'_> {
    fn enter_module(&mut self, name: &str, container_type: &str) {
        self.path.push(segment(name, container_type));
    }
    fn exit_module(&mut self, _: &str, _: &str) {
        self.path.pop();
    }
    fn map_float<const D: usize>(&mut self, param: Param<Tensor<D>>) -> Param<Tensor<D>> {
        let p = join(&self.path);
        if is_state_path(&p) != self.state || self.error.is_some() {
            return param;
        }
        let new = match &mut self.source {
            Source::Replace(tree) => tree.get_dyn(&p).ok().cloned(),
            Source::Add(tree) => tree.remove(&p),
        };
        let Some(new) = new else {
            self.error = Some(TreeError::Structure {
                path: p,
                side: "missing from the tree being loaded",
            });
            return param;
        };
        let (have, want) = (param.val().dims().to_vec(), new.dims());
        if have != want {
            self.error = Some(TreeError::Shape {
                path: p,
                left: have,
                right: want,
            });
            return param;
        }
        self.used += 1;
        match self.source {
            Source::Add(_) => {
                param.map(move |p| add_scaled(DynTensor::from(p), new, 1.0).into_rank())
            }
            Source::Replace(_) => param.map(move |_| new.into_rank()),
        }
    }
}

fn load<M: Module>(m: M, source: Source<'_>, state: bool) -> Result<M, TreeError> {
    let mut l = Load {
        path: Vec::new(),
        source,
        state,
        used: 0,
        error: None,
    };
    let m = m.map(&mut l);
    if let Some(e) = l.error {
        return Err(e);
    }
    let extra = match &l.source {
        Source::Replace(tree) if l.used != tree.len() => {
            let known = collect(&m, state);
            let extra = tree.paths().into_iter().find(|p| !known.contains(p));
            Some(extra.unwrap_or_default().to_string())
        }
        Source::Replace(_) => None,
        Source::Add(rest) => rest.paths().first().map(|p| p.to_string()),
    };
    match extra {
        Some(path) => Err(TreeError::Structure {
            path,
            side: "not in the module",
        }),
        None => Ok(m),
    }
}

/// Replaces a module's parameters with `tree` (same paths and shapes), keeping param ids.
///
/// # Errors
/// The first path that is missing, extra or of another shape.
pub fn load_module_params<M: Module>(m: M, tree: &Params) -> Result<M, TreeError> {
    load(m, Source::Replace(tree), false)
}

/// Replaces a module's state (`running_*` tensors) with `tree`.
///
/// # Errors
/// As [`load_module_params`].
pub fn load_module_state<M: Module>(m: M, tree: &Params) -> Result<M, TreeError> {
    load(m, Source::Replace(tree), true)
}

impl<M: Module> Parameterized for M {
    fn params(&self) -> Params {
        module_params(self)
    }

    fn load_params(&mut self, params: &Params) -> Result<(), TreeError> {
        *self = load_module_params(self.clone(), params)?;
        Ok(())
    }

    /// One pass over the module's fields: each param becomes `param + updates[path]`.
    fn apply_updates(&mut self, updates: Params) -> Result<(), TreeError> {
        *self = load(self.clone(), Source::Add(updates), false)?;
        Ok(())
    }
}
