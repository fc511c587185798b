//! Autodiff for the fast kernels: hand-written backward steps registered in burn's graph.
//!
//! Each forward checkpoints the inputs its gradient needs (burn's checkpointer keeps or
//! recomputes them) and the backward step calls the `flex` gradient kernels. Gradient kernels
//! called on an autodiff tensor are not tracked (no double backward).

use super::backward::{
    AttentionBackward, BatchNormBackward, ConvBackward, DenseBackward, LayerNormBackward,
    MaxPoolBackward, PoolSelectBackward, UnaryBackward,
};
use super::{AttentionSpec, ConvGeom, FastCpuOps, Unary};
use burn::backend::autodiff::checkpoint::strategy::CheckpointStrategy;
use burn::backend::autodiff::ops::{Backward, OpsKind};
use burn::backend::tensor::FloatTensor;
use burn::backend::{Autodiff, AutodiffBackend, TensorMetadata};

type Ad<B, C> = Autodiff<B, C>;

fn untracked<B: FastCpuOps, C: CheckpointStrategy>(t: FloatTensor<B>) -> FloatTensor<Ad<B, C>> {
    <Ad<B, C> as AutodiffBackend>::from_inner(t)
}

impl<B: FastCpuOps, C: CheckpointStrategy> FastCpuOps for Autodiff<B, C> {
    fn fast_conv2d(
        x: FloatTensor<Self>,
        w: FloatTensor<Self>,
        b: FloatTensor<Self>,
        geom: ConvGeom,
    ) -> FloatTensor<Self> {
        let (xs, ws) = (x.primitive().shape(), w.primitive().shape());
        let sizes = ([xs[2], xs[3]], [ws[2], ws[3]]);
        let prep = ConvBackward.prepare::<C>([x.node(), w.node(), b.node()]);
        match prep.compute_bound().stateful() {
            OpsKind::Tracked(mut prep) => {
                let (xid, wid) = (prep.checkpoint(&x), prep.checkpoint(&w));
                let out = B::fast_conv2d(
                    x.into_primitive(),
                    w.into_primitive(),
                    b.into_primitive(),
                    geom,
                );
                prep.finish((xid, wid, geom, sizes.0, sizes.1), out)
            }
            OpsKind::UnTracked(prep) => prep.finish(B::fast_conv2d(
                x.into_primitive(),
                w.into_primitive(),
                b.into_primitive(),
                geom,
            )),
        }
    }

    fn fast_conv2d_dx(
        w: FloatTensor<Self>,
        dy: FloatTensor<Self>,
        geom: ConvGeom,
        in_hw: [usize; 2],
    ) -> FloatTensor<Self> {
        untracked::<B, C>(B::fast_conv2d_dx(
            w.into_primitive(),
            dy.into_primitive(),
            geom,
            in_hw,
        ))
    }

    fn fast_conv2d_dw(
        x: FloatTensor<Self>,
        dy: FloatTensor<Self>,
        geom: ConvGeom,
        k_hw: [usize; 2],
    ) -> FloatTensor<Self> {
        untracked::<B, C>(B::fast_conv2d_dw(
            x.into_primitive(),
            dy.into_primitive(),
            geom,
            k_hw,
        ))
    }

    fn fast_conv2d_db(dy: FloatTensor<Self>) -> FloatTensor<Self> {
        untracked::<B, C>(B::fast_conv2d_db(dy.into_primitive()))
    }

    fn fast_max_pool2d(
        x: FloatTensor<Self>,
        kernel: [usize; 2],
        stride: [usize; 2],
    ) -> FloatTensor<Self> {
        match MaxPoolBackward
            .prepare::<C>([x.node()])
            .compute_bound()
            .stateful()
        {
            OpsKind::Tracked(mut prep) => {
                let xid = prep.checkpoint(&x);
                let out = B::fast_max_pool2d(x.into_primitive(), kernel, stride);
                prep.finish((xid, kernel, stride), out)
            }
            OpsKind::UnTracked(prep) => {
                prep.finish(B::fast_max_pool2d(x.into_primitive(), kernel, stride))
            }
        }
    }

    fn fast_max_pool2d_backward(
        x: FloatTensor<Self>,
        dy: FloatTensor<Self>,
        kernel: [usize; 2],
        stride: [usize; 2],
    ) -> FloatTensor<Self> {
        untracked::<B, C>(B::fast_max_pool2d_backward(
            x.into_primitive(),
            dy.into_primitive(),
            kernel,
            stride,
        ))
    }

    fn fast_max_pool2d_select(
        x: FloatTensor<Self>,
        t: FloatTensor<Self>,
        kernel: [usize; 2],
        stride: [usize; 2],
    ) -> FloatTensor<Self> {
        let x = x.into_primitive();
        match PoolSelectBackward
            .prepare::<C>([t.node()])
            .compute_bound()
            .stateful()
        {
            OpsKind::Tracked(prep) => {
                let y = B::fast_max_pool2d_select(x.clone(), t.into_primitive(), kernel, stride);
                prep.finish((x, kernel, stride), y)
            }
            OpsKind::UnTracked(prep) => prep.finish(B::fast_max_pool2d_select(
                x,
                t.into_primitive(),
                kernel,
                stride,
            )),
        }
    }

    fn fast_conv2d_per_example_dw(
        x: FloatTensor<Self>,
        dy: FloatTensor<Self>,
        geom: ConvGeom,
        k_hw: [usize; 2],
    ) -> FloatTensor<Self> {
        untracked::<B, C>(B::fast_conv2d_per_example_dw(
            x.into_primitive(),
            dy.into_primitive(),
            geom,
            k_hw,
        ))
    }

    fn fast_dense(
        x: FloatTensor<Self>,
        w: FloatTensor<Self>,
        b: FloatTensor<Self>,
    ) -> FloatTensor<Self> {
        match DenseBackward
            .prepare::<C>([x.node(), w.node(), b.node()])
            .compute_bound()
            .stateful()
        {
            OpsKind::Tracked(mut prep) => {
                let ids = (prep.checkpoint(&x), prep.checkpoint(&w));
                let y = B::fast_dense(x.into_primitive(), w.into_primitive(), b.into_primitive());
                prep.finish(ids, y)
            }
            OpsKind::UnTracked(prep) => prep.finish(B::fast_dense(
                x.into_primitive(),
                w.into_primitive(),
                b.into_primitive(),
            )),
        }
    }

    fn fast_dense_dx(dy: FloatTensor<Self>, w: FloatTensor<Self>) -> FloatTensor<Self> {
        untracked::<B, C>(B::fast_dense_dx(dy.into_primitive(), w.into_primitive()))
    }

    fn fast_dense_dw(x: FloatTensor<Self>, dy: FloatTensor<Self>) -> FloatTensor<Self> {
        untracked::<B, C>(B::fast_dense_dw(x.into_primitive(), dy.into_primitive()))
    }

    fn fast_dense_db(dy: FloatTensor<Self>) -> FloatTensor<Self> {
        untracked::<B, C>(B::fast_dense_db(dy.into_primitive()))
    }

    fn fast_outer_per_example(x: FloatTensor<Self>, dy: FloatTensor<Self>) -> FloatTensor<Self> {
        untracked::<B, C>(B::fast_outer_per_example(
            x.into_primitive(),
            dy.into_primitive(),
        ))
    }

    fn fast_unary(x: FloatTensor<Self>, op: Unary) -> FloatTensor<Self> {
        match UnaryBackward
            .prepare::<C>([x.node()])
            .compute_bound()
            .stateful()
        {
            OpsKind::Tracked(mut prep) => {
                let xid = prep.checkpoint(&x);
                let out = B::fast_unary(x.into_primitive(), op);
                prep.finish((xid, op), out)
            }
            OpsKind::UnTracked(prep) => prep.finish(B::fast_unary(x.into_primitive(), op)),
        }
    }

    fn fast_unary_backward(
        x: FloatTensor<Self>,
        dy: FloatTensor<Self>,
        op: Unary,
    ) -> FloatTensor<Self> {
        untracked::<B, C>(B::fast_unary_backward(
            x.into_primitive(),
            dy.into_primitive(),
            op,
        ))
    }

    fn fast_attention(
        q: FloatTensor<Self>,
        k: FloatTensor<Self>,
        v: FloatTensor<Self>,
        spec: AttentionSpec,
    ) -> (FloatTensor<Self>, FloatTensor<Self>) {
        match AttentionBackward
            .prepare::<C>([q.node(), k.node(), v.node()])
            .compute_bound()
            .stateful()
        {
            OpsKind::Tracked(mut prep) => {
                let ids = (
                    prep.checkpoint(&q),
                    prep.checkpoint(&k),
                    prep.checkpoint(&v),
                );
                let (out, probs) = B::fast_attention(
                    q.into_primitive(),
                    k.into_primitive(),
                    v.into_primitive(),
                    spec,
                );
                let state = (ids.0, ids.1, ids.2, probs.clone(), spec);
                (prep.finish(state, out), untracked::<B, C>(probs))
            }
            OpsKind::UnTracked(prep) => {
                let (out, probs) = B::fast_attention(
                    q.into_primitive(),
                    k.into_primitive(),
                    v.into_primitive(),
                    spec,
                );
                (prep.finish(out), untracked::<B, C>(probs))
            }
        }
    }

    fn fast_attention_backward(
        q: FloatTensor<Self>,
        k: FloatTensor<Self>,
        v: FloatTensor<Self>,
        probs: FloatTensor<Self>,
        dout: FloatTensor<Self>,
        spec: AttentionSpec,
    ) -> (FloatTensor<Self>, FloatTensor<Self>, FloatTensor<Self>) {
        let (dq, dk, dv) = B::fast_attention_backward(
            q.into_primitive(),
            k.into_primitive(),
            v.into_primitive(),
            probs.into_primitive(),
            dout.into_primitive(),
            spec,
        );
        (
            untracked::<B, C>(dq),
            untracked::<B, C>(dk),
            untracked::<B, C>(dv),
        )
    }

    fn fast_layer_norm(
        x: FloatTensor<Self>,
        w: FloatTensor<Self>,
        b: FloatTensor<Self>,
        eps: f64,
    ) -> (FloatTensor<Self>, FloatTensor<Self>, FloatTensor<Self>) {
        match LayerNormBackward
            .prepare::<C>([x.node(), w.node(), b.node()])
            .compute_bound()
            .stateful()
        {
            OpsKind::Tracked(mut prep) => {
                let ids = (prep.checkpoint(&x), prep.checkpoint(&w));
                let (y, mean, rstd) = B::fast_layer_norm(
                    x.into_primitive(),
                    w.into_primitive(),
                    b.into_primitive(),
                    eps,
                );
                let state = (ids.0, ids.1, mean.clone(), rstd.clone());
                (
                    prep.finish(state, y),
                    untracked::<B, C>(mean),
                    untracked::<B, C>(rstd),
                )
            }
            OpsKind::UnTracked(prep) => {
                let (y, mean, rstd) = B::fast_layer_norm(
                    x.into_primitive(),
                    w.into_primitive(),
                    b.into_primitive(),
                    eps,
                );
                (
                    prep.finish(y),
                    untracked::<B, C>(mean),
                    untracked::<B, C>(rstd),
                )
            }
        }
    }

    fn fast_batch_norm(
        x: FloatTensor<Self>,
        w: FloatTensor<Self>,
        b: FloatTensor<Self>,
        eps: f64,
    ) -> (FloatTensor<Self>, FloatTensor<Self>, FloatTensor<Self>) {
        match BatchNormBackward
            .prepare::<C>([x.node(), w.node(), b.node()])
            .compute_bound()
            .stateful()
        {
            OpsKind::Tracked(mut prep) => {
                let ids = (prep.checkpoint(&x), prep.checkpoint(&w));
                let (y, mean, var) = B::fast_batch_norm(
                    x.into_primitive(),
                    w.into_primitive(),
                    b.into_primitive(),
                    eps,
                );
                let state = (ids.0, ids.1, mean.clone(), var.clone(), eps);
                (
                    prep.finish(state, y),
                    untracked::<B, C>(mean),
                    untracked::<B, C>(var),
                )
            }
            OpsKind::UnTracked(prep) => {
                let (y, mean, var) = B::fast_batch_norm(
                    x.into_primitive(),
                    w.into_primitive(),
                    b.into_primitive(),
                    eps,
                );
                (
                    prep.finish(y),
                    untracked::<B, C>(mean),
                    untracked::<B, C>(var),
                )
            }
        }
    }

    fn fast_batch_norm_backward(
        x: FloatTensor<Self>,
        w: FloatTensor<Self>,
        mean: FloatTensor<Self>,
        var: FloatTensor<Self>,
        dy: FloatTensor<Self>,
        eps: f64,
    ) -> (FloatTensor<Self>, FloatTensor<Self>, FloatTensor<Self>) {
        let (dx, dw, db) = B::fast_batch_norm_backward(
            x.into_primitive(),
            w.into_primitive(),
            mean.into_primitive(),
            var.into_primitive(),
            dy.into_primitive(),
            eps,
        );
        (
            untracked::<B, C>(dx),
            untracked::<B, C>(dw),
            untracked::<B, C>(db),
        )
    }

    fn fast_layer_norm_backward(
        x: FloatTensor<Self>,
        w: FloatTensor<Self>,
        mean: FloatTensor<Self>,
        rstd: FloatTensor<Self>,
        dy: FloatTensor<Self>,
    ) -> (FloatTensor<Self>, FloatTensor<Self>, FloatTensor<Self>) {
        let (dx, dw, db) = B::fast_layer_norm_backward(
            x.into_primitive(),
            w.into_primitive(),
            mean.into_primitive(),
            rstd.into_primitive(),
            dy.into_primitive(),
        );
        (
            untracked::<B, C>(dx),
            untracked::<B, C>(dw),
            untracked::<B, C>(db),
        )
    }
}
