//! Backward kernels against the reference's analytic gradients (which tests/reference.rs
//! checks against finite differences), and three Adam steps of the fused GPU training step
//! against the reference optimiser on the same dequantized batches.

mod common;

use common::*;
use flowgpu::config::{AdamConfig, CouplingKind, FlowConfig, MaskKind, Preprocess};
use flowgpu::conformance::rel_norm_err;
use flowgpu::data::ImageSet;
use flowgpu::model::backprop::Backprop;
use flowgpu::model::likelihood::nats_per_image;
use flowgpu::reference::{self as r, preprocess as rp};
use flowgpu::train::gpu_data::GpuImages;
use flowgpu::train::step::TrainStep;
use flowgpu::{Flow, FlowParams};

#[test]
fn gpu_gradients_match_reference_for_every_tensor() {
    let batch = 37;
    for ctx in contexts() {
        for coupling in [CouplingKind::Additive, CouplingKind::Affine] {
            for mask in [MaskKind::Halves, MaskKind::Interleaved] {
                let cfg = FlowConfig {
                    dim: 50,
                    layers: 4,
                    hidden: 100,
                    coupling,
                    mask,
                    scale_bound: 2.0,
                };
                let p = FlowParams::random(&cfg, 31, 1.0);
                let flow = Flow::new(ctx.clone(), &p).unwrap();
                let ws = flow.workspace(batch).unwrap();
                let bp = Backprop::new(ctx, flow.layout(), flow.params_tensor(), &ws).unwrap();
                let x = uniform(batch * cfg.dim, -3.0, 3.0, 32);
                ctx.write(&ws.states.view(0, &[batch * cfg.dim]), &x);
                // The backward pass seeds itself with dL/dz = z / B.
                let mut list = ws.forward();
                list.extend(bp.dispatches());
                ctx.submit(&list);
                let got = flow.layout().unpack(&ctx.read(&bp.grads).unwrap());
                let (_, want) = r::loss_and_grad(&p, &x, batch);
                // f32 GPU sums vs f64: bound 1e-4 relative in norm, per tensor.
                for ((name, _, g), (_, _, w)) in
                    got.named_tensors().iter().zip(want.named_tensors().iter())
                {
                    let e = rel_norm_err(g, w);
                    observe(file!(), line!(), e);
                    assert!(
                        e < 1e-4,
                        "{name} {coupling:?} {mask:?} {:?}: relative error {e:e}",
                        ctx.tiles()
                    );
                }
            }
        }
    }
}

/// The loss stage: each step's per-image loss (nats of the 8-bit image, with the logit
/// Jacobian and D ln 256) matches the reference's log-density through the same formula, and
/// the loss accumulated over the steps matches the mean of the reference's batch means.
/// Alongside, three fused Adam steps match the reference optimiser.
#[test]
fn three_adam_steps_match_reference() {
    let ctx = context();
    let (batch, images) = (16, 48);
    let cfg = FlowConfig {
        dim: 50,
        layers: 4,
        hidden: 24,
        ..FlowConfig::default()
    };
    let pixels: Vec<u8> = uniform(images * cfg.dim, 0.0, 256.0, 41)
        .iter()
        .map(|&v| v as u8)
        .collect();
    let set = ImageSet {
        images: pixels.clone(),
        labels: vec![0; images],
        rows: 5,
        cols: 10,
    };
    let gpu_images = GpuImages::upload(&ctx, &set, "train").unwrap();
    let p0 = FlowParams::random(&cfg, 42, 1.0);
    let flow = Flow::new(ctx.clone(), &p0).unwrap();
    let adam = AdamConfig {
        clip_norm: Some(5.0),
        ..AdamConfig::default()
    };
    let alpha = 1e-6f32;
    let pre = Preprocess {
        logit_alpha: Some(alpha),
    };
    let step = TrainStep::new(&flow, &gpu_images, batch, pre, adam.clone()).unwrap();
    let order: Vec<u32> = (0..images as u32).rev().collect();
    step.set_order(&ctx, &order);
    let (seed, lr) = (9, 1e-3f32);

    let mut p = p0.clone();
    let mut m = FlowParams::zeros(&cfg);
    let mut v = FlowParams::zeros(&cfg);
    let mut ref_batch_means = Vec::new();
    for t in 1..=3u32 {
        let offset = (t as usize - 1) * batch;
        step.step(&ctx, offset, seed, t, lr);
        let (x, pre_logdet) = rp::dequantize(
            &pixels,
            cfg.dim,
            &order[offset..offset + batch],
            seed,
            true,
            Some(alpha as f64),
        );
        let x: Vec<f32> = x.iter().map(|&v| v as f32).collect();
        // The loss of this batch under the parameters before the step.
        let log_p = r::log_likelihood(&p, &x, batch);
        let want: Vec<f64> = log_p
            .iter()
            .zip(&pre_logdet)
            .map(|(&lp, &pre)| nats_per_image(lp, pre, cfg.dim))
            .collect();
        let got = ctx.read(step.nll()).unwrap();
        // f32 sums of D = 50 terms of up to ~300 nats: 2e-5 relative.
        let err = max_mixed_err(&got, &want);
        observe(file!(), line!(), err);
        assert!(err < 2e-5, "step {t}: per-image loss error {err:e}");
        ref_batch_means.push(want.iter().sum::<f64>() / batch as f64);
        let (flow_loss, g) = r::loss_and_grad(&p, &x, batch);
        // The reference's training loss is the flow's part of the same number.
        let flow_part = -log_p.iter().sum::<f64>() / batch as f64;
        assert!((flow_loss - flow_part).abs() < 1e-9 * (1.0 + flow_part.abs()));
        r::adam_step(&mut p, &g, &mut m, &mut v, t, lr, &adam);
    }
    let got = flow.read_params().unwrap();
    // Each step moves a parameter by at most ~lr; after three steps the GPU and the
    // reference agree to 2% of one step, per tensor in norm.
    for ((name, _, g), ((_, _, w), (_, _, w0))) in got
        .named_tensors()
        .iter()
        .zip(p.named_tensors().iter().zip(p0.named_tensors().iter()))
    {
        let moved: Vec<f32> = w.iter().zip(w0.iter()).map(|(a, b)| a - b).collect();
        let gpu_moved: Vec<f32> = g.iter().zip(w0.iter()).map(|(a, b)| a - b).collect();
        let e = rel_norm_err(&gpu_moved, &moved);
        observe(file!(), line!(), e);
        assert!(e < 0.02, "{name}: update differs by {e:e} (relative)");
    }
    let (loss, steps) = step.take_loss(&ctx).unwrap();
    assert_eq!(steps, 3);
    let want = ref_batch_means.iter().sum::<f64>() / 3.0;
    let err = (loss - want).abs() / (1.0 + want.abs());
    observe(file!(), line!(), err);
    assert!(
        err < 2e-5,
        "accumulated loss {loss} vs reference {want}: {err:e}"
    );
}
