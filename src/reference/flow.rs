//! The flow itself: masks, coupling layers, per-layer scales, forward, inverse and density.
//!
//! Layer `l` with input `x` (`[batch, D]`), `tp = cfg.transformed_part(l)`, `cp = 1 - tp`:
//! `x_a = x[part_index(cp, ·)]`, `x_b = x[part_index(tp, ·)]`, `out = MLP_l(x_a)`;
//! additive `y_b = x_b + out`; affine `s = c tanh(out[..Dh] / c)`, `t = out[Dh..]`,
//! `y_b = x_b exp(s) + t`; `y_a = x_a`; then `y *= exp(scales[l])` elementwise.

use super::mlp::mlp_forward_f64;
use super::view::{check_params, to_f32, to_f64, ParamView, Scalar};
use crate::config::{CouplingKind, FlowConfig};
use crate::model::params::FlowParams;

/// Which half of a coupling layer's input, relative to the layer.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Half {
    /// `x_a`: copied through, and the conditioner's input.
    Conditioning,
    /// `x_b`: transformed.
    Transformed,
}

/// The absolute part (0 or 1, as in [`FlowConfig::part_index`]) that `half` is in layer `l`.
pub fn half_part(cfg: &FlowConfig, l: usize, half: Half) -> usize {
    let tp = cfg.transformed_part(l);
    match half {
        Half::Transformed => tp,
        Half::Conditioning => 1 - tp,
    }
}

/// Gathers part `part` (0 or 1) of every row: `[batch, D] -> [batch, D/2]`.
pub fn gather_part<T: Copy>(cfg: &FlowConfig, part: usize, x: &[T], batch: usize) -> Vec<T> {
    let (d, dh) = (cfg.dim, cfg.half());
    assert!(part < 2, "part must be 0 or 1, got {part}");
    assert_eq!(x.len(), batch * d, "gather: input is not [batch, dim]");
    let mut out = Vec::with_capacity(batch * dh);
    for row in x.chunks_exact(d) {
        out.extend((0..dh).map(|j| row[cfg.part_index(part, j)]));
    }
    out
}

/// Writes `[batch, D/2]` values into part `part` of `[batch, D]` rows.
pub fn scatter_part<T: Copy>(
    cfg: &FlowConfig,
    part: usize,
    src: &[T],
    dst: &mut [T],
    batch: usize,
) {
    let (d, dh) = (cfg.dim, cfg.half());
    assert!(part < 2, "part must be 0 or 1, got {part}");
    assert_eq!(
        src.len(),
        batch * dh,
        "scatter: source is not [batch, dim/2]"
    );
    assert_eq!(
        dst.len(),
        batch * d,
        "scatter: destination is not [batch, dim]"
    );
    for (s, row) in src.chunks_exact(dh).zip(dst.chunks_exact_mut(d)) {
        for (j, &v) in s.iter().enumerate() {
            row[cfg.part_index(part, j)] = v;
        }
    }
}

/// Gathers `half` of layer `l`'s input: `[batch, D] -> [batch, D/2]`.
pub fn gather_half<T: Copy>(
    cfg: &FlowConfig,
    l: usize,
    half: Half,
    x: &[T],
    batch: usize,
) -> Vec<T> {
    gather_part(cfg, half_part(cfg, l, half), x, batch)
}

/// Everything one coupling layer computes in the forward direction (all `f64`).
#[derive(Clone, Debug, PartialEq)]
pub struct LayerTrace {
    /// The layer's input `x`, `[batch, D]`.
    pub input: Vec<f64>,
    /// Conditioner activations `[h0 = x_a, h1, h2, h3, h4, out]`.
    pub mlp: Vec<Vec<f64>>,
    /// Affine only: the bounded log-scale `s = c tanh(raw / c)`, `[batch, D/2]`.
    pub s: Option<Vec<f64>>,
    /// After the coupling, before the per-layer scale, `[batch, D]`.
    pub coupled: Vec<f64>,
    /// The layer's output `coupled * exp(scales[l])`, `[batch, D]`.
    pub output: Vec<f64>,
    /// The coupling's log-det per sample (`sum_j s_j`; `0` for additive).
    pub coupling_logdet: Vec<f64>,
    /// The whole layer's log-det per sample: coupling plus `sum_d scales[l][d]`.
    pub logdet: Vec<f64>,
}

/// One coupling layer plus its per-layer scale, in `f64`.
pub fn coupling_forward_layer_f64<P: ParamView>(
    p: &P,
    l: usize,
    x: &[f64],
    batch: usize,
) -> LayerTrace {
    let cfg = p.config();
    let (d, dh) = (cfg.dim, cfg.half());
    assert!(
        l < cfg.layers,
        "layer {l} out of range ({} layers)",
        cfg.layers
    );
    assert_eq!(
        x.len(),
        batch * d,
        "coupling layer {l}: input is not [batch {batch}, dim {d}]"
    );
    let tp = cfg.transformed_part(l);
    let cp = 1 - tp;
    let xa = gather_part(cfg, cp, x, batch);
    let xb = gather_part(cfg, tp, x, batch);
    let mlp = mlp_forward_f64(p.mlp(l), &xa, batch);
    let out = mlp.last().expect("activations");
    let mut yb = vec![0.0f64; batch * dh];
    let mut coupling_logdet = vec![0.0f64; batch];
    let s = match cfg.coupling {
        CouplingKind::Additive => {
            for (i, y) in yb.iter_mut().enumerate() {
                *y = xb[i] + out[i];
            }
            None
        }
        CouplingKind::Affine => {
            let c = f64::from(cfg.scale_bound);
            let mut s = vec![0.0f64; batch * dh];
            for b in 0..batch {
                let o = &out[b * 2 * dh..(b + 1) * 2 * dh];
                for j in 0..dh {
                    let sj = c * (o[j] / c).tanh();
                    let t = o[dh + j];
                    s[b * dh + j] = sj;
                    yb[b * dh + j] = xb[b * dh + j] * sj.exp() + t;
                    coupling_logdet[b] += sj;
                }
            }
            Some(s)
        }
    };
    let mut coupled = vec![0.0f64; batch * d];
    scatter_part(cfg, cp, &xa, &mut coupled, batch);
    scatter_part(cfg, tp, &yb, &mut coupled, batch);
    let scale = to_f64(p.scale(l));
    let scale_sum: f64 = scale.iter().sum();
    let mut output = coupled.clone();
    for row in output.chunks_exact_mut(d) {
        for (v, &sc) in row.iter_mut().zip(&scale) {
            *v *= sc.exp();
        }
    }
    let logdet = coupling_logdet.iter().map(|&ld| ld + scale_sum).collect();
    LayerTrace {
        input: x.to_vec(),
        mlp,
        s,
        coupled,
        output,
        coupling_logdet,
        logdet,
    }
}

/// [`coupling_forward_layer_f64`] on an `f32` batch (widened exactly; results stay `f64`).
pub fn coupling_forward_layer(p: &FlowParams, l: usize, x: &[f32], batch: usize) -> LayerTrace {
    coupling_forward_layer_f64(p, l, &to_f64(x), batch)
}

/// The forward pass keeping every layer's [`LayerTrace`] (what the backward pass needs).
pub fn forward_trace_f64<P: ParamView>(p: &P, x: &[f64], batch: usize) -> Vec<LayerTrace> {
    check_params(p);
    let layers = p.config().layers;
    let mut traces: Vec<LayerTrace> = Vec::with_capacity(layers);
    for l in 0..layers {
        let input = match traces.last() {
            Some(t) => &t.output[..],
            None => x,
        };
        let t = coupling_forward_layer_f64(p, l, input, batch);
        traces.push(t);
    }
    traces
}

/// `x -> (z, log|det dz/dx| per sample)`, all in `f64`.
pub fn forward_f64<P: ParamView>(p: &P, x: &[f64], batch: usize) -> (Vec<f64>, Vec<f64>) {
    let mut traces = forward_trace_f64(p, x, batch);
    let mut logdet = vec![0.0f64; batch];
    for t in &traces {
        for (acc, &ld) in logdet.iter_mut().zip(&t.logdet) {
            *acc += ld;
        }
    }
    let z = traces.pop().expect("at least one layer").output;
    (z, logdet)
}

/// `x -> (z, log|det dz/dx| per sample)`: `f32` batch in, `z` rounded to `f32` once at the
/// end, log-det kept in `f64`.
pub fn forward(p: &FlowParams, x: &[f32], batch: usize) -> (Vec<f32>, Vec<f64>) {
    let (z, ld) = forward_f64(p, &to_f64(x), batch);
    (to_f32(&z), ld)
}

/// Undoes layer `l` (its scale, then its coupling), in `f64`.
pub fn inverse_layer_f64<P: ParamView>(p: &P, l: usize, y: &[f64], batch: usize) -> Vec<f64> {
    let cfg = p.config();
    let (d, dh) = (cfg.dim, cfg.half());
    assert_eq!(
        y.len(),
        batch * d,
        "inverse layer {l}: input is not [batch {batch}, dim {d}]"
    );
    let scale = to_f64(p.scale(l));
    let mut c = y.to_vec();
    for row in c.chunks_exact_mut(d) {
        for (v, &sc) in row.iter_mut().zip(&scale) {
            *v *= (-sc).exp();
        }
    }
    let tp = cfg.transformed_part(l);
    let cp = 1 - tp;
    let xa = gather_part(cfg, cp, &c, batch);
    let cb = gather_part(cfg, tp, &c, batch);
    let acts = mlp_forward_f64(p.mlp(l), &xa, batch);
    let out = acts.last().expect("activations");
    let mut xb = vec![0.0f64; batch * dh];
    match cfg.coupling {
        CouplingKind::Additive => {
            for (i, v) in xb.iter_mut().enumerate() {
                *v = cb[i] - out[i];
            }
        }
        CouplingKind::Affine => {
            let bound = f64::from(cfg.scale_bound);
            for b in 0..batch {
                let o = &out[b * 2 * dh..(b + 1) * 2 * dh];
                for j in 0..dh {
                    let s = bound * (o[j] / bound).tanh();
                    let t = o[dh + j];
                    xb[b * dh + j] = (cb[b * dh + j] - t) * (-s).exp();
                }
            }
        }
    }
    let mut x = vec![0.0f64; batch * d];
    scatter_part(cfg, cp, &xa, &mut x, batch);
    scatter_part(cfg, tp, &xb, &mut x, batch);
    x
}

/// `z` and the batch after undoing layers `K-1`, `K-2`, ..., `0`: `K + 1` entries, the first
/// is `z`, the last is `x`. `f64` throughout.
pub fn inverse_with_stages_f64<P: ParamView>(p: &P, z: &[f64], batch: usize) -> Vec<Vec<f64>> {
    check_params(p);
    let layers = p.config().layers;
    let mut stages = Vec::with_capacity(layers + 1);
    stages.push(z.to_vec());
    for l in (0..layers).rev() {
        let next = inverse_layer_f64(p, l, stages.last().expect("z"), batch);
        stages.push(next);
    }
    stages
}

/// `z -> x` in `f64`.
pub fn inverse_f64<P: ParamView>(p: &P, z: &[f64], batch: usize) -> Vec<f64> {
    inverse_with_stages_f64(p, z, batch)
        .pop()
        .expect("at least z")
}

/// [`inverse_with_stages_f64`] for an `f32` batch; every stage computed in `f64` from the
/// previous unrounded one, and rounded to `f32` only for the output.
pub fn inverse_with_stages(p: &FlowParams, z: &[f32], batch: usize) -> Vec<Vec<f32>> {
    inverse_with_stages_f64(p, &to_f64(z), batch)
        .iter()
        .map(|s| to_f32(s))
        .collect()
}

/// `z -> x` for an `f32` batch (computed in `f64`, rounded once).
pub fn inverse(p: &FlowParams, z: &[f32], batch: usize) -> Vec<f32> {
    to_f32(&inverse_f64(p, &to_f64(z), batch))
}

/// `log p(x) = -0.5 |z|^2 - (D/2) ln(2 pi) + logdet` per sample; `D = z.len() / logdet.len()`.
pub fn log_density<T: Scalar>(z: &[T], logdet: &[f64]) -> Vec<f64> {
    let batch = logdet.len();
    if batch == 0 {
        assert!(z.is_empty(), "log_density: z given for an empty batch");
        return Vec::new();
    }
    assert_eq!(z.len() % batch, 0, "log_density: z is not [batch, dim]");
    let d = z.len() / batch;
    let norm = 0.5 * d as f64 * (2.0 * std::f64::consts::PI).ln();
    z.chunks_exact(d)
        .zip(logdet)
        .map(|(row, &ld)| {
            let sq: f64 = row
                .iter()
                .map(|&v| {
                    let v: f64 = v.into();
                    v * v
                })
                .sum();
            -0.5 * sq - norm + ld
        })
        .collect()
}

/// `log p(x)` per sample, in `f64` (z is not rounded before the density).
pub fn log_likelihood_f64<P: ParamView>(p: &P, x: &[f64], batch: usize) -> Vec<f64> {
    let (z, ld) = forward_f64(p, x, batch);
    log_density(&z, &ld)
}

/// `log p(x)` per sample for an `f32` batch (computed in `f64` end to end).
pub fn log_likelihood(p: &FlowParams, x: &[f32], batch: usize) -> Vec<f64> {
    log_likelihood_f64(p, &to_f64(x), batch)
}
