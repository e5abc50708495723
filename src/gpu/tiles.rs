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

/// Invocations along each side of the square workgroup of the `Shared` and `SplitK` matmuls
/// (an override, `WG_SIDE`, of `shaders/matmul_shared.wgsl`). Each invocation keeps a 4 x 4
/// block of C, so a workgroup covers `4 * SIDE` rows x `4 * SIDE` columns, and each K tile is
/// `SIDE` deep: every invocation loads exactly one vec4 of each operand per tile. 16 gives
/// 64 x 64 x 16 tiles, two of each operand in 16 KiB of workgroup memory (WebGPU's minimum).
pub const MATMUL_SHARED_SIDE: u32 = 16;
/// Workgroup memory those kernels declare: two K tiles of each operand, `SIDE^2` vec4 each.
pub const MATMUL_SHARED_WORKGROUP_BYTES: u32 = 2 * 2 * MATMUL_SHARED_SIDE * MATMUL_SHARED_SIDE * 16;

/// `SplitK` splits K until the grid has at least this many workgroups (a few per compute
/// unit of a large GPU: 132 SMs x 8 resident 256-invocation workgroups on an H100/H200)...
pub const MATMUL_SPLIT_K_TARGET_GROUPS: usize = 1024;
/// ... but never into slices shorter than this many K tiles, so each slice amortizes its
/// prologue and the extra partial-sum traffic.
pub const MATMUL_SPLIT_K_MIN_TILES: usize = 2;

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
    /// For GPUs: a square workgroup of [`MATMUL_SHARED_SIDE`]^2 invocations computes a block of
    /// C from two K tiles of each operand in workgroup memory (vec4 loads; the next tile is
    /// loaded while the current one is used, one barrier per tile).
    Shared,
    /// `Shared` with K split across workgroups when the grid alone would leave a large GPU
    /// idle (the weight gradient, whose K is the batch): each slice writes partial sums to
    /// the context's scratch buffer and a second dispatch adds them in a fixed order.
    SplitK,
    /// The weight gradient (TN) only, for CPU adapters: `A^T` is written to the context's
    /// scratch buffer by a transpose pass, then the `Subgroup` NN kernel computes `A^T B`.
    /// On lavapipe the NN kernel does 3x the FLOPs per second of the TN one, and inside a
    /// training step the TN kernel was slower still (half the quick model's step time).
    /// Other kinds run as `Subgroup`.
    TransposedSubgroup,
}

/// What computes one matmul shape: a variant and, for the subgroup variants, which of the
/// generated block shapes (an index into `kernels::matmul::generated::SUBGROUP_KERNELS`;
/// `None` is the kind's default, the table's first block of that kind). The block is the
/// tuner's search space within the variant.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct MatmulChoice {
    pub variant: MatmulVariant,
    pub block: Option<usize>,
}

impl From<MatmulVariant> for MatmulChoice {
    fn from(variant: MatmulVariant) -> Self {
        Self {
            variant,
            block: None,
        }
    }
}

/// Lanes of the subgroup the `Subgroup` kernels are written for (their workgroup size).
pub const SUBGROUP_LANES: u32 = 8;

impl MatmulVariant {
    pub const ALL: [Self; 5] = [
        Self::Tiled,
        Self::Subgroup,
        Self::Shared,
        Self::SplitK,
        Self::TransposedSubgroup,
    ];

    /// Whether this variant is a kernel of its own for `kind` (`TransposedSubgroup` only
    /// differs from `Subgroup` for the weight gradient).
    pub fn applies_to(self, kind: MatmulKind) -> bool {
        self != Self::TransposedSubgroup || kind == MatmulKind::TN
    }

    /// Whether a device with these features and adapter can run this variant.
    pub fn runs_on(self, features: wgpu::Features, info: &wgpu::AdapterInfo) -> bool {
        match self {
            Self::Tiled | Self::Shared | Self::SplitK => true,
            Self::Subgroup | Self::TransposedSubgroup => {
                features.contains(wgpu::Features::SUBGROUP)
                    && info.subgroup_min_size >= SUBGROUP_LANES
            }
        }
    }

    /// Whether this variant's workgroups fit a device with these limits (WebGPU guarantees
    /// 16 KiB of workgroup memory, but wgpu's downlevel GL adapters may offer slightly less).
    pub fn fits(self, limits: &wgpu::Limits) -> bool {
        match self {
            Self::Tiled | Self::Subgroup | Self::TransposedSubgroup => true,
            Self::Shared | Self::SplitK => {
                limits.max_compute_workgroup_storage_size >= MATMUL_SHARED_WORKGROUP_BYTES
                    && limits.max_compute_invocations_per_workgroup
                        >= MATMUL_SHARED_SIDE * MATMUL_SHARED_SIDE
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
    /// As a reader wants it: `forward Tiled, weight gradient Tiled, input gradient Tiled`.
    pub fn describe(&self) -> String {
        format!(
            "forward {:?}, weight gradient {:?}, input gradient {:?}",
            self.nn, self.tn, self.nt
        )
    }

    pub fn get(&self, kind: MatmulKind) -> MatmulVariant {
        match kind {
            MatmulKind::NN => self.nn,
            MatmulKind::TN => self.tn,
            MatmulKind::NT => self.nt,
        }
    }

    pub const TILED: Self = Self::all(MatmulVariant::Tiled);
    pub const SUBGROUP: Self = Self::all(MatmulVariant::Subgroup);
    pub const SHARED: Self = Self::all(MatmulVariant::Shared);
    /// The GPU default: workgroup-memory kernels, K split for the weight gradient (whose
    /// M x N grid is small and whose K, the batch, is long).
    pub const GPU: Self = Self {
        nn: MatmulVariant::Shared,
        tn: MatmulVariant::SplitK,
        nt: MatmulVariant::Shared,
    };

    pub const fn all(v: MatmulVariant) -> Self {
        Self {
            nn: v,
            tn: v,
            nt: v,
        }
    }

    /// These choices with every variant the device cannot run replaced by `Tiled`.
    pub fn supported(self, features: wgpu::Features, info: &wgpu::AdapterInfo) -> Self {
        self.tiled_unless(|v| v.runs_on(features, info))
    }

    /// These choices with every variant too large for the device's limits replaced by `Tiled`.
    pub fn within(self, limits: &wgpu::Limits) -> Self {
        self.tiled_unless(|v| v.fits(limits))
    }

    fn tiled_unless(self, ok: impl Fn(MatmulVariant) -> bool) -> Self {
        let keep = |v| if ok(v) { v } else { MatmulVariant::Tiled };
        Self {
            nn: keep(self.nn),
            tn: keep(self.tn),
            nt: keep(self.nt),
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
        matmul_variants: MatmulVariants {
            nn: MatmulVariant::Subgroup,
            tn: MatmulVariant::TransposedSubgroup,
            nt: MatmulVariant::Subgroup,
        },
    };
    pub const HARDWARE: Self = Self {
        matmul_wg_x: 16,
        matmul_wg_y: 16,
        elementwise_wg: 256,
        reduce_wg: 128,
        matmul_variants: MatmulVariants::GPU,
    };

    /// The variants every kernel test runs: both defaults (the subgroup matmuls; `Shared`
    /// and `SplitK`), an odd small one (the tiled matmuls) and one with the kinds the
    /// hardware default leaves out (`SplitK` for NN and NT, `Shared` for TN).
    pub const TEST_VARIANTS: [Self; 5] = [
        Self::SOFTWARE,
        Self::HARDWARE,
        Self {
            matmul_wg_x: 4,
            matmul_wg_y: 2,
            elementwise_wg: 64,
            reduce_wg: 32,
            matmul_variants: MatmulVariants::TILED,
        },
        Self {
            matmul_wg_x: 16,
            matmul_wg_y: 16,
            elementwise_wg: 128,
            reduce_wg: 256,
            matmul_variants: MatmulVariants {
                nn: MatmulVariant::SplitK,
                tn: MatmulVariant::Shared,
                nt: MatmulVariant::SplitK,
            },
        },
        // The subgroup weight gradient the software default leaves out.
        Self {
            matmul_variants: MatmulVariants::SUBGROUP,
            ..Self::SOFTWARE
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
