//! The views of a trained flow (samples, the layer-by-layer stages, latent interpolation,
//! the bits/dim of chosen images) that the browser page draws and the report's figures
//! (`report::figures`) are made of, as futures that end in a readback, so the same code
//! runs natively (which blocks on it) and on the web (where nothing may block). Images come
//! back row-major, `D` values per image, in pixel space `[0, 1]` (and, for the figures'
//! checks, also in flow space where said).

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
    let stages = stages(flow, pre, rows, temperature, seed).await?;
    let mut out = Vec::with_capacity(rows * stages.pixels.len() * d);
    for r in 0..rows {
        for stage in &stages.pixels {
            out.extend_from_slice(&stage[r * d..(r + 1) * d]);
        }
    }
    Ok(out)
}

/// The stages of `rows` latent draws through the inverse, stage by stage (z first, x last),
/// each `[rows, D]`.
pub struct Stages {
    /// In flow space: the first is z, the last is what [`Flow::sample`] returns.
    pub flow_space: Vec<Vec<f32>>,
    /// The same in pixel space, `[0, 1]`.
    pub pixels: Vec<Vec<f32>>,
}

/// `rows` draws z ~ N(0, T^2 I) with `seed` followed through the inverse, in flow space and
/// in pixels (one readback).
pub async fn stages(
    flow: &Flow,
    pre: Preprocess,
    rows: usize,
    temperature: f32,
    seed: u32,
) -> Result<Stages> {
    let z = flow.sample_latent(rows, temperature, seed)?;
    let stages = flow.inverse_with_stages(&z)?;
    let pixels: Vec<GpuTensor> = stages
        .iter()
        .map(|s| flow.to_pixels(s, pre))
        .collect::<Result<_>>()?;
    let refs: Vec<&GpuTensor> = stages.iter().chain(&pixels).collect();
    let mut read = flow.context().read_many_async(&refs).await?;
    let pixels = read.split_off(stages.len());
    Ok(Stages {
        flow_space: read,
        pixels,
    })
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
    let lines = latent_lines(flow, pre, &[first, second].concat(), steps).await?;
    Ok((lines.originals_pixels, lines.path_pixels))
}

/// Latent lines between pairs of images, each `[n, D]` back to back.
pub struct LatentLines {
    /// The images of every pair (first, second, next pair's first, ...) in flow space.
    pub originals: Vec<f32>,
    pub originals_pixels: Vec<f32>,
    /// `steps` decoded points per pair, pair after pair, in flow space.
    pub path: Vec<f32>,
    pub path_pixels: Vec<f32>,
}

/// [`interpolation`] for many pairs at once: `pairs` holds the 8-bit pixels of each pair's
/// two images (`2 * D` per pair, back to back).
pub async fn latent_lines(
    flow: &Flow,
    pre: Preprocess,
    pairs: &[u8],
    steps: usize,
) -> Result<LatentLines> {
    let d = flow.config().dim;
    if steps < 2 {
        return Err(Error::Config("interpolation needs at least 2 steps".into()));
    }
    if pairs.is_empty() || pairs.len() % (2 * d) != 0 {
        return Err(Error::Config(format!(
            "interpolation needs pairs of images of {d} pixels, got {} pixels",
            pairs.len()
        )));
    }
    let n = pairs.len() / (2 * d);
    let ctx = flow.context();
    let (x, _) = dequantize_midpoints(flow, pre, pairs)?;
    let (z, _) = flow.forward(&x)?;
    let zs = ctx.read_async(&z).await?;
    let line: Vec<f32> = zs
        .chunks_exact(2 * d)
        .flat_map(|pair| latent_line(&pair[..d], &pair[d..], steps))
        .collect();
    let line = ctx.upload(&line, &[n * steps, d], "interpolation line")?;
    let decoded = flow.inverse(&line)?;
    let pixels = [flow.to_pixels(&x, pre)?, flow.to_pixels(&decoded, pre)?];
    let mut read = ctx
        .read_many_async(&[&x, &decoded, &pixels[0], &pixels[1]])
        .await?
        .into_iter();
    let mut next = || read.next().unwrap_or_default();
    Ok(LatentLines {
        originals: next(),
        path: next(),
        originals_pixels: next(),
        path_pixels: next(),
    })
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
