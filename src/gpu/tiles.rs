//! Every workgroup size in one place, chosen per adapter (the matmul kernels' register
//! tiles and variants are `kernels::matmul::policy`'s).
//!
//! Software Vulkan (lavapipe) runs a workgroup as SIMD lanes on one CPU thread and makes
//! workgroup barriers very expensive, so its kernels keep much work per invocation and no
//! shared memory. Hardware GPUs want many small invocations per workgroup.

/// Workgroup sizes baked into the pipelines as WGSL `override`s.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct TileConfig {
    /// Matmul workgroup of the `Tiled` kernels: invocations along N (x) and M (y).
    pub matmul_wg_x: u32,
    pub matmul_wg_y: u32,
    /// Invocations per workgroup of the elementwise kernels.
    pub elementwise_wg: u32,
    /// Invocations per workgroup of the reductions (the per-row ones, one workgroup per
    /// sample, and the gradient norm's partial sums); must be a power of two.
    pub reduce_wg: u32,
}

impl TileConfig {
    pub const SOFTWARE: Self = Self {
        matmul_wg_x: 8,
        matmul_wg_y: 8,
        elementwise_wg: 256,
        reduce_wg: 64,
    };
    pub const HARDWARE: Self = Self {
        matmul_wg_x: 16,
        matmul_wg_y: 16,
        elementwise_wg: 256,
        reduce_wg: 128,
    };

    pub fn for_adapter(info: &wgpu::AdapterInfo) -> Self {
        match info.device_type {
            wgpu::DeviceType::Cpu => Self::SOFTWARE,
            _ => Self::HARDWARE,
        }
    }

    /// Rows and columns of C one matmul workgroup covers, for a register tile.
    pub fn matmul_block(&self, register_tile: (u32, u32)) -> (u32, u32) {
        (
            register_tile.0 * self.matmul_wg_y,
            register_tile.1 * self.matmul_wg_x,
        )
    }
}
