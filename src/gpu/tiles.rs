//! Every workgroup and tile size in one place, chosen per adapter.
//!
//! Software Vulkan (lavapipe) runs a workgroup as SIMD lanes on one CPU thread and makes
//! workgroup barriers very expensive, so its matmul keeps a large register tile per
//! invocation and no shared memory. Hardware GPUs want many small invocations per workgroup.

/// Rows x columns of C that one invocation of matmul_nn / matmul_tn keeps in registers.
/// Fixed and written out in the shaders (four mat4x4 accumulators): lavapipe runs named
/// accumulators 3x faster than loops over private arrays, and 4 x 16 suits GPUs too.
pub const MATMUL_REGISTER_TILE: (u32, u32) = (4, 16);
/// The same for matmul_nt (one mat4x4 accumulator, vec4 loads along K).
pub const MATMUL_NT_REGISTER_TILE: (u32, u32) = (4, 4);

/// Sizes baked into the pipelines as WGSL `override`s.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct TileConfig {
    /// Matmul workgroup: invocations along N (x) and M (y).
    pub matmul_wg_x: u32,
    pub matmul_wg_y: u32,
    /// Invocations per workgroup of the elementwise kernels.
    pub elementwise_wg: u32,
    /// Invocations per workgroup of the per-row reductions (one workgroup per sample);
    /// must be a power of two.
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

    /// The variants every kernel test runs: both defaults and an odd small one.
    pub const TEST_VARIANTS: [Self; 3] = [
        Self::SOFTWARE,
        Self::HARDWARE,
        Self {
            matmul_wg_x: 4,
            matmul_wg_y: 2,
            elementwise_wg: 64,
            reduce_wg: 32,
        },
    ];

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
