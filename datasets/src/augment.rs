//! Host-side image preparation: resize, random crop with padding, horizontal flip, scaling to
//! `[0, 1]` and per-channel normalization. All randomness comes from the caller's generator.

use rand::Rng;

/// How [`Transform::resize`] interpolates (see [`Loader::with_resize_filter`](crate::Loader::with_resize_filter)).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum ResizeFilter {
    /// Each output pixel copies the nearest source pixel (blocky; exact for integer upscaling).
    #[default]
    Nearest,
    /// Bilinear interpolation with pixel centres aligned (PyTorch's `align_corners=False`),
    /// edges clamped.
    Bilinear,
}

/// How one image becomes floats: resize, then random crop of the zero-padded image, then
/// horizontal flip, then scaling to `[0, 1]` and per-channel normalization.
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

    /// Writes image `src` (`[C, h, w]` bytes) as floats into `dst` (`[C, H, W]`, the output
    /// size), resizing with [`ResizeFilter::Nearest`].
    pub fn apply(
        &self,
        src: &[u8],
        c: usize,
        h: usize,
        w: usize,
        dst: &mut [f32],
        rng: &mut impl Rng,
    ) {
        self.apply_filtered(ResizeFilter::Nearest, src, c, h, w, dst, rng)
    }

    /// [`apply`](Self::apply) with a choice of resize filter.
    #[allow(clippy::too_many_arguments)]
    pub fn apply_filtered(
        &self,
        filter: ResizeFilter,
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
                    } else if filter == ResizeFilter::Bilinear && (oh, ow) != (h, w) {
                        bilinear(plane, h, w, sy as usize, sx as usize, oh, ow) / 255.0
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

/// Pixel `(y, x)` of `plane` (`h x w`) resized to `oh x ow`, bilinearly, in byte units.
fn bilinear(plane: &[u8], h: usize, w: usize, y: usize, x: usize, oh: usize, ow: usize) -> f32 {
    let coord = |o: usize, n_in: usize, n_out: usize| {
        let f = ((o as f32 + 0.5) * n_in as f32 / n_out as f32 - 0.5).clamp(0.0, (n_in - 1) as f32);
        let i0 = f.floor() as usize;
        (i0, (i0 + 1).min(n_in - 1), f - i0 as f32)
    };
    let (y0, y1, fy) = coord(y, h, oh);
    let (x0, x1, fx) = coord(x, w, ow);
    let p = |yy: usize, xx: usize| plane[yy * w + xx] as f32;
    let top = p(y0, x0) * (1.0 - fx) + p(y0, x1) * fx;
    let bottom = p(y1, x0) * (1.0 - fx) + p(y1, x1) * fx;
    top * (1.0 - fy) + bottom * fy
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::SeedableRng;

    #[test]
    fn resize_and_normalize_by_hand() {
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
    fn bilinear_upscale_by_hand() {
        let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(0);
        let src = [0u8, 255]; // 1x1x2 -> 1x1x4
        let t = Transform {
            resize: Some((1, 4)),
            ..Default::default()
        };
        let mut out = vec![0.0; 4];
        t.apply_filtered(ResizeFilter::Bilinear, &src, 1, 1, 2, &mut out, &mut rng);
        // Output centres at source x = -0.25, 0.25, 0.75, 1.25 (clamped to [0, 1]).
        assert_eq!(out, vec![0.0, 0.25, 0.75, 1.0]);
    }

    #[test]
    fn crops_stay_inside_the_padding_and_flips_mirror() {
        let src: Vec<u8> = (1..=9).collect(); // 1x3x3, every pixel distinct
        let px = |y: isize, x: isize| {
            if (0..3).contains(&y) && (0..3).contains(&x) {
                src[(y * 3 + x) as usize] as f32 / 255.0
            } else {
                0.0
            }
        };
        // Every crop with a shift of at most 1, mirrored or not: out[y][x] = padded[y + dy][x' + dx]
        // with x' = 2 - x when mirrored.
        let view = |dy: isize, dx: isize, flip: bool| -> Vec<f32> {
            (0..9)
                .map(|i| {
                    let (y, x) = (i / 3, i % 3);
                    px(y + dy, if flip { 2 - x } else { x } + dx)
                })
                .collect()
        };
        let t = |flip: bool, pad: Option<usize>| Transform {
            random_crop_padding: pad,
            horizontal_flip: flip,
            ..Default::default()
        };
        let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(1);
        let mut seen = std::collections::BTreeSet::new();
        for _ in 0..200 {
            let mut out = vec![0.0; 9];
            t(true, Some(1)).apply(&src, 1, 3, 3, &mut out, &mut rng);
            let hit = (-1..=1)
                .flat_map(|dy| (-1..=1).flat_map(move |dx| [(dy, dx, false), (dy, dx, true)]))
                .find(|&(dy, dx, f)| view(dy, dx, f) == out);
            let hit = hit.unwrap_or_else(|| panic!("{out:?} is no shifted or mirrored crop"));
            seen.insert(hit);
        }
        // Each of the 9 shifts, mirrored and not, comes up (18 outcomes, 200 draws).
        assert_eq!(seen.len(), 18, "{seen:?}");
        // Flips alone: the image or its mirror, both about half the time; without the flag, never.
        let (mut mirrored, n) = (0, 400);
        for _ in 0..n {
            let mut out = vec![0.0; 9];
            t(true, None).apply(&src, 1, 3, 3, &mut out, &mut rng);
            if out == view(0, 0, true) {
                mirrored += 1;
            } else {
                assert_eq!(out, view(0, 0, false));
            }
            t(false, None).apply(&src, 1, 3, 3, &mut out, &mut rng);
            assert_eq!(out, view(0, 0, false));
        }
        assert!(
            (150..=250).contains(&mirrored),
            "{mirrored} of {n} mirrored"
        );
    }
}
