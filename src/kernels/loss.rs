//! The training loss as one stage (`loss.wgsl`): per-sample negative log-likelihood of the
//! 8-bit images in nats (the flow's log-density, the dequantize/logit Jacobian and the
//! `D ln 256` of the bins), its batch mean added to an on-GPU sum the host reads once per
//! logging interval, and the gradient seed `dL/dz = z / B` of the backward pass.
//! Reference: `model::likelihood::nats_per_image` on `reference::flow`'s log-density.

use crate::error::Result;
use crate::gpu::kernel::{read, write, Binding, Kernel, KernelInfo, Workgroup};
use crate::gpu::program::groups_for;
use crate::gpu::{Dispatch, GpuContext, GpuTensor};
use crate::kernels::{u, COMMON};

crate::gpu_params! {
    /// Mirror of `Params` in shaders/loss.wgsl.
    pub struct LossParams {
        pub batch: u32,
        pub dim: u32,
        pub z_offset: u32,
        pub _pad: u32,
    }
}

const BINDINGS: &[Binding] = &[
    read("density"),
    read("pre_logdet"),
    read("states"),
    write("nll"),
    write("sums"),
    write("grad_z"),
];

pub const LOSS_REDUCE: Kernel<LossParams> = Kernel::new(KernelInfo {
    file: "loss.wgsl",
    source: include_str!("../../shaders/loss.wgsl"),
    snippets: &[COMMON],
    entry: "reduce",
    bindings: BINDINGS,
    workgroup: Workgroup::Reduce,
    overrides: &[],
    features: wgpu::Features::empty(),
});

pub const LOSS_SEED: Kernel<LossParams> = Kernel::new(KernelInfo {
    file: "loss.wgsl",
    source: include_str!("../../shaders/loss.wgsl"),
    snippets: &[COMMON],
    entry: "seed",
    bindings: BINDINGS,
    workgroup: Workgroup::Elementwise,
    overrides: &[],
    features: wgpu::Features::empty(),
});

/// The buffers the loss stage reads and writes.
pub struct LossBuffers<'a> {
    /// `[2 * batch]` from [`crate::kernels::density::log_density`]: log|det J|, then log p(y).
    pub density: &'a GpuTensor,
    /// `[batch]`: log|dy/dv| of the dequantize/logit transform.
    pub pre_logdet: &'a GpuTensor,
    /// The flow's states; z at `z_offset`.
    pub states: &'a GpuTensor,
    /// Out: `[batch]` nats per image.
    pub nll: &'a GpuTensor,
    /// In/out: `[2]`, the sum of batch means and the number of batches.
    pub sums: &'a GpuTensor,
    /// Out: `[batch, D]`, dL/dz (training only).
    pub grad_z: Option<&'a GpuTensor>,
}

fn params_and_storage<'a>(
    ctx: &'a GpuContext,
    batch: usize,
    dim: usize,
    z_offset: usize,
    bufs: &LossBuffers<'a>,
) -> (LossParams, [&'a GpuTensor; 6]) {
    assert!(bufs.density.len() >= 2 * batch && bufs.pre_logdet.len() >= batch);
    assert!(bufs.nll.len() >= batch && bufs.sums.len() >= 2);
    assert!(bufs.states.len() >= z_offset + batch * dim);
    let p = LossParams {
        batch: u(batch),
        dim: u(dim),
        z_offset: u(z_offset),
        _pad: 0,
    };
    let storage = [
        bufs.density,
        bufs.pre_logdet,
        bufs.states,
        bufs.nll,
        bufs.sums,
        bufs.grad_z.unwrap_or(ctx.unused()),
    ];
    (p, storage)
}

/// The per-sample loss and its running sum (evaluation needs no more).
pub fn loss_per_image(
    ctx: &GpuContext,
    batch: usize,
    dim: usize,
    z_offset: usize,
    bufs: LossBuffers<'_>,
) -> Result<Dispatch> {
    let (p, storage) = params_and_storage(ctx, batch, dim, z_offset, &bufs);
    ctx.dispatch(&LOSS_REDUCE, &[], &p, &storage, [1, 1, 1])
}

/// The two dispatches of the training loss stage: the per-sample loss and its running sum,
/// then the gradient seed into `bufs.grad_z`.
pub fn loss(
    ctx: &GpuContext,
    batch: usize,
    dim: usize,
    z_offset: usize,
    bufs: LossBuffers<'_>,
) -> Result<[Dispatch; 2]> {
    let grad_z = bufs.grad_z.expect("training seeds dL/dz");
    assert!(grad_z.len() >= batch * dim);
    let (p, storage) = params_and_storage(ctx, batch, dim, z_offset, &bufs);
    Ok([
        ctx.dispatch(&LOSS_REDUCE, &[], &p, &storage, [1, 1, 1])?,
        ctx.dispatch(
            &LOSS_SEED,
            &[],
            &p,
            &storage,
            groups_for(batch * dim, ctx.tiles().elementwise_wg),
        )?,
    ])
}
