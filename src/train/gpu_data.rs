//! A dataset resident on the GPU as 8-bit pixels packed four to a `u32` (MNIST's 60k images
//! as f32 would be 188 MB, more than a 128 MiB storage binding; as bytes they are 47 MB).

use crate::data::ImageSet;
use crate::error::{Error, Result};
use crate::gpu::{GpuContext, GpuTensor};

pub struct GpuImages {
    pub pixels: GpuTensor,
    /// `0, 1, ..., count - 1`: the index list evaluation walks through.
    pub identity: GpuTensor,
    pub count: usize,
    pub dim: usize,
    pub labels: Vec<u8>,
}

impl GpuImages {
    pub fn upload(ctx: &GpuContext, set: &ImageSet, label: &str) -> Result<Self> {
        let dim = set.dim();
        if set.is_empty() {
            return Err(Error::Data(format!("the {label} set is empty")));
        }
        let mut bytes = set.images.clone();
        bytes.resize(bytes.len().div_ceil(4) * 4, 0);
        let words: Vec<u32> = bytes
            .chunks_exact(4)
            .map(|c| u32::from_le_bytes([c[0], c[1], c[2], c[3]]))
            .collect();
        let pixels = ctx.upload_words(&words, &[words.len()], label)?;
        let ids: Vec<u32> = (0..set.len() as u32).collect();
        let identity = ctx.upload_words(&ids, &[ids.len()], label)?;
        Ok(Self {
            pixels,
            identity,
            count: set.len(),
            dim,
            labels: set.labels.clone(),
        })
    }
}

impl GpuImages {
    /// The flow inputs of all these images: dequantized with noise stream `noise_seed`, or at
    /// the bin centres (u = 0.5) when `None` (deterministic, for figures).
    pub fn dequantized(
        &self,
        ctx: &GpuContext,
        pre: crate::config::Preprocess,
        noise_seed: Option<u32>,
    ) -> Result<GpuTensor> {
        let x = ctx.zeros(&[self.count, self.dim], "dequantized images")?;
        let pre_logdet = ctx.zeros(&[self.count], "transform log-det")?;
        let params = crate::kernels::transform::dequantize_params(
            pre,
            self.count,
            self.dim,
            noise_seed.unwrap_or(0),
            noise_seed.is_some(),
        );
        let d = crate::kernels::transform::dequantize(
            ctx,
            params,
            &self.pixels,
            &self.identity,
            &x,
            &pre_logdet,
        )?;
        ctx.submit(&[&d]);
        Ok(x)
    }
}
