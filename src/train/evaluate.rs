//! Log-likelihood of a whole image set on the GPU, in chunks, one submit per dequantization
//! draw, one readback (the only wait) at the end.

use crate::error::Result;
use crate::gpu::ops::{self, Preprocess};
use crate::model::likelihood::{mean_and_se, nats_to_bpd};
use crate::model::Flow;
use crate::train::gpu_data::GpuImages;

/// Per-image negative log-likelihood of the 8-bit images in nats, averaged over
/// `draws` dequantization noise draws (seeds `seed, seed + 1, ...`); `draws = 0` uses the
/// bin centres (u = 0.5) instead of noise.
pub fn nats_per_image(
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
    let passes = draws.max(1);
    // Every draw's results get their own rows, so one readback serves all draws.
    let rows_all = passes as usize * images.count;
    let log_p = ctx.zeros(&[rows_all], "log p")?;
    let log_det_pre = ctx.zeros(&[rows_all], "transform log-det")?;
    for draw in 0..passes {
        let mut encoder = ctx
            .device
            .create_command_encoder(&wgpu::CommandEncoderDescriptor {
                label: Some("evaluate"),
            });
        // The dispatches must outlive the encoder's submit.
        let mut keep = Vec::new();
        for start in (0..images.count).step_by(batch) {
            let rows = (images.count - start).min(batch);
            let mut dq = pre.params(rows, dim, seed.wrapping_add(draw), draws > 0);
            dq.index_offset = start as u32;
            let d = ops::dequantize(
                ctx,
                dq,
                &images.pixels,
                &images.identity,
                &ws.states,
                &pre_logdet,
            );
            let mut list = vec![&d];
            list.extend(ws.forward());
            ctx.record(&mut encoder, &list);
            let rows_bytes = (rows * 4) as u64;
            let at = ((draw as usize * images.count + start) * 4) as u64;
            encoder.copy_buffer_to_buffer(
                ws.density.buffer(),
                ws.density.byte_offset() + (batch * 4) as u64,
                log_p.buffer(),
                log_p.byte_offset() + at,
                rows_bytes,
            );
            encoder.copy_buffer_to_buffer(
                pre_logdet.buffer(),
                pre_logdet.byte_offset(),
                log_det_pre.buffer(),
                log_det_pre.byte_offset() + at,
                rows_bytes,
            );
            keep.push(d);
        }
        ctx.queue.submit(Some(encoder.finish()));
    }
    let got = ctx.read_many(&[&log_p, &log_det_pre])?;
    let mut total = vec![0.0f64; images.count];
    for (log_p, log_det_pre) in got[0]
        .chunks_exact(images.count)
        .zip(got[1].chunks_exact(images.count))
    {
        for (t, (&lp, &ld)) in total.iter_mut().zip(log_p.iter().zip(log_det_pre)) {
            *t += crate::model::likelihood::nats_per_image(lp as f64, ld as f64, dim);
        }
    }
    Ok(total.into_iter().map(|t| t / passes as f64).collect())
}

/// Mean and standard error over images, in nats per image and bits/dim.
#[derive(Clone, Copy, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct Likelihood {
    pub nats: f64,
    pub nats_se: f64,
    pub bits_per_dim: f64,
    pub bits_per_dim_se: f64,
    pub images: usize,
    pub draws: u32,
}

pub fn summarize(nats: &[f64], dim: usize, draws: u32) -> Likelihood {
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
    let nats = nats_per_image(flow, images, pre, draws, seed)?;
    Ok(summarize(&nats, flow.config().dim, draws))
}
