//! Initializers: how a layer's first weights are drawn.
//!
//! An [`Initializer`] is plain data (serializable, comparable) and draws on the host from a
//! [`Key`], so the same key gives the same weights on every device and in both APIs.
//!
//! Variance-scaling initializers need a tensor's fan-in and fan-out, which depend on the layer's
//! layout, not only on the shape. [`Fans`] computes them per layer kind:
//!
//! | layout | shape | fan_in | fan_out |
//! |---|---|---|---|
//! | [`Fans::linear`] (duet/burn, `[in, out]`) | `[i, o]` | `i` | `o` |
//! | [`Fans::conv`] (`[out, in/groups, k...]`) | `[o, i, k1, k2]` | `i*k1*k2` | `o*k1*k2` |
//! | [`Fans::conv_transpose`] (`[in, out/groups, k...]`) | `[i, o, k1, k2]` | `o*k1*k2` | `i*k1*k2` |
//!
//! The fan convention for conv-transpose follows PyTorch (it computes fans on the stored layout,
//! whose dim 1 is the output channels), so `TorchDefault` matches `nn.ConvTranspose2d`.

use crate::key::Key;
use burn::tensor::{Device, Tensor, TensorData};

/// Fan-in and fan-out of a weight, used by variance-scaling initializers.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Fans {
    /// Number of inputs each output sees.
    pub fan_in: usize,
    /// Number of outputs each input feeds.
    pub fan_out: usize,
}

impl Fans {
    /// Fans of a dense weight in duet's `[in, out]` layout.
    pub fn linear(shape: &[usize]) -> Fans {
        assert_eq!(
            shape.len(),
            2,
            "linear weight must be [in, out], got {shape:?}"
        );
        Fans {
            fan_in: shape[0],
            fan_out: shape[1],
        }
    }

    /// Fans of a convolution kernel `[out, in/groups, k...]` (PyTorch and burn layout).
    pub fn conv(shape: &[usize]) -> Fans {
        assert!(
            shape.len() >= 3,
            "conv weight must be [out, in, k...], got {shape:?}"
        );
        let receptive: usize = shape[2..].iter().product();
        Fans {
            fan_in: shape[1] * receptive,
            fan_out: shape[0] * receptive,
        }
    }

    /// Fans of a transposed-convolution kernel `[in, out/groups, k...]`, computed as PyTorch does.
    pub fn conv_transpose(shape: &[usize]) -> Fans {
        Fans::conv(shape)
    }

    /// Fans for any other weight: `fan_in = fan_out = shape[last]` for rank 1, else as [`Fans::conv`]
    /// for rank >= 3 and `[in, out]` for rank 2.
    pub fn infer(shape: &[usize]) -> Fans {
        match shape.len() {
            0 => Fans {
                fan_in: 1,
                fan_out: 1,
            },
            1 => Fans {
                fan_in: shape[0],
                fan_out: shape[0],
            },
            2 => Fans::linear(shape),
            _ => Fans::conv(shape),
        }
    }
}

/// Which fan a variance-scaling initializer divides by.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub enum FanMode {
    /// `fan_in` (preserves the forward signal's variance).
    FanIn,
    /// `fan_out` (preserves the backward signal's variance).
    FanOut,
    /// `(fan_in + fan_out) / 2`.
    FanAvg,
}

/// How to draw a tensor's initial values.
///
/// Formulas (with `n` the fan chosen by the variant):
/// - `GlorotUniform`: `U(-a, a)`, `a = sqrt(6 / (fan_in + fan_out))`; `GlorotNormal`: `N(0, 2 / (fan_in + fan_out))`.
/// - `HeUniform`: `U(-a, a)`, `a = sqrt(6 / fan_in)`; `HeNormal`: `N(0, 2 / fan_in)` (ReLU gain, PyTorch's `kaiming_*`).
/// - `LecunUniform`: `U(-a, a)`, `a = sqrt(3 / fan_in)`; `LecunNormal`: `N(0, 1 / fan_in)`.
/// - `TorchDefault`: `U(-1/sqrt(fan_in), 1/sqrt(fan_in))`: what `nn.Linear` and `nn.Conv*` use for
///   both weight and bias (`kaiming_uniform_(a=sqrt(5))`), with the *weight's* fan-in.
/// - `Orthogonal`: a (semi-)orthogonal matrix times `gain` over the `[dim0, rest]` flattening
///   (Saxe et al.), from the QR decomposition of a Gaussian matrix with the sign fix of PyTorch.
///
/// # Example
/// ```
/// use duet_core::{burn::tensor::Device, init::{Fans, Initializer}, Key};
/// let dev = Device::flex();
/// let w = Initializer::TorchDefault.init([400, 120], Fans::linear(&[400, 120]), Key::new(0), &dev);
/// let v = w.into_data().try_to_vec::<f32>().unwrap();
/// assert!(v.iter().all(|x| x.abs() <= 1.0 / 20.0)); // 1/sqrt(400)
/// let c = Initializer::Constant(0.5).init([3], Fans::infer(&[3]), Key::new(0), &dev);
/// assert_eq!(c.into_data().try_to_vec::<f32>().unwrap(), vec![0.5; 3]);
/// ```
#[derive(Clone, Copy, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
pub enum Initializer {
    /// All zeros.
    Zeros,
    /// All ones.
    Ones,
    /// Every value equal to the constant.
    Constant(f32),
    /// `U(low, high)`.
    Uniform {
        /// Lower bound (inclusive).
        low: f32,
        /// Upper bound (exclusive).
        high: f32,
    },
    /// `N(mean, std^2)`.
    Normal {
        /// Mean.
        mean: f32,
        /// Standard deviation.
        std: f32,
    },
    /// `N(mean, std^2)` truncated to `[low, high]`.
    TruncatedNormal {
        /// Mean.
        mean: f32,
        /// Standard deviation.
        std: f32,
        /// Lower bound.
        low: f32,
        /// Upper bound.
        high: f32,
    },
    /// Glorot/Xavier uniform.
    GlorotUniform,
    /// Glorot/Xavier normal.
    GlorotNormal,
    /// He/Kaiming uniform (ReLU gain) over the chosen fan.
    HeUniform(FanMode),
    /// He/Kaiming normal (ReLU gain) over the chosen fan.
    HeNormal(FanMode),
    /// LeCun uniform.
    LecunUniform,
    /// LeCun normal.
    LecunNormal,
    /// Orthogonal with the given gain.
    Orthogonal {
        /// Scale applied to the orthogonal matrix.
        gain: f32,
    },
    /// PyTorch's default for linear and conv layers (weight and bias).
    TorchDefault,
}

impl Initializer {
    /// Host values for a tensor of `shape` (row-major).
    pub fn sample(&self, shape: &[usize], fans: Fans, key: Key) -> Vec<f32> {
        let n: usize = shape.iter().product();
        let (fi, fo) = (fans.fan_in.max(1) as f32, fans.fan_out.max(1) as f32);
        let fan = |m: FanMode| match m {
            FanMode::FanIn => fi,
            FanMode::FanOut => fo,
            FanMode::FanAvg => (fi + fo) / 2.0,
        };
        let sym = |a: f32| key.uniform_vec(n, -a, a);
        match *self {
            Initializer::Zeros => vec![0.0; n],
            Initializer::Ones => vec![1.0; n],
            Initializer::Constant(c) => vec![c; n],
            Initializer::Uniform { low, high } => key.uniform_vec(n, low, high),
            Initializer::Normal { mean, std } => key.normal_vec(n, mean, std),
            Initializer::TruncatedNormal {
                mean,
                std,
                low,
                high,
            } => key.truncated_normal_vec(n, mean, std, low, high),
            Initializer::GlorotUniform => sym((6.0 / (fi + fo)).sqrt()),
            Initializer::GlorotNormal => key.normal_vec(n, 0.0, (2.0 / (fi + fo)).sqrt()),
            Initializer::HeUniform(m) => sym((6.0 / fan(m)).sqrt()),
            Initializer::HeNormal(m) => key.normal_vec(n, 0.0, (2.0 / fan(m)).sqrt()),
            Initializer::LecunUniform => sym((3.0 / fi).sqrt()),
            Initializer::LecunNormal => key.normal_vec(n, 0.0, (1.0 / fi).sqrt()),
            Initializer::Orthogonal { gain } => orthogonal(shape, gain, key),
            Initializer::TorchDefault => sym(1.0 / fi.sqrt()),
        }
    }

    /// A tensor of `shape` on `device`.
    ///
    /// # Shapes
    /// `shape`
    pub fn init<const D: usize>(
        &self,
        shape: [usize; D],
        fans: Fans,
        key: Key,
        device: &Device,
    ) -> Tensor<D> {
        Tensor::from_data(
            TensorData::new(self.sample(&shape, fans, key), shape),
            device,
        )
    }
}

/// A `[rows, cols]` (semi-)orthogonal matrix (rows = shape[0], cols = the rest), times `gain`.
fn orthogonal(shape: &[usize], gain: f32, key: Key) -> Vec<f32> {
    assert!(
        shape.len() >= 2,
        "orthogonal init needs rank >= 2, got {shape:?}"
    );
    let rows = shape[0];
    let cols: usize = shape[1..].iter().product();
    // QR of a tall Gaussian matrix (t_rows >= t_cols), by modified Gram-Schmidt in f64.
    let (t_rows, t_cols) = if rows < cols {
        (cols, rows)
    } else {
        (rows, cols)
    };
    let g = key.normal_vec(t_rows * t_cols, 0.0, 1.0);
    // Column-major columns of the tall matrix.
    let mut q: Vec<Vec<f64>> = (0..t_cols)
        .map(|j| (0..t_rows).map(|i| g[i * t_cols + j] as f64).collect())
        .collect();
    for j in 0..t_cols {
        for k in 0..j {
            let dot: f64 = (0..t_rows).map(|i| q[j][i] * q[k][i]).sum();
            let (done, rest) = q.split_at_mut(j);
            for (a, b) in rest[0].iter_mut().zip(&done[k]) {
                *a -= dot * b;
            }
        }
        let norm = q[j].iter().map(|v| v * v).sum::<f64>().sqrt();
        // Gram-Schmidt gives R with a positive diagonal, which is PyTorch's sign convention.
        for v in q[j].iter_mut() {
            *v /= norm;
        }
    }
    let mut out = vec![0.0f32; rows * cols];
    for r in 0..rows {
        for c in 0..cols {
            // Tall case: out = Q; wide case: out = Q^T.
            let v = if rows < cols { q[r][c] } else { q[c][r] };
            out[r * cols + c] = gain * v as f32;
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fans_per_layout() {
        assert_eq!(
            Fans::linear(&[400, 120]),
            Fans {
                fan_in: 400,
                fan_out: 120
            }
        );
        assert_eq!(
            Fans::conv(&[6, 3, 5, 5]),
            Fans {
                fan_in: 75,
                fan_out: 150
            }
        );
        assert_eq!(
            Fans::conv(&[8, 4, 3]),
            Fans {
                fan_in: 12,
                fan_out: 24
            }
        );
        assert_eq!(
            Fans::infer(&[7]),
            Fans {
                fan_in: 7,
                fan_out: 7
            }
        );
    }

    fn std_of(v: &[f32]) -> f32 {
        let m = v.iter().sum::<f32>() / v.len() as f32;
        (v.iter().map(|x| (x - m) * (x - m)).sum::<f32>() / v.len() as f32).sqrt()
    }

    #[test]
    fn variance_scaling_matches_formulas() {
        let fans = Fans {
            fan_in: 300,
            fan_out: 100,
        };
        let k = Key::new(9);
        let n = [200, 300];
        let cases: [(Initializer, f32); 6] = [
            (Initializer::GlorotUniform, (2.0f32 / 400.0).sqrt()),
            (Initializer::GlorotNormal, (2.0f32 / 400.0).sqrt()),
            (
                Initializer::HeUniform(FanMode::FanIn),
                (2.0f32 / 300.0).sqrt(),
            ),
            (
                Initializer::HeNormal(FanMode::FanOut),
                (2.0f32 / 100.0).sqrt(),
            ),
            (Initializer::LecunNormal, (1.0f32 / 300.0).sqrt()),
            (Initializer::TorchDefault, (1.0f32 / 300.0 / 3.0).sqrt()),
        ];
        for (init, want) in cases {
            let s = std_of(&init.sample(&n, fans, k));
            assert!(
                (s / want - 1.0).abs() < 0.03,
                "{init:?}: std {s}, want {want}"
            );
        }
    }

    #[test]
    fn orthogonal_rows_or_columns_are_orthonormal() {
        for shape in [[4usize, 6], [6, 4], [5, 5]] {
            let v = Initializer::Orthogonal { gain: 1.0 }.sample(
                &shape,
                Fans::infer(&shape),
                Key::new(1),
            );
            let (r, c) = (shape[0], shape[1]);
            // The smaller side is orthonormal.
            // Entry `i` of row (or column) `a` of the smaller side.
            let (outer, inner) = (r.min(c), r.max(c));
            let at = |a: usize, i: usize| if r <= c { v[a * c + i] } else { v[i * c + a] };
            for a in 0..outer {
                for b in 0..outer {
                    let dot: f32 = (0..inner).map(|i| at(a, i) * at(b, i)).sum();
                    let want = if a == b { 1.0 } else { 0.0 };
                    assert!((dot - want).abs() < 1e-5, "{shape:?} ({a},{b}): {dot}");
                }
            }
        }
    }

    #[test]
    fn constant_kinds() {
        let f = Fans::infer(&[2, 2]);
        assert_eq!(
            Initializer::Zeros.sample(&[2, 2], f, Key::new(0)),
            vec![0.0; 4]
        );
        assert_eq!(
            Initializer::Ones.sample(&[2, 2], f, Key::new(0)),
            vec![1.0; 4]
        );
    }
}
