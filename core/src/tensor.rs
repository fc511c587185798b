//! [`DynTensor`]: a float tensor whose rank is known at run time.
//!
//! burn's `Tensor<D>` carries its rank in the type. A parameter tree holds tensors of every rank in
//! one map (a conv kernel is rank 4, its bias rank 1), so its leaves are rank-erased. Casting back
//! to `Tensor<D>` is free (no op is recorded, no data moves): the rank is checked and the same
//! bridge tensor is rewrapped.
//!
//! The element-wise maths an optimizer needs (`+ - * /` with tensors and scalars, `sqrt`, `abs`,
//! ...) is available directly on `DynTensor`, so update rules read like the formulas and stay
//! independent of the rank.

use burn::tensor::{Device, Gradients, Tensor, TensorData};
use std::ops::{Add, Div, Mul, Neg, Sub};

/// The highest rank a [`DynTensor`] can hold.
pub const MAX_RANK: usize = 6;

#[derive(Clone, Debug)]
enum Inner {
    R1(Tensor<1>),
    R2(Tensor<2>),
    R3(Tensor<3>),
    R4(Tensor<4>),
    R5(Tensor<5>),
    R6(Tensor<6>),
}

/// A float tensor of any rank from 1 to [`MAX_RANK`]: the leaf of a [`Params`](crate::Params) tree.
///
/// # Shapes
/// Any shape of rank 1 to 6. Scalars are stored as `[1]`.
///
/// # Example
/// ```
/// use duet_core::{burn::tensor::{Device, Tensor}, DynTensor};
/// let dev = Device::flex();
/// let w = DynTensor::from(Tensor::<2>::from_floats([[1.0, -4.0], [9.0, 16.0]], &dev));
/// assert_eq!(w.dims(), vec![2, 2]);
/// let y = (w.abs().sqrt() * 2.0 + 1.0).to_vec();
/// assert_eq!(y, vec![3.0, 5.0, 7.0, 9.0]);
/// ```
#[derive(Clone, Debug)]
pub struct DynTensor(Inner);

/// Applies `$f` (an expression over `$t: Tensor<D>` returning `Tensor<D>`) whatever the rank.
macro_rules! each_rank {
    ($x:expr, |$t:ident| $f:expr) => {
        match $x {
            Inner::R1($t) => Inner::R1($f),
            Inner::R2($t) => Inner::R2($f),
            Inner::R3($t) => Inner::R3($f),
            Inner::R4($t) => Inner::R4($f),
            Inner::R5($t) => Inner::R5($f),
            Inner::R6($t) => Inner::R6($f),
        }
    };
}

/// Like `each_rank!` but for expressions that do not return a tensor of the same rank.
macro_rules! read_rank {
    ($x:expr, |$t:ident| $f:expr) => {
        match $x {
            Inner::R1($t) => $f,
            Inner::R2($t) => $f,
            Inner::R3($t) => $f,
            Inner::R4($t) => $f,
            Inner::R5($t) => $f,
            Inner::R6($t) => $f,
        }
    };
}

/// Applies a binary op to two tensors of the same rank. Panics with both shapes otherwise.
macro_rules! zip_rank {
    ($a:expr, $b:expr, $op:literal, |$x:ident, $y:ident| $f:expr) => {
        match ($a, $b) {
            (Inner::R1($x), Inner::R1($y)) => Inner::R1($f),
            (Inner::R2($x), Inner::R2($y)) => Inner::R2($f),
            (Inner::R3($x), Inner::R3($y)) => Inner::R3($f),
            (Inner::R4($x), Inner::R4($y)) => Inner::R4($f),
            (Inner::R5($x), Inner::R5($y)) => Inner::R5($f),
            (Inner::R6($x), Inner::R6($y)) => Inner::R6($f),
            (a, b) => panic!(
                "DynTensor::{}: rank mismatch, {:?} vs {:?}",
                $op,
                DynTensor(a).dims(),
                DynTensor(b).dims()
            ),
        }
    };
}

/// Reinterprets a `Tensor<A>` as `Tensor<B>`; the caller has checked that `A == B`.
fn recast<const A: usize, const B: usize>(t: Tensor<A>) -> Tensor<B> {
    debug_assert_eq!(A, B);
    Tensor::from_bridge(t.into_bridge())
}

impl<const D: usize> From<Tensor<D>> for DynTensor {
    /// Wraps a tensor. Panics for rank 0 or a rank above [`MAX_RANK`].
    fn from(t: Tensor<D>) -> Self {
        DynTensor(match D {
            1 => Inner::R1(recast(t)),
            2 => Inner::R2(recast(t)),
            3 => Inner::R3(recast(t)),
            4 => Inner::R4(recast(t)),
            5 => Inner::R5(recast(t)),
            6 => Inner::R6(recast(t)),
            _ => panic!("DynTensor holds ranks 1..={MAX_RANK}, got rank {D}"),
        })
    }
}

impl DynTensor {
    /// Builds a tensor from host data (any rank 1..=6) on `device`.
    ///
    /// # Shapes
    /// The shape of `data`.
    pub fn from_data(data: TensorData, device: &Device) -> Self {
        match data.shape().num_dims() {
            1 => Tensor::<1>::from_data(data, device).into(),
            2 => Tensor::<2>::from_data(data, device).into(),
            3 => Tensor::<3>::from_data(data, device).into(),
            4 => Tensor::<4>::from_data(data, device).into(),
            5 => Tensor::<5>::from_data(data, device).into(),
            6 => Tensor::<6>::from_data(data, device).into(),
            r => panic!("DynTensor holds ranks 1..={MAX_RANK}, got rank {r}"),
        }
    }

    /// Builds a float32 tensor from values and a shape.
    ///
    /// Panics if `values.len()` is not the product of `shape`.
    pub fn from_floats(values: Vec<f32>, shape: &[usize], device: &Device) -> Self {
        Self::from_data(TensorData::new(values, shape.to_vec()), device)
    }

    /// A tensor of zeros with the given shape.
    pub fn zeros(shape: &[usize], device: &Device) -> Self {
        Self::from_data(TensorData::zeros::<f32, _>(shape.to_vec()), device)
    }

    /// The rank (number of dimensions).
    pub fn rank(&self) -> usize {
        read_rank!(&self.0, |t| t.dims().len())
    }

    /// The shape.
    pub fn dims(&self) -> Vec<usize> {
        read_rank!(&self.0, |t| t.dims().to_vec())
    }

    /// The number of elements (the product of the shape).
    pub fn num_elements(&self) -> usize {
        self.dims().iter().product()
    }

    /// The element type (`F32` unless the tensor was cast).
    pub fn dtype(&self) -> burn::tensor::DType {
        read_rank!(&self.0, |t| t.dtype())
    }

    /// The device the tensor lives on.
    pub fn device(&self) -> Device {
        read_rank!(&self.0, |t| t.device())
    }

    /// Returns the tensor as `Tensor<D>`, or `None` if its rank is not `D`. Free: no op is recorded.
    pub fn try_into_rank<const D: usize>(self) -> Option<Tensor<D>> {
        if self.rank() != D {
            return None;
        }
        Some(read_rank!(self.0, |t| recast::<_, D>(t)))
    }

    /// Like [`try_into_rank`](Self::try_into_rank), panicking with both ranks on a mismatch.
    pub fn into_rank<const D: usize>(self) -> Tensor<D> {
        let dims = self.dims();
        self.try_into_rank::<D>()
            .unwrap_or_else(|| panic!("expected a rank-{D} tensor, found shape {dims:?}"))
    }

    /// The values flattened to a rank-1 tensor (row-major).
    ///
    /// # Shapes
    /// `[...] -> [num_elements]`
    pub fn flatten(self) -> Tensor<1> {
        let n = self.num_elements();
        read_rank!(self.0, |t| t.reshape([n]))
    }

    /// Applies `f` to the flattened values and restores the shape. `f` must keep the length.
    ///
    /// This is the escape hatch for any burn op that is not mirrored on `DynTensor`.
    pub fn map_flat(self, f: impl FnOnce(Tensor<1>) -> Tensor<1>) -> Self {
        let dims = self.dims();
        let flat = f(self.flatten());
        assert_eq!(
            flat.dims()[0],
            dims.iter().product::<usize>(),
            "map_flat changed the length"
        );
        Self::reshape_flat(flat, &dims)
    }

    /// Reshapes to `dims` (same number of elements, row-major order kept).
    ///
    /// # Shapes
    /// `[...] -> dims`
    pub fn reshape(self, dims: &[usize]) -> Self {
        let n = self.num_elements();
        assert_eq!(
            n,
            dims.iter().product::<usize>(),
            "DynTensor::reshape: {:?} to {dims:?}",
            self.dims()
        );
        Self::reshape_flat(self.flatten(), dims)
    }

    fn reshape_flat(flat: Tensor<1>, dims: &[usize]) -> Self {
        match *dims {
            [a] => flat.reshape([a]).into(),
            [a, b] => flat.reshape([a, b]).into(),
            [a, b, c] => flat.reshape([a, b, c]).into(),
            [a, b, c, d] => flat.reshape([a, b, c, d]).into(),
            [a, b, c, d, e] => flat.reshape([a, b, c, d, e]).into(),
            [a, b, c, d, e, f] => flat.reshape([a, b, c, d, e, f]).into(),
            _ => panic!("DynTensor holds ranks 1..={MAX_RANK}, got shape {dims:?}"),
        }
    }

    /// Copies the values to the host.
    pub fn to_data(&self) -> TensorData {
        read_rank!(&self.0, |t| t.to_data())
    }

    /// Moves the values to the host (without a copy on the CPU backend when this is the only
    /// handle to the buffer).
    ///
    /// # Example
    /// ```
    /// use duet_core::{burn::tensor::{Device, Tensor}, DynTensor};
    /// let t = DynTensor::from(Tensor::<2>::from_floats([[1.0, 2.0], [3.0, 4.0]], &Device::flex()));
    /// let data = t.into_data();
    /// assert_eq!(data.shape().dims(), [2, 2]);
    /// assert_eq!(data.as_slice::<f32>().unwrap(), [1.0, 2.0, 3.0, 4.0]);
    /// ```
    pub fn into_data(self) -> TensorData {
        read_rank!(self.0, |t| t.into_data())
    }

    /// Copies the values to the host as `f32`, row-major.
    pub fn to_vec(&self) -> Vec<f32> {
        self.to_data()
            .convert::<f32>()
            .try_to_vec::<f32>()
            .expect("float tensor")
    }

    /// Moves the tensor to `device` (a copy when the device differs).
    pub fn to_device(self, device: &Device) -> Self {
        DynTensor(each_rank!(self.0, |t| t.to_device(device)))
    }

    /// Starts a new autodiff lineage (see burn's `Tensor::detach`).
    pub fn detach(self) -> Self {
        DynTensor(each_rank!(self.0, |t| t.detach()))
    }

    /// Drops the autodiff association: later ops on it are not recorded.
    pub fn without_autodiff(self) -> Self {
        DynTensor(each_rank!(self.0, |t| t.without_autodiff()))
    }

    /// A fresh autodiff leaf that retains its gradient (used by [`crate::value_and_grad`]).
    pub fn as_grad_leaf(self) -> Self {
        DynTensor(each_rank!(self.0, |t| t.autodiff().detach().require_grad()))
    }

    /// Removes and returns this leaf's gradient from `grads` (plain, no autodiff association).
    pub fn grad_remove(&self, grads: &mut Gradients) -> Option<DynTensor> {
        read_rank!(&self.0, |t| t.grad_remove(grads).map(DynTensor::from))
    }

    /// Concatenates tensors of the same rank along `axis`.
    ///
    /// # Shapes
    /// `[.., a_i, ..]` for each input -> `[.., sum a_i, ..]`. Panics on mismatched ranks or an
    /// axis out of range, naming the shapes.
    pub fn cat(tensors: Vec<DynTensor>, axis: usize) -> DynTensor {
        let rank = tensors.first().expect("cat: no tensors").rank();
        let shapes: Vec<Vec<usize>> = tensors.iter().map(DynTensor::dims).collect();
        assert!(
            axis < rank && shapes.iter().all(|s| s.len() == rank),
            "cat: axis {axis} for shapes {shapes:?}"
        );
        fn go<const D: usize>(ts: Vec<DynTensor>, axis: usize) -> DynTensor {
            Tensor::cat(ts.into_iter().map(|t| t.into_rank::<D>()).collect(), axis).into()
        }
        match rank {
            1 => go::<1>(tensors, axis),
            2 => go::<2>(tensors, axis),
            3 => go::<3>(tensors, axis),
            4 => go::<4>(tensors, axis),
            5 => go::<5>(tensors, axis),
            _ => go::<6>(tensors, axis),
        }
    }

    /// Element-wise square root.
    pub fn sqrt(self) -> Self {
        DynTensor(each_rank!(self.0, |t| t.sqrt()))
    }

    /// Element-wise square.
    pub fn square(self) -> Self {
        DynTensor(each_rank!(self.0, |t| t.square()))
    }

    /// Element-wise absolute value.
    pub fn abs(self) -> Self {
        DynTensor(each_rank!(self.0, |t| t.abs()))
    }

    /// Element-wise sign (-1, 0 or 1).
    pub fn sign(self) -> Self {
        DynTensor(each_rank!(self.0, |t| t.sign()))
    }

    /// Element-wise `x^p`.
    pub fn powf_scalar(self, p: f32) -> Self {
        DynTensor(each_rank!(self.0, |t| t.powf_scalar(p)))
    }

    /// Element-wise clamp to `[lo, hi]`.
    pub fn clamp(self, lo: f32, hi: f32) -> Self {
        DynTensor(each_rank!(self.0, |t| t.clamp(lo, hi)))
    }

    /// Element-wise maximum of two tensors of the same shape.
    pub fn max_pair(self, other: DynTensor) -> Self {
        DynTensor(zip_rank!(self.0, other.0, "max_pair", |a, b| a.max_pair(b)))
    }

    /// A tensor of zeros with this shape and device.
    pub fn zeros_like(&self) -> Self {
        DynTensor(each_rank!(&self.0, |t| t.zeros_like()))
    }

    /// A tensor filled with `value`, with this shape and device.
    pub fn full_like(&self, value: f32) -> Self {
        DynTensor(each_rank!(&self.0, |t| t.full_like(value)))
    }

    /// The sum of all elements, as a one-element tensor (stays on the device).
    ///
    /// # Shapes
    /// `[...] -> [1]`
    pub fn sum(self) -> Tensor<1> {
        self.flatten().sum()
    }

    /// The sum of squares of all elements, as a one-element tensor: `sum(x^2)`.
    ///
    /// # Shapes
    /// `[...] -> [1]`
    pub fn sum_squares(self) -> Tensor<1> {
        self.flatten().square().sum()
    }

    /// Multiplies by a one-element tensor (a device scalar), broadcasting it. No host round trip.
    ///
    /// # Shapes
    /// `self: [...]`, `s: [1]` -> `[...]`
    pub fn mul_scalar_tensor(self, s: Tensor<1>) -> Self {
        DynTensor(each_rank!(self.0, |t| t.mul(broadcast_scalar(s.clone()))))
    }
}

/// Turns a `[1]` tensor into `[1, 1, ..., 1]` of rank `D`, for broadcasting.
fn broadcast_scalar<const D: usize>(s: Tensor<1>) -> Tensor<D> {
    s.reshape([1; D])
}

macro_rules! binary_op {
    ($trait:ident, $method:ident, $scalar:ident, $name:literal) => {
        impl $trait<DynTensor> for DynTensor {
            type Output = DynTensor;
            fn $method(self, rhs: DynTensor) -> DynTensor {
                DynTensor(zip_rank!(self.0, rhs.0, $name, |a, b| a.$method(b)))
            }
        }
        impl $trait<f32> for DynTensor {
            type Output = DynTensor;
            fn $method(self, rhs: f32) -> DynTensor {
                DynTensor(each_rank!(self.0, |t| t.$scalar(rhs)))
            }
        }
    };
}

binary_op!(Add, add, add_scalar, "add");
binary_op!(Sub, sub, sub_scalar, "sub");
binary_op!(Mul, mul, mul_scalar, "mul");
binary_op!(Div, div, div_scalar, "div");

impl Neg for DynTensor {
    type Output = DynTensor;
    fn neg(self) -> DynTensor {
        DynTensor(each_rank!(self.0, |t| t.neg()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rank_cast_round_trip_and_mismatch() {
        let dev = Device::flex();
        let t = DynTensor::from(Tensor::<3>::ones([2, 3, 4], &dev));
        assert_eq!(t.rank(), 3);
        assert_eq!(t.num_elements(), 24);
        assert!(t.clone().try_into_rank::<2>().is_none());
        assert_eq!(t.into_rank::<3>().dims(), [2, 3, 4]);
    }

    #[test]
    fn arithmetic_matches_hand_values() {
        let dev = Device::flex();
        let a = DynTensor::from_floats(vec![1.0, 2.0, 3.0, 4.0], &[2, 2], &dev);
        let b = DynTensor::from_floats(vec![4.0, 3.0, 2.0, 1.0], &[2, 2], &dev);
        assert_eq!((a.clone() + b.clone()).to_vec(), vec![5.0; 4]);
        assert_eq!((a.clone() * b.clone()).to_vec(), vec![4.0, 6.0, 6.0, 4.0]);
        assert_eq!((a.clone() - 1.0).to_vec(), vec![0.0, 1.0, 2.0, 3.0]);
        assert_eq!(a.clone().max_pair(b).to_vec(), vec![4.0, 3.0, 3.0, 4.0]);
        assert_eq!(a.clone().sum_squares().into_scalar::<f32>(), 30.0);
        let s = Tensor::<1>::from_floats([0.5], &dev);
        assert_eq!(a.mul_scalar_tensor(s).to_vec(), vec![0.5, 1.0, 1.5, 2.0]);
    }

    #[test]
    #[should_panic(expected = "rank mismatch")]
    fn binary_op_rank_mismatch_names_shapes() {
        let dev = Device::flex();
        let a = DynTensor::zeros(&[2, 2], &dev);
        let b = DynTensor::zeros(&[4], &dev);
        let _ = a + b;
    }
}
