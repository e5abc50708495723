//! Benchmark only: the adapter's attainable FMA rate from independent FMA chains
//! (`peak_fma.wgsl`), the reference peak every benchmark figure is a fraction of.

use crate::error::Result;
use crate::gpu::kernel::{write, Kernel, KernelInfo, Workgroup};
use crate::gpu::program::groups_for;
use crate::gpu::{Dispatch, GpuContext, GpuTensor};
use crate::kernels::{u, COMMON};

crate::gpu_params! {
    /// Mirror of `Params` in shaders/peak_fma.wgsl.
    pub struct PeakParams {
        pub iterations: u32,
        pub count: u32,
        pub _pad: [u32; 2],
    }
}

pub const PEAK_FMA: Kernel<PeakParams> = Kernel::new(KernelInfo {
    file: "peak_fma.wgsl",
    source: include_str!("../../shaders/peak_fma.wgsl"),
    snippets: &[COMMON],
    entry: "main",
    bindings: &[write("out")],
    workgroup: Workgroup::Elementwise,
    overrides: &[],
    features: wgpu::Features::empty(),
});

/// `count` invocations of `iterations` x 16 chains of FMAs; returns the dispatch and its
/// FLOP count.
pub fn peak_fma(
    ctx: &GpuContext,
    count: usize,
    iterations: u32,
    out: &GpuTensor,
) -> Result<(Dispatch, f64)> {
    assert!(out.len() >= count);
    let p = PeakParams {
        iterations,
        count: u(count),
        _pad: [0; 2],
    };
    let flops = count as f64 * iterations as f64 * 16.0 * 2.0;
    let d = ctx.dispatch(
        &PEAK_FMA,
        &[],
        &p,
        &[out],
        groups_for(count, ctx.tiles().elementwise_wg),
    )?;
    Ok((d, flops))
}
