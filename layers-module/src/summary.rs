//! [`summary`]: a module's parameter and state table.

use duet_core::burn::module::{Module, ModuleVisitor, Param};
use duet_core::burn::tensor::Tensor;
use duet_core::{group_digits, is_state_path};

struct Row {
    path: String,
    module: String,
    kind: &'static str,
    shape: String,
    count: usize,
}

#[derive(Default)]
struct Walk {
    path: Vec<String>,
    owners: Vec<String>,
    rows: Vec<Row>,
}

impl ModuleVisitor for Walk {
    fn enter_module(&mut self, name: &str, container_type: &str) {
        // Same segments as the tree bridge: enum variants add none.
        let seg = if container_type.starts_with("Enum:") {
            ""
        } else {
            name
        };
        self.path.push(seg.to_string());
        self.owners.push(container_type.to_string());
    }
    fn exit_module(&mut self, _: &str, _: &str) {
        self.path.pop();
        self.owners.pop();
    }
    fn visit_float<const D: usize>(&mut self, param: &Param<Tensor<D>>) {
        let path = self
            .path
            .iter()
            .filter(|s| !s.is_empty())
            .cloned()
            .collect::<Vec<_>>()
            .join(".");
        // The nearest struct that owns this tensor (a `Vec`/`Option` field names no type).
        let module = self
            .owners
            .iter()
            .rev()
            .find_map(|o| o.strip_prefix("Struct:"))
            .unwrap_or("")
            .to_string();
        let dims = param.val().dims();
        self.rows.push(Row {
            kind: if is_state_path(&path) {
                "state"
            } else {
                "param"
            },
            path,
            module,
            shape: format!("{dims:?}"),
            count: dims.iter().product(),
        });
    }
}

/// A table of every tensor of a module: path, owning module type, param or state, shape and
/// element count, then the totals (as `duet_functional::summary` ends).
///
/// # Example
/// ```
/// use duet_module::{summary, BatchNorm, Linear, Rngs};
/// use duet_core::burn::{module::Module, tensor::Device};
/// #[derive(Module, Debug)]
/// struct Net { fc: Linear, bn: BatchNorm }
/// let dev = Device::flex();
/// let net = Net { fc: Linear::new(4, 3, &mut Rngs::new(0), &dev), bn: BatchNorm::new(3, &dev) };
/// let table = summary(&net);
/// assert!(table.contains("fc.weight") && table.contains("Linear") && table.contains("[4, 3]"));
/// assert!(table.contains("bn.running_var") && table.contains("state"));
/// assert!(table.contains("trainable params: 21 in 4 tensors; state: 6 in 2 tensors"));
/// ```
pub fn summary<M: Module>(model: &M) -> String {
    let mut w = Walk::default();
    model.visit(&mut w);
    let rows = w.rows;
    let width =
        |f: &dyn Fn(&Row) -> usize, min: usize| rows.iter().map(f).max().unwrap_or(0).max(min);
    let w0 = width(&|r| r.path.len(), 4);
    let w1 = width(&|r| r.module.len(), 6);
    let w2 = width(&|r| r.shape.len(), 5);
    let w3 = width(&|r| group_digits(r.count).len(), 5);
    let line = "-".repeat(w0 + w1 + 5 + w2 + w3 + 8);
    let mut out = format!(
        "{:<w0$}  {:<w1$}  {:<5}  {:<w2$}  {:>w3$}\n{line}\n",
        "path", "module", "kind", "shape", "count"
    );
    for r in &rows {
        out.push_str(&format!(
            "{:<w0$}  {:<w1$}  {:<5}  {:<w2$}  {:>w3$}\n",
            r.path,
            r.module,
            r.kind,
            r.shape,
            group_digits(r.count)
        ));
    }
    let total = |kind: &str| {
        let rs: Vec<&Row> = rows.iter().filter(|r| r.kind == kind).collect();
        (group_digits(rs.iter().map(|r| r.count).sum()), rs.len())
    };
    let ((p, np), (s, ns)) = (total("param"), total("state"));
    out.push_str(&format!(
        "{line}\ntrainable params: {p} in {np} tensors; state: {s} in {ns} tensors\n"
    ));
    out
}
