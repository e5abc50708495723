//! Which kernel computes each matmul: the variants, what each device can run, the split-K
//! and register-tile constants, the defaults per adapter kind and the tuner's choices per
//! shape ([`MatmulPolicy`], one per context). The kernels themselves are in the parent
//! module; [`crate::gpu`] keeps only workgroup sizes.

use std::collections::HashMap;
use std::sync::RwLock;

use crate::error::{Error, Result};

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

impl MatmulVariants {
    /// The software default: subgroup kernels, the weight gradient through a transposed copy.
    pub const SOFTWARE: Self = Self {
        nn: MatmulVariant::Subgroup,
        tn: MatmulVariant::TransposedSubgroup,
        nt: MatmulVariant::Subgroup,
    };

    /// The default for an adapter of this kind.
    pub fn for_adapter(info: &wgpu::AdapterInfo) -> Self {
        match info.device_type {
            wgpu::DeviceType::Cpu => Self::SOFTWARE,
            _ => Self::GPU,
        }
    }
}

/// A context's matmul policy: the default variant of each kind (reduced to what the device
/// runs) and the tuner's choices per shape, which dispatches recorded afterwards use.
#[derive(Debug)]
pub struct MatmulPolicy {
    defaults: MatmulVariants,
    /// Which of [`MatmulVariant::ALL`] the device runs and fits.
    runnable: [bool; MatmulVariant::ALL.len()],
    choices: RwLock<HashMap<MatmulShape, MatmulChoice>>,
}

impl MatmulPolicy {
    /// `defaults` with every variant the device cannot run (or fit) replaced by `Tiled`.
    pub fn new(
        defaults: MatmulVariants,
        features: wgpu::Features,
        info: &wgpu::AdapterInfo,
        limits: &wgpu::Limits,
    ) -> Self {
        Self {
            defaults: defaults.supported(features, info).within(limits),
            runnable: MatmulVariant::ALL.map(|v| v.runs_on(features, info) && v.fits(limits)),
            choices: RwLock::default(),
        }
    }

    /// The default variant of each kind on this device.
    pub fn defaults(&self) -> MatmulVariants {
        self.defaults
    }

    /// Whether this device runs `variant`.
    pub fn runs(&self, variant: MatmulVariant) -> bool {
        MatmulVariant::ALL
            .iter()
            .position(|&v| v == variant)
            .is_some_and(|i| self.runnable[i])
    }

    /// The variant that computes a matmul of this shape: the tuned choice, else the default.
    pub fn variant(&self, shape: MatmulShape) -> MatmulVariant {
        self.choice(shape).variant
    }

    /// The variant and subgroup block that compute a matmul of this shape: the tuned choice,
    /// else the default variant for its kind with its default block.
    pub fn choice(&self, shape: MatmulShape) -> MatmulChoice {
        self.choices
            .read()
            .ok()
            .and_then(|c| c.get(&shape).copied())
            .unwrap_or_else(|| self.defaults.get(shape.kind).into())
    }

    /// Records tuned choices; variants this device cannot run are ignored.
    pub fn set(&self, choices: &[(MatmulShape, MatmulChoice)]) -> Result<()> {
        let mut map = self
            .choices
            .write()
            .map_err(|_| Error::Gpu("the matmul choices were poisoned by a panic".into()))?;
        for &(shape, c) in choices {
            if self.runs(c.variant) {
                map.insert(shape, c);
            }
        }
        Ok(())
    }
}
