//! Between pixels and the flow's input space: dequantize + logit with its log-Jacobian
//! (`dequantize.wgsl`), the inverse back to pixel intensities (`to_pixels.wgsl`) and the
//! prior's Gaussian draws (`gaussian.wgsl`). Reference: `reference::preprocess`.

use crate::config::Preprocess;
use crate::error::Result;
use crate::gpu::kernel::{read, write, Kernel, KernelInfo, Workgroup};
use crate::gpu::program::groups_for;
use crate::gpu::{Dispatch, GpuContext, GpuTensor};
use crate::kernels::{groups_rows, u, COMMON};

crate::gpu_params! {
    /// Mirror of `Params` in shaders/dequantize.wgsl.
    pub struct DequantizeParams {
        pub batch: u32,
        pub dim: u32,
        pub seed: u32,
        pub no_noise: u32,
        pub logit: u32,
        pub alpha: f32,
        pub out_offset: u32,
        pub index_offset: u32,
    }
}

pub const DEQUANTIZE: Kernel<DequantizeParams> = Kernel::new(KernelInfo {
    file: "dequantize.wgsl",
    source: include_str!("../../shaders/dequantize.wgsl"),
    snippets: &[COMMON],
    entry: "main",
    bindings: &[
        read("pixels"),
        read("indices"),
        write("states"),
        write("pre_logdet"),
    ],
    workgroup: Workgroup::Reduce,
    overrides: &[],
    features: wgpu::Features::empty(),
});

/// The uniform values of a dequantize dispatch; `seed` changes per epoch via `set_params`.
pub fn dequantize_params(
    pre: Preprocess,
    batch: usize,
    dim: usize,
    seed: u32,
    noise: bool,
) -> DequantizeParams {
    DequantizeParams {
        batch: u(batch),
        dim: u(dim),
        seed,
        no_noise: (!noise) as u32,
        logit: pre.logit_alpha.is_some() as u32,
        alpha: pre.logit_alpha.unwrap_or(0.0),
        out_offset: 0,
        index_offset: 0,
    }
}

/// Images `indices[index_offset..][..batch]` of `pixels` (packed u8) into `states`, and
/// each one's log|dy/dv| into `pre_logdet`.
pub fn dequantize(
    ctx: &GpuContext,
    params: DequantizeParams,
    pixels: &GpuTensor,
    indices: &GpuTensor,
    states: &GpuTensor,
    pre_logdet: &GpuTensor,
) -> Result<Dispatch> {
    let batch = params.batch as usize;
    assert!(pre_logdet.len() >= batch);
    assert!(states.len() >= params.out_offset as usize + batch * params.dim as usize);
    ctx.dispatch(
        &DEQUANTIZE,
        &[],
        &params,
        &[pixels, indices, states, pre_logdet],
        groups_rows(batch),
    )
}

crate::gpu_params! {
    /// Mirror of `Params` in shaders/to_pixels.wgsl.
    pub struct ToPixelsParams {
        pub count: u32,
        pub logit: u32,
        pub alpha: f32,
        pub in_offset: u32,
    }
}

pub const TO_PIXELS: Kernel<ToPixelsParams> = Kernel::new(KernelInfo {
    file: "to_pixels.wgsl",
    source: include_str!("../../shaders/to_pixels.wgsl"),
    snippets: &[COMMON],
    entry: "main",
    bindings: &[read("src"), write("dst")],
    workgroup: Workgroup::Elementwise,
    overrides: &[],
    features: wgpu::Features::empty(),
});

/// `dst = clamp(inverse transform(src[in_offset..]), 0, 1)`, `count` elements.
pub fn to_pixels(
    ctx: &GpuContext,
    pre: Preprocess,
    count: usize,
    src: &GpuTensor,
    in_offset: usize,
    dst: &GpuTensor,
) -> Result<Dispatch> {
    assert!(src.len() >= in_offset + count && dst.len() >= count);
    let p = ToPixelsParams {
        count: u(count),
        logit: pre.logit_alpha.is_some() as u32,
        alpha: pre.logit_alpha.unwrap_or(0.0),
        in_offset: u(in_offset),
    };
    ctx.dispatch(
        &TO_PIXELS,
        &[],
        &p,
        &[src, dst],
        groups_for(count, ctx.tiles().elementwise_wg),
    )
}

crate::gpu_params! {
    /// Mirror of `Params` in shaders/gaussian.wgsl.
    pub struct GaussianParams {
        pub count: u32,
        pub seed: u32,
        pub temperature: f32,
        pub out_offset: u32,
    }
}

pub const GAUSSIAN: Kernel<GaussianParams> = Kernel::new(KernelInfo {
    file: "gaussian.wgsl",
    source: include_str!("../../shaders/gaussian.wgsl"),
    snippets: &[COMMON],
    entry: "main",
    bindings: &[write("dst")],
    workgroup: Workgroup::Elementwise,
    overrides: &[],
    features: wgpu::Features::empty(),
});

/// `dst[out_offset..][..count] = temperature * N(0, 1)` from a counter-based hash of `seed`.
pub fn gaussian(
    ctx: &GpuContext,
    count: usize,
    seed: u32,
    temperature: f32,
    dst: &GpuTensor,
    out_offset: usize,
) -> Result<Dispatch> {
    assert!(dst.len() >= out_offset + count);
    let p = GaussianParams {
        count: u(count),
        seed,
        temperature,
        out_offset: u(out_offset),
    };
    ctx.dispatch(
        &GAUSSIAN,
        &[],
        &p,
        &[dst],
        groups_for(count, ctx.tiles().elementwise_wg),
    )
}
