//! Checkpoints: named parameter trees plus string metadata in one safetensors file.
//!
//! # Format
//! A standard safetensors file (readable by Python's `safetensors`, `safe_open(..., "numpy")`):
//! - every tensor is float32, named `<tree>/<path>` (`params/conv1.weight`, `opt/mu.conv1.weight`);
//! - the header metadata holds the caller's strings plus `duet.format` (currently `"1"`) and
//!   `duet.trees`, a JSON object from tree name to its paths in order (safetensors itself
//!   sorts tensors, so the order is kept here).
//!
//! Writes go to a temporary file in the same directory, which is fsynced and renamed over the
//! target (then the directory is fsynced): a crash mid-write leaves the previous file whole.
//!
//! Loading checks the file against what the model expects ([`CheckpointFile::load_like`]) and
//! reports a missing path, an extra path, a wrong shape or dtype by name, with both shapes.

use crate::params::Params;
use crate::tensor::DynTensor;
use burn::tensor::{Device, TensorData};
use indexmap::IndexMap;
use safetensors::tensor::{Dtype, SafeTensors, TensorView};
use std::collections::{BTreeMap, HashMap};
use std::fs;
use std::io::Write;
use std::path::{Path, PathBuf};

/// The format version written to `duet.format`.
pub const FORMAT_VERSION: &str = "1";

mod error;
pub use error::CheckpointError;

fn io_err(path: &Path) -> impl FnOnce(std::io::Error) -> CheckpointError + '_ {
    move |source| CheckpointError::Io {
        path: path.to_path_buf(),
        source,
    }
}

/// Saves `trees` (name, tree) and `metadata` to `path`, atomically.
///
/// # Example
/// ```
/// use duet_core::{burn::tensor::{Device, Tensor}, checkpoint, Params};
/// use std::collections::BTreeMap;
/// let dev = Device::flex();
/// let params = Params::new().with("fc.weight", Tensor::<2>::ones([2, 3], &dev));
/// let dir = std::env::temp_dir().join(format!("duet-doc-{}", std::process::id()));
/// std::fs::create_dir_all(&dir).unwrap();
/// let file = dir.join("model.safetensors");
/// let meta = BTreeMap::from([("step".to_string(), "10".to_string())]);
/// checkpoint::save(&file, &[("params", &params)], &meta).unwrap();
/// let ckpt = checkpoint::CheckpointFile::open(&file).unwrap();
/// assert_eq!(ckpt.metadata()["step"], "10");
/// let back = ckpt.load_like("params", &params, &Default::default(), &dev).unwrap();
/// assert_eq!(back.get_dyn("fc.weight").unwrap().to_vec(), vec![1.0; 6]);
/// std::fs::remove_dir_all(&dir).unwrap();
/// ```
pub fn save(
    path: impl AsRef<Path>,
    trees: &[(&str, &Params)],
    metadata: &BTreeMap<String, String>,
) -> Result<(), CheckpointError> {
    let path = path.as_ref();
    let bytes = to_bytes(trees, metadata);
    write_atomic(path, &bytes)
}

/// Serializes trees and metadata to safetensors bytes (what [`save`] writes).
pub fn to_bytes(trees: &[(&str, &Params)], metadata: &BTreeMap<String, String>) -> Vec<u8> {
    let mut order: IndexMap<&str, Vec<&str>> = IndexMap::new();
    let mut data: Vec<(String, Vec<usize>, Vec<u8>)> = Vec::new();
    for (name, tree) in trees {
        assert!(
            !name.contains('/'),
            "tree name `{name}` must not contain '/'"
        );
        order.insert(name, tree.paths());
        for (p, t) in tree.iter() {
            let raw = t.to_data().convert::<f32>();
            data.push((
                CheckpointFile::full_name(name, p),
                t.dims(),
                raw.as_bytes().to_vec(),
            ));
        }
    }
    let views: Vec<(String, TensorView<'_>)> = data
        .iter()
        .map(|(n, shape, bytes)| {
            let view = TensorView::new(Dtype::F32, shape.clone(), bytes).expect("consistent view");
            (n.clone(), view)
        })
        .collect();
    let mut meta: HashMap<String, String> = metadata.clone().into_iter().collect();
    meta.insert("duet.format".into(), FORMAT_VERSION.into());
    meta.insert(
        "duet.trees".into(),
        serde_json::to_string(&order).expect("json"),
    );
    safetensors::serialize(views, &Some(meta)).expect("serializing in-memory tensors")
}

/// Writes `bytes` to `path` through a fsynced temporary file and a rename.
pub fn write_atomic(path: &Path, bytes: &[u8]) -> Result<(), CheckpointError> {
    let dir = path
        .parent()
        .filter(|d| !d.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let tmp = dir.join(format!(".{name}.tmp.{}", std::process::id()));
    let result = (|| {
        let mut f = fs::File::create(&tmp).map_err(io_err(&tmp))?;
        f.write_all(bytes).map_err(io_err(&tmp))?;
        f.sync_all().map_err(io_err(&tmp))?;
        drop(f);
        fs::rename(&tmp, path).map_err(io_err(path))?;
        // Make the rename itself durable.
        if let Ok(d) = fs::File::open(dir) {
            let _ = d.sync_all();
        }
        Ok(())
    })();
    if result.is_err() {
        let _ = fs::remove_file(&tmp);
    }
    result
}

/// How [`CheckpointFile::load_like`] matches a file against a model.
#[derive(Clone, Debug, Default)]
pub struct LoadOptions {
    /// Keep the model's own value for paths the file lacks (instead of an error).
    pub allow_missing: bool,
    /// Ignore tensors in the file that the model lacks (instead of an error).
    pub allow_unexpected: bool,
    /// Prefix rewrites applied to the file's paths before matching, in order:
    /// `("backbone.", "features.")` loads `backbone.0.weight` into `features.0.weight`.
    pub remap: Vec<(String, String)>,
}

impl LoadOptions {
    /// Options for fine-tuning: missing and unexpected paths are tolerated.
    pub fn partial() -> Self {
        LoadOptions {
            allow_missing: true,
            allow_unexpected: true,
            remap: Vec::new(),
        }
    }
}

/// An opened checkpoint file: metadata and lazily decoded trees.
pub struct CheckpointFile {
    path: PathBuf,
    bytes: Vec<u8>,
    metadata: BTreeMap<String, String>,
    trees: IndexMap<String, Vec<String>>,
}

impl std::fmt::Debug for CheckpointFile {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CheckpointFile")
            .field("path", &self.path)
            .field("trees", &self.trees.keys().collect::<Vec<_>>())
            .field("metadata", &self.metadata)
            .finish()
    }
}

impl CheckpointFile {
    /// Reads and validates the file's header.
    ///
    /// # Errors
    /// [`CheckpointError::Io`] if it cannot be read, [`CheckpointError::Corrupt`] if it is not a
    /// valid safetensors file (truncated, bad header, offsets past the end).
    pub fn open(path: impl AsRef<Path>) -> Result<Self, CheckpointError> {
        let path = path.as_ref().to_path_buf();
        let bytes = fs::read(&path).map_err(io_err(&path))?;
        Self::from_bytes(path, bytes)
    }

    /// Like [`open`](Self::open) for bytes already in memory; `path` is used in messages.
    pub fn from_bytes(path: PathBuf, bytes: Vec<u8>) -> Result<Self, CheckpointError> {
        let corrupt = |reason: String| CheckpointError::Corrupt {
            path: path.clone(),
            reason,
        };
        let st = SafeTensors::deserialize(&bytes).map_err(|e| corrupt(e.to_string()))?;
        let (_, header) = SafeTensors::read_metadata(&bytes).map_err(|e| corrupt(e.to_string()))?;
        let metadata: BTreeMap<String, String> = header
            .metadata()
            .clone()
            .unwrap_or_default()
            .into_iter()
            .collect();
        let trees: IndexMap<String, Vec<String>> = match metadata.get("duet.trees") {
            Some(json) => serde_json::from_str(json)
                .map_err(|e| corrupt(format!("bad duet.trees metadata: {e}")))?,
            // A file from elsewhere: group by the first '/' if any, else one tree named "".
            None => {
                let mut names: Vec<String> = st.names().into_iter().cloned().collect();
                names.sort();
                let mut trees: IndexMap<String, Vec<String>> = IndexMap::new();
                for n in names {
                    let (tree, p) = n.split_once('/').unwrap_or(("", &n));
                    trees
                        .entry(tree.to_string())
                        .or_default()
                        .push(p.to_string());
                }
                trees
            }
        };
        // Every path `duet.trees` lists must be a tensor of the file (a hand-edited or foreign
        // header must not make later reads fail, or panic, on a name that is not there).
        for (tree, paths) in &trees {
            for p in paths {
                let name = Self::full_name(tree, p);
                if st.tensor(&name).is_err() {
                    return Err(CheckpointError::ListedMissing {
                        path: path.clone(),
                        tensor: name,
                    });
                }
            }
        }
        drop(st);
        Ok(CheckpointFile {
            path,
            bytes,
            metadata,
            trees,
        })
    }

    /// The file's path.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The string metadata (including `duet.format` and `duet.trees`).
    pub fn metadata(&self) -> &BTreeMap<String, String> {
        &self.metadata
    }

    /// The names of the trees in the file, in the order they were saved.
    pub fn tree_names(&self) -> Vec<&str> {
        self.trees.keys().map(String::as_str).collect()
    }

    /// The paths stored in tree `tree` (without the tree's prefix), in file order.
    ///
    /// # Errors
    /// [`CheckpointError::NoTree`].
    ///
    /// # Example
    /// ```
    /// use duet_core::{burn::tensor::{Device, Tensor}, checkpoint::{to_bytes, CheckpointFile}, Params};
    /// let p = Params::new().with("w", Tensor::<1>::ones([2], &Device::flex()));
    /// let ck = CheckpointFile::from_bytes("x".into(), to_bytes(&[("params", &p)], &Default::default())).unwrap();
    /// assert_eq!(ck.paths("params").unwrap(), ["w"]);
    /// assert!(ck.paths("opt").is_err());
    /// ```
    pub fn paths(&self, tree: &str) -> Result<Vec<&str>, CheckpointError> {
        Ok(self
            .stored_paths(tree)?
            .iter()
            .map(String::as_str)
            .collect())
    }

    fn full_name(tree: &str, path: &str) -> String {
        if tree.is_empty() {
            path.to_string()
        } else {
            format!("{tree}/{path}")
        }
    }

    fn read(
        &self,
        st: &SafeTensors<'_>,
        name: &str,
        device: &Device,
    ) -> Result<DynTensor, CheckpointError> {
        let view = st.tensor(name).map_err(|_| CheckpointError::Missing {
            path: self.path.clone(),
            tensor: name.to_string(),
        })?;
        if view.dtype() != Dtype::F32 {
            return Err(CheckpointError::Dtype {
                path: self.path.clone(),
                tensor: name.to_string(),
                found: format!("{:?}", view.dtype()),
            });
        }
        let mut shape = view.shape().to_vec();
        if shape.is_empty() {
            shape.push(1); // scalars are stored as [1]
        }
        if shape.len() > crate::tensor::MAX_RANK {
            return Err(CheckpointError::Corrupt {
                path: self.path.clone(),
                reason: format!(
                    "tensor `{name}` has rank {} (> {})",
                    shape.len(),
                    crate::tensor::MAX_RANK
                ),
            });
        }
        let data =
            TensorData::from_bytes_vec(view.data().to_vec(), shape, burn::tensor::DType::F32);
        Ok(DynTensor::from_data(data, device))
    }

    /// The paths stored for tree `name`, or [`CheckpointError::NoTree`].
    fn stored_paths(&self, name: &str) -> Result<&Vec<String>, CheckpointError> {
        self.trees.get(name).ok_or_else(|| CheckpointError::NoTree {
            path: self.path.clone(),
            tree: name.to_string(),
            available: self.tree_names().join(", "),
        })
    }

    fn safetensors(&self) -> SafeTensors<'_> {
        SafeTensors::deserialize(&self.bytes).expect("validated in open")
    }

    /// The stored shape of tensor `path` of tree `tree`, without decoding it (a scalar is `[]`).
    ///
    /// # Errors
    /// [`CheckpointError::NoTree`], or [`CheckpointError::Missing`] naming the tensor.
    pub fn shape(&self, tree: &str, path: &str) -> Result<Vec<usize>, CheckpointError> {
        self.stored_paths(tree)?;
        let name = Self::full_name(tree, path);
        self.safetensors()
            .tensor(&name)
            .map(|v| v.shape().to_vec())
            .map_err(|_| CheckpointError::Missing {
                path: self.path.clone(),
                tensor: name,
            })
    }

    /// One tensor, `path` of tree `tree`, on `device`.
    ///
    /// # Errors
    /// [`CheckpointError::NoTree`], [`CheckpointError::Missing`] or [`CheckpointError::Dtype`],
    /// naming the tensor.
    pub fn tensor(
        &self,
        tree: &str,
        path: &str,
        device: &Device,
    ) -> Result<DynTensor, CheckpointError> {
        self.stored_paths(tree)?;
        self.read(&self.safetensors(), &Self::full_name(tree, path), device)
    }

    /// The whole tree `name` as stored, on `device`.
    ///
    /// # Errors
    /// [`CheckpointError::NoTree`], or a tensor-level error (dtype).
    pub fn tree(&self, name: &str, device: &Device) -> Result<Params, CheckpointError> {
        let paths = self.stored_paths(name)?;
        let st = self.safetensors();
        let mut out = Params::new();
        for p in paths {
            out.insert(
                p.clone(),
                self.read(&st, &Self::full_name(name, p), device)?,
            );
        }
        Ok(out)
    }

    /// Every tree as stored, in saved order, with its name (to edit a checkpoint and save it
    /// again with [`save`]).
    ///
    /// # Errors
    /// As [`tree`](Self::tree).
    pub fn trees(&self, device: &Device) -> Result<Vec<(String, Params)>, CheckpointError> {
        self.tree_names()
            .into_iter()
            .map(|n| Ok((n.to_string(), self.tree(n, device)?)))
            .collect()
    }

    /// Loads tree `name` into the structure of `template`: same paths, same shapes, in the
    /// template's order. See [`LoadOptions`] for partial loading and remapping.
    ///
    /// # Errors
    /// The first missing, unexpected, mis-shaped or non-f32 tensor, by name, with both shapes.
    pub fn load_like(
        &self,
        name: &str,
        template: &Params,
        opts: &LoadOptions,
        device: &Device,
    ) -> Result<Params, CheckpointError> {
        let stored = self.stored_paths(name)?;
        // model path -> file name
        let mut by_model_path: IndexMap<String, String> = IndexMap::new();
        for p in stored {
            let mut mapped = p.clone();
            for (from, to) in &opts.remap {
                if let Some(rest) = mapped.strip_prefix(from.as_str()) {
                    mapped = format!("{to}{rest}");
                }
            }
            if !template.contains(&mapped) && !opts.allow_unexpected {
                return Err(CheckpointError::Unexpected {
                    path: self.path.clone(),
                    tensor: Self::full_name(name, p),
                });
            }
            by_model_path.insert(mapped, Self::full_name(name, p));
        }
        let st = self.safetensors();
        let mut out = Params::new();
        for (p, want) in template.iter() {
            let Some(file_name) = by_model_path.get(p) else {
                if opts.allow_missing {
                    out.insert(p, want.clone().to_device(device));
                    continue;
                }
                return Err(CheckpointError::Missing {
                    path: self.path.clone(),
                    tensor: Self::full_name(name, p),
                });
            };
            let view = st.tensor(file_name).map_err(|_| CheckpointError::Missing {
                path: self.path.clone(),
                tensor: file_name.clone(),
            })?;
            let (expected, found) = (want.dims(), view.shape().to_vec());
            let same = expected == found || (found.is_empty() && expected == [1]);
            if !same {
                return Err(CheckpointError::Shape {
                    path: self.path.clone(),
                    tensor: file_name.clone(),
                    expected,
                    found,
                });
            }
            out.insert(p, self.read(&st, file_name, device)?);
        }
        Ok(out)
    }
}

#[cfg(test)]
mod tests;
pub mod torch;
