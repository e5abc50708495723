//! Between pixels and the flow's input space: dequantize + logit with its log-Jacobian
//! (`dequantize.wgsl`), the inverse back to pixel intensities (`to_pixels.wgsl`) and the
//! prior's Gaussian draws (`gaussian.wgsl`). Reference: `reference::preprocess`.

use crate::config::{MaskKind, Preprocess};
use crate::error::Result;
use crate::gpu::dispatch::groups_for;
use crate::gpu::kernel::{read, write, Kernel, KernelInfo, Workgroup};
use crate::gpu::{Dispatch, GpuContext, GpuTensor};
use crate::kernels::coupling::mask_code;
use crate::kernels::matmul::padded;
use crate::kernels::{groups_rows, shaders, u};

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
        pub has_split: u32,
        pub mask: u32,
        pub half: u32,
        pub split_part: u32,
        pub split_ld: u32,
        pub _pad: [u32; 3],
    }
}

pub const DEQUANTIZE: Kernel<DequantizeParams> = Kernel::new(KernelInfo {
    shader: &shaders::DEQUANTIZE,
    entry: "main",
    bindings: &[
        read("pixels"),
        read("indices"),
        write("states"),
        write("pre_logdet"),
        write("split_dst"),
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
        has_split: 0,
        mask: 0,
        half: 0,
        split_part: 0,
        split_ld: 0,
        _pad: [0; 3],
    }
}

impl DequantizeParams {
    /// These parameters with the split of [`dequantize_and_split`]: part `part` of every row
    /// under `mask` also goes to a `[batch, padded(D/2)]` tensor (the first coupling
    /// layer's conditioner input).
    pub fn with_split(self, mask: MaskKind, part: usize) -> Self {
        assert!(part < 2);
        let half = self.dim as usize / 2;
        Self {
            has_split: 1,
            mask: mask_code(mask),
            half: u(half),
            split_part: u(part),
            split_ld: u(padded(half)),
            ..self
        }
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
    dequantize_and_split(ctx, params, pixels, indices, states, pre_logdet, None)
}

/// [`dequantize`], also writing the part of the images that `params`
/// ([`DequantizeParams::with_split`]) names into `split_dst` (the training step's first
/// conditioner input, which saves the step a `gather` dispatch).
pub fn dequantize_and_split(
    ctx: &GpuContext,
    params: DequantizeParams,
    pixels: &GpuTensor,
    indices: &GpuTensor,
    states: &GpuTensor,
    pre_logdet: &GpuTensor,
    split_dst: Option<&GpuTensor>,
) -> Result<Dispatch> {
    let batch = params.batch as usize;
    assert!(pre_logdet.len() >= batch);
    assert!(states.len() >= params.out_offset as usize + batch * params.dim as usize);
    assert_eq!(
        params.has_split == 1,
        split_dst.is_some(),
        "a split needs both its parameters and its tensor"
    );
    if let Some(dst) = split_dst {
        assert!(dst.len() >= batch * params.split_ld as usize);
    }
    let split_dst = split_dst.unwrap_or(ctx.unused());
    ctx.dispatch(
        &DEQUANTIZE,
        &[],
        &params,
        &[pixels, indices, states, pre_logdet, split_dst],
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
    shader: &shaders::TO_PIXELS,
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
    shader: &shaders::GAUSSIAN,
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
