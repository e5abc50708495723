//! The block shapes of the subgroup matmuls: `build.rs` generates one kernel per entry
//! (`build/subgroup_matmul.rs`) and the crate dispatches from the same table, so a shape
//! is written in one place. Plain Rust with no dependencies, because the build script
//! includes this file too.
//!
//! The table is the tuner's search space (`kernels::tune::candidates`): every block of a
//! kind is timed on each shape of that kind. The first entry of each kind is the default
//! before tuning (`MatmulChoice { block: None }`), chosen as the fastest of 8x4 .. 64x4 and
//! 8x8 .. 32x8 on lavapipe (see BENCHMARKS.md); a block replaces it only when clearly faster.

/// Lanes of the subgroup the kernels are written for (their workgroup size).
pub const SUBGROUP_LANES: u32 = 8;

/// One generated kernel: a workgroup of [`SUBGROUP_LANES`] lanes owns `rows` rows and
/// `SUBGROUP_LANES * cols` columns of C; every lane keeps all `rows` rows of `cols` columns.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct SubgroupBlock {
    /// `"nn"`, `"tn"` or `"nt"`.
    pub kind: &'static str,
    pub rows: u32,
    pub cols: u32,
    /// Whether A is read as vec4s. NN and NT always read A as vec4 along K (lane l loads
    /// rows l, l + 8, ..); TN reads its stored A (K x M) either one scalar per row or, with
    /// this set, as vec4 along M (lane l loads rows 4l .. 4l + 3 of every 32), a quarter of
    /// the loads, which lavapipe pays per lane.
    pub a_vec4: bool,
    /// Steps of K per loop iteration. NN and NT read vec4s along K, so 4; TN 1 or 4 (4:
    /// a quarter of lavapipe's per-iteration cost, which the FMA probe puts at ~60 FMAs).
    pub k_unroll: u32,
}

impl SubgroupBlock {
    /// `<rows>x<cols>`, with `_a4` (TN reading A as vec4) and `_k4` (TN's K unrolled by 4):
    /// what tells the blocks of one kind apart (test names, the tuner's log).
    pub fn short_name(&self) -> String {
        let a4 = if self.kind == "tn" && self.a_vec4 {
            "_a4"
        } else {
            ""
        };
        let unroll = if self.kind == "tn" && self.k_unroll > 1 {
            format!("_k{}", self.k_unroll)
        } else {
            String::new()
        };
        format!("{}x{}{a4}{unroll}", self.rows, self.cols)
    }

    /// `matmul_<kind>_sg_<short name>`: the generated shader's name.
    pub fn name(&self) -> String {
        format!("matmul_{}_sg_{}", self.kind, self.short_name())
    }

    /// The Rust declaration the shader index gives the kernel.
    pub fn generated_declaration(&self) -> String {
        format!("matmul::generated::{}", self.name().to_uppercase())
    }

    /// Rows x columns of C one workgroup covers.
    pub const fn block(&self) -> (u32, u32) {
        (self.rows, SUBGROUP_LANES * self.cols)
    }
}

/// Every generated subgroup matmul: the search space the tuner times per shape
/// (`kernels::tune`). The first entry of each kind is the default before tuning.
pub const SUBGROUP_BLOCKS: &[SubgroupBlock] = &[
    SubgroupBlock {
        kind: "nn",
        rows: 64,
        cols: 4,
        a_vec4: true,
        k_unroll: 4,
    },
    SubgroupBlock {
        kind: "nn",
        rows: 32,
        cols: 4,
        a_vec4: true,
        k_unroll: 4,
    },
    SubgroupBlock {
        kind: "nn",
        rows: 32,
        cols: 8,
        a_vec4: true,
        k_unroll: 4,
    },
    SubgroupBlock {
        kind: "nn",
        rows: 64,
        cols: 8,
        a_vec4: true,
        k_unroll: 4,
    },
    SubgroupBlock {
        kind: "nn",
        rows: 128,
        cols: 4,
        a_vec4: true,
        k_unroll: 4,
    },
    SubgroupBlock {
        kind: "tn",
        rows: 24,
        cols: 8,
        a_vec4: false,
        k_unroll: 1,
    },
    SubgroupBlock {
        kind: "tn",
        rows: 32,
        cols: 4,
        a_vec4: true,
        k_unroll: 1,
    },
    SubgroupBlock {
        kind: "tn",
        rows: 32,
        cols: 8,
        a_vec4: true,
        k_unroll: 1,
    },
    SubgroupBlock {
        kind: "tn",
        rows: 64,
        cols: 4,
        a_vec4: true,
        k_unroll: 1,
    },
    SubgroupBlock {
        kind: "tn",
        rows: 64,
        cols: 8,
        a_vec4: true,
        k_unroll: 1,
    },
    SubgroupBlock {
        kind: "tn",
        rows: 32,
        cols: 8,
        a_vec4: true,
        k_unroll: 4,
    },
    SubgroupBlock {
        kind: "tn",
        rows: 64,
        cols: 4,
        a_vec4: true,
        k_unroll: 4,
    },
    SubgroupBlock {
        kind: "tn",
        rows: 64,
        cols: 8,
        a_vec4: true,
        k_unroll: 4,
    },
    SubgroupBlock {
        kind: "nt",
        rows: 32,
        cols: 4,
        a_vec4: true,
        k_unroll: 4,
    },
    SubgroupBlock {
        kind: "nt",
        rows: 64,
        cols: 4,
        a_vec4: true,
        k_unroll: 4,
    },
    SubgroupBlock {
        kind: "nt",
        rows: 32,
        cols: 8,
        a_vec4: true,
        k_unroll: 4,
    },
    SubgroupBlock {
        kind: "nt",
        rows: 64,
        cols: 8,
        a_vec4: true,
        k_unroll: 4,
    },
    SubgroupBlock {
        kind: "nt",
        rows: 16,
        cols: 8,
        a_vec4: true,
        k_unroll: 4,
    },
];
