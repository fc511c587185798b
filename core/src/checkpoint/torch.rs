//! The one PyTorch layout adapter: which params PyTorch stores in another layout than duet,
//! keyed by the layer's kind ([`crate::layers::LayerConfig::KIND`]) and the param's name.
//!
//! duet keeps dense weights as `[in, out]` (PyTorch: `[out, in]`), and recurrent and attention
//! projection weights likewise transposed; everything else (convolutions, norms, embeddings,
//! biases) has PyTorch's layout. A model's kinds come from `duet_functional::torch_kinds`.

use crate::{DynTensor, Params};
use std::collections::BTreeMap;

/// A model's layer kinds by layer path (`"fc1"`; `""` for a model that is a single layer).
pub type Kinds = BTreeMap<String, &'static str>;

/// How a param's PyTorch tensor relates to duet's.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Layout {
    /// The same tensor.
    Same,
    /// A rank-2 tensor, transposed.
    Transpose,
}

/// THE table: the layout of param `param` (its name inside the layer: `weight`,
/// `q_proj.weight`, ...) of a layer of kind `kind`.
///
/// # Example
/// ```
/// use duet_core::checkpoint::torch::{layout, Layout};
/// assert_eq!(layout("linear", "weight"), Layout::Transpose);
/// assert_eq!(layout("linear", "bias"), Layout::Same);
/// assert_eq!(layout("conv2d", "weight"), Layout::Same);
/// assert_eq!(layout("lstm", "weight_hh"), Layout::Transpose);
/// ```
pub fn layout(kind: &str, param: &str) -> Layout {
    let transposed = match kind {
        "linear" => param == "weight",
        "lstm" | "gru" | "lstm_cell" | "gru_cell" => param.starts_with("weight_"),
        "multi_head_attention" => param.ends_with("proj.weight") || param.ends_with("proj_weight"),
        _ => false,
    };
    if transposed {
        Layout::Transpose
    } else {
        Layout::Same
    }
}

/// Why a PyTorch state dict does not fit a model.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum TorchError {
    /// The state dict has a tensor the model does not.
    #[error("unexpected tensor `{path}` in the PyTorch state dict")]
    Unexpected {
        /// Its path.
        path: String,
    },
    /// The model has a param the state dict does not.
    #[error("the PyTorch state dict has no `{path}`")]
    Missing {
        /// Its path.
        path: String,
    },
    /// A tensor's shape does not fit (in PyTorch's layout).
    #[error(
        "`{path}`: PyTorch shape {torch:?}, the model expects {expected:?} (in PyTorch's layout)"
    )]
    Shape {
        /// Its path.
        path: String,
        /// The state dict's shape.
        torch: Vec<usize>,
        /// The model's shape, in PyTorch's layout.
        expected: Vec<usize>,
    },
}

/// The layout of the param at `path`: the kind of the longest layer path that prefixes it.
fn layout_of(path: &str, kinds: &Kinds) -> Layout {
    let mut layer = path;
    loop {
        if let Some(kind) = kinds.get(layer) {
            let param = if layer.is_empty() {
                path
            } else {
                &path[layer.len() + 1..]
            };
            return layout(kind, param);
        }
        if layer.is_empty() {
            return Layout::Same;
        }
        layer = layer.rfind('.').map_or("", |i| &layer[..i]);
    }
}

fn apply(t: &DynTensor, l: Layout) -> DynTensor {
    match l {
        Layout::Same => t.clone(),
        Layout::Transpose => t.clone().into_rank::<2>().transpose().into(),
    }
}

fn shape_in(t: &DynTensor, l: Layout) -> Vec<usize> {
    let mut d = t.dims();
    if l == Layout::Transpose {
        d.reverse();
    }
    d
}

/// A PyTorch state dict (`sd`, by PyTorch's names = duet's paths) in duet's layout, checked
/// against `template` (the model's params: every path present, shapes equal).
///
/// # Errors
/// The first unexpected, missing or mis-shaped tensor.
pub fn from_torch(sd: &Params, template: &Params, kinds: &Kinds) -> Result<Params, TorchError> {
    if let Some((path, _)) = sd.iter().find(|(p, _)| !template.contains(p)) {
        return Err(TorchError::Unexpected { path: path.into() });
    }
    let mut out = Params::new();
    for (path, want) in template.iter() {
        let t = sd
            .get_dyn(path)
            .map_err(|_| TorchError::Missing { path: path.into() })?;
        let l = layout_of(path, kinds);
        let expected = shape_in(want, l);
        if t.dims() != expected {
            let torch = t.dims();
            return Err(TorchError::Shape {
                path: path.into(),
                torch,
                expected,
            });
        }
        out.insert(path, apply(t, l));
    }
    Ok(out)
}

/// duet params (or gradients) in PyTorch's layout, by the same paths.
pub fn to_torch(p: &Params, kinds: &Kinds) -> Params {
    p.map_with_path(|path, t| apply(&t, layout_of(path, kinds)))
}

#[cfg(test)]
mod tests {
    use super::*;
    use burn::tensor::Device;

    #[test]
    fn dense_weights_transpose_and_everything_else_is_checked() {
        let dev = Device::flex();
        let kinds: Kinds = [("fc".to_string(), "linear"), ("conv".to_string(), "conv2d")].into();
        let duet = Params::new()
            .with(
                "fc.weight",
                DynTensor::from_floats(vec![1., 2., 3., 4., 5., 6.], &[2, 3], &dev),
            )
            .with("conv.weight", DynTensor::zeros(&[2, 1, 3, 3], &dev));
        let torch = to_torch(&duet, &kinds);
        assert_eq!(torch.get_dyn("fc.weight").unwrap().dims(), vec![3, 2]);
        assert_eq!(
            torch.get_dyn("fc.weight").unwrap().to_vec(),
            vec![1., 4., 2., 5., 3., 6.]
        );
        let back = from_torch(&torch, &duet, &kinds).unwrap();
        assert_eq!(
            back.get_dyn("fc.weight").unwrap().to_vec(),
            vec![1., 2., 3., 4., 5., 6.]
        );
        let err = from_torch(&duet, &duet, &kinds).unwrap_err();
        assert!(
            matches!(err, TorchError::Shape { ref path, .. } if path == "fc.weight"),
            "{err}"
        );
        let extra = torch.clone().with("x", DynTensor::zeros(&[1], &dev));
        assert!(matches!(
            from_torch(&extra, &duet, &kinds),
            Err(TorchError::Unexpected { .. })
        ));
        let missing = torch.filter(|p| p != "conv.weight");
        assert!(matches!(
            from_torch(&missing, &duet, &kinds),
            Err(TorchError::Missing { .. })
        ));
    }
}
