//! The views of a trained flow that the browser page draws (samples, the layer-by-layer
//! stages, latent interpolation, the bits/dim of chosen images), as futures that end in one readback each, so the same code
//! runs natively (tests block on it) and on the web (where nothing may block). Every image
//! comes back in pixel space, `[0, 1]`, row-major `D` values per image.

use crate::config::Preprocess;
use crate::error::{Error, Result};
use crate::gpu::GpuTensor;
use crate::model::images::GpuImages;
use crate::model::Flow;

/// `n` samples at `temperature`, drawn with `seed`: `n * D` pixel values.
pub async fn samples(
    flow: &Flow,
    pre: Preprocess,
    n: usize,
    temperature: f32,
    seed: u32,
) -> Result<Vec<f32>> {
    let x = flow.sample(n, temperature, seed)?;
    read_pixels(flow, &x, pre).await
}

/// `rows` latent draws followed through the inverse: for each row, its `K + 1` stages
/// (z, after undoing layer K - 1, ..., x), `rows * (K + 1) * D` pixel values.
pub async fn layer_stages(
    flow: &Flow,
    pre: Preprocess,
    rows: usize,
    temperature: f32,
    seed: u32,
) -> Result<Vec<f32>> {
    let d = flow.config().dim;
    let z = flow.sample_latent(rows, temperature, seed)?;
    let stages = flow.inverse_with_stages(&z)?;
    let pixels: Vec<GpuTensor> = stages
        .iter()
        .map(|s| flow.to_pixels(s, pre))
        .collect::<Result<_>>()?;
    let refs: Vec<&GpuTensor> = pixels.iter().collect();
    let read = flow.context().read_many_async(&refs).await?;
    let mut out = Vec::with_capacity(rows * read.len() * d);
    for r in 0..rows {
        for stage in &read {
            out.extend_from_slice(&stage[r * d..(r + 1) * d]);
        }
    }
    Ok(out)
}

/// The latent line between two images given as 8-bit pixels (`D` each): both are
/// dequantized at the middle of their pixel bins (no noise), mapped to z, and `steps`
/// evenly spaced points from z1 to z2 (ends included) are decoded.
/// Returns `(originals, path)`: `2 * D` and `steps * D` pixel values.
pub async fn interpolation(
    flow: &Flow,
    pre: Preprocess,
    first: &[u8],
    second: &[u8],
    steps: usize,
) -> Result<(Vec<f32>, Vec<f32>)> {
    let d = flow.config().dim;
    if first.len() != d || second.len() != d {
        return Err(Error::Config(format!(
            "interpolation needs two images of {d} pixels, got {} and {}",
            first.len(),
            second.len()
        )));
    }
    if steps < 2 {
        return Err(Error::Config("interpolation needs at least 2 steps".into()));
    }
    let ctx = flow.context();
    let (x, _) = dequantize_midpoints(flow, pre, &[first, second].concat())?;
    let (z, _) = flow.forward(&x)?;
    let zs = ctx.read_async(&z).await?;
    let (z1, z2) = zs.split_at(d);
    let line = latent_line(z1, z2, steps);
    let line = ctx.upload(&line, &[steps, d], "interpolation line")?;
    let decoded = flow.inverse(&line)?;
    let pixels = [flow.to_pixels(&x, pre)?, flow.to_pixels(&decoded, pre)?];
    let mut read = ctx.read_many_async(&[&pixels[0], &pixels[1]]).await?;
    let path = read.pop().unwrap_or_default();
    let originals = read.pop().unwrap_or_default();
    Ok((originals, path))
}

/// `steps` evenly spaced points from `z1` to `z2`, both included, back to back (one step:
/// `z1`).
pub fn latent_line(z1: &[f32], z2: &[f32], steps: usize) -> Vec<f32> {
    let mut line = Vec::with_capacity(steps * z1.len());
    for k in 0..steps {
        let t = k as f32 / (steps.max(2) - 1) as f32;
        line.extend(z1.iter().zip(z2).map(|(a, b)| (1.0 - t) * a + t * b));
    }
    line
}

/// Bits per dimension of 8-bit images (`D` bytes each), dequantized at the middle of each
/// pixel's bin: one number per image, as `flowgpu eval` counts them (there averaged over
/// uniform dequantization noise instead).
pub async fn bits_per_dim(flow: &Flow, pre: Preprocess, pixels: &[u8]) -> Result<Vec<f64>> {
    let d = flow.config().dim;
    let (x, pre_logdet) = dequantize_midpoints(flow, pre, pixels)?;
    let log_p = flow.log_likelihood(&x)?;
    let read = flow
        .context()
        .read_many_async(&[&log_p, &pre_logdet])
        .await?;
    Ok(read[0]
        .iter()
        .zip(&read[1])
        .map(|(&lp, &pl)| crate::model::likelihood::bits_per_dim(lp as f64, pl as f64, d))
        .collect())
}

/// Flow inputs of 8-bit images (`D` bytes each) at the middle of each pixel's bin, and the
/// data transform's log|dy/dv| per image.
fn dequantize_midpoints(
    flow: &Flow,
    pre: Preprocess,
    pixels: &[u8],
) -> Result<(GpuTensor, GpuTensor)> {
    let ctx = flow.context();
    GpuImages::from_pixels(ctx, pixels, flow.config().dim, "images")?
        .dequantized_with_logdet(ctx, pre, None)
}

async fn read_pixels(flow: &Flow, x: &GpuTensor, pre: Preprocess) -> Result<Vec<f32>> {
    let px = flow.to_pixels(x, pre)?;
    flow.context().read_async(&px).await
}
