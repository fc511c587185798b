//! [`Shard`]: values that can be cut into row ranges and moved to a device (batch inputs and
//! targets under [`crate::DataParallel`]).

use duet_core::burn::tensor::{Device, Int, Tensor};
use std::ops::Range;

/// A batch value whose first axis is the example axis.
pub trait Shard: Clone + Send {
    /// Examples (rows along the first axis).
    fn rows(&self) -> usize;

    /// Rows `rows` on `device`.
    fn shard(&self, rows: Range<usize>, device: &Device) -> Self;

    /// `rows` of `self` when given (a replica's part of the batch), else all of it; on `device`.
    ///
    /// # Example
    /// ```
    /// use duet_core::burn::tensor::{Device, Int, Tensor};
    /// use duet_train::Shard;
    /// let dev = Device::flex();
    /// let labels = Tensor::<1, Int>::from_ints([3, 1, 4, 1], &dev);
    /// let part: Vec<i32> = labels.part(Some(1..3), &dev).into_data().convert::<i32>().into_vec().unwrap();
    /// assert_eq!(part, vec![1, 4]);
    /// assert_eq!(labels.part(None, &dev).dims(), [4]);
    /// ```
    fn part(&self, rows: Option<Range<usize>>, device: &Device) -> Self {
        match rows {
            Some(r) => self.shard(r, device),
            None => self.clone(),
        }
    }
}

impl<const D: usize> Shard for Tensor<D> {
    fn rows(&self) -> usize {
        self.dims()[0]
    }
    fn shard(&self, rows: Range<usize>, device: &Device) -> Self {
        self.clone().slice(rows).to_device(device)
    }
}

impl<const D: usize> Shard for Tensor<D, Int> {
    fn rows(&self) -> usize {
        self.dims()[0]
    }
    fn shard(&self, rows: Range<usize>, device: &Device) -> Self {
        self.clone().slice(rows).to_device(device)
    }
}

impl<A: Shard, B: Shard> Shard for (A, B) {
    fn rows(&self) -> usize {
        self.0.rows()
    }
    fn shard(&self, rows: Range<usize>, device: &Device) -> Self {
        (
            self.0.shard(rows.clone(), device),
            self.1.shard(rows, device),
        )
    }
}
