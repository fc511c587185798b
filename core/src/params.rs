//! [`Params`]: the parameter tree, duet's pytree.
//!
//! An ordered map from dotted paths (`conv1.weight`, `features.0.bias`) to float tensors of any
//! rank. Both front-ends speak it: a functional model's params *are* a tree, a module exposes its
//! params as one. Gradients, optimizer state and checkpoints are trees with the same paths.
//!
//! Order is insertion order (the order a model defines its layers), so iteration, summaries and
//! checkpoints are stable across runs.

use crate::tensor::DynTensor;
use burn::tensor::{Device, Tensor};
use indexmap::IndexMap;
use std::fmt;

/// Errors from tree access and tree-to-tree operations. Every variant names the path.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TreeError {
    /// No tensor at this path.
    #[error("no parameter `{path}` in the tree (it has: {available})")]
    Missing {
        /// The path asked for.
        path: String,
        /// The paths the tree does have, comma-separated (truncated).
        available: String,
    },
    /// The tensor at this path has another rank than asked for.
    #[error("parameter `{path}`: expected a rank-{expected} tensor, found rank {found} (shape {shape:?})")]
    Rank {
        /// The path.
        path: String,
        /// The rank asked for.
        expected: usize,
        /// The rank stored.
        found: usize,
        /// The shape stored.
        shape: Vec<usize>,
    },
    /// Two trees that must have the same paths do not.
    #[error("trees differ: `{path}` is {side}")]
    Structure {
        /// The first path found in one tree and not the other.
        path: String,
        /// Which tree lacks it, e.g. "missing from the second tree".
        side: &'static str,
    },
    /// Two trees that must have the same shapes do not.
    #[error("trees differ at `{path}`: shape {left:?} vs {right:?}")]
    Shape {
        /// The path.
        path: String,
        /// Shape in the first tree.
        left: Vec<usize>,
        /// Shape in the second tree.
        right: Vec<usize>,
    },
}

/// An ordered tree of named float tensors.
///
/// Trainable parameters and non-trainable state (batch-norm running statistics) are two trees of
/// this same type, as Flax keeps `params` and `batch_stats` apart.
///
/// # Example
/// ```
/// use duet_core::{burn::tensor::{Device, Tensor}, Params};
/// let dev = Device::flex();
/// let mut conv = Params::new();
/// conv.insert("weight", Tensor::<4>::ones([6, 3, 5, 5], &dev));
/// conv.insert("bias", Tensor::<1>::zeros([6], &dev));
/// let model = Params::new().nest("conv1", conv);
/// assert_eq!(model.paths(), vec!["conv1.weight", "conv1.bias"]);
/// assert_eq!(model.num_params(), 6 * 3 * 5 * 5 + 6);
/// let w = model.get::<4>("conv1.weight").unwrap();
/// assert_eq!(w.dims(), [6, 3, 5, 5]);
/// // A wrong rank is an error naming the path and what was found.
/// let err = model.get::<2>("conv1.weight").unwrap_err().to_string();
/// assert!(err.contains("conv1.weight") && err.contains("rank 4"));
/// let halved = model.map(|t| t * 0.5);
/// assert_eq!(halved.get::<4>("conv1.weight").unwrap().into_data().try_to_vec::<f32>().unwrap()[0], 0.5);
/// ```
#[derive(Clone, Debug, Default)]
pub struct Params {
    entries: IndexMap<String, DynTensor>,
}

impl Params {
    /// An empty tree.
    pub fn new() -> Self {
        Self::default()
    }

    /// Inserts (or replaces) the tensor at `path`, keeping the first insertion's position.
    pub fn insert(&mut self, path: impl Into<String>, tensor: impl Into<DynTensor>) {
        self.entries.insert(path.into(), tensor.into());
    }

    /// Builder form of [`insert`](Self::insert).
    pub fn with(mut self, path: impl Into<String>, tensor: impl Into<DynTensor>) -> Self {
        self.insert(path, tensor);
        self
    }

    /// Removes and returns the tensor at `path`.
    pub fn remove(&mut self, path: &str) -> Option<DynTensor> {
        self.entries.shift_remove(path)
    }

    /// The rank-erased tensor at `path`.
    pub fn get_dyn(&self, path: &str) -> Result<&DynTensor, TreeError> {
        self.entries.get(path).ok_or_else(|| self.missing(path))
    }

    /// The tensor at `path` as `Tensor<D>` (a cheap handle clone; no data is copied).
    ///
    /// # Errors
    /// [`TreeError::Missing`] or [`TreeError::Rank`], naming the path.
    pub fn get<const D: usize>(&self, path: &str) -> Result<Tensor<D>, TreeError> {
        let t = self.get_dyn(path)?;
        t.clone()
            .try_into_rank::<D>()
            .ok_or_else(|| TreeError::Rank {
                path: path.to_string(),
                expected: D,
                found: t.rank(),
                shape: t.dims(),
            })
    }

    /// Whether the tree has a tensor at `path`.
    pub fn contains(&self, path: &str) -> bool {
        self.entries.contains_key(path)
    }

    fn missing(&self, path: &str) -> TreeError {
        let mut available: Vec<&str> = self.entries.keys().map(String::as_str).take(12).collect();
        if self.entries.len() > 12 {
            available.push("...");
        }
        TreeError::Missing {
            path: path.to_string(),
            available: available.join(", "),
        }
    }

    /// The number of tensors.
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    /// Whether the tree holds no tensor.
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// The total number of scalar parameters (sum of every tensor's element count).
    pub fn num_params(&self) -> usize {
        self.entries.values().map(DynTensor::num_elements).sum()
    }

    /// The paths, in order.
    pub fn paths(&self) -> Vec<&str> {
        self.entries.keys().map(String::as_str).collect()
    }

    /// Iterates over `(path, tensor)` in order.
    pub fn iter(&self) -> impl Iterator<Item = (&str, &DynTensor)> {
        self.entries.iter().map(|(k, v)| (k.as_str(), v))
    }

    /// Applies `f` to every tensor, keeping the paths.
    pub fn map(&self, mut f: impl FnMut(DynTensor) -> DynTensor) -> Params {
        self.map_with_path(|_, t| f(t))
    }

    /// Applies `f` to every tensor, consuming the tree: tensors reach `f` uniquely owned (when
    /// nothing else holds them), so element-wise ops can reuse their buffers instead of allocating.
    ///
    /// # Example
    /// ```
    /// use duet_core::{burn::tensor::{Device, Tensor}, Params};
    /// let p = Params::new().with("w", Tensor::<1>::from_floats([1.0, 2.0], &Device::flex()));
    /// assert_eq!(p.into_map(|t| t * 3.0).get_dyn("w").unwrap().to_vec(), vec![3.0, 6.0]);
    /// ```
    pub fn into_map(self, mut f: impl FnMut(DynTensor) -> DynTensor) -> Params {
        let entries = self.entries.into_iter().map(|(k, v)| (k, f(v))).collect();
        Params { entries }
    }

    /// Applies `f(path, tensor)` to every tensor, keeping the paths.
    pub fn map_with_path(&self, mut f: impl FnMut(&str, DynTensor) -> DynTensor) -> Params {
        let entries = self
            .entries
            .iter()
            .map(|(k, v)| (k.clone(), f(k, v.clone())))
            .collect();
        Params { entries }
    }

    /// Checks that `other` has exactly the paths and shapes of `self`.
    ///
    /// # Errors
    /// [`TreeError::Structure`] naming the first path only one tree has, or [`TreeError::Shape`].
    pub fn check_same_structure(&self, other: &Params) -> Result<(), TreeError> {
        for (path, a) in &self.entries {
            let b = other
                .entries
                .get(path)
                .ok_or_else(|| TreeError::Structure {
                    path: path.clone(),
                    side: "missing from the second tree",
                })?;
            let (da, db) = (a.dims(), b.dims());
            if da != db {
                return Err(TreeError::Shape {
                    path: path.clone(),
                    left: da,
                    right: db,
                });
            }
        }
        if let Some(path) = other
            .entries
            .keys()
            .find(|k| !self.entries.contains_key(*k))
        {
            return Err(TreeError::Structure {
                path: path.clone(),
                side: "missing from the first tree",
            });
        }
        Ok(())
    }

    /// Combines two trees with the same paths and shapes, tensor by tensor, in `self`'s order.
    ///
    /// # Errors
    /// As [`check_same_structure`](Self::check_same_structure): the first mismatch, by path.
    pub fn zip_map(
        &self,
        other: &Params,
        mut f: impl FnMut(DynTensor, DynTensor) -> DynTensor,
    ) -> Result<Params, TreeError> {
        self.check_same_structure(other)?;
        let entries = self
            .entries
            .iter()
            .map(|(k, a)| (k.clone(), f(a.clone(), other.entries[k].clone())))
            .collect();
        Ok(Params { entries })
    }

    /// The sub-tree of the paths for which `keep(path)` is true (paths unchanged).
    pub fn filter(&self, mut keep: impl FnMut(&str) -> bool) -> Params {
        let entries = self
            .entries
            .iter()
            .filter(|(k, _)| keep(k))
            .map(|(k, v)| (k.clone(), v.clone()));
        Params {
            entries: entries.collect(),
        }
    }

    /// The sub-tree under `prefix`, with the prefix stripped: `subtree("conv1")` turns
    /// `conv1.weight` into `weight`. Empty when nothing matches; the whole tree for the empty
    /// prefix (the inverse of [`prefix`](Self::prefix), which leaves paths alone for `""`).
    pub fn subtree(&self, prefix: &str) -> Params {
        if prefix.is_empty() {
            return self.clone();
        }
        let dotted = format!("{prefix}.");
        let entries = self.entries.iter().filter_map(|(k, v)| {
            k.strip_prefix(&dotted)
                .map(|rest| (rest.to_string(), v.clone()))
        });
        Params {
            entries: entries.collect(),
        }
    }

    /// Removes the sub-tree under `prefix` and returns it with the prefix stripped (the owning
    /// form of [`subtree`](Self::subtree)).
    ///
    /// # Example
    /// ```
    /// use duet_core::{burn::tensor::{Device, Tensor}, Params};
    /// let dev = Device::flex();
    /// let mut p = Params::new()
    ///     .with("mu.w", Tensor::<1>::zeros([2], &dev))
    ///     .with("nu.w", Tensor::<1>::ones([2], &dev));
    /// let mu = p.take_subtree("mu");
    /// assert_eq!((mu.paths(), p.paths()), (vec!["w"], vec!["nu.w"]));
    /// ```
    pub fn take_subtree(&mut self, prefix: &str) -> Params {
        let dotted = format!("{prefix}.");
        let (taken, kept): (IndexMap<_, _>, IndexMap<_, _>) = std::mem::take(&mut self.entries)
            .into_iter()
            .partition(|(k, _)| k.starts_with(&dotted));
        self.entries = kept;
        let entries = taken
            .into_iter()
            .map(|(k, v)| (k[dotted.len()..].to_string(), v));
        Params {
            entries: entries.collect(),
        }
    }

    /// Prefixes every path with `prefix.` (`weight` -> `conv1.weight`).
    pub fn prefix(self, prefix: &str) -> Params {
        if prefix.is_empty() {
            return self;
        }
        let entries = self
            .entries
            .into_iter()
            .map(|(k, v)| (format!("{prefix}.{k}"), v));
        Params {
            entries: entries.collect(),
        }
    }

    /// Appends `sub` under `name`: `tree.nest("conv1", conv)` adds `conv1.weight`, `conv1.bias`.
    pub fn nest(mut self, name: &str, sub: Params) -> Params {
        self.extend(sub.prefix(name));
        self
    }

    /// Adds every tensor of `other` (replacing tensors at equal paths).
    pub fn extend(&mut self, other: Params) {
        self.entries.extend(other.entries);
    }

    /// Moves every tensor to `device`.
    pub fn to_device(&self, device: &Device) -> Params {
        self.map(|t| t.to_device(device))
    }

    /// Drops every tensor's autodiff association (plain values, e.g. after an update).
    pub fn without_autodiff(&self) -> Params {
        self.map(DynTensor::without_autodiff)
    }

    /// A table of path, shape and element count, with the total, as `Display` prints it.
    pub fn summary(&self) -> String {
        self.to_string()
    }
}

impl IntoIterator for Params {
    type Item = (String, DynTensor);
    type IntoIter = indexmap::map::IntoIter<String, DynTensor>;
    fn into_iter(self) -> Self::IntoIter {
        self.entries.into_iter()
    }
}

impl FromIterator<(String, DynTensor)> for Params {
    fn from_iter<I: IntoIterator<Item = (String, DynTensor)>>(iter: I) -> Self {
        Params {
            entries: iter.into_iter().collect(),
        }
    }
}

impl fmt::Display for Params {
    /// A table: `path | shape | count`, then the total.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let rows: Vec<(String, String, String)> = self
            .iter()
            .map(|(p, t)| {
                (
                    p.to_string(),
                    format!("{:?}", t.dims()),
                    group_digits(t.num_elements()),
                )
            })
            .collect();
        let total = group_digits(self.num_params());
        let w0 = rows
            .iter()
            .map(|r| r.0.len())
            .chain([4, 5])
            .max()
            .unwrap_or(4);
        let w1 = rows.iter().map(|r| r.1.len()).chain([5]).max().unwrap_or(5);
        let w2 = rows
            .iter()
            .map(|r| r.2.len())
            .chain([total.len(), 5])
            .max()
            .unwrap_or(5);
        writeln!(f, "{:<w0$}  {:<w1$}  {:>w2$}", "path", "shape", "count")?;
        writeln!(f, "{}", "-".repeat(w0 + w1 + w2 + 4))?;
        for (p, s, c) in &rows {
            writeln!(f, "{p:<w0$}  {s:<w1$}  {c:>w2$}")?;
        }
        writeln!(f, "{}", "-".repeat(w0 + w1 + w2 + 4))?;
        write!(
            f,
            "{:<w0$}  {:<w1$}  {total:>w2$}",
            "total",
            format!("{} tensors", self.len())
        )
    }
}

/// Formats a count with thousands separators: `1234567` -> `"1,234,567"`.
pub fn group_digits(n: usize) -> String {
    let s = n.to_string();
    let mut out = String::new();
    for (i, c) in s.chars().enumerate() {
        if i > 0 && (s.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tree(dev: &Device) -> Params {
        Params::new()
            .with("a.weight", Tensor::<2>::ones([2, 3], dev))
            .with("a.bias", Tensor::<1>::zeros([3], dev))
            .with("b.weight", Tensor::<4>::ones([1, 1, 2, 2], dev))
    }

    #[test]
    fn order_is_insertion_order_and_counts() {
        let dev = Device::flex();
        let t = tree(&dev);
        assert_eq!(t.paths(), vec!["a.weight", "a.bias", "b.weight"]);
        assert_eq!(t.len(), 3);
        assert_eq!(t.num_params(), 6 + 3 + 4);
    }

    #[test]
    fn missing_and_rank_errors_name_the_path() {
        let dev = Device::flex();
        let t = tree(&dev);
        let e = t.get::<2>("a.wieght").unwrap_err();
        assert!(matches!(e, TreeError::Missing { .. }));
        assert!(e.to_string().contains("a.wieght") && e.to_string().contains("a.weight"));
        let e = t.get::<3>("a.bias").unwrap_err();
        assert_eq!(
            e,
            TreeError::Rank {
                path: "a.bias".into(),
                expected: 3,
                found: 1,
                shape: vec![3]
            }
        );
    }

    #[test]
    fn zip_map_checks_paths_and_shapes() {
        let dev = Device::flex();
        let t = tree(&dev);
        let sum = t.zip_map(&t, |a, b| a + b).unwrap();
        assert_eq!(sum.get_dyn("b.weight").unwrap().to_vec(), vec![2.0; 4]);
        let mut other = t.clone();
        other.remove("a.bias");
        let e = t.zip_map(&other, |a, _| a).unwrap_err();
        assert_eq!(
            e,
            TreeError::Structure {
                path: "a.bias".into(),
                side: "missing from the second tree"
            }
        );
        let e = other.zip_map(&t, |a, _| a).unwrap_err();
        assert_eq!(
            e,
            TreeError::Structure {
                path: "a.bias".into(),
                side: "missing from the first tree"
            }
        );
        let mut reshaped = t.clone();
        reshaped.insert("a.bias", Tensor::<1>::zeros([4], &dev));
        let e = t.zip_map(&reshaped, |a, _| a).unwrap_err();
        assert_eq!(
            e,
            TreeError::Shape {
                path: "a.bias".into(),
                left: vec![3],
                right: vec![4]
            }
        );
    }

    #[test]
    fn filter_subtree_prefix_nest() {
        let dev = Device::flex();
        let t = tree(&dev);
        assert_eq!(
            t.filter(|p| p.starts_with("a.")).paths(),
            vec!["a.weight", "a.bias"]
        );
        assert_eq!(t.filter(|p| p.ends_with("weight")).len(), 2);
        let a = t.subtree("a");
        assert_eq!(a.paths(), vec!["weight", "bias"]);
        let nested = Params::new().nest("enc", a.clone()).nest("dec", a);
        assert_eq!(
            nested.paths(),
            vec!["enc.weight", "enc.bias", "dec.weight", "dec.bias"]
        );
        assert!(t.subtree("c").is_empty());
    }

    #[test]
    fn summary_table_lists_every_path_and_total() {
        let dev = Device::flex();
        let s = tree(&dev).summary();
        assert!(s.contains("a.weight") && s.contains("[2, 3]") && s.contains("b.weight"));
        assert!(s.lines().last().unwrap().contains("13"), "{s}");
        assert_eq!(group_digits(1234567), "1,234,567");
        assert_eq!(group_digits(999), "999");
    }
}
