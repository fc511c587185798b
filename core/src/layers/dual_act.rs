//! The tangent rules of the activations for [`super::Dual`]: `f'(x) t`, written with the value
//! type's own ops (so they nest and differentiate), the branch of piecewise functions picked
//! from the plain primal.

use super::{Act, Val};
use burn::tensor::Tensor;

/// A 0/1 (or other constant) mask from the plain primal, element-wise.
fn mask<V: Val>(x: &V, f: impl FnOnce(Tensor<1>) -> Tensor<1>) -> V {
    V::constant(x.primal().clone().without_autodiff().map_flat(f))
}

/// `f'(x) t` for an element-wise activation, `y = f(x)`, written with `V` ops.
pub(super) fn act_tangent<V: Val>(a: Act, x: V, y: V, t: V) -> V {
    const SELU_SCALE: f64 = 1.050_700_987_355_480_5;
    const SELU_ALPHA: f64 = 1.673_263_242_354_377_2;
    let last = x.dims().len() - 1;
    let pos = |x: &V| mask(x, |p| p.greater_elem(0.0).float());
    match a {
        Act::Relu => t.mul(pos(&x)),
        Act::Relu6 => t.mul(mask(&x, |p| {
            p.clone().greater_elem(0.0).float() * p.lower_elem(6.0).float()
        })),
        Act::LeakyRelu(s) => t.mul(mask(&x, |p| {
            let m = p.greater_elem(0.0).float();
            m.clone() + (m.neg() + 1.0) * s
        })),
        // x > 0: 1; else alpha e^x = elu(x) + alpha.
        Act::Elu(alpha) => {
            let neg = mask(&x, |p| p.lower_equal_elem(0.0).float());
            t.mul(y.shift(alpha).mul(neg).add(pos(&x)))
        }
        Act::Selu => {
            let neg = mask(&x, |p| p.lower_equal_elem(0.0).float());
            let d = y
                .shift(SELU_SCALE * SELU_ALPHA)
                .mul(neg)
                .add(pos(&x).scale(SELU_SCALE));
            t.mul(d)
        }
        // Phi(x) + x phi(x).
        Act::Gelu => {
            let cdf = x
                .clone()
                .scale(std::f64::consts::FRAC_1_SQRT_2)
                .erf()
                .shift(1.0)
                .scale(0.5);
            let pdf = x
                .clone()
                .square()
                .scale(-0.5)
                .exp()
                .scale(0.398_942_280_401_432_7);
            t.mul(cdf.add(x.mul(pdf)))
        }
        // 0.5 (1 + th) + 0.5 x (1 - th^2) c (1 + 3 k x^2), th = tanh(c (x + k x^3)).
        Act::GeluTanh => {
            let (c, k) = (0.797_884_560_802_865_4, 0.044_715);
            let x2 = x.clone().square();
            let inner = x.clone().add(x.clone().mul(x2.clone()).scale(k)).scale(c);
            let th = inner.act(Act::Tanh);
            let sech2 = th.clone().square().scale(-1.0).shift(1.0);
            let d = th.shift(1.0).scale(0.5).add(
                x.mul(sech2)
                    .mul(x2.scale(3.0 * k).shift(1.0))
                    .scale(0.5 * c),
            );
            t.mul(d)
        }
        // s (1 + x (1 - s)).
        Act::Silu => {
            let s = x.clone().act(Act::Sigmoid);
            t.mul(s.clone().mul(x.mul(s.scale(-1.0).shift(1.0)).shift(1.0)))
        }
        // tanh(sp) + x (1 - tanh^2(sp)) sigmoid(x), sp = softplus(x).
        Act::Mish => {
            let th = x.clone().act(Act::Softplus).act(Act::Tanh);
            let s = x.clone().act(Act::Sigmoid);
            t.mul(
                th.clone()
                    .add(x.mul(th.square().scale(-1.0).shift(1.0)).mul(s)),
            )
        }
        Act::Sigmoid => t.mul(y.clone().mul(y.scale(-1.0).shift(1.0))),
        Act::HardSigmoid => t.mul(mask(&x, |p| {
            (p.clone().greater_elem(-3.0).float() * p.lower_elem(3.0).float()) / 6.0
        })),
        // 0 below -3, 1 above 3, x/3 + 1/2 between.
        Act::HardSwish => {
            let mid = mask(&x, |p| {
                p.clone().greater_elem(-3.0).float() * p.lower_equal_elem(3.0).float()
            });
            let hi = mask(&x, |p| p.greater_elem(3.0).float());
            t.mul(x.scale(1.0 / 3.0).shift(0.5).mul(mid).add(hi))
        }
        Act::Tanh => t.mul(y.square().scale(-1.0).shift(1.0)),
        Act::Softplus => t.mul(x.act(Act::Sigmoid)),
        // 1 / (1 + |x|)^2.
        Act::Softsign => {
            let sign = mask(&x, |p| p.sign());
            t.div(x.mul(sign).shift(1.0).square())
        }
        // 1 - sigmoid(x) = sigmoid(-x).
        Act::LogSigmoid => t.mul(x.scale(-1.0).act(Act::Sigmoid)),
        Act::Softmax => {
            let inner = y.clone().mul(t.clone()).sum_dim(last);
            y.mul(t.sub(inner))
        }
        Act::LogSoftmax => {
            let p = y.exp();
            t.clone().sub(p.mul(t).sum_dim(last))
        }
    }
}
