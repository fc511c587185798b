//! [`Residual`]: `main(x) + shortcut(x)`.

use crate::combinators::Serial;
use crate::layer::{expect_inputs, BuildError, Init, Layer, Mode, Shape};
use crate::values::{forward_via_run, Runs, Values};
use duet_core::burn::tensor::Device;
use duet_core::transform::Unsupported;
use duet_core::Val;
use duet_core::{Key, Params};

/// `y = main(x) + shortcut(x)`, with the identity as the default shortcut (Trax's `Residual`).
///
/// Params live under `main.` and `shortcut.`. Both branches must produce the same shape; this is checked at init.
///
/// # Example
/// ```
/// use duet_functional::{serial, Fn, LayerExt, Mode, Residual};
/// use duet_core::{burn::tensor::Device, DynTensor, Key};
/// let r = Residual::new(serial![Fn::new("Sq", |x: Vec<DynTensor>| vec![x[0].clone().square()])]);
/// let dev = Device::flex();
/// let (p, s) = r.init_model(&[2], Key::new(0), &dev).unwrap();
/// let (y, _) = r.apply(&p, &s, DynTensor::from_floats(vec![2.0, 3.0], &[2], &dev), Mode::Eval);
/// assert_eq!(y.to_vec(), vec![6.0, 12.0]); // x^2 + x
/// ```
pub struct Residual {
    main: Serial,
    shortcut: Option<Box<dyn Layer>>,
    /// The path of `main`'s params: `"main"`, or `""` when inlined.
    main_name: &'static str,
    /// The path of the shortcut's params (`"shortcut"` unless renamed).
    shortcut_name: &'static str,
}

impl Residual {
    /// A residual block around `main` with the identity shortcut.
    pub fn new(main: Serial) -> Self {
        Residual {
            main,
            shortcut: None,
            main_name: "main",
            shortcut_name: "shortcut",
        }
    }

    /// Puts `main`'s params directly under the block's path (`conv1.weight` instead of
    /// `main.conv1.weight`), as in PyTorch blocks whose layers are attributes of the block.
    ///
    /// # Example
    /// ```
    /// use duet_functional::{serial, Dense, LayerExt, Residual};
    /// use duet_core::{burn::tensor::Device, Key};
    /// let r = Residual::new(serial!["fc" => Dense::new(4)]).inline();
    /// let (p, _) = r.init_model(&[1, 4], Key::new(0), &Device::flex()).unwrap();
    /// assert_eq!(p.paths(), ["fc.weight", "fc.bias"]);
    /// ```
    pub fn inline(mut self) -> Self {
        self.main_name = "";
        self
    }

    /// Replaces the identity shortcut (e.g. a 1x1 conv that matches channels).
    pub fn with_shortcut(mut self, shortcut: impl Layer + 'static) -> Self {
        self.shortcut = Some(Box::new(shortcut));
        self
    }

    /// [`with_shortcut`](Self::with_shortcut) with the shortcut's params under `name` instead
    /// of `shortcut` (torchvision's ResNet calls it `downsample`).
    ///
    /// # Example
    /// ```
    /// use duet_functional::{serial, Dense, LayerExt, Residual};
    /// use duet_core::{burn::tensor::Device, Key};
    /// let r = Residual::new(serial!["fc" => Dense::new(4)]).inline()
    ///     .with_shortcut_named("downsample", serial![Dense::new(4)]);
    /// let (p, _) = r.init_model(&[1, 3], Key::new(0), &Device::flex()).unwrap();
    /// assert_eq!(p.paths(), ["fc.weight", "fc.bias", "downsample.0.weight", "downsample.0.bias"]);
    /// ```
    pub fn with_shortcut_named(
        mut self,
        name: &'static str,
        shortcut: impl Layer + 'static,
    ) -> Self {
        self.shortcut_name = name;
        self.with_shortcut(shortcut)
    }
}

impl Runs for Residual {
    fn run<F: Values>(
        &self,
        params: &F::P,
        state: &Params,
        inputs: Vec<F::V>,
        mode: Mode,
    ) -> Result<(Vec<F::V>, Params), Unsupported> {
        let (mut y, s) = self.main.run::<F>(
            &F::subtree(params, self.main_name),
            &state.subtree(self.main_name),
            inputs.clone(),
            mode.child(0),
        )?;
        let mut new_state = s.prefix(self.main_name);
        let short = match &self.shortcut {
            Some(sc) => {
                let (mut ys, s) = F::run(
                    sc.as_ref(),
                    &F::subtree(params, self.shortcut_name),
                    &state.subtree(self.shortcut_name),
                    inputs,
                    mode.child(1),
                )?;
                new_state.extend(s.prefix(self.shortcut_name));
                ys.remove(0)
            }
            None => inputs.into_iter().next().expect("one input"),
        };
        Ok((vec![y.remove(0).add(short)], new_state))
    }
}

impl Layer for Residual {
    fn name(&self) -> String {
        "Residual".into()
    }

    fn output_signature(&self, inputs: &[Shape]) -> Result<Vec<Shape>, BuildError> {
        expect_inputs(self, inputs)?;
        let main = self
            .main
            .output_signature(inputs)
            .map_err(|e| e.within("main"))?;
        let short = match &self.shortcut {
            Some(s) => s
                .output_signature(inputs)
                .map_err(|e| e.within(self.shortcut_name))?,
            None => inputs.to_vec(),
        };
        if main.len() != 1 || main != short {
            return Err(BuildError::new(
                self,
                format!("main branch gives {main:?}, shortcut gives {short:?}"),
            ));
        }
        Ok(main)
    }

    fn init(&self, inputs: &[Shape], key: Key, device: &Device) -> Result<Init, BuildError> {
        self.output_signature(inputs)?;
        let [km, ks] = key.split2();
        let main = self
            .main
            .init(inputs, km, device)
            .map_err(|e| e.within("main"))?;
        let mut init = Init {
            params: main.params.prefix(self.main_name),
            state: main.state.prefix(self.main_name),
        };
        if let Some(s) = &self.shortcut {
            let c = s
                .init(inputs, ks, device)
                .map_err(|e| e.within(self.shortcut_name))?;
            init.params.extend(c.params.prefix(self.shortcut_name));
            init.state.extend(c.state.prefix(self.shortcut_name));
        }
        Ok(init)
    }

    forward_via_run!();

    fn expand(&self, inputs: &[Shape]) -> Vec<(String, &dyn Layer, Vec<Shape>)> {
        let mut c: Vec<(String, &dyn Layer, Vec<Shape>)> =
            vec![(self.main_name.into(), &self.main, inputs.to_vec())];
        if let Some(s) = &self.shortcut {
            c.push((self.shortcut_name.into(), s.as_ref(), inputs.to_vec()));
        }
        c
    }
}
