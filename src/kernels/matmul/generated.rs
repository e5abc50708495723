//! The subgroup matmul kernels `build.rs` generates from [`SUBGROUP_BLOCKS`], declared here
//! from the same table: one `Kernel` per block, named after its shader.

use super::subgroup_blocks::{SubgroupBlock, SUBGROUP_BLOCKS};
use super::{subgroup_kernel, MatmulParams};
use crate::gpu::kernel::Kernel;
use crate::kernels::shaders;

macro_rules! generated {
    ($($i:literal => $name:ident),* $(,)?) => {
        $(pub const $name: Kernel<MatmulParams> = subgroup_kernel(&shaders::$name);)*
        /// Every generated kernel with its block, in the table's order.
        pub static SUBGROUP_KERNELS: &[(SubgroupBlock, &Kernel<MatmulParams>)] =
            &[$((SUBGROUP_BLOCKS[$i], &$name)),*];
    };
}

include!(concat!(env!("OUT_DIR"), "/subgroup_kernels.rs"));
