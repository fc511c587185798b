//! The backward steps of the fast kernels, registered in burn's autodiff graph by `autodiff.rs`:
//! each consumes its node's output gradient and registers its parents' gradients by calling the
//! `flex` gradient kernels (not themselves tracked: no double backward).

use super::{AttentionSpec, ConvGeom, FastCpuOps, Unary};
use burn::backend::autodiff::checkpoint::base::Checkpointer;
use burn::backend::autodiff::grads::Gradients;
use burn::backend::autodiff::ops::{Backward, Ops};
use burn::backend::autodiff::NodeId;
use burn::backend::tensor::FloatTensor;

/// Registers `grad[i]` for each parent `i` that is tracked (`Some` id), as every multi-input
/// step below does with the gradients its fused kernel returns together.
fn register_parents<B: FastCpuOps, const N: usize>(
    grads: &mut Gradients,
    parents: [Option<NodeId>; N],
    grad: [FloatTensor<B>; N],
) {
    for (id, g) in parents.into_iter().zip(grad) {
        if let Some(id) = id {
            grads.register::<B>(id, g);
        }
    }
}

#[derive(Debug)]
pub(super) struct ConvBackward;

impl<B: FastCpuOps> Backward<B, 3> for ConvBackward {
    /// (x, w, geometry, input size, kernel size)
    type State = (NodeId, NodeId, ConvGeom, [usize; 2], [usize; 2]);

    fn backward(self, ops: Ops<Self::State, 3>, grads: &mut Gradients, ckpt: &mut Checkpointer) {
        let [nx, nw, nb] = ops.parents;
        let dy = grads.consume::<B>(&ops.node);
        let (xid, wid, geom, in_hw, k_hw) = ops.state;
        if let Some(node) = nx {
            let w: FloatTensor<B> = ckpt.retrieve_node_output(wid);
            grads.register::<B>(node.id, B::fast_conv2d_dx(w, dy.clone(), geom, in_hw));
        }
        if let Some(node) = nw {
            let x: FloatTensor<B> = ckpt.retrieve_node_output(xid);
            grads.register::<B>(node.id, B::fast_conv2d_dw(x, dy.clone(), geom, k_hw));
        }
        if let Some(node) = nb {
            grads.register::<B>(node.id, B::fast_conv2d_db(dy));
        }
    }
}

#[derive(Debug)]
pub(super) struct MaxPoolBackward;

impl<B: FastCpuOps> Backward<B, 1> for MaxPoolBackward {
    /// (x, kernel, stride)
    type State = (NodeId, [usize; 2], [usize; 2]);

    fn backward(self, ops: Ops<Self::State, 1>, grads: &mut Gradients, ckpt: &mut Checkpointer) {
        let [nx] = ops.parents;
        let dy = grads.consume::<B>(&ops.node);
        let (xid, kernel, stride) = ops.state;
        if let Some(node) = nx {
            let x: FloatTensor<B> = ckpt.retrieve_node_output(xid);
            grads.register::<B>(node.id, B::fast_max_pool2d_backward(x, dy, kernel, stride));
        }
    }
}

#[derive(Debug)]
pub(super) struct PoolSelectBackward;

impl<B: FastCpuOps> Backward<B, 1> for PoolSelectBackward {
    /// (x, kernel, stride)
    type State = (FloatTensor<B>, [usize; 2], [usize; 2]);

    fn backward(self, ops: Ops<Self::State, 1>, grads: &mut Gradients, _: &mut Checkpointer) {
        let [nt] = ops.parents;
        let dy = grads.consume::<B>(&ops.node);
        let (x, kernel, stride) = ops.state;
        if let Some(node) = nt {
            grads.register::<B>(node.id, B::fast_max_pool2d_backward(x, dy, kernel, stride));
        }
    }
}

#[derive(Debug)]
pub(super) struct UnaryBackward;

impl<B: FastCpuOps> Backward<B, 1> for UnaryBackward {
    type State = (NodeId, Unary);

    fn backward(self, ops: Ops<Self::State, 1>, grads: &mut Gradients, ckpt: &mut Checkpointer) {
        let [nx] = ops.parents;
        let dy = grads.consume::<B>(&ops.node);
        let (xid, op) = ops.state;
        if let Some(node) = nx {
            let x: FloatTensor<B> = ckpt.retrieve_node_output(xid);
            grads.register::<B>(node.id, B::fast_unary_backward(x, dy, op));
        }
    }
}

#[derive(Debug)]
pub(super) struct DenseBackward;

impl<B: FastCpuOps> Backward<B, 3> for DenseBackward {
    /// (x, w)
    type State = (NodeId, NodeId);

    fn backward(self, ops: Ops<Self::State, 3>, grads: &mut Gradients, ckpt: &mut Checkpointer) {
        let [nx, nw, nb] = ops.parents;
        let dy = grads.consume::<B>(&ops.node);
        let (xid, wid) = ops.state;
        if let Some(node) = nx {
            let w: FloatTensor<B> = ckpt.retrieve_node_output(wid);
            grads.register::<B>(node.id, B::fast_dense_dx(dy.clone(), w));
        }
        if let Some(node) = nw {
            let x: FloatTensor<B> = ckpt.retrieve_node_output(xid);
            grads.register::<B>(node.id, B::fast_dense_dw(x, dy.clone()));
        }
        if let Some(node) = nb {
            grads.register::<B>(node.id, B::fast_dense_db(dy));
        }
    }
}

#[derive(Debug)]
pub(super) struct AttentionBackward;

impl<B: FastCpuOps> Backward<B, 3> for AttentionBackward {
    /// (q, k, v, the forward's probabilities, spec)
    type State = (NodeId, NodeId, NodeId, FloatTensor<B>, AttentionSpec);

    fn backward(self, ops: Ops<Self::State, 3>, grads: &mut Gradients, ckpt: &mut Checkpointer) {
        let parents = ops.parents.map(|n| n.map(|n| n.id));
        let dout = grads.consume::<B>(&ops.node);
        let (qid, kid, vid, probs, spec) = ops.state;
        let (q, k, v) = (
            ckpt.retrieve_node_output(qid),
            ckpt.retrieve_node_output(kid),
            ckpt.retrieve_node_output(vid),
        );
        let (dq, dk, dv) = B::fast_attention_backward(q, k, v, probs, dout, spec);
        register_parents::<B, 3>(grads, parents, [dq, dk, dv]);
    }
}

#[derive(Debug)]
pub(super) struct BatchNormBackward;

impl<B: FastCpuOps> Backward<B, 3> for BatchNormBackward {
    /// (x, w, the forward's batch mean and variance, eps)
    type State = (NodeId, NodeId, FloatTensor<B>, FloatTensor<B>, f64);

    fn backward(self, ops: Ops<Self::State, 3>, grads: &mut Gradients, ckpt: &mut Checkpointer) {
        let parents = ops.parents.map(|n| n.map(|n| n.id));
        let dy = grads.consume::<B>(&ops.node);
        let (xid, wid, mean, var, eps) = ops.state;
        let (x, w) = (
            ckpt.retrieve_node_output(xid),
            ckpt.retrieve_node_output(wid),
        );
        let (dx, dw, db) = B::fast_batch_norm_backward(x, w, mean, var, dy, eps);
        register_parents::<B, 3>(grads, parents, [dx, dw, db]);
    }
}

#[derive(Debug)]
pub(super) struct LayerNormBackward;

impl<B: FastCpuOps> Backward<B, 3> for LayerNormBackward {
    /// (x, w, the forward's per-row mean and 1/std)
    type State = (NodeId, NodeId, FloatTensor<B>, FloatTensor<B>);

    fn backward(self, ops: Ops<Self::State, 3>, grads: &mut Gradients, ckpt: &mut Checkpointer) {
        let parents = ops.parents.map(|n| n.map(|n| n.id));
        let dy = grads.consume::<B>(&ops.node);
        let (xid, wid, mean, rstd) = ops.state;
        let (x, w) = (
            ckpt.retrieve_node_output(xid),
            ckpt.retrieve_node_output(wid),
        );
        let (dx, dw, db) = B::fast_layer_norm_backward(x, w, mean, rstd, dy);
        register_parents::<B, 3>(grads, parents, [dx, dw, db]);
    }
}
