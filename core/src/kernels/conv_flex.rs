//! The `flex` convolution kernels: im2col + gemm in NCHW, parallel over images.

use super::{ConvGeom, FastCpuOps};
use burn::backend::flex::{FlexTensor, Layout};
use burn::backend::{Bytes, Flex};
use burn::tensor::{DType, Shape};
use gemm::{gemm, Parallelism};
use rayon::prelude::*;

/// Sizes of one convolution, shared by the forward and both gradient kernels.
#[derive(Clone, Copy)]
struct Dims {
    n: usize,
    c_in: usize,
    h: usize,
    w: usize,
    c_out: usize,
    kh: usize,
    kw: usize,
    oh: usize,
    ow: usize,
    g: ConvGeom,
}

impl Dims {
    fn new(x: [usize; 4], w: [usize; 4], g: ConvGeom) -> Self {
        assert_eq!(
            x[1],
            w[1] * g.groups,
            "conv2d: channels of x {x:?} and w {w:?}"
        );
        let (oh, ow) = (g.out_len(0, x[2], w[2]), g.out_len(1, x[3], w[3]));
        Dims {
            n: x[0],
            c_in: x[1],
            h: x[2],
            w: x[3],
            c_out: w[0],
            kh: w[2],
            kw: w[3],
            oh,
            ow,
            g,
        }
    }
    /// Output pixels per channel.
    fn p(&self) -> usize {
        self.oh * self.ow
    }
    /// Rows of one group's patch matrix: `C_in/groups * kH * kW`.
    fn kg(&self) -> usize {
        self.c_in / self.g.groups * self.kh * self.kw
    }
    fn cog(&self) -> usize {
        self.c_out / self.g.groups
    }
    /// Valid output columns `[lo, hi)` for kernel column `j`: those reading inside the input.
    fn col_range(&self, j: usize) -> (usize, usize) {
        let (s, off, pl) = (self.g.stride[1], j * self.g.dilation[1], self.g.pad[1].0);
        let lo = if pl > off { (pl - off).div_ceil(s) } else { 0 };
        let hi = if self.w + pl > off {
            (self.w + pl - off).div_ceil(s)
        } else {
            0
        };
        let hi = hi.min(self.ow);
        (lo.min(hi), hi)
    }
    /// Input row read by output row `o` and kernel row `i`, if inside the input.
    fn in_row(&self, o: usize, i: usize) -> Option<usize> {
        let r = (o * self.g.stride[0] + i * self.g.dilation[0]).checked_sub(self.g.pad[0].0)?;
        (r < self.h).then_some(r)
    }
    fn in_col(&self, o: usize, j: usize) -> usize {
        o * self.g.stride[1] + j * self.g.dilation[1] - self.g.pad[1].0
    }
}

/// Unfolds one image `[C_in, H, W]` into `col` `[C_in*kH*kW, H_out*W_out]`.
fn im2col(d: &Dims, x: &[f32], col: &mut [f32]) {
    let p = d.p();
    for c in 0..d.c_in {
        let plane = &x[c * d.h * d.w..][..d.h * d.w];
        for i in 0..d.kh {
            for j in 0..d.kw {
                let row = &mut col[((c * d.kh + i) * d.kw + j) * p..][..p];
                let (lo, hi) = d.col_range(j);
                for o in 0..d.oh {
                    let dst = &mut row[o * d.ow..][..d.ow];
                    let Some(r) = d.in_row(o, i) else {
                        dst.fill(0.0);
                        continue;
                    };
                    let src = &plane[r * d.w..][..d.w];
                    dst[..lo].fill(0.0);
                    dst[hi..].fill(0.0);
                    if lo == hi {
                        continue;
                    }
                    if d.g.stride[1] == 1 {
                        let start = d.in_col(lo, j);
                        dst[lo..hi].copy_from_slice(&src[start..start + hi - lo]);
                    } else {
                        for (oc, v) in dst[lo..hi].iter_mut().enumerate() {
                            *v = src[d.in_col(lo + oc, j)];
                        }
                    }
                }
            }
        }
    }
}

/// Adds the columns of `col` `[C_in*kH*kW, H_out*W_out]` back onto image `dx` `[C_in, H, W]`.
fn col2im(d: &Dims, col: &[f32], dx: &mut [f32]) {
    let p = d.p();
    for c in 0..d.c_in {
        let plane = &mut dx[c * d.h * d.w..][..d.h * d.w];
        for i in 0..d.kh {
            for j in 0..d.kw {
                let row = &col[((c * d.kh + i) * d.kw + j) * p..][..p];
                let (lo, hi) = d.col_range(j);
                if lo == hi {
                    continue;
                }
                for o in 0..d.oh {
                    let Some(r) = d.in_row(o, i) else { continue };
                    let src = &row[o * d.ow..][..d.ow];
                    let dst = &mut plane[r * d.w..][..d.w];
                    if d.g.stride[1] == 1 {
                        let start = d.in_col(lo, j);
                        for (a, b) in dst[start..start + hi - lo].iter_mut().zip(&src[lo..hi]) {
                            *a += b;
                        }
                    } else {
                        for oc in lo..hi {
                            dst[d.in_col(oc, j)] += src[oc];
                        }
                    }
                }
            }
        }
    }
}

/// Row-major `dst[m, n] (+)= lhs[m, k] @ rhs[k, n]` with explicit (row, column) strides.
#[allow(clippy::too_many_arguments)]
fn matmul(
    (m, n, k): (usize, usize, usize),
    dst: &mut [f32],
    dst_rs: usize,
    accumulate: bool,
    lhs: &[f32],
    (lhs_rs, lhs_cs): (usize, usize),
    rhs: &[f32],
    (rhs_rs, rhs_cs): (usize, usize),
) {
    // Bounds of every element the call touches, checked once so the raw-pointer call is sound.
    assert!(m == 0 || n == 0 || (m - 1) * dst_rs + n <= dst.len());
    assert!(m == 0 || k == 0 || (m - 1) * lhs_rs + (k - 1) * lhs_cs < lhs.len());
    assert!(k == 0 || n == 0 || (k - 1) * rhs_rs + (n - 1) * rhs_cs < rhs.len());
    // SAFETY: the asserts above keep every index inside the three slices; `dst` is borrowed
    // mutably so it aliases neither input.
    unsafe {
        gemm(
            m,
            n,
            k,
            dst.as_mut_ptr(),
            1,
            dst_rs as isize,
            accumulate,
            lhs.as_ptr(),
            lhs_cs as isize,
            lhs_rs as isize,
            rhs.as_ptr(),
            rhs_cs as isize,
            rhs_rs as isize,
            1.0,
            1.0,
            false,
            false,
            false,
            Parallelism::None,
        )
    }
}

pub(super) fn f32_data(t: &FlexTensor) -> (FlexTensor, [usize; 4]) {
    let t = t.to_contiguous();
    let s = t.layout().shape();
    let dims = [s[0], s[1], s[2], s[3]];
    (t, dims)
}

pub(super) fn slice(t: &FlexTensor) -> &[f32] {
    t.as_slice::<f32>().expect("contiguous f32 tensor")
}

pub(super) fn tensor(data: Vec<f32>, shape: Vec<usize>) -> FlexTensor {
    FlexTensor::new(
        Bytes::from_elems(data),
        Layout::contiguous(Shape::from(shape)),
        DType::F32,
    )
}

fn forward(d: &Dims, x: &[f32], w: &[f32], b: &[f32]) -> Vec<f32> {
    let (p, kg, cog) = (d.p(), d.kg(), d.cog());
    let mut out = vec![0.0f32; d.n * d.c_out * p];
    let in_img = d.c_in * d.h * d.w;
    out.par_chunks_mut(d.c_out * p).enumerate().for_each_init(
        || vec![0.0f32; kg * d.g.groups * p],
        |col, (img, y)| {
            im2col(d, &x[img * in_img..][..in_img], col);
            for (o, row) in y.chunks_mut(p).enumerate() {
                row.fill(b[o]);
            }
            for g in 0..d.g.groups {
                matmul(
                    (cog, p, kg),
                    &mut y[g * cog * p..],
                    p,
                    true,
                    &w[g * cog * kg..],
                    (kg, 1),
                    &col[g * kg * p..],
                    (p, 1),
                );
            }
        },
    );
    out
}

fn grad_input(d: &Dims, w: &[f32], dy: &[f32]) -> Vec<f32> {
    let (p, kg, cog) = (d.p(), d.kg(), d.cog());
    let in_img = d.c_in * d.h * d.w;
    let mut dx = vec![0.0f32; d.n * in_img];
    dx.par_chunks_mut(in_img).enumerate().for_each_init(
        || vec![0.0f32; kg * d.g.groups * p],
        |col, (img, dxi)| {
            let dyi = &dy[img * d.c_out * p..][..d.c_out * p];
            for g in 0..d.g.groups {
                matmul(
                    (kg, p, cog),
                    &mut col[g * kg * p..],
                    p,
                    false,
                    &w[g * cog * kg..],
                    (1, kg),
                    &dyi[g * cog * p..],
                    (p, 1),
                );
            }
            col2im(d, col, dxi);
        },
    );
    dx
}

fn grad_weight(d: &Dims, x: &[f32], dy: &[f32]) -> Vec<f32> {
    let (p, kg, cog) = (d.p(), d.kg(), d.cog());
    let in_img = d.c_in * d.h * d.w;
    let size = d.c_out * kg;
    let chunks = rayon::current_num_threads().clamp(1, d.n.max(1));
    let per = d.n.div_ceil(chunks);
    (0..chunks)
        .into_par_iter()
        .map(|t| {
            let mut acc = vec![0.0f32; size];
            let mut col = vec![0.0f32; kg * d.g.groups * p];
            for img in t * per..((t + 1) * per).min(d.n) {
                im2col(d, &x[img * in_img..][..in_img], &mut col);
                let dyi = &dy[img * d.c_out * p..][..d.c_out * p];
                for g in 0..d.g.groups {
                    matmul(
                        (cog, kg, p),
                        &mut acc[g * cog * kg..],
                        kg,
                        true,
                        &dyi[g * cog * p..],
                        (p, 1),
                        &col[g * kg * p..],
                        (1, p),
                    );
                }
            }
            acc
        })
        .reduce(
            || vec![0.0f32; size],
            |mut a, b| {
                a.iter_mut().zip(&b).for_each(|(a, b)| *a += b);
                a
            },
        )
}

impl FastCpuOps for Flex {
    fn fast_conv2d(x: FlexTensor, w: FlexTensor, b: FlexTensor, geom: ConvGeom) -> FlexTensor {
        let ((x, xs), (w, ws)) = (f32_data(&x), f32_data(&w));
        let b = b.to_contiguous();
        let d = Dims::new(xs, ws, geom);
        let out = forward(&d, slice(&x), slice(&w), slice(&b));
        tensor(out, vec![d.n, d.c_out, d.oh, d.ow])
    }

    fn fast_conv2d_dx(
        w: FlexTensor,
        dy: FlexTensor,
        geom: ConvGeom,
        in_hw: [usize; 2],
    ) -> FlexTensor {
        let ((w, ws), (dy, ys)) = (f32_data(&w), f32_data(&dy));
        let d = Dims::new([ys[0], ws[1] * geom.groups, in_hw[0], in_hw[1]], ws, geom);
        assert_eq!([d.oh, d.ow], [ys[2], ys[3]], "conv2d dx: output size");
        let dx = grad_input(&d, slice(&w), slice(&dy));
        tensor(dx, vec![d.n, d.c_in, d.h, d.w])
    }

    fn fast_conv2d_dw(
        x: FlexTensor,
        dy: FlexTensor,
        geom: ConvGeom,
        k_hw: [usize; 2],
    ) -> FlexTensor {
        let ((x, xs), (dy, ys)) = (f32_data(&x), f32_data(&dy));
        let ws = [ys[1], xs[1] / geom.groups, k_hw[0], k_hw[1]];
        let d = Dims::new(xs, ws, geom);
        assert_eq!([d.oh, d.ow], [ys[2], ys[3]], "conv2d dw: output size");
        tensor(grad_weight(&d, slice(&x), slice(&dy)), ws.to_vec())
    }

    fn fast_conv2d_db(dy: FlexTensor) -> FlexTensor {
        let (dy, ys) = f32_data(&dy);
        let (c, p) = (ys[1], ys[2] * ys[3]);
        let mut db = vec![0.0f32; c];
        for img in slice(&dy).chunks(c * p) {
            for (acc, plane) in db.iter_mut().zip(img.chunks(p)) {
                *acc += plane.iter().sum::<f32>();
            }
        }
        tensor(db, vec![c])
    }

    fn fast_max_pool2d(x: FlexTensor, kernel: [usize; 2], stride: [usize; 2]) -> FlexTensor {
        super::pool_flex::max_pool2d(x, kernel, stride)
    }

    fn fast_max_pool2d_backward(
        x: FlexTensor,
        dy: FlexTensor,
        kernel: [usize; 2],
        stride: [usize; 2],
    ) -> FlexTensor {
        super::pool_flex::max_pool2d_backward(x, dy, kernel, stride)
    }
}
