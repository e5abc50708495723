//! What a device context is built with: the workgroup sizes ([`TileConfig`]) and the
//! default matmul kernel of each kind ([`MatmulVariants`]), per adapter kind, and the
//! configurations every kernel test runs.

use crate::gpu::TileConfig;
use crate::kernels::matmul::{MatmulVariant, MatmulVariants};

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct KernelConfig {
    pub tiles: TileConfig,
    /// The context replaces variants the device cannot run by `Tiled`, and the tuner
    /// (`kernels::tune`) may choose others per shape.
    pub matmul: MatmulVariants,
}

impl KernelConfig {
    pub const SOFTWARE: Self = Self {
        tiles: TileConfig::SOFTWARE,
        matmul: MatmulVariants::SOFTWARE,
    };
    pub const HARDWARE: Self = Self {
        tiles: TileConfig::HARDWARE,
        matmul: MatmulVariants::GPU,
    };

    /// The configurations every kernel test runs: both defaults (the subgroup matmuls;
    /// `Shared` and `SplitK`), an odd small one (the tiled matmuls) and one with the kinds
    /// the hardware default leaves out (`SplitK` for NN and NT, `Shared` for TN).
    pub const TEST_CONFIGS: [Self; 5] = [
        Self::SOFTWARE,
        Self::HARDWARE,
        Self {
            tiles: TileConfig {
                matmul_wg_x: 4,
                matmul_wg_y: 2,
                elementwise_wg: 64,
                reduce_wg: 32,
            },
            matmul: MatmulVariants::TILED,
        },
        Self {
            tiles: TileConfig {
                matmul_wg_x: 16,
                matmul_wg_y: 16,
                elementwise_wg: 128,
                reduce_wg: 256,
            },
            matmul: MatmulVariants {
                nn: MatmulVariant::SplitK,
                tn: MatmulVariant::Shared,
                nt: MatmulVariant::SplitK,
            },
        },
        // The subgroup weight gradient the software default leaves out.
        Self {
            tiles: TileConfig::SOFTWARE,
            matmul: MatmulVariants::SUBGROUP,
        },
    ];

    pub fn for_adapter(info: &wgpu::AdapterInfo) -> Self {
        Self {
            tiles: TileConfig::for_adapter(info),
            matmul: MatmulVariants::for_adapter(info),
        }
    }
}
