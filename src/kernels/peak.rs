//! Benchmark only: the adapter's attainable FMA rate from independent FMA chains
//! (`peak_fma.wgsl`), the reference peak every matmul and step figure is a fraction of, and
//! its attainable copy bandwidth (`peak_copy.wgsl`), the reference for the elementwise and
//! reduction kernels.

use crate::error::Result;
use crate::gpu::dispatch::groups_for;
use crate::gpu::kernel::{read, write, Binding, Kernel, KernelInfo, Workgroup};
use crate::gpu::{Dispatch, GpuContext, GpuTensor};
use crate::kernels::{shaders, u};

crate::gpu_params! {
    /// Mirror of `Params` in shaders/peak_fma.wgsl.
    pub struct PeakParams {
        pub iterations: u32,
        pub count: u32,
        pub _pad: [u32; 2],
    }
}

pub const PEAK_FMA: Kernel<PeakParams> = Kernel::new(KernelInfo {
    shader: &shaders::PEAK_FMA,
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

crate::gpu_params! {
    /// Mirror of `Params` in shaders/peak_copy.wgsl.
    pub struct CopyParams {
        pub count: u32,
        pub _pad: [u32; 3],
    }
}

const COPY_BINDINGS: &[Binding] = &[read("src"), write("dst")];

const fn copy_kernel(entry: &'static str) -> Kernel<CopyParams> {
    Kernel::new(KernelInfo {
        shader: &shaders::PEAK_COPY,
        entry,
        bindings: COPY_BINDINGS,
        workgroup: Workgroup::Elementwise,
        overrides: &[],
        features: wgpu::Features::empty(),
    })
}

/// One f32 per invocation, as the elementwise kernels load.
pub const PEAK_COPY_F32: Kernel<CopyParams> = copy_kernel("copy_f32");
/// One vec4 per invocation.
pub const PEAK_COPY_VEC4: Kernel<CopyParams> = copy_kernel("copy_vec4");

/// Copies the first `count` floats of `src` to `dst` (`count` a multiple of 4), one f32 or
/// one vec4 per invocation; returns the dispatch and the bytes it moves (read + written).
pub fn peak_copy(
    ctx: &GpuContext,
    count: usize,
    vec4: bool,
    src: &GpuTensor,
    dst: &GpuTensor,
) -> Result<(Dispatch, f64)> {
    assert!(count % 4 == 0 && src.len() >= count && dst.len() >= count);
    let (kernel, items) = if vec4 {
        (&PEAK_COPY_VEC4, count / 4)
    } else {
        (&PEAK_COPY_F32, count)
    };
    let p = CopyParams {
        count: u(items),
        _pad: [0; 3],
    };
    let d = ctx.dispatch(
        kernel,
        &[],
        &p,
        &[src, dst],
        groups_for(items, ctx.tiles().elementwise_wg),
    )?;
    Ok((d, 2.0 * 4.0 * count as f64))
}
