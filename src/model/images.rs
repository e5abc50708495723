//! Images resident on the GPU as 8-bit pixels packed four to a `u32` (MNIST's 60k images as
//! f32 would be 188 MB, more than a 128 MiB storage binding; as bytes they are 47 MB), and
//! their dequantization into flow inputs. Training (`train::gpu_data` adds the upload of a
//! data set) and the browser page share it.

use crate::config::Preprocess;
use crate::error::{Error, Result};
use crate::gpu::{GpuContext, GpuTensor};
use crate::kernels::transform;

pub struct GpuImages {
    pub pixels: GpuTensor,
    /// `0, 1, ..., count - 1`: the index list evaluation walks through.
    pub identity: GpuTensor,
    pub count: usize,
    pub dim: usize,
}

impl GpuImages {
    /// `pixels`: whole images of `dim` bytes each, back to back.
    pub fn from_pixels(ctx: &GpuContext, pixels: &[u8], dim: usize, label: &str) -> Result<Self> {
        if pixels.is_empty() || dim == 0 || pixels.len() % dim != 0 {
            return Err(Error::Data(format!(
                "the {label} hold {} pixels, not a whole, non-zero number of {dim}-pixel images",
                pixels.len()
            )));
        }
        let count = pixels.len() / dim;
        let ids: Vec<u32> = (0..count as u32).collect();
        Ok(Self {
            pixels: ctx.upload_bytes(pixels, label)?,
            identity: ctx.upload_words(&ids, &[count], label)?,
            count,
            dim,
        })
    }

    /// The flow inputs of all these images: dequantized with noise stream `noise_seed`, or at
    /// the bin centres (u = 0.5) when `None` (deterministic, for figures).
    pub fn dequantized(
        &self,
        ctx: &GpuContext,
        pre: Preprocess,
        noise_seed: Option<u32>,
    ) -> Result<GpuTensor> {
        Ok(self.dequantized_with_logdet(ctx, pre, noise_seed)?.0)
    }

    /// [`GpuImages::dequantized`] and each image's log|dy/dv| of the data transform.
    pub fn dequantized_with_logdet(
        &self,
        ctx: &GpuContext,
        pre: Preprocess,
        noise_seed: Option<u32>,
    ) -> Result<(GpuTensor, GpuTensor)> {
        let x = ctx.zeros(&[self.count, self.dim], "dequantized images")?;
        let pre_logdet = ctx.zeros(&[self.count], "transform log-det")?;
        let params = transform::dequantize_params(
            pre,
            self.count,
            self.dim,
            noise_seed.unwrap_or(0),
            noise_seed.is_some(),
        );
        let d = transform::dequantize(ctx, params, &self.pixels, &self.identity, &x, &pre_logdet)?;
        ctx.submit(&[&d]);
        Ok((x, pre_logdet))
    }
}
