//! The system's OpenBLAS for large single products (feature `openblas`): `cblas_sgemm` on
//! row-major operands given by (row, column) strides, one of which must be 1.
//!
//! OpenBLAS picks its kernels when the library loads, from `OPENBLAS_CORETYPE` or its own CPU
//! detection; [`core_name`] reports the choice.

// Links the system library (`libopenblas-dev` on Debian, `openblas` on Homebrew).
#[link(name = "openblas")]
unsafe extern "C" {
    fn openblas_get_corename() -> *const std::ffi::c_char;
}

/// The kernels OpenBLAS chose when it loaded (`"SkylakeX"`, `"Haswell"`, ...).
pub fn core_name() -> String {
    // SAFETY: OpenBLAS returns a pointer to a static NUL-terminated string.
    unsafe { std::ffi::CStr::from_ptr(openblas_get_corename()) }
        .to_string_lossy()
        .into_owned()
}

/// `(transpose, leading dimension)` of a row-major operand with strides `(rs, cs)`, if BLAS can
/// read it in place (one stride 1).
fn layout(
    (rs, cs): (usize, usize),
    (rows, cols): (usize, usize),
) -> Option<(cblas_sys::CBLAS_TRANSPOSE, i32)> {
    use cblas_sys::CBLAS_TRANSPOSE::{CblasNoTrans, CblasTrans};
    let ld = |s: usize| i32::try_from(s).ok();
    if cs == 1 && rs >= cols.max(1) {
        Some((CblasNoTrans, ld(rs)?))
    } else if rs == 1 && cs >= rows.max(1) {
        Some((CblasTrans, ld(cs)?))
    } else {
        None
    }
}

/// `dst[m, n] (+)= lhs[m, k] rhs[k, n]` through `cblas_sgemm`, or `false` (nothing done) when
/// the strides or sizes do not fit BLAS's interface. `dst` may be uninitialized unless
/// `accumulate` (with `beta = 0` BLAS writes `dst` without reading it).
pub(super) fn sgemm(
    (m, n, k): (usize, usize, usize),
    dst: &mut [std::mem::MaybeUninit<f32>],
    accumulate: bool,
    (lhs, ls): (&[f32], (usize, usize)),
    (rhs, rs): (&[f32], (usize, usize)),
) -> bool {
    let (Some((ta, lda)), Some((tb, ldb))) = (layout(ls, (m, k)), layout(rs, (k, n))) else {
        return false;
    };
    let (Ok(mi), Ok(ni), Ok(ki)) = (i32::try_from(m), i32::try_from(n), i32::try_from(k)) else {
        return false;
    };
    assert!(dst.len() >= m * n);
    assert!(m == 0 || k == 0 || (m - 1) * ls.0 + (k - 1) * ls.1 < lhs.len());
    assert!(k == 0 || n == 0 || (k - 1) * rs.0 + (n - 1) * rs.1 < rhs.len());
    let beta = if accumulate { 1.0 } else { 0.0 };
    // SAFETY: the asserts keep every element BLAS reads or writes inside the slices; `dst` is
    // borrowed mutably, so it aliases neither input.
    unsafe {
        cblas_sys::cblas_sgemm(
            cblas_sys::CBLAS_LAYOUT::CblasRowMajor,
            ta,
            tb,
            mi,
            ni,
            ki,
            1.0,
            lhs.as_ptr(),
            lda,
            rhs.as_ptr(),
            ldb,
            beta,
            dst.as_mut_ptr().cast::<f32>(),
            ni.max(1),
        );
    }
    true
}
