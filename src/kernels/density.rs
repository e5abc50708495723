//! The fused log-det / log-density reduction (`log_density.wgsl`): one workgroup per sample
//! sums the per-layer scales, the affine couplings' log-scales and `|z|^2` in one pass.
//! Reference: `reference::flow`.

use crate::config::FlowConfig;
use crate::error::Result;
use crate::gpu::kernel::{read, write, Kernel, KernelInfo, Workgroup};
use crate::gpu::{Dispatch, GpuContext, GpuTensor};
use crate::kernels::coupling::coupling_code;
use crate::kernels::{groups_rows, shaders, u};

crate::gpu_params! {
    /// Mirror of `Params` in shaders/log_density.wgsl.
    pub struct LogDensityParams {
        pub batch: u32,
        pub dim: u32,
        pub half: u32,
        pub layers: u32,
        pub z_offset: u32,
        pub coupling: u32,
        pub scales_offset: u32,
        pub s_batch: u32,
    }
}

pub const LOG_DENSITY: Kernel<LogDensityParams> = Kernel::new(KernelInfo {
    shader: &shaders::LOG_DENSITY,
    entry: "main",
    bindings: &[
        read("states"),
        read("log_scales"),
        read("params"),
        write("out"),
    ],
    workgroup: Workgroup::Reduce,
    overrides: &[],
    features: wgpu::Features::empty(),
});

/// `out[b] = log|det J|`, `out[batch + b] = log p(x)`; `log_scales` holds `layers` blocks of
/// `[s_batch, D/2]` (only read for affine couplings).
#[allow(clippy::too_many_arguments)]
pub fn log_density(
    ctx: &GpuContext,
    cfg: &FlowConfig,
    batch: usize,
    states: &GpuTensor,
    z_offset: usize,
    log_scales: &GpuTensor,
    s_batch: usize,
    params: &GpuTensor,
    scales_offset: usize,
    out: &GpuTensor,
) -> Result<Dispatch> {
    assert!(out.len() >= 2 * batch);
    let p = LogDensityParams {
        batch: u(batch),
        dim: u(cfg.dim),
        half: u(cfg.half()),
        layers: u(cfg.layers),
        z_offset: u(z_offset),
        coupling: coupling_code(cfg.coupling),
        scales_offset: u(scales_offset),
        s_batch: u(s_batch),
    };
    ctx.dispatch(
        &LOG_DENSITY,
        &[],
        &p,
        &[states, log_scales, params, out],
        groups_rows(batch),
    )
}
