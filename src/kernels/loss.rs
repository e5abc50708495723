//! The training loss as one stage (`loss.wgsl`): per-sample negative log-likelihood of the
//! 8-bit images in nats (the flow's log-density, the dequantize/logit Jacobian and the
//! `D ln 256` of the bins), its batch mean added to an on-GPU sum the host reads once per
//! logging interval. The gradient seed `dL/dz = z / B` of the backward pass is computed by the
//! last layer's backward kernel (`coupling_backward.wgsl`) as it reads `z`.
//! Reference: `model::likelihood::nats_per_image` on `reference::flow`'s log-density.

use crate::error::Result;
use crate::gpu::kernel::{read, write, Binding, Kernel, KernelInfo, Workgroup};
use crate::gpu::{Dispatch, GpuContext, GpuTensor};
use crate::kernels::{shaders, u};

crate::gpu_params! {
    /// Mirror of `Params` in shaders/loss.wgsl.
    pub struct LossParams {
        pub batch: u32,
        pub dim: u32,
        pub _pad: [u32; 2],
    }
}

const BINDINGS: &[Binding] = &[
    read("density"),
    read("pre_logdet"),
    write("nll"),
    write("sums"),
];

pub const LOSS_REDUCE: Kernel<LossParams> = Kernel::new(KernelInfo {
    shader: &shaders::LOSS,
    entry: "reduce",
    bindings: BINDINGS,
    workgroup: Workgroup::Reduce,
    overrides: &[],
    features: wgpu::Features::empty(),
});

/// The buffers the loss stage reads and writes.
pub struct LossBuffers<'a> {
    /// `[2 * batch]` from [`crate::kernels::density::log_density`]: log|det J|, then log p(y).
    pub density: &'a GpuTensor,
    /// `[batch]`: log|dy/dv| of the dequantize/logit transform.
    pub pre_logdet: &'a GpuTensor,
    /// Out: `[batch]` nats per image.
    pub nll: &'a GpuTensor,
    /// In/out: `[2]`, the sum of batch means and the number of batches.
    pub sums: &'a GpuTensor,
}

/// The per-sample loss and its running sum: one dispatch, for training and evaluation.
pub fn loss_per_image(
    ctx: &GpuContext,
    batch: usize,
    dim: usize,
    bufs: LossBuffers<'_>,
) -> Result<Dispatch> {
    assert!(bufs.density.len() >= 2 * batch && bufs.pre_logdet.len() >= batch);
    assert!(bufs.nll.len() >= batch && bufs.sums.len() >= 2);
    let p = LossParams {
        batch: u(batch),
        dim: u(dim),
        _pad: [0; 2],
    };
    let storage = [bufs.density, bufs.pre_logdet, bufs.nll, bufs.sums];
    ctx.dispatch(&LOSS_REDUCE, &[], &p, &storage, [1, 1, 1])
}
