//! The flow's kernels, one module per family, each beside its WGSL file(s) under `shaders/`:
//! the Rust mirror of the kernel's uniform `Params` (checked against the shader by
//! [`crate::gpu::reflect`]), its declared bindings and a launch function that checks shapes
//! on the host and returns a recorded [`crate::gpu::Dispatch`].
//!
//! | family | shaders | CPU reference |
//! |---|---|---|
//! | [`matmul`], [`matmul_shared`] | `matmul_{nn,tn,nt}.wgsl`, `matmul_{nn,tn,nt}_sg_*.wgsl`, `matmul_shared_{nn,tn,nt}.wgsl`, `matmul_split_k_reduce.wgsl` | `reference::mlp` |
//! | [`coupling`] | `gather`, `coupling_{forward,inverse,backward}` | `reference::flow`, `reference::backward` |
//! | [`density`] | `log_density.wgsl` | `reference::flow` |
//! | [`loss`] | `loss.wgsl` | `model::likelihood`, `reference::flow` |
//! | [`transform`] | `dequantize`, `to_pixels`, `gaussian` | `reference::preprocess` |
//! | [`optimizer`] | `grad_norm`, `adam` | `reference::adam` |
//! | [`peak`] | `peak_fma.wgsl`, `peak_copy.wgsl` (benchmarks only) | - |

pub mod coupling;
pub mod density;
pub mod loss;
pub mod matmul;
pub mod matmul_shared;
pub mod optimizer;
pub mod peak;
pub mod transform;
#[cfg(feature = "native")]
pub mod tune;

use crate::gpu::kernel::{AnyKernel, SharedConst};

/// Prepended to every kernel (WGSL has no `#include`).
pub const COMMON: &str = include_str!("../../shaders/common.wgsl");
/// Prepended to the matmul kernels.
pub const MATMUL_COMMON: &str = include_str!("../../shaders/matmul_common.wgsl");

/// Every kernel, for the tests that check each against its shader.
pub static ALL: &[&dyn AnyKernel] = &[
    &matmul::MATMUL_NN,
    &matmul::MATMUL_TN,
    &matmul::MATMUL_NT,
    &matmul::MATMUL_NN_SUBGROUP,
    &matmul::MATMUL_TN_SUBGROUP,
    &matmul::MATMUL_NT_SUBGROUP,
    &matmul::MATMUL_TRANSPOSE,
    &matmul_shared::MATMUL_NN_SHARED,
    &matmul_shared::MATMUL_TN_SHARED,
    &matmul_shared::MATMUL_NT_SHARED,
    &matmul_shared::MATMUL_SPLIT_K_REDUCE,
    &coupling::GATHER,
    &coupling::COUPLING_FORWARD,
    &coupling::COUPLING_INVERSE,
    &coupling::COUPLING_BACKWARD,
    &density::LOG_DENSITY,
    &loss::LOSS_REDUCE,
    &transform::DEQUANTIZE,
    &transform::TO_PIXELS,
    &transform::GAUSSIAN,
    &optimizer::GRAD_NORM_PARTIAL,
    &optimizer::GRAD_NORM_FINISH,
    &optimizer::ADAM,
    &peak::PEAK_FMA,
    &peak::PEAK_COPY_F32,
    &peak::PEAK_COPY_VEC4,
];

/// Every mode constant the host and the WGSL snippets share, with the snippet that
/// defines it.
pub fn shared_constants() -> Vec<(&'static str, Vec<SharedConst>)> {
    vec![
        ("common.wgsl", coupling::SHARED_CONSTANTS.to_vec()),
        ("matmul_common.wgsl", matmul::SHARED_CONSTANTS.to_vec()),
    ]
}

/// `n` as a `u32` for a uniform; sizes are checked against device limits before dispatch.
pub(crate) fn u(n: usize) -> u32 {
    u32::try_from(n).expect("sizes are checked against device limits before dispatch")
}

/// One workgroup per row, folded into 2-D past [`crate::gpu::program::MAX_GROUPS`].
pub(crate) fn groups_rows(rows: usize) -> [u32; 3] {
    crate::gpu::program::groups_for(rows, 1)
}
