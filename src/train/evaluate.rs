//! Log-likelihood of a whole image set on the GPU, in chunks, one submit per dequantization
//! draw, one readback (the only wait) at the end, summarised as a [`Likelihood`] (the one
//! likelihood-result type that `summary.json` and the report use too). The per-image loss
//! comes from the same loss stage as training's ([`crate::kernels::loss`]).

use crate::config::Preprocess;
use crate::error::Result;
use crate::kernels::loss::{self, LossBuffers};
use crate::kernels::transform::{self, DequantizeParams};
use crate::model::likelihood::{mean_and_se, nats_to_bpd};
use crate::model::Flow;
use crate::train::gpu_data::GpuImages;

/// Per-image negative log-likelihood of the 8-bit images in nats (the GPU's version of
/// [`crate::model::likelihood::nats_per_image`], over a whole set), averaged over
/// `draws` dequantization noise draws (seeds `seed, seed + 1, ...`); `draws = 0` uses the
/// bin centres (u = 0.5) instead of noise.
fn image_set_nats(
    flow: &Flow,
    images: &GpuImages,
    pre: Preprocess,
    draws: u32,
    seed: u32,
) -> Result<Vec<f64>> {
    let ctx = flow.context().as_ref();
    let dim = flow.config().dim;
    let batch = images.count.min(crate::model::flow::DEFAULT_CHUNK);
    let ws = flow.workspace(batch)?;
    let pre_logdet = ctx.zeros(&[batch], "transform log-det")?;
    let nll = ctx.zeros(&[batch], "loss per image")?;
    let sums = ctx.zeros(&[2], "loss sums")?;
    let loss = loss::loss_per_image(
        ctx,
        batch,
        dim,
        LossBuffers {
            density: &ws.density,
            pre_logdet: &pre_logdet,
            nll: &nll,
            sums: &sums,
        },
    )?;
    let passes = draws.max(1);
    // Every draw's results get their own rows, so one readback serves all draws.
    let all_nll = ctx.zeros(&[passes as usize * images.count], "loss per image")?;
    for draw in 0..passes {
        let mut encoder = ctx
            .device()
            .create_command_encoder(&wgpu::CommandEncoderDescriptor {
                label: Some("evaluate"),
            });
        // The dispatches must outlive the encoder's submit.
        let mut keep = Vec::new();
        for start in (0..images.count).step_by(batch) {
            let rows = (images.count - start).min(batch);
            let dq = DequantizeParams {
                index_offset: start as u32,
                ..transform::dequantize_params(pre, rows, dim, seed.wrapping_add(draw), draws > 0)
            };
            let d = transform::dequantize(
                ctx,
                dq,
                &images.pixels,
                &images.identity,
                &ws.states,
                &pre_logdet,
            )?;
            let mut list = vec![&d];
            list.extend(ws.forward());
            list.push(&loss);
            ctx.record(&mut encoder, &list);
            let at = ((draw as usize * images.count + start) * 4) as u64;
            encoder.copy_buffer_to_buffer(
                nll.buffer(),
                nll.byte_offset(),
                all_nll.buffer(),
                all_nll.byte_offset() + at,
                (rows * 4) as u64,
            );
            keep.push(d);
        }
        ctx.queue().submit(Some(encoder.finish()));
    }
    let got = ctx.read(&all_nll)?;
    let mut total = vec![0.0f64; images.count];
    for draw in got.chunks_exact(images.count) {
        for (t, &v) in total.iter_mut().zip(draw) {
            *t += v as f64;
        }
    }
    Ok(total.into_iter().map(|t| t / passes as f64).collect())
}

/// A likelihood result: mean and standard error over images, in nats per image and
/// bits/dim. The one type for it: evaluation returns it, `summary.json` records it under
/// these field names, and the report's table and discussion read it.
#[derive(Clone, Copy, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct Likelihood {
    /// Mean negative log-likelihood in nats per image.
    pub nats: f64,
    /// Standard error of `nats` over the images (NaN for fewer than two).
    pub nats_se: f64,
    /// Mean negative log-likelihood in bits per dimension.
    pub bits_per_dim: f64,
    /// Standard error of `bits_per_dim` over the images.
    pub bits_per_dim_se: f64,
    /// Number of images evaluated.
    pub images: usize,
    /// Dequantization noise draws averaged per image (0: bin centres, no noise).
    pub draws: u32,
}

/// Summarises per-image nats of `dim`-pixel images into a [`Likelihood`].
fn summarize(nats: &[f64], dim: usize, draws: u32) -> Likelihood {
    let (mean, se) = mean_and_se(nats);
    Likelihood {
        nats: mean,
        nats_se: se,
        bits_per_dim: nats_to_bpd(mean, dim),
        bits_per_dim_se: nats_to_bpd(se, dim),
        images: nats.len(),
        draws,
    }
}

pub fn evaluate(
    flow: &Flow,
    images: &GpuImages,
    pre: Preprocess,
    draws: u32,
    seed: u32,
) -> Result<Likelihood> {
    let nats = image_set_nats(flow, images, pre, draws, seed)?;
    Ok(summarize(&nats, flow.config().dim, draws))
}
