//! The block shapes of the subgroup matmuls: `build.rs` generates one kernel per entry
//! (`build/subgroup_matmul.rs`) and the crate dispatches from the same table, so a shape
//! is written in one place. Plain Rust with no dependencies, because the build script
//! includes this file too.
//!
//! The first entry of each kind is the one `MatmulVariant::Subgroup` uses; the shapes
//! were the fastest of 8x4 .. 64x4 and 8x8 .. 32x8 on lavapipe (see BENCHMARKS.md).

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
}

impl SubgroupBlock {
    /// `matmul_<kind>_sg_<rows>x<cols>`: the generated shader's name.
    pub fn name(&self) -> String {
        format!("matmul_{}_sg_{}x{}", self.kind, self.rows, self.cols)
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

/// Every generated subgroup matmul.
pub const SUBGROUP_BLOCKS: &[SubgroupBlock] = &[
    SubgroupBlock {
        kind: "nn",
        rows: 64,
        cols: 4,
    },
    SubgroupBlock {
        kind: "tn",
        rows: 24,
        cols: 8,
    },
    SubgroupBlock {
        kind: "nt",
        rows: 32,
        cols: 4,
    },
];
