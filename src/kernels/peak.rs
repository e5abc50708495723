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

const FMA_BINDINGS: &[Binding] = &[write("out")];

const fn fma_kernel(entry: &'static str) -> Kernel<PeakParams> {
    Kernel::new(KernelInfo {
        shader: &shaders::PEAK_FMA,
        entry,
        bindings: FMA_BINDINGS,
        // The workgroup size is one of the probe's parameters: `WG` per dispatch.
        workgroup: Workgroup::Fixed,
        overrides: &["WG"],
        features: wgpu::Features::empty(),
    })
}

pub const PEAK_FMA_4X1: Kernel<PeakParams> = fma_kernel("chains4_unroll1");
pub const PEAK_FMA_4X4: Kernel<PeakParams> = fma_kernel("chains4_unroll4");
pub const PEAK_FMA_8X1: Kernel<PeakParams> = fma_kernel("chains8_unroll1");
pub const PEAK_FMA_8X4: Kernel<PeakParams> = fma_kernel("chains8_unroll4");
pub const PEAK_FMA_2X8: Kernel<PeakParams> = fma_kernel("chains2_unroll8");

/// One shape of the FMA probe: its kernel, vec4 chains per invocation, FMAs of each chain
/// per loop iteration.
pub struct FmaProbe {
    pub kernel: &'static Kernel<PeakParams>,
    pub chains: u32,
    pub unroll: u32,
}

/// Every probe kernel; the bench also varies the workgroup and dispatch sizes.
pub const FMA_PROBES: [FmaProbe; 5] = [
    FmaProbe {
        kernel: &PEAK_FMA_4X1,
        chains: 4,
        unroll: 1,
    },
    FmaProbe {
        kernel: &PEAK_FMA_4X4,
        chains: 4,
        unroll: 4,
    },
    FmaProbe {
        kernel: &PEAK_FMA_8X1,
        chains: 8,
        unroll: 1,
    },
    FmaProbe {
        kernel: &PEAK_FMA_8X4,
        chains: 8,
        unroll: 4,
    },
    FmaProbe {
        kernel: &PEAK_FMA_2X8,
        chains: 2,
        unroll: 8,
    },
];

impl FmaProbe {
    /// `entry (4 vec4 chains x 1)`, as the bench prints it.
    pub fn label(&self) -> String {
        format!("{} vec4 chains x {}", self.chains, self.unroll)
    }
}

/// `count` invocations (workgroups of `wg`) of `iterations` loop iterations of `probe`;
/// returns the dispatch and its FLOP count.
pub fn peak_fma(
    ctx: &GpuContext,
    probe: &FmaProbe,
    wg: u32,
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
    let flops = count as f64 * iterations as f64 * (4 * probe.chains * probe.unroll) as f64 * 2.0;
    let d = ctx.dispatch(
        probe.kernel,
        &[("WG", wg as f64)],
        &p,
        &[out],
        groups_for(count, wg),
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
