//! [`Serial`]: layers applied one after another on a data stack (Trax's `Serial`).

use crate::layer::{expect_inputs, BuildError, Init, Layer, Mode, Shape};
use crate::values::{forward_via_run, Runs, Values};
use duet_core::burn::tensor::Device;
use duet_core::transform::Unsupported;
use duet_core::{Key, Params};

/// Runs its children in order. Each child takes its `n_in` inputs from the top of the stack and
/// pushes its `n_out` outputs, so multi-input layers (losses, `Add`) compose without plumbing.
///
/// A child's params live under its name: its index (`"0"`, `"1"`, ...) unless named with
/// [`Serial::named`] / the `"name" => layer` form of [`serial!`](crate::serial!). Weightless
/// children keep their index, so `features.3.weight` means the fourth layer, as in PyTorch.
///
/// # Example
/// ```
/// use duet_functional::{serial, Fn, Layer, LayerExt, Mode};
/// use duet_core::{burn::tensor::Device, DynTensor, Key};
/// let double = Fn::new("Double", |x: Vec<DynTensor>| vec![x[0].clone() * 2.0]);
/// let inc = Fn::new("Inc", |x: Vec<DynTensor>| vec![x[0].clone() + 1.0]);
/// let model = serial![double, "last" => inc];
/// let dev = Device::flex();
/// let (p, s) = model.init_model(&[2], Key::new(0), &dev).unwrap();
/// let x = DynTensor::from_floats(vec![1.0, 2.0], &[2], &dev);
/// let (y, _) = model.apply(&p, &s, x, Mode::Eval);
/// assert_eq!(y.to_vec(), vec![3.0, 5.0]);
/// ```
pub struct Serial {
    layers: Vec<(String, Box<dyn Layer>)>,
    n_in: usize,
    n_out: usize,
}

impl Serial {
    /// A serial combination of `layers`, named by index.
    pub fn new(layers: Vec<Box<dyn Layer>>) -> Self {
        Self::named(
            layers
                .into_iter()
                .enumerate()
                .map(|(i, l)| (i.to_string(), l))
                .collect(),
        )
    }

    /// A serial combination of named layers. Panics on a duplicate or dotted name. A layer
    /// named `""` is *inlined*: its params sit directly under the serial's own path, as a
    /// PyTorch module's attributes do (`serial!["" => block, ...]` gives `conv1.weight`, not
    /// `0.conv1.weight`); the params of inlined layers must not share a path.
    ///
    /// # Example
    /// ```
    /// use duet_functional::{serial, Dense, LayerExt};
    /// use duet_core::{burn::tensor::Device, Key};
    /// let block = serial!["fc1" => Dense::new(3), "fc2" => Dense::new(2)];
    /// let model = serial!["" => block, "head" => Dense::new(1)];
    /// let (p, _) = model.init_model(&[1, 4], Key::new(0), &Device::flex()).unwrap();
    /// assert_eq!(p.paths(), ["fc1.weight", "fc1.bias", "fc2.weight", "fc2.bias", "head.weight", "head.bias"]);
    /// ```
    pub fn named(layers: Vec<(String, Box<dyn Layer>)>) -> Self {
        for (i, (name, _)) in layers.iter().enumerate() {
            assert!(!name.contains('.'), "Serial: bad sublayer name `{name}`");
            assert!(
                name.is_empty() || !layers[..i].iter().any(|(n, _)| n == name),
                "Serial: duplicate sublayer name `{name}`"
            );
        }
        // Trax's stack accounting: the deepest the stack is read, and what is left on it.
        let (mut max, mut total) = (0usize, 0isize);
        for (_, l) in &layers {
            total += l.n_in() as isize;
            max = max.max(total as usize);
            total -= l.n_out() as isize;
        }
        let n_out = (max as isize - total) as usize;
        Serial {
            layers,
            n_in: max,
            n_out,
        }
    }

    /// The sublayers with their names.
    pub fn layers(&self) -> &[(String, Box<dyn Layer>)] {
        &self.layers
    }
}

/// Builds a [`Serial`] from layers, optionally named: `serial![Conv2d::new(6, 5), "fc" => Dense::new(10)]`.
#[macro_export]
macro_rules! serial {
    (@acc [$($acc:tt)*]) => {
        $crate::Serial::named({
            let v: Vec<(Option<String>, Box<dyn $crate::Layer>)> = vec![$($acc)*];
            v.into_iter().enumerate().map(|(i, (n, l))| (n.unwrap_or_else(|| i.to_string()), l)).collect()
        })
    };
    (@acc [$($acc:tt)*] $name:literal => $layer:expr $(, $($rest:tt)*)?) => {
        $crate::serial!(@acc [$($acc)* (Some(String::from($name)), Box::new($layer) as Box<dyn $crate::Layer>),] $($($rest)*)?)
    };
    (@acc [$($acc:tt)*] $layer:expr $(, $($rest:tt)*)?) => {
        $crate::serial!(@acc [$($acc)* (None, Box::new($layer) as Box<dyn $crate::Layer>),] $($($rest)*)?)
    };
    ($($t:tt)*) => {
        $crate::serial!(@acc [] $($t)*)
    };
}

impl Runs for Serial {
    fn run<F: Values>(
        &self,
        params: &F::P,
        state: &Params,
        inputs: Vec<F::V>,
        mode: Mode,
    ) -> Result<(Vec<F::V>, Params), Unsupported> {
        assert_eq!(
            inputs.len(),
            self.n_in,
            "{}: expected {} inputs, got {}",
            self.name(),
            self.n_in,
            inputs.len()
        );
        let mut stack = inputs;
        let mut new_state = Params::new();
        for (i, (name, l)) in self.layers.iter().enumerate() {
            let rest = stack.split_off(l.n_in());
            let (mut out, s) = F::run(
                l.as_ref(),
                &F::subtree(params, name),
                &state.subtree(name),
                stack,
                mode.child(i),
            )?;
            new_state.extend(s.prefix(name));
            out.extend(rest);
            stack = out;
        }
        Ok((stack, new_state))
    }
}

impl Layer for Serial {
    fn name(&self) -> String {
        format!("Serial[{}]", self.layers.len())
    }

    fn n_in(&self) -> usize {
        self.n_in
    }

    fn n_out(&self) -> usize {
        self.n_out
    }

    fn output_signature(&self, inputs: &[Shape]) -> Result<Vec<Shape>, BuildError> {
        expect_inputs(self, inputs)?;
        let mut stack = inputs.to_vec();
        for (name, l) in &self.layers {
            let rest = stack.split_off(l.n_in());
            let mut out = l.output_signature(&stack).map_err(|e| e.within(name))?;
            out.extend(rest);
            stack = out;
        }
        Ok(stack)
    }

    fn init(&self, inputs: &[Shape], key: Key, device: &Device) -> Result<Init, BuildError> {
        expect_inputs(self, inputs)?;
        let mut stack = inputs.to_vec();
        let mut init = Init::default();
        for (i, (name, l)) in self.layers.iter().enumerate() {
            let rest = stack.split_off(l.n_in());
            let child = l
                .init(&stack, key.fold_in(i as u64), device)
                .map_err(|e| e.within(name))?;
            let mut out = l.output_signature(&stack).map_err(|e| e.within(name))?;
            init.params.extend(child.params.prefix(name));
            init.state.extend(child.state.prefix(name));
            out.extend(rest);
            stack = out;
        }
        Ok(init)
    }

    forward_via_run!();

    fn expand(&self, inputs: &[Shape]) -> Vec<(String, &dyn Layer, Vec<Shape>)> {
        let mut stack = inputs.to_vec();
        let mut out = Vec::new();
        for (name, l) in &self.layers {
            let rest = stack.split_off(l.n_in().min(stack.len()));
            out.push((name.clone(), l.as_ref() as &dyn Layer, stack.clone()));
            let mut next = l.output_signature(&stack).unwrap_or_default();
            next.extend(rest);
            stack = next;
        }
        out
    }
}
