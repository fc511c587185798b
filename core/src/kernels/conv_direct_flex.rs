//! Direct stride-1 convolution on `flex` in AVX2: no patch matrix.
//!
//! One image's input is copied once, zero-padded, into `[C_in, Hp * Wp]`. On that *wide grid*
//! the output position `q = oh * Wp + ow` reads the input at `q + kh * Wp + kw` for the tap
//! `(kh, kw)`, so eight consecutive outputs read eight consecutive inputs for every tap: one
//! unaligned load per tap feeds every output channel, and nothing is unfolded. Neighbouring rows
//! share their horizontal padding (`Wp = W + max(pad_left, pad_right)`: a window running off a
//! row's right end reads the next row's left padding, zeros too), and the `Wp - W_out` columns
//! past each output row are computed, never read, and dropped when the result is copied out:
//! 3%, 6% and 12% extra work on ResNet's 32x32, 16x16 and 8x8 layers (with both paddings
//! stored, 6%, 12% and 25%).
//!
//! The forward's register block is 6 output channels x 16 positions in AVX2 (12 accumulators;
//! per tap and input channel 2 loads, 6 broadcasts, 12 FMAs), 12 channels x 32 positions in
//! AVX-512 (24 accumulators of 16 floats; 2 loads, 12 broadcasts, 24 FMAs: half the
//! instructions per multiply-add, which CPUs with full-width 512-bit units run twice as fast).
//! im2col + gemm wrote and re-read a `C_in kH kW`-times copy of every image (ResNet's 3x3
//! layers: 9x; LeNet's 5x5: 25x) and the gemm crate packed it again; `perf` on a ResNet-20 step
//! had the unfolding, the packing and the copies at ~25% of samples.
//!
//! The input gradient of a stride-1 convolution is itself one (of `dy`, padded by `k - 1 - pad`,
//! with the kernel flipped and its channel axes swapped), so both run through [`correlate`].
//! The weight gradient is, per tap, a product over the wide grid: `dW[o][i][u][v] =
//! Σ_q dy[o][q] xpad[i][q + u Wp + v]` with `dy` zero on the junk columns ([`grad_weight`]).
//!
//! Wide 3x3 layers leave the wide grid for Winograd F(2x2, 3x3) (`winograd`): at 192-384
//! channels the direct loop already runs at the two cores' FMA peak, and Winograd does 2.25x
//! fewer multiplications.

use super::conv_flex::Dims;
use rayon::prelude::*;

#[cfg(target_arch = "x86_64")]
mod avx2;
#[cfg(target_arch = "x86_64")]
mod avx512;
mod winograd;

/// Wide-grid positions per register block: two 8-float or one 16-float vector.
const QB: usize = 16;

/// A weight-gradient block's operands: `(dy, dy row stride, positions, x, x plane stride,
/// accumulator, accumulator row stride)`.
type WArgs = (*const f32, usize, usize, *const f32, usize, *mut f32, usize);

/// The register blocks a call runs: AVX2 + FMA, or AVX-512F where the CPU has it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Isa {
    Avx2,
    Avx512,
}

impl Isa {
    /// The widest the CPU has ([`applies`] has checked AVX2 and FMA).
    fn detect() -> Self {
        #[cfg(target_arch = "x86_64")]
        if std::arch::is_x86_feature_detected!("avx512f") {
            return Isa::Avx512;
        }
        Isa::Avx2
    }
    /// The register-block sizes of this instruction set.
    fn blocks(self) -> Blocks {
        #[cfg(target_arch = "x86_64")]
        return match self {
            Isa::Avx2 => avx2::BLOCKS,
            Isa::Avx512 => avx512::BLOCKS,
        };
        #[cfg(not(target_arch = "x86_64"))]
        unreachable!("`applies` is false off x86-64")
    }
}

/// Register-block sizes of one instruction set.
#[derive(Clone, Copy, Debug)]
struct Blocks {
    /// Output channels per forward block.
    cb: usize,
    /// `dy` rows (output channels) per weight-gradient block.
    ob: usize,
    /// Input channels per weight-gradient block.
    ib: usize,
    /// Partial sums (lanes) per weight in the weight gradient's accumulator.
    lanes: usize,
}

/// Whether [`forward`] and [`grad_input`] handle `d` on this CPU: stride 1, no dilation, one
/// group, each padding smaller than its kernel side (so the input gradient's padding
/// `k - 1 - pad` is not negative), and AVX2 with FMA.
pub(super) fn applies(d: &Dims) -> bool {
    let g = &d.g;
    let geometry = g.stride == [1, 1]
        && g.dilation == [1, 1]
        && g.groups == 1
        && g.pad[0].0.max(g.pad[0].1) < d.kh
        && g.pad[1].0.max(g.pad[1].1) < d.kw
        && d.n > 0
        && d.c_in > 0
        && d.c_out > 0;
    geometry && cpu_has_avx2_fma()
}

/// Whether [`grad_input`] should run for `d`: [`applies`], and the padding at least "same"
/// (`pad_lo + pad_hi >= k - 1` on both axes). A narrower padding becomes a wider one for the
/// input gradient (`k - 1 - pad`) whose zeros the direct kernel multiplies through: LeNet's
/// unpadded 5x5 layer on 10x10 maps spent 2.5x the useful work there and measured slower
/// than im2col + gemm (criterion, `core/benches/conv.rs`).
pub(super) fn applies_grad_input(d: &Dims) -> bool {
    let same = |(a, b): (usize, usize), k: usize| a + b + 1 >= k;
    applies(d) && same(d.g.pad[0], d.kh) && same(d.g.pad[1], d.kw)
}

/// Whether [`grad_weight`] should run for `d`: [`applies`], and its per-thread accumulator
/// (counted at eight lanes per weight; the AVX-512 blocks keep 16, read and written once per
/// pass of positions) fits in a 512 KiB L2 cache (raised to 2 MiB, ResNet's 64->64 8x8 layer
/// measured 6.80 -> 7.83 ms on the direct path with AVX-512, so the limit stayed). On
/// larger layers the gemm's weight gradient won (criterion, `core/benches/conv.rs`, forward +
/// backward: ResNet's 64->64 8x8 layer 14.9 vs 16.1 ms, AlexNet's 192->384 8x8 227 vs 354 ms;
/// ResNet's 16->16 32x32 layer 14.2 vs 17.8 ms the other way).
pub(super) fn applies_grad_weight(d: &Dims) -> bool {
    let lanes = d.kh * d.kw * d.c_out.next_multiple_of(2) * d.c_in * 8;
    applies(d) && (lanes * 4 <= 512 << 10 || winograd::applies([d.kh, d.kw], d.c_in, d.c_out))
}

fn cpu_has_avx2_fma() -> bool {
    #[cfg(target_arch = "x86_64")]
    {
        std::arch::is_x86_feature_detected!("avx2") && std::arch::is_x86_feature_detected!("fma")
    }
    #[cfg(not(target_arch = "x86_64"))]
    {
        false
    }
}

/// `y = conv(x, w) + b` for a `d` that [`applies`]: `x` `[N, C_in, H, W]`, `w`
/// `[C_out, C_in, kH, kW]`, `b` `[C_out]`, `y` `[N, C_out, H_out, W_out]`.
pub(super) fn forward(d: &Dims, x: &[f32], w: &[f32], b: &[f32]) -> Vec<f32> {
    let (ci, kh, kw) = (d.c_in, d.kh, d.kw);
    let at = |o: usize, i: usize, r: usize, c: usize| w[((o * ci + i) * kh + r) * kw + c];
    let src = Source {
        x,
        n: d.n,
        c: ci,
        hw: [d.h, d.w],
        pad: d.g.pad,
    };
    correlate(Isa::detect(), &src, d.c_out, [kh, kw], at, Some(b))
}

/// `dx` `[N, C_in, H, W]` of `y = conv(x, w)` from `dy` `[N, C_out, H_out, W_out]`, for a `d`
/// that [`applies`]: `dx[i][h][w] = Σ_{o, r, c} dy[o][h + pt - r][w + pl - c] w[o][i][r][c]`,
/// the correlation of `dy` padded by `k - 1 - pad` with `w` flipped and transposed.
pub(super) fn grad_input(d: &Dims, w: &[f32], dy: &[f32]) -> Vec<f32> {
    let (ci, kh, kw) = (d.c_in, d.kh, d.kw);
    let at = |i: usize, o: usize, r: usize, c: usize| {
        w[((o * ci + i) * kh + (kh - 1 - r)) * kw + (kw - 1 - c)]
    };
    let flip = |k: usize, (a, b): (usize, usize)| (k - 1 - a, k - 1 - b);
    let src = Source {
        x: dy,
        n: d.n,
        c: d.c_out,
        hw: [d.oh, d.ow],
        pad: [flip(kh, d.g.pad[0]), flip(kw, d.g.pad[1])],
    };
    correlate(Isa::detect(), &src, ci, [kh, kw], at, None)
}

/// The images a correlation reads: `n` of `[c, h, w]` in `x`, padded by `pad` ((top, bottom),
/// (left, right)).
struct Source<'a> {
    x: &'a [f32],
    n: usize,
    c: usize,
    hw: [usize; 2],
    pad: [(usize, usize); 2],
}

/// The wide grid of one padded image, as the kernels walk it.
struct Grid {
    c: usize,
    h: usize,
    w: usize,
    /// Top and left padding.
    pt: usize,
    pl: usize,
    /// Padded row length and plane size.
    wp: usize,
    plane: usize,
    k: [usize; 2],
    /// Output rows and columns (stride 1).
    oh: usize,
    ow: usize,
    /// Wide positions `oh * wp`, rounded up to whole register blocks.
    len: usize,
}

impl Grid {
    fn new(src: &Source, k: [usize; 2]) -> Self {
        let [(pt, pb), (pl, pr)] = src.pad;
        let [h, w] = src.hw;
        // Row `r` of a plane holds `pl` zeros, the image row, and `wp - pl - w` zeros. The
        // window of a valid output reads up to `min(pl, pr)` columns past its row's end, which
        // are the next row's (or the next plane's first row's) leading zeros, or, after the
        // last plane, the zero tail.
        let (hp, wp) = (h + pt + pb, w + pl.max(pr));
        let oh = hp - k[0] + 1;
        Grid {
            c: src.c,
            h,
            w,
            pt,
            pl,
            wp,
            plane: hp * wp,
            k,
            oh,
            ow: w + pl + pr + 1 - k[1],
            len: (oh * wp).div_ceil(QB) * QB,
        }
    }
    /// Floats of the padded image buffer: the planes, then a zero tail covering the last
    /// block's reads (up to `len - oh*wp + kw - 2` past the last plane).
    fn padded_len(&self) -> usize {
        self.c * self.plane + self.len - self.oh * self.wp + self.k[1]
    }
    /// Copies image `x` `[c, h, w]` into the interior of `xp`, whose padding and tail stay zero.
    fn fill(&self, x: &[f32], xp: &mut [f32]) {
        for (i, xc) in x.chunks_exact(self.h * self.w).enumerate() {
            for (r, row) in xc.chunks_exact(self.w).enumerate() {
                let at = i * self.plane + (self.pt + r) * self.wp + self.pl;
                xp[at..][..self.w].copy_from_slice(row);
            }
        }
    }
}

/// `y[n][o][r][c] = bias[o] + Σ_{i, u, v} wt(o, i, u, v) · xpad[n][i][r + u][c + v]` for the
/// images of `src`: `y` is `[N, c_out, H + pt + pb - kH + 1, W + pl + pr - kW + 1]`.
fn correlate(
    isa: Isa,
    src: &Source,
    c_out: usize,
    k: [usize; 2],
    wt: impl Fn(usize, usize, usize, usize) -> f32,
    bias: Option<&[f32]>,
) -> Vec<f32> {
    if winograd::applies(k, src.c, c_out) {
        return winograd::correlate(src, c_out, wt, bias);
    }
    let g = Grid::new(src, k);
    let [kh, kw] = k;
    // Output channels in blocks of at most `cb`, as even as possible (AVX2: 16 = 6 + 5 + 5, a
    // block of 4 has too few accumulators to hide the FMA latency); weights packed per block as
    // [i][u][v][cb], zero past the block's size.
    let cb = isa.blocks().cb;
    let blocks = channel_blocks(c_out, cb);
    let per_block = g.c * kh * kw * cb;
    let mut packed = vec![0.0f32; blocks.len() * per_block];
    for (&(start, size), pb) in blocks.iter().zip(packed.chunks_exact_mut(per_block)) {
        for (j, p) in pb.iter_mut().enumerate() {
            let (rest, c) = (j / cb, j % cb);
            let (rest, v) = (rest / kw, rest % kw);
            let (i, u) = (rest / kh, rest % kh);
            if c < size {
                *p = wt(start + c, i, u, v);
            }
        }
    }
    let (in_img, out_img) = (g.c * g.h * g.w, c_out * g.oh * g.ow);
    assert_eq!(src.x.len(), src.n * in_img, "direct conv: input size");
    assert!(
        bias.is_none_or(|b| b.len() == c_out),
        "direct conv: bias size"
    );
    // Every element of `y` is written below (each channel, row and column once), so it is
    // not zeroed first (`memset` was 5% of a ResNet layer's forward).
    let mut y = Vec::<f32>::with_capacity(src.n * out_img);
    let spare = &mut y.spare_capacity_mut()[..src.n * out_img];
    spare.par_chunks_mut(out_img).enumerate().for_each_init(
        // The padding and the tail are zeroed once; each image overwrites only the interior.
        || (vec![0.0f32; g.padded_len()], vec![0.0f32; cb * g.len]),
        |(xp, wide), (img, yi)| {
            g.fill(&src.x[img * in_img..][..in_img], xp);
            for (&(start, size), wb) in blocks.iter().zip(packed.chunks_exact(per_block)) {
                let mut q = 0;
                while q < g.len {
                    // SAFETY: `applies` checked AVX2 and FMA, `Isa::detect` AVX-512F. Reads:
                    // `(c-1)*plane` plus tap offsets up to `(kh-1)*wp + kw-1` plus the block's
                    // positions (up to `len`, a multiple of QB) stay below `padded_len`;
                    // weights `per_block`; writes `size` rows of `len`.
                    #[cfg(target_arch = "x86_64")]
                    unsafe {
                        let (x, w) = (xp.as_ptr().add(q), wb.as_ptr());
                        let o = wide.as_mut_ptr().add(q);
                        q += match isa {
                            Isa::Avx2 => avx2::block_of(size, (&g, q), x, w, o),
                            Isa::Avx512 => avx512::block_of(size, (&g, q), x, w, o),
                        };
                    };
                    #[cfg(not(target_arch = "x86_64"))]
                    unreachable!("`applies` is false off x86-64");
                }
                for (c, o) in (start..start + size).enumerate() {
                    let b = bias.map_or(0.0, |b| b[o]);
                    for r in 0..g.oh {
                        let dst = &mut yi[(o * g.oh + r) * g.ow..][..g.ow];
                        let row = &wide[c * g.len + r * g.wp..][..g.ow];
                        dst.iter_mut().zip(row).for_each(|(d, s)| {
                            d.write(s + b);
                        });
                    }
                }
            }
        },
    );
    // SAFETY: the loop above initialised all `n * out_img` elements (see its comment).
    unsafe { y.set_len(src.n * out_img) };
    y
}

/// `dw` `[C_out, C_in, kH, kW]` of `y = conv(x, w)` from `x` and `dy`, for a `d` that
/// [`applies`]: `dw[o][i][u][v] = Σ_{n, r, c} dy[n][o][r][c] · xpad[n][i][r + u][c + v]`.
/// Each thread takes a fixed range of images and keeps 8 (AVX2) or 16 (AVX-512) partial sums
/// (lanes) per weight; threads, then lanes, are summed in a fixed order, so the result is
/// deterministic.
pub(super) fn grad_weight(d: &Dims, x: &[f32], dy: &[f32]) -> Vec<f32> {
    grad_weight_with(Isa::detect(), d, x, dy)
}

fn grad_weight_with(isa: Isa, d: &Dims, x: &[f32], dy: &[f32]) -> Vec<f32> {
    let src = Source {
        x,
        n: d.n,
        c: d.c_in,
        hw: [d.h, d.w],
        pad: d.g.pad,
    };
    if winograd::applies([d.kh, d.kw], d.c_in, d.c_out) {
        return winograd::grad_weight(&src, dy, d.c_out);
    }
    let g = Grid::new(&src, [d.kh, d.kw]);
    let (taps, c_in) = (d.kh * d.kw, d.c_in);
    // `dy` rows on the wide grid, a multiple of the block's rows (zero rows fill the last).
    let Blocks {
        ob, ib, lanes: l, ..
    } = isa.blocks();
    let rows = d.c_out.next_multiple_of(ob);
    let (in_img, out_img) = (c_in * d.h * d.w, d.c_out * d.oh * d.ow);
    assert_eq!(
        [x.len(), dy.len()],
        [d.n * in_img, d.n * out_img],
        "direct conv dw: sizes"
    );
    let lanes = taps * rows * c_in * l;
    let i_blocks = channel_blocks(c_in, ib);
    // Positions per pass, so that the input planes' stretch and the block's `dy` rows stay in
    // the L1 cache across the taps and channel blocks (~24 KiB; all positions streamed from L2
    // ran the AVX-512 block at half the forward's rate).
    let chunk = (6144 / (c_in + ob)).clamp(QB, g.len) / QB * QB;
    let threads = rayon::current_num_threads().clamp(1, d.n);
    let share = d.n.div_ceil(threads);
    let sums = (0..threads)
        .into_par_iter()
        .map(|t| {
            let mut acc = vec![0.0f32; lanes];
            let mut xp = vec![0.0f32; g.padded_len()];
            let mut dyw = vec![0.0f32; rows * g.len];
            for img in t * share..((t + 1) * share).min(d.n) {
                g.fill(&x[img * in_img..][..in_img], &mut xp);
                let dyi = &dy[img * out_img..][..out_img];
                for (o, plane) in dyi.chunks_exact(d.oh * d.ow).enumerate() {
                    for (r, row) in plane.chunks_exact(d.ow).enumerate() {
                        dyw[o * g.len + r * g.wp..][..d.ow].copy_from_slice(row);
                    }
                }
                for c0 in (0..g.len).step_by(chunk) {
                    let count = chunk.min(g.len - c0);
                    for o in (0..rows).step_by(ob) {
                        for tap in 0..taps {
                            let off = (tap / d.kw) * g.wp + tap % d.kw + c0;
                            for &(i, size) in &i_blocks {
                                let at = ((tap * rows + o) * c_in + i) * l;
                                // SAFETY: `applies` checked AVX2 and FMA, `Isa::detect`
                                // AVX-512F; `count` is a multiple of 16 and `c0 + count <=
                                // len`; `dyw` has rows `o` to `o + ob - 1` of `len`; `xp` is
                                // read below `(i + size - 1) * plane + off + count <=
                                // padded_len`; `acc` written below `at + (ob - 1) * c_in * l +
                                // size * l <= lanes`.
                                #[cfg(target_arch = "x86_64")]
                                unsafe {
                                    let dp = dyw.as_ptr().add(o * g.len + c0);
                                    let xq = xp.as_ptr().add(i * g.plane + off);
                                    let a = acc.as_mut_ptr().add(at);
                                    let args = (dp, g.len, count, xq, g.plane, a, c_in * l);
                                    match isa {
                                        Isa::Avx2 => avx2::wblock_of(size, args),
                                        Isa::Avx512 => avx512::wblock_of(size, args),
                                    }
                                }
                            }
                        }
                    }
                }
            }
            acc
        })
        .collect::<Vec<_>>();
    // Threads in order, then each weight's lanes in order.
    let total = sums.into_iter().reduce(|mut a, b| {
        a.iter_mut().zip(&b).for_each(|(a, b)| *a += b);
        a
    });
    let total = total.unwrap_or_else(|| vec![0.0; lanes]);
    let mut dw = vec![0.0f32; d.c_out * c_in * taps];
    for (j, v) in dw.iter_mut().enumerate() {
        let (rest, t) = (j / taps, j % taps);
        let (o, i) = (rest / c_in, rest % c_in);
        *v = total[((t * rows + o) * c_in + i) * l..][..l].iter().sum();
    }
    dw
}

/// `(first channel, channels)` of each register block of at most `max` channels: `ceil(n / max)`
/// blocks, sizes differing by at most one.
fn channel_blocks(n: usize, max: usize) -> Vec<(usize, usize)> {
    let count = n.div_ceil(max);
    let (base, extra) = (n / count, n % count);
    let mut start = 0;
    (0..count)
        .map(|b| {
            let size = base + usize::from(b < extra);
            start += size;
            (start - size, size)
        })
        .collect()
}

#[cfg(all(test, target_arch = "x86_64"))]
mod tests {
    use super::*;
    use crate::kernels::ConvGeom;

    /// A deterministic, sign-varying fill.
    fn fill(n: usize, seed: usize) -> Vec<f32> {
        (0..n)
            .map(|i| (((i * 7919 + seed * 104729) % 1009) as f32 / 1009.0 - 0.5) * 2.0)
            .collect()
    }

    /// `(y, dw)` by the definition, in f64: `y = conv(x, w) + b`, `dw` from `dy`.
    fn reference(d: &Dims, x: &[f32], w: &[f32], b: &[f32], dy: &[f32]) -> (Vec<f32>, Vec<f32>) {
        let [(pt, _), (pl, _)] = d.g.pad;
        let mut y = vec![0.0f32; d.n * d.c_out * d.oh * d.ow];
        let mut dw = vec![0.0f64; w.len()];
        for (n, o, r, c) in positions(d) {
            let at = ((n * d.c_out + o) * d.oh + r) * d.ow + c;
            let mut s = f64::from(b[o]);
            for i in 0..d.c_in {
                for u in 0..d.kh {
                    for v in 0..d.kw {
                        let (hr, wc) = (
                            (r + u) as isize - pt as isize,
                            (c + v) as isize - pl as isize,
                        );
                        if hr < 0 || wc < 0 || hr >= d.h as isize || wc >= d.w as isize {
                            continue;
                        }
                        let xv = f64::from(
                            x[((n * d.c_in + i) * d.h + hr as usize) * d.w + wc as usize],
                        );
                        let wi = ((o * d.c_in + i) * d.kh + u) * d.kw + v;
                        s += f64::from(w[wi]) * xv;
                        dw[wi] += f64::from(dy[at]) * xv;
                    }
                }
            }
            y[at] = s as f32;
        }
        (y, dw.into_iter().map(|v| v as f32).collect())
    }

    fn positions(d: &Dims) -> impl Iterator<Item = (usize, usize, usize, usize)> + use<> {
        let (n, co, oh, ow) = (d.n, d.c_out, d.oh, d.ow);
        (0..n * co * oh * ow)
            .map(move |j| (j / (co * oh * ow), j / (oh * ow) % co, j / ow % oh, j % ow))
    }

    fn close(what: &str, a: &[f32], b: &[f32]) {
        assert_eq!(a.len(), b.len(), "{what}: length");
        for (j, (a, b)) in a.iter().zip(b).enumerate() {
            assert!(
                (a - b).abs() <= 1e-4 * (1.0 + b.abs()),
                "{what}[{j}]: {a} vs {b}"
            );
        }
    }

    /// Both register-block sets (AVX2 everywhere this runs, AVX-512 where the CPU has it)
    /// against the definition: channel counts that leave partial blocks in both, uneven padding,
    /// a weight gradient over several passes.
    #[test]
    fn every_isa_matches_the_definition() {
        let geoms = [
            ([3, 7, 9, 11], [17, 7, 3, 3], [(1, 1), (1, 2)]),
            ([2, 3, 8, 8], [13, 3, 5, 5], [(2, 2), (2, 2)]),
            ([2, 25, 6, 5], [5, 25, 3, 3], [(1, 1), (1, 1)]),
            // 1056 wide positions: the weight gradient takes them in two passes.
            ([2, 3, 32, 32], [10, 3, 3, 3], [(1, 1), (1, 1)]),
        ];
        let mut isas = vec![Isa::Avx2];
        if std::arch::is_x86_feature_detected!("avx512f") {
            isas.push(Isa::Avx512);
        }
        if !cpu_has_avx2_fma() {
            return;
        }
        for (xs, ws, pad) in geoms {
            let g = ConvGeom {
                stride: [1, 1],
                pad,
                dilation: [1, 1],
                groups: 1,
            };
            let d = Dims::new(xs, ws, g);
            assert!(applies(&d));
            let (x, w) = (fill(xs.iter().product(), 1), fill(ws.iter().product(), 2));
            let (b, dy) = (fill(ws[0], 3), fill(d.n * d.c_out * d.oh * d.ow, 4));
            let (y_ref, dw_ref) = reference(&d, &x, &w, &b, &dy);
            for &isa in &isas {
                let src = Source {
                    x: &x,
                    n: d.n,
                    c: d.c_in,
                    hw: [d.h, d.w],
                    pad,
                };
                let (ci, kh, kw) = (d.c_in, d.kh, d.kw);
                let at =
                    |o: usize, i: usize, r: usize, c: usize| w[((o * ci + i) * kh + r) * kw + c];
                let y = correlate(isa, &src, d.c_out, [kh, kw], at, Some(&b));
                close(&format!("{isa:?} forward {xs:?} {ws:?}"), &y, &y_ref);
                let dw = grad_weight_with(isa, &d, &x, &dy);
                close(&format!("{isa:?} dw {xs:?} {ws:?}"), &dw, &dw_ref);
            }
        }
    }
}
