//! Host-side image preparation: resize, random crop with padding, horizontal flip, scaling to
//! `[0, 1]` and per-channel normalization. All randomness comes from the caller's generator.

use rand::Rng;

/// How one image becomes floats.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Transform {
    /// Nearest-neighbour resize to `(height, width)` (e.g. 8x8 digits to LeNet's 32x32).
    pub resize: Option<(usize, usize)>,
    /// Random crop of the (resized) size after zero-padding every side by this many pixels.
    pub random_crop_padding: Option<usize>,
    /// Flip left-right with probability 1/2.
    pub horizontal_flip: bool,
    /// Per-channel `(mean, std)` applied after scaling pixels to `[0, 1]`.
    pub normalize: Option<(Vec<f32>, Vec<f32>)>,
}

impl Transform {
    /// The output `(height, width)` for an input of `(h, w)`.
    pub fn out_size(&self, h: usize, w: usize) -> (usize, usize) {
        self.resize.unwrap_or((h, w))
    }

    /// Writes image `src` (`[C, h, w]` bytes) as floats into `dst` (`[C, H, W]`, the output size).
    pub fn apply(
        &self,
        src: &[u8],
        c: usize,
        h: usize,
        w: usize,
        dst: &mut [f32],
        rng: &mut impl Rng,
    ) {
        let (oh, ow) = self.out_size(h, w);
        debug_assert_eq!(dst.len(), c * oh * ow);
        let (dy, dx, flip) = match self.random_crop_padding {
            Some(p) if p > 0 => (
                rng.random_range(0..=2 * p) as isize - p as isize,
                rng.random_range(0..=2 * p) as isize - p as isize,
                false,
            ),
            _ => (0, 0, false),
        };
        let flip = flip || (self.horizontal_flip && rng.random_bool(0.5));
        for ch in 0..c {
            let (mean, std) = match &self.normalize {
                Some((m, s)) => (m[ch % m.len()], s[ch % s.len()]),
                None => (0.0, 1.0),
            };
            let plane = &src[ch * h * w..(ch + 1) * h * w];
            let out = &mut dst[ch * oh * ow..(ch + 1) * oh * ow];
            for y in 0..oh {
                let sy = y as isize + dy;
                for x in 0..ow {
                    let xx = if flip { ow - 1 - x } else { x };
                    let sx = xx as isize + dx;
                    let v = if sy < 0 || sx < 0 || sy >= oh as isize || sx >= ow as isize {
                        0.0
                    } else {
                        // nearest-neighbour source pixel of the resized image
                        let (py, px) = (sy as usize * h / oh, sx as usize * w / ow);
                        plane[py * w + px] as f32 / 255.0
                    };
                    out[y * ow + x] = (v - mean) / std;
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::SeedableRng;

    #[test]
    fn resize_flip_and_normalize_by_hand() {
        let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(0);
        let src = [0u8, 255, 255, 0]; // 1x2x2
        let t = Transform {
            resize: Some((4, 4)),
            ..Default::default()
        };
        let mut out = vec![0.0; 16];
        t.apply(&src, 1, 2, 2, &mut out, &mut rng);
        assert_eq!(&out[..4], &[0.0, 0.0, 1.0, 1.0]);
        let t = Transform {
            normalize: Some((vec![0.5], vec![0.5])),
            ..Default::default()
        };
        let mut out = vec![0.0; 4];
        t.apply(&src, 1, 2, 2, &mut out, &mut rng);
        assert_eq!(out, vec![-1.0, 1.0, 1.0, -1.0]);
    }

    #[test]
    fn crops_stay_inside_the_padding_and_flips_mirror() {
        let src: Vec<u8> = (1..=9).collect(); // 1x3x3
        let t = Transform {
            random_crop_padding: Some(1),
            horizontal_flip: true,
            ..Default::default()
        };
        let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(1);
        for _ in 0..50 {
            let mut out = vec![0.0; 9];
            t.apply(&src, 1, 3, 3, &mut out, &mut rng);
            // Every output pixel is a source pixel or padding.
            assert!(out
                .iter()
                .all(|&v| v == 0.0 || (1..=9).any(|s| (v - s as f32 / 255.0).abs() < 1e-7)));
            // The centre of a shift-by-at-most-1 crop of a 3x3 image is always a real pixel.
            assert!(out[4] > 0.0);
        }
    }
}
