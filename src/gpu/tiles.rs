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

/// Which operand is transposed: the three products a linear layer needs.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
pub enum MatmulKind {
    /// `C = A B`
    NN,
    /// `C = A B^T`
    NT,
    /// `C = A^T B`
    TN,
}

/// A matmul's kind and size `C[m, n] = opA(A)[m, k] opB(B)[k, n]`: what a variant is chosen
/// for.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
pub struct MatmulShape {
    pub kind: MatmulKind,
    pub m: usize,
    pub n: usize,
    pub k: usize,
}

/// Which kernel computes a matmul kind (see `kernels::matmul` for the table of kernels and
/// the blocks of C they cover).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
pub enum MatmulVariant {
    /// Register-tiled, no subgroup operations, workgroup size from the tiles; runs everywhere.
    Tiled,
    /// One subgroup of [`SUBGROUP_LANES`] lanes per workgroup sharing the left operand's loads
    /// with `subgroupBroadcast`; needs `Features::SUBGROUP` and subgroups of at least that
    /// many lanes. Made for CPU adapters, where every storage load is a loop over the lanes.
    Subgroup,
}

/// Lanes of the subgroup the `Subgroup` kernels are written for (their workgroup size).
pub const SUBGROUP_LANES: u32 = 8;

impl MatmulVariant {
    pub const ALL: [Self; 2] = [Self::Tiled, Self::Subgroup];

    /// Whether a device with these features and adapter can run this variant.
    pub fn runs_on(self, features: wgpu::Features, info: &wgpu::AdapterInfo) -> bool {
        match self {
            Self::Tiled => true,
            Self::Subgroup => {
                features.contains(wgpu::Features::SUBGROUP)
                    && info.subgroup_min_size >= SUBGROUP_LANES
            }
        }
    }
}

/// The variant chosen for each matmul kind: C = A B (forward), A^T B (weight gradient) and
/// A B^T (input gradient).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
pub struct MatmulVariants {
    pub nn: MatmulVariant,
    pub tn: MatmulVariant,
    pub nt: MatmulVariant,
}

impl MatmulVariants {
    pub fn get(&self, kind: MatmulKind) -> MatmulVariant {
        match kind {
            MatmulKind::NN => self.nn,
            MatmulKind::TN => self.tn,
            MatmulKind::NT => self.nt,
        }
    }

    pub const TILED: Self = Self::all(MatmulVariant::Tiled);
    pub const SUBGROUP: Self = Self::all(MatmulVariant::Subgroup);

    pub const fn all(v: MatmulVariant) -> Self {
        Self {
            nn: v,
            tn: v,
            nt: v,
        }
    }

    /// These choices with every variant the device cannot run replaced by `Tiled`.
    pub fn supported(self, features: wgpu::Features, info: &wgpu::AdapterInfo) -> Self {
        let ok = |v: MatmulVariant| {
            if v.runs_on(features, info) {
                v
            } else {
                MatmulVariant::Tiled
            }
        };
        Self {
            nn: ok(self.nn),
            tn: ok(self.tn),
            nt: ok(self.nt),
        }
    }
}

/// Sizes baked into the pipelines as WGSL `override`s, and the matmul kernels chosen.
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
    /// Which matmul kernel each kind uses; the context replaces variants the device cannot
    /// run by `Tiled`, and autotuning (`kernels::matmul::tune`) may choose others.
    pub matmul_variants: MatmulVariants,
}

impl TileConfig {
    pub const SOFTWARE: Self = Self {
        matmul_wg_x: 8,
        matmul_wg_y: 8,
        elementwise_wg: 256,
        reduce_wg: 64,
        matmul_variants: MatmulVariants::SUBGROUP,
    };
    pub const HARDWARE: Self = Self {
        matmul_wg_x: 16,
        matmul_wg_y: 16,
        elementwise_wg: 256,
        reduce_wg: 128,
        matmul_variants: MatmulVariants::TILED,
    };

    /// The variants every kernel test runs: both defaults (so the subgroup and the tiled
    /// matmuls) and an odd small one.
    pub const TEST_VARIANTS: [Self; 3] = [
        Self::SOFTWARE,
        Self::HARDWARE,
        Self {
            matmul_wg_x: 4,
            matmul_wg_y: 2,
            elementwise_wg: 64,
            reduce_wg: 32,
            matmul_variants: MatmulVariants::TILED,
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
