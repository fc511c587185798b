//! A variational autoencoder in both APIs (Kingma & Welling 2014; PyTorch's `examples/vae`
//! layout): an encoder to the parameters of a diagonal Gaussian posterior `q(z | x)`, a
//! reparameterised draw `z = μ + σ ε`, a decoder to Bernoulli logits `p(x | z)`, trained on the
//! negative ELBO with the analytic KL from `N(0, I)` ([`VaeElbo`], built from `duet_prob`'s
//! distributions and KL registry).
//!
//! Parameter paths are the same in both APIs: `enc.fc`, `enc.out` (`2L` outputs: `[μ | ln σ²]`),
//! `dec.fc`, `dec.out`, each with `weight` `[in, out]` and `bias`.

use duet_core::burn::module::Module;
use duet_core::burn::tensor::{Device, Tensor};
use duet_core::{Act, DynTensor, Key, Mode, Params};
use duet_functional::{serial, BuildError, Dense, Layer, Serial, Shape};
use duet_module::{Linear, Rngs};
use duet_prob::{kl_divergence, Bernoulli, Distribution, Independent, Normal};
use duet_train::{Forward, Metrics, Scored, Task};
use std::ops::Range;

/// The sizes of a VAE.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct VaeConfig {
    /// Pixels per image `D` (`C·H·W`).
    pub input: usize,
    /// Hidden units of the encoder and the decoder.
    pub hidden: usize,
    /// Latent dimensions `L`.
    pub latent: usize,
    /// The hidden activation.
    pub act: Act,
}

impl VaeConfig {
    /// PyTorch's MNIST VAE example: 784-400-20, ReLU.
    pub fn mnist() -> Self {
        VaeConfig {
            input: 784,
            hidden: 400,
            latent: 20,
            act: Act::Relu,
        }
    }

    /// For `D` pixels: `D`-400-20 with ReLU (the MNIST sizes for any image size).
    pub fn for_pixels(input: usize) -> Self {
        VaeConfig {
            input,
            ..Self::mnist()
        }
    }
}

/// The metadata key of a checkpoint's VAE sizes (`{"input":..,"hidden":..,"latent":..}`).
pub const VAE_KEY: &str = "duet.vae";

/// The encoder `x -> [μ | ln σ²]`.
///
/// # Shapes
/// `[B, D] -> [B, 2L]`.
pub fn encoder(cfg: VaeConfig) -> Serial {
    serial!["fc" => Dense::new(cfg.hidden), cfg.act, "out" => Dense::new(2 * cfg.latent)]
}

/// The decoder `z -> logits`.
///
/// # Shapes
/// `[B, L] -> [B, D]`.
pub fn decoder(cfg: VaeConfig) -> Serial {
    serial!["fc" => Dense::new(cfg.hidden), cfg.act, "out" => Dense::new(cfg.input)]
}

/// The functional VAE: `x -> (logits, [μ | ln σ²])`, drawing `z` with the step's key in
/// training and taking `z = μ` in evaluation.
///
/// # Shapes
/// `[B, D] -> ([B, D], [B, 2L])`.
///
/// # Example
/// ```
/// use duet_examples::vae::{vae, VaeConfig};
/// use duet_functional::{Layer, LayerExt, Mode};
/// use duet_core::{burn::tensor::{Device, Tensor}, Act, Key, Params};
/// let dev = Device::flex();
/// let cfg = VaeConfig { input: 6, hidden: 5, latent: 2, act: Act::Tanh };
/// let model = vae(cfg);
/// let (params, state) = model.init_model(&[3, 6], Key::new(0), &dev).unwrap();
/// assert_eq!(params.paths(), ["enc.fc.weight", "enc.fc.bias", "enc.out.weight", "enc.out.bias",
///     "dec.fc.weight", "dec.fc.bias", "dec.out.weight", "dec.out.bias"]);
/// let x = Tensor::<2>::zeros([3, 6], &dev);
/// let (ys, _) = model.forward(&params, &state, vec![x.into()], Mode::Train(Key::new(1)));
/// assert_eq!((ys[0].dims(), ys[1].dims()), (vec![3, 6], vec![3, 4]));
/// ```
pub fn vae(cfg: VaeConfig) -> Serial {
    serial![
        "enc" => encoder(cfg),
        GaussianSample,
        "dec" => decoder(cfg),
    ]
}

/// `[μ | ln σ²] -> (z, [μ | ln σ²])` with `z = μ + σ ε`, `ε ~ N(0, I)` from the training key
/// (`z = μ` in evaluation): the reparameterisation as a weightless layer.
///
/// # Shapes
/// `[B, 2L] -> ([B, L], [B, 2L])`.
#[derive(Clone, Copy, Debug)]
pub struct GaussianSample;

impl Layer for GaussianSample {
    fn name(&self) -> String {
        "GaussianSample".into()
    }
    fn n_out(&self) -> usize {
        2
    }
    fn output_signature(&self, inputs: &[Shape]) -> Result<Vec<Shape>, BuildError> {
        match inputs {
            [s] if s.len() == 2 && s[1] % 2 == 0 => Ok(vec![vec![s[0], s[1] / 2], s.clone()]),
            _ => Err(BuildError::new(
                self,
                format!("expects one [B, 2L] input, got {inputs:?}"),
            )),
        }
    }
    fn forward(
        &self,
        _: &Params,
        _: &Params,
        inputs: Vec<DynTensor>,
        mode: Mode,
    ) -> (Vec<DynTensor>, Params) {
        let stats = inputs
            .into_iter()
            .next()
            .expect("one input")
            .into_rank::<2>();
        let z = reparameterize(stats.clone(), mode);
        (vec![z.into(), stats.into()], Params::new())
    }
}

/// `μ + exp(½ ln σ²) ε` for `[μ | ln σ²]` (`μ` in evaluation).
///
/// # Shapes
/// `[B, 2L] -> [B, L]`.
///
/// # Example
/// ```
/// use duet_examples::vae::reparameterize;
/// use duet_core::{burn::tensor::{Device, Tensor}, Key, Mode};
/// let stats = Tensor::<2>::from_floats([[3.0, -50.0]], &Device::flex());
/// assert_eq!(reparameterize(stats.clone(), Mode::Eval).into_scalar::<f32>(), 3.0);
/// // σ = e^-25: the draw is μ to float precision.
/// assert!((reparameterize(stats, Mode::Train(Key::new(0))).into_scalar::<f32>() - 3.0).abs() < 1e-6);
/// ```
pub fn reparameterize(stats: Tensor<2>, mode: Mode) -> Tensor<2> {
    let (loc, logvar) = split(stats);
    match mode {
        Mode::Train(key) => {
            let eps = key.normal(loc.dims(), 0.0, 1.0, &loc.device());
            loc + (logvar * 0.5).exp() * eps
        }
        Mode::Eval => loc,
    }
}

/// `[μ | ln σ²]` into `(μ, ln σ²)`.
fn split(stats: Tensor<2>) -> (Tensor<2>, Tensor<2>) {
    let [b, two_l] = stats.dims();
    let l = two_l / 2;
    (
        stats.clone().slice([0..b, 0..l]),
        stats.slice([0..b, l..two_l]),
    )
}

/// Two dense layers with an activation between them.
#[derive(Module, Debug)]
pub struct Mlp2 {
    /// The hidden layer.
    pub fc: Linear,
    /// The output layer.
    pub out: Linear,
}

impl Mlp2 {
    fn forward(&self, x: Tensor<2>, act: Act) -> Tensor<2> {
        self.out.forward(act.apply_tensor(self.fc.forward(x)))
    }
}

/// The module VAE (same paths and maths as [`vae`]).
///
/// # Shapes
/// `forward`: `[B, D] -> ([B, D], [B, 2L])`.
///
/// # Example
/// ```
/// use duet_examples::vae::{Vae, VaeConfig};
/// use duet_core::{burn::tensor::{Device, Tensor}, Act, Mode, Parameterized};
/// use duet_train::Forward;
/// let dev = Device::flex();
/// let cfg = VaeConfig { input: 6, hidden: 5, latent: 2, act: Act::Tanh };
/// let m = Vae::new(cfg, &mut duet_module::Rngs::new(0), &dev);
/// assert_eq!(m.params().num_params(), 6 * 5 + 5 + 5 * 4 + 4 + 2 * 5 + 5 + 5 * 6 + 6);
/// let (logits, stats) = m.forward(Tensor::<2>::zeros([3, 6], &dev), Mode::Eval);
/// assert_eq!((logits.dims(), stats.dims()), ([3, 6], [3, 4]));
/// ```
#[derive(Module, Debug)]
pub struct Vae {
    /// `x -> [μ | ln σ²]`.
    pub enc: Mlp2,
    /// `z -> logits`.
    pub dec: Mlp2,
    #[module(skip)]
    act: Act,
}

impl Vae {
    /// A VAE of `cfg`'s sizes, weights from `rngs`.
    pub fn new(cfg: VaeConfig, rngs: &mut Rngs, device: &Device) -> Self {
        let mut lin = |i, o| Linear::new(i, o, rngs, device);
        Vae {
            enc: Mlp2 {
                fc: lin(cfg.input, cfg.hidden),
                out: lin(cfg.hidden, 2 * cfg.latent),
            },
            dec: Mlp2 {
                fc: lin(cfg.latent, cfg.hidden),
                out: lin(cfg.hidden, cfg.input),
            },
            act: cfg.act,
        }
    }

    /// The encoder's `[μ | ln σ²]`.
    ///
    /// # Shapes
    /// `[B, D] -> [B, 2L]`.
    pub fn encode(&self, x: Tensor<2>) -> Tensor<2> {
        self.enc.forward(x, self.act)
    }

    /// The decoder's logits.
    ///
    /// # Shapes
    /// `[B, L] -> [B, D]`.
    pub fn decode(&self, z: Tensor<2>) -> Tensor<2> {
        self.dec.forward(z, self.act)
    }
}

impl Forward<Tensor<2>, (Tensor<2>, Tensor<2>)> for Vae {
    fn forward(&self, x: Tensor<2>, mode: Mode) -> (Tensor<2>, Tensor<2>) {
        let stats = self.encode(x);
        (self.decode(reparameterize(stats.clone(), mode)), stats)
    }
}

/// The negative ELBO per example, `-(1/B) Σ_b [log p(x_b | z_b) - KL(q(z | x_b) || N(0, I))]`,
/// with `p(x | z)` a Bernoulli per pixel (the pixel intensities in `[0, 1]` as targets, as
/// PyTorch's example) and the analytic KL. Logged sums: `recon` (`-log p(x | z)`) and `kl`.
#[derive(Clone, Copy, Debug, Default)]
pub struct VaeElbo;

/// The terms of the ELBO per example: `(log p(x | z), KL(q || p))`.
///
/// # Shapes
/// `logits`, `x`: `[B, D]`; `stats`: `[B, 2L]`; both results `[B]`.
///
/// # Example
/// ```
/// use duet_examples::vae::elbo_terms;
/// use duet_core::burn::tensor::{Device, Tensor};
/// let dev = Device::flex();
/// // Logits 0 (p = ½) for two pixels; q = N(1, e^0) against N(0, 1): KL = ½.
/// let (rec, kl) = elbo_terms(
///     Tensor::<2>::zeros([1, 2], &dev),
///     Tensor::<2>::from_floats([[1.0, 0.0]], &dev),
///     Tensor::<2>::from_floats([[1.0, 0.0]], &dev),
/// );
/// assert!((rec.into_scalar::<f32>() - 2.0 * 0.5f32.ln()).abs() < 1e-6);
/// assert!((kl.into_scalar::<f32>() - 0.5).abs() < 1e-6);
/// ```
pub fn elbo_terms(logits: Tensor<2>, stats: Tensor<2>, x: Tensor<2>) -> (Tensor<1>, Tensor<1>) {
    let [b, _] = x.dims();
    let (loc, logvar) = split(stats);
    let l = loc.dims()[1];
    let device = loc.device();
    let q = Independent::new(Normal::new(loc, (logvar * 0.5).exp()).expect("q"), 1).expect("q");
    let prior = Independent::new(Normal::standard(&[b, l], &device), 1).expect("prior");
    let lik = Independent::new(Bernoulli::new(logits).expect("likelihood"), 1).expect("likelihood");
    let rec = lik.log_prob(&x.into()).expect("shapes").into_rank::<1>();
    let kl = kl_divergence(&q, &prior)
        .expect("registered")
        .into_rank::<1>();
    (rec, kl)
}

impl Task for VaeElbo {
    type Batch = duet_datasets::Batch;
    type Input = Tensor<2>;
    type Target = Tensor<2>;
    type Output = (Tensor<2>, Tensor<2>);

    fn split(&self, b: duet_datasets::Batch) -> (Tensor<2>, Tensor<2>, usize) {
        let [n, c, h, w] = b.images.dims();
        let x = b.images.reshape([n, c * h * w]);
        (x.clone(), x, n)
    }

    fn loss(
        &self,
        (logits, stats): (Tensor<2>, Tensor<2>),
        x: &Tensor<2>,
        rows: Option<Range<usize>>,
    ) -> Scored {
        use duet_train::Shard;
        let x = x.part(rows, &logits.device().without_autodiff());
        let n = logits.dims()[0] as f32;
        let (rec, kl) = elbo_terms(logits, stats, x);
        let (recon, kl) = (rec.sum().neg(), kl.sum());
        let mut sums = Metrics::default();
        sums.add("recon", recon.clone().without_autodiff());
        sums.add("kl", kl.clone().without_autodiff());
        Scored {
            loss: (recon + kl) / n,
            sums,
        }
    }
}

/// Writes a grid of grey images (`[N, h·w]` values in `[0, 1]`) to a PNG, `cols` images per
/// row with a one-pixel gap; small images are enlarged (nearest) to at least 32 pixels high.
///
/// # Example
/// ```
/// let dir = std::env::temp_dir().join("duet-grid-doctest");
/// std::fs::create_dir_all(&dir).unwrap();
/// let path = dir.join("g.png");
/// duet_examples::vae::write_grid(&path, &[0.0, 1.0, 1.0, 0.0, 0.5, 0.5, 0.5, 0.5], (2, 2), 2).unwrap();
/// let img = image::open(&path).unwrap().to_luma8();
/// // 2 tiles of 2x2 enlarged 16x (32x32) with 1-pixel gaps: 67 x 34.
/// assert_eq!(img.dimensions(), (67, 34));
/// assert_eq!(img.get_pixel(1, 1)[0], 0);
/// assert_eq!(img.get_pixel(17, 1)[0], 255);
/// ```
pub fn write_grid(
    path: &std::path::Path,
    images: &[f32],
    (h, w): (usize, usize),
    cols: usize,
) -> Result<(), String> {
    let n = images.len() / (h * w).max(1);
    let rows = n.div_ceil(cols.max(1));
    let k = 32usize.div_ceil(h.max(1)).max(1);
    let (th, tw) = (h * k, w * k);
    let (gw, gh) = (cols * (tw + 1) + 1, rows * (th + 1) + 1);
    let mut img = image::GrayImage::from_pixel(gw as u32, gh as u32, image::Luma([64]));
    for i in 0..n {
        let (r, c) = (i / cols, i % cols);
        for y in 0..th {
            for x in 0..tw {
                let v = images[i * h * w + (y / k) * w + x / k].clamp(0.0, 1.0);
                let px = image::Luma([(v * 255.0).round() as u8]);
                img.put_pixel(
                    (c * (tw + 1) + 1 + x) as u32,
                    (r * (th + 1) + 1 + y) as u32,
                    px,
                );
            }
        }
    }
    img.save(path)
        .map_err(|e| format!("{}: {e}", path.display()))
}

/// Decoded samples from the prior, `σ(decoder(z))` for `z ~ N(0, I)`.
///
/// # Shapes
/// `[n, D]`.
pub fn prior_samples(
    decode: impl Fn(Tensor<2>) -> Tensor<2>,
    latent: usize,
    n: usize,
    key: Key,
    device: &Device,
) -> Tensor<2> {
    duet_core::ops::activation::sigmoid(decode(key.normal([n, latent], 0.0, 1.0, device)))
}
