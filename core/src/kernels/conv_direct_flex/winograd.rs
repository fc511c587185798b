//! Winograd F(2x2, 3x3) (Lavin and Gray, 2016) for the direct path's 3x3 correlations on wide
//! layers: each 2x2 output tile is `Aᵀ [(G g Gᵀ) ⊙ (Bᵀ d B)] A` of its 4x4 input patch `d`, so
//! the multiplications become 16 matrix products, one per transform-domain element `ξ`:
//! `M[ξ] = V[ξ] U[ξ]` with `V[ξ]` `[tiles, C_in]` the transformed patches and `U[ξ]`
//! `[C_in, C_out]` the transformed kernel. 16 multiplications per 4 outputs instead of 36: 2.25x
//! fewer. The weight gradient is the same method transposed, F(3x3, 2x2) ([`grad_weight`]).
//!
//! The transforms run on images transposed to channels-last (`[H, W, C]`), so each of them is
//! a few passes of element-wise adds over `C`-long rows, which vectorize; their cost is
//! `O(C_in + C_out)` per tile against the products' `O(C_in C_out)`, so the method pays on wide
//! layers (see [`applies`]).
//!
//! `Bᵀ = [[1, 0, -1, 0], [0, 1, 1, 0], [0, -1, 1, 0], [0, 1, 0, -1]]`,
//! `G = [[1, 0, 0], [½, ½, ½], [½, -½, ½], [0, 0, 1]]`, `Aᵀ = [[1, 1, 1, 0], [0, 1, -1, -1]]`
//! (correlation, as convolution layers compute it). The data transforms' entries are 0 and ±1
//! and the kernel's ±½, so the rounding stays within a few ulps of the direct sum (the conv
//! tests hold at 1e-5 relative).

use super::super::conv_flex::matmul;
use super::Source;
use rayon::prelude::*;

/// Transform-domain elements per tile (4 x 4).
const XI: usize = 16;

/// Tiles per matrix product: images are grouped until a chunk has at least this many (8x8 maps
/// have 16 tiles per image).
const TILE_COLS: usize = 256;

/// The narrowest layer that goes through Winograd: at least 64 channels each way and 8192
/// channel pairs. Criterion, batch 128, forward + backward against the direct kernels
/// (`core/benches/conv.rs`): AlexNet's 192->384 8x8 layer 188-204 vs 247-307 ms, 64->192 16x16
/// 133-151 vs 146-176 ms; ResNet's 64->64 8x8 level (17-19 vs 16-22 ms) and 32->32 16x16 slower
/// (35-37 vs 19-21 ms: products with 32-long sides leave the transforms' cost uncovered).
const MIN_CHANNELS: usize = 64;
const MIN_PAIRS: usize = 8192;

/// `Bᵀ`: the input patch's transform.
const BT: [[f32; 4]; 4] = [
    [1.0, 0.0, -1.0, 0.0],
    [0.0, 1.0, 1.0, 0.0],
    [0.0, -1.0, 1.0, 0.0],
    [0.0, 1.0, 0.0, -1.0],
];
/// `G`: the kernel's transform.
const G: [[f32; 3]; 4] = [
    [1.0, 0.0, 0.0],
    [0.5, 0.5, 0.5],
    [0.5, -0.5, 0.5],
    [0.0, 0.0, 1.0],
];
/// `Aᵀ`: the output tile's transform.
const AT: [[f32; 4]; 2] = [[1.0, 1.0, 1.0, 0.0], [0.0, 1.0, -1.0, -1.0]];
/// `A`: the output gradient tile's transform in the weight gradient.
const A: [[f32; 2]; 4] = [[1.0, 0.0], [1.0, 1.0], [1.0, -1.0], [0.0, -1.0]];

/// Whether a 3x3 stride-1 correlation from `c_in` to `c_out` channels goes through Winograd.
pub(super) fn applies(k: [usize; 2], c_in: usize, c_out: usize) -> bool {
    k == [3, 3] && c_in.min(c_out) >= MIN_CHANNELS && c_in * c_out >= MIN_PAIRS
}

/// `out = Σ_{a, b} l[a] r[b] src(a, b)`, element-wise over equally long rows (zero
/// coefficients skipped): one 2-D transform of a tile, for every channel at once.
fn combine<'a>(out: &mut [f32], l: &[f32], r: &[f32], src: impl Fn(usize, usize) -> &'a [f32]) {
    let mut first = true;
    for (a, &la) in l.iter().enumerate() {
        for (b, &rb) in r.iter().enumerate() {
            let k = la * rb;
            if k == 0.0 {
                continue;
            }
            let s = &src(a, b)[..out.len()];
            if first {
                out.iter_mut().zip(s).for_each(|(o, &x)| *o = k * x);
                first = false;
            } else {
                out.iter_mut().zip(s).for_each(|(o, &x)| *o += k * x);
            }
        }
    }
}

/// Copies image `x` `[c, h, w]` channels-last into `p` `[rows, wp, c]`, shifted by `(pt, pl)`;
/// the rest of `p` is left as it is (zero padding, written once).
fn to_channels_last(
    x: &[f32],
    [c, h, w]: [usize; 3],
    p: &mut [f32],
    wp: usize,
    [pt, pl]: [usize; 2],
) {
    for (i, plane) in x.chunks_exact(h * w).enumerate() {
        for (r, row) in plane.chunks_exact(w).enumerate() {
            let base = ((r + pt) * wp + pl) * c + i;
            for (j, &v) in row.iter().enumerate() {
                p[base + j * c] = v;
            }
        }
    }
}

/// Images per thread: `n` split evenly over rayon's threads (each thread takes one fixed range).
fn share(n: usize) -> usize {
    n.div_ceil(rayon::current_num_threads().max(1)).max(1)
}

/// The tiling of one correlation: 2x2 output tiles over the padded images of `src`.
struct Tiles {
    ci: usize,
    h: usize,
    w: usize,
    pad: [usize; 2],
    oh: usize,
    ow: usize,
    th: usize,
    tw: usize,
}

impl Tiles {
    fn new(src: &Source) -> Self {
        let [h, w] = src.hw;
        let [(pt, pb), (pl, pr)] = src.pad;
        let (oh, ow) = (h + pt + pb - 2, w + pl + pr - 2);
        Tiles {
            ci: src.c,
            h,
            w,
            pad: [pt, pl],
            oh,
            ow,
            th: oh.div_ceil(2),
            tw: ow.div_ceil(2),
        }
    }
    /// Tiles per image.
    fn per_image(&self) -> usize {
        self.th * self.tw
    }
    /// Images per chunk: at least [`TILE_COLS`] tiles, at most one thread's [`share`] of `n`.
    fn chunk(&self, n: usize) -> usize {
        TILE_COLS.div_ceil(self.per_image()).clamp(1, share(n))
    }
    /// Row length of the padded channels-last image: every tile's 4x4 patch fits.
    fn wp(&self) -> usize {
        2 * self.tw + 2
    }
    /// Floats of the padded channels-last image.
    fn padded_len(&self) -> usize {
        (2 * self.th + 2) * self.wp() * self.ci
    }
    /// `V[ξ][col0 + t][i] = (Bᵀ d B)[ξ]` for the 4x4 patch `d` of tile `t` of the image `x`
    /// (`[ci, h, w]`), through `p` (the padded channels-last buffer, padding zero).
    fn transform_input(&self, x: &[f32], p: &mut [f32], v: &mut [f32], (col0, ld): (usize, usize)) {
        let (ci, wp) = (self.ci, self.wp());
        to_channels_last(x, [ci, self.h, self.w], p, wp, self.pad);
        for ty in 0..self.th {
            for tx in 0..self.tw {
                let (col, base) = (col0 + ty * self.tw + tx, 2 * ty * wp + 2 * tx);
                for xi in 0..XI {
                    let out = &mut v[(xi * ld + col) * ci..][..ci];
                    let src = |a: usize, b: usize| &p[(base + a * wp + b) * ci..][..ci];
                    combine(out, &BT[xi / 4], &BT[xi % 4], src);
                }
            }
        }
    }
}

/// `y[n][o][r][c] = bias[o] + Σ_{i, u, v} wt(o, i, u, v) · xpad[n][i][r + u][c + v]` for a 3x3
/// kernel, as `conv_direct_flex`'s `correlate`: `y` is `[N, c_out, H + pt + pb - 2,
/// W + pl + pr - 2]`.
pub(super) fn correlate(
    src: &Source,
    c_out: usize,
    wt: impl Fn(usize, usize, usize, usize) -> f32,
    bias: Option<&[f32]>,
) -> Vec<f32> {
    let tl = Tiles::new(src);
    let (ci, tiles, oh, ow) = (tl.ci, tl.per_image(), tl.oh, tl.ow);
    // U[ξ][i][o] = (G g Gᵀ)[ξ], as `G (g Gᵀ)`.
    let mut u = vec![0.0f32; XI * ci * c_out];
    for i in 0..ci {
        for o in 0..c_out {
            let g: [[f32; 3]; 3] = std::array::from_fn(|a| std::array::from_fn(|b| wt(o, i, a, b)));
            let ggt: [[f32; 4]; 3] = std::array::from_fn(|a| {
                std::array::from_fn(|c| (0..3).map(|b| g[a][b] * G[c][b]).sum())
            });
            for xi in 0..XI {
                let (r, c) = (xi / 4, xi % 4);
                u[(xi * ci + i) * c_out + o] = (0..3).map(|a| G[r][a] * ggt[a][c]).sum();
            }
        }
    }
    let (in_img, out_img) = (ci * tl.h * tl.w, c_out * oh * ow);
    assert_eq!(src.x.len(), src.n * in_img, "winograd: input size");
    assert!(bias.is_none_or(|b| b.len() == c_out), "winograd: bias size");
    let per = tl.chunk(src.n);
    let (twp, ld_max) = (2 * tl.tw, per * tiles);
    // One task per thread (a fixed range of images, in chunks of `per`), so the buffers are
    // allocated once per thread.
    let share = share(src.n);
    // Every element of `y` is written once below, so it is not zeroed.
    let mut y = Vec::<f32>::with_capacity(src.n * out_img);
    let spare = &mut y.spare_capacity_mut()[..src.n * out_img];
    spare
        .par_chunks_mut(share * out_img)
        .enumerate()
        .for_each(|(t, ys)| {
            let mut p = vec![0.0f32; tl.padded_len()];
            let (mut v, mut m) = (
                vec![0.0f32; XI * ld_max * ci],
                vec![0.0f32; XI * ld_max * c_out],
            );
            let mut yt = vec![0.0f32; 2 * tl.th * twp * c_out];
            for (k, yc) in ys.chunks_mut(per * out_img).enumerate() {
                let imgs = yc.len() / out_img;
                let ld = imgs * tiles;
                let x = &src.x[(t * share + k * per) * in_img..][..imgs * in_img];
                for (b, xb) in x.chunks_exact(in_img).enumerate() {
                    tl.transform_input(xb, &mut p, &mut v, (b * tiles, ld));
                }
                // M[ξ] = V[ξ] U[ξ], `[ld, c_out]` each.
                for xi in 0..XI {
                    let (lhs, rhs) = (&v[xi * ld * ci..], &u[xi * ci * c_out..]);
                    let dst = &mut m[xi * ld * c_out..];
                    matmul(
                        (ld, c_out, ci),
                        dst,
                        c_out,
                        false,
                        lhs,
                        (ci, 1),
                        rhs,
                        (c_out, 1),
                    );
                }
                for (b, yi) in yc.chunks_mut(out_img).enumerate() {
                    // The image's output tiles, channels-last: `yt[2 ty + r][2 tx + c]`.
                    for ty in 0..tl.th {
                        for tx in 0..tl.tw {
                            let col = b * tiles + ty * tl.tw + tx;
                            for (r, c) in [(0, 0), (0, 1), (1, 0), (1, 1)] {
                                let at = ((2 * ty + r) * twp + 2 * tx + c) * c_out;
                                let src = |a: usize, bb: usize| {
                                    &m[((a * 4 + bb) * ld + col) * c_out..][..c_out]
                                };
                                combine(&mut yt[at..][..c_out], &AT[r], &AT[c], src);
                            }
                        }
                    }
                    // Back to channels-first, clipped at odd edges, plus the bias.
                    for (o, yo) in yi.chunks_mut(oh * ow).enumerate() {
                        let bias = bias.map_or(0.0, |b| b[o]);
                        for (r, row) in yo.chunks_mut(ow).enumerate() {
                            for (c, e) in row.iter_mut().enumerate() {
                                e.write(yt[(r * twp + c) * c_out + o] + bias);
                            }
                        }
                    }
                }
            }
        });
    // SAFETY: the last loop wrote every `(o, r, c)` of every image of every chunk.
    unsafe { y.set_len(src.n * out_img) };
    y
}

/// `dw` `[c_out, c_in, 3, 3]` of a 3x3 correlation of `src` from its output gradient `dy`
/// `[N, c_out, oh, ow]`: `dw[o][i][u][v] = Σ_{n, r, c} dy[n][o][r][c] · xpad[n][i][r + u][c + v]`
/// by F(3x3, 2x2), the same method transposed: per tile `Gᵀ [(A e Aᵀ) ⊙ (Bᵀ d B)] G` with `e`
/// the 2x2 tile of `dy` and `d` its 4x4 input patch, summed over the tiles in the transform
/// domain as 16 products `S[ξ] += E[ξ]ᵀ V[ξ]` (`[c_out, tiles] x [tiles, c_in]`). Each thread
/// takes a fixed range of images; threads are summed in order (deterministic).
pub(super) fn grad_weight(src: &Source, dy: &[f32], c_out: usize) -> Vec<f32> {
    let tl = Tiles::new(src);
    let (ci, tiles, oh, ow) = (tl.ci, tl.per_image(), tl.oh, tl.ow);
    let (in_img, out_img) = (ci * tl.h * tl.w, c_out * oh * ow);
    assert_eq!(
        [src.x.len(), dy.len()],
        [src.n * in_img, src.n * out_img],
        "winograd dw: sizes"
    );
    let per = tl.chunk(src.n);
    let (twp, ld_max) = (2 * tl.tw, per * tiles);
    let share = share(src.n);
    let threads = src.n.div_ceil(share);
    let s = (0..threads)
        .into_par_iter()
        .map(|t| {
            let mut s = vec![0.0f32; XI * c_out * ci];
            let mut p = vec![0.0f32; tl.padded_len()];
            let (mut v, mut e) = (
                vec![0.0f32; XI * ld_max * ci],
                vec![0.0f32; XI * ld_max * c_out],
            );
            // `dy` of one image channels-last, `[2 th, 2 tw, c_out]` (a zero row and column past
            // odd sides).
            let mut q = vec![0.0f32; 2 * tl.th * twp * c_out];
            let (first, last) = (t * share, ((t + 1) * share).min(src.n));
            for start in (first..last).step_by(per) {
                let imgs = per.min(last - start);
                let ld = imgs * tiles;
                for b in 0..imgs {
                    let xb = &src.x[(start + b) * in_img..][..in_img];
                    tl.transform_input(xb, &mut p, &mut v, (b * tiles, ld));
                    let dyb = &dy[(start + b) * out_img..][..out_img];
                    to_channels_last(dyb, [c_out, oh, ow], &mut q, twp, [0, 0]);
                    // E[ξ][col][o] = (A e Aᵀ)[ξ].
                    for ty in 0..tl.th {
                        for tx in 0..tl.tw {
                            let (col, base) = (b * tiles + ty * tl.tw + tx, 2 * ty * twp + 2 * tx);
                            for xi in 0..XI {
                                let out = &mut e[(xi * ld + col) * c_out..][..c_out];
                                let src = |a: usize, bb: usize| {
                                    &q[(base + a * twp + bb) * c_out..][..c_out]
                                };
                                combine(out, &A[xi / 4], &A[xi % 4], src);
                            }
                        }
                    }
                }
                for xi in 0..XI {
                    let (lhs, rhs) = (&e[xi * ld * c_out..], &v[xi * ld * ci..]);
                    let dst = &mut s[xi * c_out * ci..];
                    matmul(
                        (c_out, ci, ld),
                        dst,
                        ci,
                        true,
                        lhs,
                        (1, c_out),
                        rhs,
                        (ci, 1),
                    );
                }
            }
            s
        })
        .collect::<Vec<_>>();
    let s = s.into_iter().reduce(|mut a, b| {
        a.iter_mut().zip(&b).for_each(|(a, b)| *a += b);
        a
    });
    let s = s.unwrap_or_else(|| vec![0.0; XI * c_out * ci]);
    // dw[o][i][u][v] = (Gᵀ S G)[u][v].
    let mut dw = vec![0.0f32; c_out * ci * 9];
    for (j, k) in dw.chunks_exact_mut(9).enumerate() {
        for (q, out) in k.iter_mut().enumerate() {
            let (u, w) = (q / 3, q % 3);
            *out = (0..XI)
                .map(|xi| G[xi / 4][u] * G[xi % 4][w] * s[xi * c_out * ci + j])
                .sum();
        }
    }
    dw
}

#[cfg(test)]
mod tests {
    use super::*;

    /// `Σ_{a, b} l[r][a] r[c][b] d[a][b]`: a 2-D transform of one scalar tile.
    fn apply<const R: usize, const C: usize, const I: usize, const J: usize>(
        l: &[[f32; I]; R],
        r: &[[f32; J]; C],
        d: &[[f32; J]; I],
    ) -> [[f32; C]; R] {
        std::array::from_fn(|i| {
            std::array::from_fn(|j| {
                let mut t = 0.0;
                for a in 0..I {
                    for b in 0..J {
                        t += l[i][a] * r[j][b] * d[a][b];
                    }
                }
                t
            })
        })
    }

    fn transpose<const R: usize, const C: usize>(m: &[[f32; C]; R]) -> [[f32; R]; C] {
        std::array::from_fn(|i| std::array::from_fn(|j| m[j][i]))
    }

    /// The tables: one tile through F(2x2, 3x3) equals the direct 2x2 correlation, and through
    /// F(3x3, 2x2) the direct 3x3 weight gradient.
    #[test]
    fn one_tile_equals_the_direct_sums() {
        let d: [[f32; 4]; 4] =
            std::array::from_fn(|r| std::array::from_fn(|c| (r * 4 + c) as f32 * 0.3 - 1.0));
        let g: [[f32; 3]; 3] =
            std::array::from_fn(|r| std::array::from_fn(|c| ((r * 3 + c) as f32).sin()));
        let (u, v) = (apply(&G, &G, &g), apply(&BT, &BT, &d));
        let m: [[f32; 4]; 4] = std::array::from_fn(|r| std::array::from_fn(|c| u[r][c] * v[r][c]));
        let y = apply(&AT, &AT, &m);
        for (i, row) in y.iter().enumerate() {
            for (j, &got) in row.iter().enumerate() {
                let want: f32 = (0..9)
                    .map(|t| d[i + t / 3][j + t % 3] * g[t / 3][t % 3])
                    .sum();
                assert!((got - want).abs() < 1e-5, "({i}, {j}): {got} vs {want}");
            }
        }
        let e = [[0.7f32, -1.3], [0.2, 2.1]];
        let te = apply(&A, &A, &e);
        let m: [[f32; 4]; 4] = std::array::from_fn(|r| std::array::from_fn(|c| te[r][c] * v[r][c]));
        let gt = transpose(&G);
        let dw = apply(&gt, &gt, &m);
        for (u, row) in dw.iter().enumerate() {
            for (w, &got) in row.iter().enumerate() {
                let want: f32 = (0..4)
                    .map(|t| e[t / 2][t % 2] * d[u + t / 2][w + t % 2])
                    .sum();
                assert!((got - want).abs() < 1e-5, "dw ({u}, {w}): {got} vs {want}");
            }
        }
    }
}
