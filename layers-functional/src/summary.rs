//! A model summary table, like Flax's `tabulate` and Keras's `summary`.

use crate::layer::{BuildError, Layer, Shape};
use duet_core::burn::tensor::Device;
use duet_core::{group_digits as group, Key, Params};
use std::collections::BTreeMap;

/// One row of a summary: a layer at a path.
struct Row {
    path: String,
    layer: String,
    output: String,
    params: usize,
    depth: usize,
}

fn walk(
    layer: &dyn Layer,
    path: &str,
    inputs: &[Shape],
    params: &Params,
    depth: usize,
    rows: &mut Vec<Row>,
) {
    let output = match layer.output_signature(inputs) {
        Ok(o) if o.len() == 1 => format!("{:?}", o[0]),
        Ok(o) => format!("{o:?}"),
        Err(e) => format!("error: {}", e.message),
    };
    let count = if path.is_empty() {
        params.num_params()
    } else {
        params.subtree(path).num_params()
    };
    rows.push(Row {
        path: path.to_string(),
        layer: layer.name(),
        output,
        params: count,
        depth,
    });
    for (name, child, child_inputs) in layer.expand(inputs) {
        let p = join(path, name);
        walk(child, &p, &child_inputs, params, depth + 1, rows);
    }
}

/// A table of every layer: path, layer, output shape, parameter count (including sublayers),
/// then the totals of params and state. Builds the model on the CPU to count parameters.
///
/// # Errors
/// The model's [`BuildError`] if it does not fit `inputs`.
///
/// # Example
/// ```
/// use duet_functional::{serial, summary, Fn};
/// use duet_core::DynTensor;
/// let model = serial![Fn::new("Id", |x: Vec<DynTensor>| x)];
/// let table = summary(&model, &[vec![4, 3]]).unwrap();
/// assert!(table.contains("Id") && table.contains("[4, 3]"));
/// ```
pub fn summary(model: &dyn Layer, inputs: &[Shape]) -> Result<String, BuildError> {
    let dev = Device::flex();
    let init = model.init(inputs, Key::new(0), &dev)?;
    let mut rows = Vec::new();
    walk(model, "", inputs, &init.params, 0, &mut rows);
    let path_of = |r: &Row| {
        if r.path.is_empty() {
            "<model>".to_string()
        } else {
            r.path.clone()
        }
    };
    let w0 = rows
        .iter()
        .map(|r| path_of(r).len())
        .max()
        .unwrap_or(4)
        .max(4);
    let w1 = rows
        .iter()
        .map(|r| r.layer.len() + 2 * r.depth)
        .max()
        .unwrap_or(5)
        .max(5);
    let w2 = rows
        .iter()
        .map(|r| r.output.len())
        .max()
        .unwrap_or(6)
        .max(12);
    let mut out = format!(
        "{:<w0$}  {:<w1$}  {:<w2$}  {:>12}\n",
        "path", "layer", "output shape", "params"
    );
    out.push_str(&"-".repeat(w0 + w1 + w2 + 18));
    out.push('\n');
    for r in &rows {
        let layer = format!("{}{}", "  ".repeat(r.depth), r.layer);
        out.push_str(&format!(
            "{:<w0$}  {layer:<w1$}  {:<w2$}  {:>12}\n",
            path_of(r),
            r.output,
            group(r.params)
        ));
    }
    out.push_str(&"-".repeat(w0 + w1 + w2 + 18));
    out.push_str(&format!(
        "\ntrainable params: {} in {} tensors; state: {} in {} tensors\n",
        group(init.params.num_params()),
        init.params.len(),
        group(init.state.num_params()),
        init.state.len()
    ));
    Ok(out)
}

/// The PyTorch-adapter kind of every config layer in a model, by path (`""` for a single
/// layer): `{"conv1": "conv2d", "fc1": "linear", ...}`. Combinators and layers without a
/// `duet_core` config (losses, `Fn`) are left out.
///
/// # Example
/// ```
/// use duet_functional::{serial, torch_kinds, Dense, Relu};
/// let k = torch_kinds(&serial!["fc1" => Dense::new(3), Relu], &[2, 4]);
/// assert_eq!(k["fc1"], "linear");
/// assert_eq!(k["1"], "activation");
/// ```
pub fn torch_kinds(layer: &dyn Layer, input: &[usize]) -> BTreeMap<String, &'static str> {
    fn go(
        layer: &dyn Layer,
        path: &str,
        inputs: &[Shape],
        out: &mut BTreeMap<String, &'static str>,
    ) {
        if let Some(k) = layer.kind() {
            out.insert(path.to_string(), k);
        }
        for (name, child, child_inputs) in layer.expand(inputs) {
            let p = join(path, name);
            go(child, &p, &child_inputs, out);
        }
    }
    let mut out = BTreeMap::new();
    go(layer, "", &[input.to_vec()], &mut out);
    out
}

/// `path.name`, or either alone when the other is empty (an inlined child has no name).
fn join(path: &str, name: String) -> String {
    match (path.is_empty(), name.is_empty()) {
        (true, _) => name,
        (_, true) => path.to_string(),
        _ => format!("{path}.{name}"),
    }
}
