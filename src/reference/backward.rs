//! Analytic gradients of the training loss `L = mean over the batch of -log p(x)`.
//!
//! Backward through layer `l`, given `gy = dL/dy` for its output `y = c * exp(scales[l])`:
//! - `d scales[l][d] = sum_b gy[b,d] y[b,d] - 1` (the `-1` is the scale's log-det term, `-1/B`
//!   per sample, summed over the batch);
//! - `dc = gy * exp(scales[l])`, split into `dc_a`, `dc_b` by the layer's mask;
//! - additive: `dx_b = dc_b`, `dout = dc_b`;
//! - affine: `dx_b = dc_b exp(s)`, `dt = dc_b`, `ds = dc_b x_b exp(s) - 1/B`,
//!   `draw = ds (1 - (s/c)^2)`, `dout = [draw, dt]`;
//! - standard backprop through the MLP (ReLU derivative 1 where the activation is `> 0`);
//! - `dx_a = dc_a + dL/d(MLP input)`.
//!
//! The top of the chain is `dL/dz = z / B`.

use super::flow::{forward_trace_f64, gather_part, log_density, scatter_part, LayerTrace};
use super::mlp::mlp_backward_f64;
use super::view::{check_params, to_f32, to_f64, FlowParamsF64, ParamView};
use crate::config::CouplingKind;
use crate::model::params::FlowParams;

/// Result of one forward + backward pass.
#[derive(Clone, Debug, PartialEq)]
pub struct Backward {
    /// `mean_b -log p(x_b)`.
    pub loss: f64,
    /// `dL/dθ` for every parameter tensor.
    pub grads: FlowParamsF64,
    /// `dL/dx`, `[batch, D]`.
    pub grad_input: Vec<f64>,
}

/// Forward and backward pass in `f64`.
pub fn backward_f64<P: ParamView>(p: &P, x: &[f64], batch: usize) -> Backward {
    check_params(p);
    assert!(batch > 0, "loss of an empty batch is undefined");
    let cfg = p.config().clone();
    let inv_b = 1.0 / batch as f64;
    let traces = forward_trace_f64(p, x, batch);
    let last = traces.last().expect("at least one layer");
    let z = &last.output;
    let mut logdet = vec![0.0f64; batch];
    for t in &traces {
        for (acc, &ld) in logdet.iter_mut().zip(&t.logdet) {
            *acc += ld;
        }
    }
    let loss = -log_density(z, &logdet).iter().sum::<f64>() * inv_b;

    let mut grads = FlowParamsF64::zeros(&cfg);
    let mut gy: Vec<f64> = z.iter().map(|&v| v * inv_b).collect();
    for l in (0..cfg.layers).rev() {
        let t = &traces[l];
        let lb = coupling_backward_layer(p, l, t, &gy, batch);
        grads.scales[l] = lb.dscale;
        let (dxa_mlp, lgrads) = mlp_backward_f64(p.mlp(l), &t.mlp, &lb.dout, batch);
        for (lin, lg) in grads.mlps[l].iter_mut().zip(lgrads) {
            lin.weight = lg.dw;
            lin.bias = lg.db;
        }
        // dx_a = dc_a + the conditioner's input gradient.
        let cp = 1 - cfg.transformed_part(l);
        let dxa: Vec<f64> = gather_part(&cfg, cp, &lb.gx, batch)
            .iter()
            .zip(&dxa_mlp)
            .map(|(a, b)| a + b)
            .collect();
        let mut gx = lb.gx;
        scatter_part(&cfg, cp, &dxa, &mut gx, batch);
        gy = gx;
    }
    Backward {
        loss,
        grads,
        grad_input: gy,
    }
}

/// The gradients of one coupling layer plus its scale, before the conditioner's backward.
#[derive(Clone, Debug, PartialEq)]
pub struct LayerBackward {
    /// `dL/dscales[l]`, `[D]`.
    pub dscale: Vec<f64>,
    /// `dL/dx_l` without the conditioner's input gradient (which the caller adds into the
    /// conditioning part), `[batch, D]`.
    pub gx: Vec<f64>,
    /// `dL/d(conditioner output)`, `[batch, mlp_out]`.
    pub dout: Vec<f64>,
}

/// Backward through coupling layer `l` and its scale, from `gy = dL/dx_{l+1}`; `t` is the
/// layer's forward trace.
pub fn coupling_backward_layer<P: ParamView>(
    p: &P,
    l: usize,
    t: &LayerTrace,
    gy: &[f64],
    batch: usize,
) -> LayerBackward {
    let cfg = p.config();
    let (d, dh) = (cfg.dim, cfg.half());
    let inv_b = 1.0 / batch as f64;
    let scale = to_f64(p.scale(l));
    let mut dscale = vec![-1.0f64; d];
    for (g_row, y_row) in gy.chunks_exact(d).zip(t.output.chunks_exact(d)) {
        for ((ds, &g), &y) in dscale.iter_mut().zip(g_row).zip(y_row) {
            *ds += g * y;
        }
    }
    let mut gc = gy.to_vec();
    for row in gc.chunks_exact_mut(d) {
        for (g, &sc) in row.iter_mut().zip(&scale) {
            *g *= sc.exp();
        }
    }
    let tp = cfg.transformed_part(l);
    let cp = 1 - tp;
    let gca = gather_part(cfg, cp, &gc, batch);
    let gcb = gather_part(cfg, tp, &gc, batch);
    let (dxb, dout) = match cfg.coupling {
        CouplingKind::Additive => (gcb.clone(), gcb),
        CouplingKind::Affine => {
            let bound = f64::from(cfg.scale_bound);
            let s = t.s.as_ref().expect("affine trace has s");
            let xb = gather_part(cfg, tp, &t.input, batch);
            let mut dxb = vec![0.0f64; batch * dh];
            let mut dout = vec![0.0f64; batch * 2 * dh];
            for b in 0..batch {
                for j in 0..dh {
                    let i = b * dh + j;
                    let e = s[i].exp();
                    dxb[i] = gcb[i] * e;
                    let ds = gcb[i] * xb[i] * e - inv_b;
                    let r = s[i] / bound;
                    dout[b * 2 * dh + j] = ds * (1.0 - r * r);
                    dout[b * 2 * dh + dh + j] = gcb[i];
                }
            }
            (dxb, dout)
        }
    };
    let mut gx = vec![0.0f64; batch * d];
    scatter_part(cfg, cp, &gca, &mut gx, batch);
    scatter_part(cfg, tp, &dxb, &mut gx, batch);
    LayerBackward { dscale, gx, dout }
}

/// `(L, dL/dθ)` in `f64`, `L = mean_b -log p(x_b)`.
pub fn loss_and_grad_f64<P: ParamView>(p: &P, x: &[f64], batch: usize) -> (f64, FlowParamsF64) {
    let b = backward_f64(p, x, batch);
    (b.loss, b.grads)
}

/// `(L, dL/dθ)` for stored parameters and an `f32` batch: computed in `f64`, the gradients
/// rounded to `f32` once at the end.
pub fn loss_and_grad(p: &FlowParams, x: &[f32], batch: usize) -> (f64, FlowParams) {
    let (loss, g) = loss_and_grad_f64(p, &to_f64(x), batch);
    (loss, g.to_f32())
}

/// The loss alone, `mean_b -log p(x_b)`, in `f64` (what finite differences evaluate).
pub fn loss_f64<P: ParamView>(p: &P, x: &[f64], batch: usize) -> f64 {
    assert!(batch > 0, "loss of an empty batch is undefined");
    let ll = super::flow::log_likelihood_f64(p, x, batch);
    -ll.iter().sum::<f64>() / batch as f64
}

/// `dL/dx` in `f64`, `[batch, D]`.
pub fn grad_input_f64<P: ParamView>(p: &P, x: &[f64], batch: usize) -> Vec<f64> {
    backward_f64(p, x, batch).grad_input
}

/// `dL/dx` for an `f32` batch, rounded to `f32` once.
pub fn grad_input(p: &FlowParams, x: &[f32], batch: usize) -> Vec<f32> {
    to_f32(&grad_input_f64(p, &to_f64(x), batch))
}
