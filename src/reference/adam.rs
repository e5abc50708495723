//! Adam with optional global-norm clipping, exactly as documented on [`AdamConfig`].

use crate::config::AdamConfig;
use crate::model::params::FlowParams;

/// `||g||_2` over every entry of every tensor, accumulated in `f64`.
pub fn global_grad_norm(grads: &FlowParams) -> f64 {
    grads
        .named_tensors()
        .iter()
        .flat_map(|(_, _, t)| t.iter())
        .map(|&g| {
            let g = f64::from(g);
            g * g
        })
        .sum::<f64>()
        .sqrt()
}

/// The factor the gradients are multiplied by before the update: `max_norm / ||g||` when
/// clipping is on and `||g|| > max_norm`, else `1`.
pub fn clip_factor(grads: &FlowParams, cfg: &AdamConfig) -> f64 {
    match cfg.clip_norm {
        Some(max_norm) => {
            let n = global_grad_norm(grads);
            let max_norm = f64::from(max_norm);
            if n > max_norm {
                max_norm / n
            } else {
                1.0
            }
        }
        None => 1.0,
    }
}

/// One Adam step at step `t >= 1`, in place. With `g` the (clipped) gradient:
/// `m = b1 m + (1-b1) g; v = b2 v + (1-b2) g^2;
///  p -= lr * (m / (1-b1^t)) / (sqrt(v / (1-b2^t)) + eps)`.
/// Computed in `f64` from the stored `f32` values; the new `m`, `v` and `p` are rounded to
/// `f32` for storage (the update uses the unrounded `m`, `v`).
pub fn adam_step(
    p: &mut FlowParams,
    grads: &FlowParams,
    m: &mut FlowParams,
    v: &mut FlowParams,
    t: u32,
    lr: f32,
    cfg: &AdamConfig,
) {
    assert!(t >= 1, "Adam steps are numbered from 1, got t = {t}");
    let scale = clip_factor(grads, cfg);
    let (b1, b2, eps, lr) = (
        f64::from(cfg.beta1),
        f64::from(cfg.beta2),
        f64::from(cfg.eps),
        f64::from(lr),
    );
    let exp = i32::try_from(t).unwrap_or(i32::MAX);
    let c1 = 1.0 - b1.powi(exp);
    let c2 = 1.0 - b2.powi(exp);
    let gs = grads.named_tensors();
    let ps = p.tensors_mut();
    let ms = m.tensors_mut();
    let vs = v.tensors_mut();
    assert!(
        gs.len() == ps.len() && ms.len() == ps.len() && vs.len() == ps.len(),
        "adam_step: parameters, gradients and moments have different tensor counts"
    );
    for (((pt, (name, _, gt)), mt), vt) in ps.into_iter().zip(gs).zip(ms).zip(vs) {
        assert!(
            gt.len() == pt.len() && mt.len() == pt.len() && vt.len() == pt.len(),
            "adam_step: tensor {name} has mismatched sizes"
        );
        for i in 0..pt.len() {
            let g = f64::from(gt[i]) * scale;
            let mi = b1 * f64::from(mt[i]) + (1.0 - b1) * g;
            let vi = b2 * f64::from(vt[i]) + (1.0 - b2) * g * g;
            let update = lr * (mi / c1) / ((vi / c2).sqrt() + eps);
            pt[i] = (f64::from(pt[i]) - update) as f32;
            mt[i] = mi as f32;
            vt[i] = vi as f32;
        }
    }
}

/// The moving average of the weights after a step: `ema = decay ema + (1 - decay) p`,
/// computed in `f64` and rounded to `f32`.
pub fn ema_step(ema: &mut FlowParams, p: &FlowParams, decay: f32) {
    let d = f64::from(decay);
    let ps = p.named_tensors();
    let es = ema.tensors_mut();
    assert_eq!(es.len(), ps.len(), "ema_step: different tensor counts");
    for (et, (_, _, pt)) in es.into_iter().zip(ps) {
        assert_eq!(et.len(), pt.len(), "ema_step: tensor sizes differ");
        for (e, &w) in et.iter_mut().zip(pt) {
            *e = (d * f64::from(*e) + (1.0 - d) * f64::from(w)) as f32;
        }
    }
}
