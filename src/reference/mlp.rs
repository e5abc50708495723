//! Linear layers and the conditioner MLP, forward and backward, with `f64` accumulation.

use super::view::{to_f32, to_f64, LinearView};
use crate::model::params::Linear;

/// `y = x W + b` (then `max(y, 0)` when `relu`) for a row-major batch `x: [batch, n_in]`,
/// accumulated in `f64`. Returns `[batch, n_out]`.
pub fn linear_f64<L: LinearView>(x: &[f64], batch: usize, lin: &L, relu: bool) -> Vec<f64> {
    let (n_in, n_out) = (lin.n_in(), lin.n_out());
    assert_eq!(
        x.len(),
        batch * n_in,
        "linear: input has {} values, expected batch {batch} x n_in {n_in}",
        x.len()
    );
    let (w, b) = (lin.weight(), lin.bias());
    assert!(
        w.len() == n_in * n_out && b.len() == n_out,
        "linear: weight/bias sizes do not match [{n_in}, {n_out}]"
    );
    let mut y = vec![0.0f64; batch * n_out];
    for (xr, yr) in x.chunks_exact(n_in).zip(y.chunks_exact_mut(n_out)) {
        for (yo, &bo) in yr.iter_mut().zip(b) {
            *yo = bo.into();
        }
        for (i, &xi) in xr.iter().enumerate() {
            let wr = &w[i * n_out..(i + 1) * n_out];
            for (yo, &wv) in yr.iter_mut().zip(wr) {
                *yo += xi * wv.into();
            }
        }
        if relu {
            for yo in yr.iter_mut() {
                if *yo < 0.0 {
                    *yo = 0.0;
                }
            }
        }
    }
    y
}

/// [`linear_f64`] on `f32` data: inputs widened, accumulated in `f64`, result rounded once.
pub fn linear(x: &[f32], batch: usize, lin: &Linear, relu: bool) -> Vec<f32> {
    to_f32(&linear_f64(&to_f64(x), batch, lin, relu))
}

/// Gradients of one linear layer `y = x W + b` given `dy = dL/dy` (after any ReLU mask has
/// been applied by the caller).
#[derive(Clone, Debug, PartialEq)]
pub struct LinearGrad {
    /// `dL/dx = dy W^T`, `[batch, n_in]`.
    pub dx: Vec<f64>,
    /// `dL/dW = x^T dy`, `[n_in, n_out]` row-major.
    pub dw: Vec<f64>,
    /// `dL/db = sum over the batch of dy`, `[n_out]`.
    pub db: Vec<f64>,
}

/// Backward pass of one linear layer, `f64` throughout.
pub fn linear_backward_f64<L: LinearView>(
    x: &[f64],
    dy: &[f64],
    batch: usize,
    lin: &L,
) -> LinearGrad {
    let (n_in, n_out) = (lin.n_in(), lin.n_out());
    assert_eq!(x.len(), batch * n_in, "linear_backward: x has wrong size");
    assert_eq!(
        dy.len(),
        batch * n_out,
        "linear_backward: dy has wrong size"
    );
    let w = lin.weight();
    let mut dx = vec![0.0f64; batch * n_in];
    let mut dw = vec![0.0f64; n_in * n_out];
    let mut db = vec![0.0f64; n_out];
    for ((xr, gr), dxr) in x
        .chunks_exact(n_in)
        .zip(dy.chunks_exact(n_out))
        .zip(dx.chunks_exact_mut(n_in))
    {
        for (dbo, &g) in db.iter_mut().zip(gr) {
            *dbo += g;
        }
        for i in 0..n_in {
            let wr = &w[i * n_out..(i + 1) * n_out];
            let dwr = &mut dw[i * n_out..(i + 1) * n_out];
            let xi = xr[i];
            let mut acc = 0.0f64;
            for ((&g, &wv), dwv) in gr.iter().zip(wr).zip(dwr.iter_mut()) {
                acc += g * wv.into();
                *dwv += xi * g;
            }
            dxr[i] = acc;
        }
    }
    LinearGrad { dx, dw, db }
}

/// [`linear_backward_f64`] on `f32` data, results rounded to `f32`: `(dx, dW, db)`.
pub fn linear_backward(
    x: &[f32],
    dy: &[f32],
    batch: usize,
    lin: &Linear,
) -> (Vec<f32>, Vec<f32>, Vec<f32>) {
    let g = linear_backward_f64(&to_f64(x), &to_f64(dy), batch, lin);
    (to_f32(&g.dx), to_f32(&g.dw), to_f32(&g.db))
}

/// The conditioner MLP: `h0 = x`, `h_k = relu(h_{k-1} W_k + b_k)` for every layer but the
/// last, `out = h_{n-1} W_n + b_n`. Returns all activations `[h0, h1, ..., out]`
/// (`layers.len() + 1` entries, each `[batch, width]`).
pub fn mlp_forward_f64<L: LinearView>(layers: &[L], x: &[f64], batch: usize) -> Vec<Vec<f64>> {
    let n = layers.len();
    let mut acts = Vec::with_capacity(n + 1);
    acts.push(x.to_vec());
    for (k, lin) in layers.iter().enumerate() {
        let y = linear_f64(&acts[k], batch, lin, k + 1 < n);
        acts.push(y);
    }
    acts
}

/// [`mlp_forward_f64`] on `f32` data: computed in `f64` end to end, each activation rounded
/// to `f32` only for the output.
pub fn mlp_forward(layers: &[Linear], x: &[f32], batch: usize) -> Vec<Vec<f32>> {
    mlp_forward_f64(layers, &to_f64(x), batch)
        .iter()
        .map(|a| to_f32(a))
        .collect()
}

/// Backward pass through the MLP given its activations (from [`mlp_forward_f64`]) and
/// `dout = dL/dout`. Returns `(dL/dx, per-layer gradients)`. The ReLU derivative is taken as
/// `1` where the post-activation is `> 0`, else `0`.
pub fn mlp_backward_f64<L: LinearView>(
    layers: &[L],
    acts: &[Vec<f64>],
    dout: &[f64],
    batch: usize,
) -> (Vec<f64>, Vec<LinearGrad>) {
    let n = layers.len();
    assert_eq!(
        acts.len(),
        n + 1,
        "mlp_backward: expected {} activations",
        n + 1
    );
    let mut grads: Vec<Option<LinearGrad>> = (0..n).map(|_| None).collect();
    let mut g = dout.to_vec();
    for k in (0..n).rev() {
        if k + 1 < n {
            // acts[k + 1] is the post-ReLU output of linear layer k.
            for (gv, &h) in g.iter_mut().zip(&acts[k + 1]) {
                if h <= 0.0 {
                    *gv = 0.0;
                }
            }
        }
        let lg = linear_backward_f64(&acts[k], &g, batch, &layers[k]);
        g = lg.dx.clone();
        grads[k] = Some(lg);
    }
    (g, grads.into_iter().map(|x| x.expect("set")).collect())
}
