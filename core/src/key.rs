//! [`Key`]: explicit, splittable random keys (JAX style), never a global seed.
//!
//! A key is 128 bits. Deriving a child key (`split`, `fold_in`) and drawing numbers both run
//! ChaCha8 (the `rand_chacha` crate, whose output is specified and portable) seeded by the key,
//! on separate streams, so children are independent of the parent's samples and of each other.
//! Samples are drawn on the host and uploaded: the same key gives bit-identical tensors on every
//! backend and in both APIs.

use burn::tensor::{Device, Tensor, TensorData};
use rand::{Rng, RngCore, SeedableRng};
use rand_chacha::ChaCha8Rng;
use rand_distr::{Distribution, StandardNormal};

const STREAM_SAMPLE: u64 = 0;
const STREAM_SPLIT: u64 = 1;
const STREAM_FOLD: u64 = 2;

/// A random key. Cheap to copy; deterministic across runs and platforms.
///
/// # Example
/// ```
/// use duet_core::Key;
/// let key = Key::new(0);
/// let [init_key, dropout_key] = key.split2();
/// assert_ne!(init_key, dropout_key);
/// assert_eq!(Key::new(0).split(2), vec![init_key, dropout_key]); // same seed, same keys
/// assert_eq!(key.fold_in(7), key.fold_in(7));
/// let perm = key.permutation(5);
/// let mut sorted = perm.clone();
/// sorted.sort();
/// assert_eq!(sorted, vec![0, 1, 2, 3, 4]);
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
pub struct Key {
    data: [u64; 2],
}

impl Key {
    /// A root key from a seed.
    pub fn new(seed: u64) -> Self {
        // Mix the seed so that nearby seeds give unrelated keys.
        Key {
            data: [seed, 0x9E37_79B9_7F4A_7C15],
        }
        .derive(STREAM_FOLD, u64::MAX)
    }

    /// The raw 128 bits, e.g. to store a key in a checkpoint.
    pub fn to_raw(self) -> [u64; 2] {
        self.data
    }

    /// Rebuilds a key from [`to_raw`](Self::to_raw).
    pub fn from_raw(data: [u64; 2]) -> Self {
        Key { data }
    }

    fn rng(self, stream: u64) -> ChaCha8Rng {
        let mut seed = [0u8; 32];
        seed[..8].copy_from_slice(&self.data[0].to_le_bytes());
        seed[8..16].copy_from_slice(&self.data[1].to_le_bytes());
        let mut rng = ChaCha8Rng::from_seed(seed);
        rng.set_stream(stream);
        rng
    }

    fn derive(self, stream: u64, index: u64) -> Key {
        let mut rng = self.rng(stream);
        // Each index owns 4 words (2 x u64) of the stream.
        rng.set_word_pos(u128::from(index) * 4);
        Key {
            data: [rng.next_u64(), rng.next_u64()],
        }
    }

    /// `n` new independent keys.
    pub fn split(self, n: usize) -> Vec<Key> {
        (0..n as u64)
            .map(|i| self.derive(STREAM_SPLIT, i))
            .collect()
    }

    /// Two new keys (the common case), as an array for destructuring.
    pub fn split2(self) -> [Key; 2] {
        [self.derive(STREAM_SPLIT, 0), self.derive(STREAM_SPLIT, 1)]
    }

    /// A key derived from this one and `data` (a step number, a layer index, ...).
    pub fn fold_in(self, data: u64) -> Key {
        self.derive(STREAM_FOLD, data)
    }

    /// A host random generator for this key (for custom sampling on the host).
    pub fn host_rng(self) -> ChaCha8Rng {
        self.rng(STREAM_SAMPLE)
    }

    /// `n` floats uniform in `[low, high)`.
    pub fn uniform_vec(self, n: usize, low: f32, high: f32) -> Vec<f32> {
        let mut rng = self.host_rng();
        (0..n)
            .map(|_| low + (high - low) * rng.random::<f32>())
            .collect()
    }

    /// `n` floats from `N(mean, std^2)`.
    pub fn normal_vec(self, n: usize, mean: f32, std: f32) -> Vec<f32> {
        let mut rng = self.host_rng();
        (0..n)
            .map(|_| {
                let z: f32 = StandardNormal.sample(&mut rng);
                mean + std * z
            })
            .collect()
    }

    /// `n` floats from `N(mean, std^2)` truncated to `[low, high]` (absolute bounds, as
    /// PyTorch's `trunc_normal_`), by rejection.
    ///
    /// Panics unless `low < high` and the interval has visible mass (within 6 std of the mean).
    pub fn truncated_normal_vec(
        self,
        n: usize,
        mean: f32,
        std: f32,
        low: f32,
        high: f32,
    ) -> Vec<f32> {
        assert!(
            low < high,
            "truncated normal: empty interval [{low}, {high}]"
        );
        assert!(
            high > mean - 6.0 * std && low < mean + 6.0 * std,
            "truncated normal: [{low}, {high}] is too far from N({mean}, {std}^2)"
        );
        let mut rng = self.host_rng();
        let mut out = Vec::with_capacity(n);
        while out.len() < n {
            let z: f32 = StandardNormal.sample(&mut rng);
            let v = mean + std * z;
            if (low..=high).contains(&v) {
                out.push(v);
            }
        }
        out
    }

    /// `n` booleans, each true with probability `p`.
    pub fn bernoulli_vec(self, n: usize, p: f64) -> Vec<bool> {
        let mut rng = self.host_rng();
        (0..n).map(|_| rng.random_bool(p.clamp(0.0, 1.0))).collect()
    }

    /// A uniformly random permutation of `0..n` (Fisher-Yates).
    pub fn permutation(self, n: usize) -> Vec<usize> {
        let mut rng = self.host_rng();
        let mut idx: Vec<usize> = (0..n).collect();
        for i in (1..n).rev() {
            let j = rng.random_range(0..=i);
            idx.swap(i, j);
        }
        idx
    }

    /// A tensor uniform in `[low, high)`.
    ///
    /// # Shapes
    /// `shape`
    pub fn uniform<const D: usize>(
        self,
        shape: [usize; D],
        low: f32,
        high: f32,
        device: &Device,
    ) -> Tensor<D> {
        let n = shape.iter().product();
        Tensor::from_data(
            TensorData::new(self.uniform_vec(n, low, high), shape),
            device,
        )
    }

    /// A tensor from `N(mean, std^2)`.
    ///
    /// # Shapes
    /// `shape`
    ///
    /// # Example
    /// ```
    /// use duet_core::{burn::tensor::Device, Key};
    /// let t = Key::new(3).normal([1000], 0.0, 1.0, &Device::flex());
    /// let v = t.into_data().try_to_vec::<f32>().unwrap();
    /// let mean = v.iter().sum::<f32>() / 1000.0;
    /// assert!(mean.abs() < 0.1);
    /// ```
    pub fn normal<const D: usize>(
        self,
        shape: [usize; D],
        mean: f32,
        std: f32,
        device: &Device,
    ) -> Tensor<D> {
        let n = shape.iter().product();
        Tensor::from_data(
            TensorData::new(self.normal_vec(n, mean, std), shape),
            device,
        )
    }

    /// A tensor from `N(mean, std^2)` truncated to `[low, high]`.
    ///
    /// # Shapes
    /// `shape`
    pub fn truncated_normal<const D: usize>(
        self,
        shape: [usize; D],
        mean: f32,
        std: f32,
        low: f32,
        high: f32,
        device: &Device,
    ) -> Tensor<D> {
        let n = shape.iter().product();
        let v = self.truncated_normal_vec(n, mean, std, low, high);
        Tensor::from_data(TensorData::new(v, shape), device)
    }

    /// A float tensor of 0s and 1s, each 1 with probability `p`.
    ///
    /// # Shapes
    /// `shape`
    pub fn bernoulli<const D: usize>(
        self,
        shape: [usize; D],
        p: f64,
        device: &Device,
    ) -> Tensor<D> {
        let n = shape.iter().product();
        let v: Vec<f32> = self
            .bernoulli_vec(n, p)
            .into_iter()
            .map(|b| b as u8 as f32)
            .collect();
        Tensor::from_data(TensorData::new(v, shape), device)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn deterministic_and_independent() {
        let k = Key::new(42);
        assert_eq!(k, Key::new(42));
        assert_ne!(k, Key::new(43));
        let kids = k.split(4);
        for i in 0..4 {
            for j in 0..i {
                assert_ne!(kids[i], kids[j]);
            }
            assert_ne!(kids[i], k);
        }
        assert_ne!(k.fold_in(0), k.split(1)[0]);
        assert_eq!(k.uniform_vec(10, 0.0, 1.0), k.uniform_vec(10, 0.0, 1.0));
        assert_ne!(
            k.uniform_vec(10, 0.0, 1.0),
            kids[0].uniform_vec(10, 0.0, 1.0)
        );
        assert_eq!(Key::from_raw(k.to_raw()), k);
    }

    #[test]
    fn pinned_values_do_not_drift() {
        // Guards the cross-platform promise: if this changes, every seed's weights change.
        assert_eq!(Key::new(0).to_raw(), PINNED_RAW);
        assert_eq!(
            Key::new(0).uniform_vec(3, 0.0, 1.0),
            PINNED_UNIFORM.to_vec()
        );
        assert_eq!(Key::new(0).permutation(5), PINNED_PERM.to_vec());
    }

    const PINNED_RAW: [u64; 2] = [11281482152052412578, 5395722040250883040];
    const PINNED_UNIFORM: [f32; 3] = [0.34276968, 0.45222908, 0.2944203];
    const PINNED_PERM: [usize; 5] = [3, 2, 0, 4, 1];

    #[test]
    fn distributions_have_the_right_moments() {
        let n = 20_000;
        let u = Key::new(1).uniform_vec(n, -2.0, 4.0);
        let mean = u.iter().sum::<f32>() / n as f32;
        assert!((mean - 1.0).abs() < 0.05, "{mean}");
        assert!(u.iter().all(|x| (-2.0..4.0).contains(x)));
        let z = Key::new(2).normal_vec(n, 3.0, 2.0);
        let m = z.iter().sum::<f32>() / n as f32;
        let var = z.iter().map(|x| (x - m) * (x - m)).sum::<f32>() / n as f32;
        assert!(
            (m - 3.0).abs() < 0.05 && (var.sqrt() - 2.0).abs() < 0.05,
            "{m} {var}"
        );
        let t = Key::new(3).truncated_normal_vec(n, 0.0, 1.0, -2.0, 2.0);
        assert!(t.iter().all(|x| (-2.0..=2.0).contains(x)));
        let b = Key::new(4).bernoulli_vec(n, 0.3);
        let frac = b.iter().filter(|&&x| x).count() as f32 / n as f32;
        assert!((frac - 0.3).abs() < 0.02, "{frac}");
    }

    #[test]
    fn permutation_is_a_permutation() {
        let p = Key::new(5).permutation(1000);
        let mut s = p.clone();
        s.sort();
        assert_eq!(s, (0..1000).collect::<Vec<_>>());
        assert_ne!(p, (0..1000).collect::<Vec<_>>());
        assert_eq!(p, Key::new(5).permutation(1000));
    }
}
