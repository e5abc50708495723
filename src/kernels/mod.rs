//! The flow's kernels, one module per family, each beside its WGSL file(s) under `shaders/`:
//! the Rust mirror of the kernel's uniform `Params` and its declared bindings (both checked
//! against the build's reflection of the shader, [`shaders`]) and a launch function that
//! checks shapes on the host and returns a recorded [`crate::gpu::Dispatch`].
//!
//! | family | shaders | CPU reference |
//! |---|---|---|
//! | [`matmul`] | `matmul_{nn,tn,nt}.wgsl`, the generated `matmul_{nn,tn,nt}_sg_*`, `matmul_shared_{nn,tn,nt}.wgsl`, `matmul_split_k_reduce.wgsl`, `matmul_transpose.wgsl` | `reference::mlp` |
//! | [`coupling`] | `gather`, `coupling_{forward,inverse,backward}` | `reference::flow`, `reference::backward` |
//! | [`density`] | `log_density.wgsl` | `reference::flow` |
//! | [`loss`] | `loss.wgsl` | `model::likelihood`, `reference::flow` |
//! | [`transform`] | `dequantize`, `to_pixels`, `gaussian` | `reference::preprocess` |
//! | [`optimizer`] | `grad_norm`, `adam` | `reference::adam` |
//! | [`classifier`] | `classifier_input`, `softmax_cross_entropy` (the sample judge's, [`crate::judge`]) | `reference::classifier` |
//! | [`peak`] | `peak_fma.wgsl`, `peak_copy.wgsl` (benchmarks only) | - |

pub mod classifier;
pub mod config;
pub mod coupling;
pub mod density;
pub mod loss;
pub mod matmul;
pub mod optimizer;
pub mod peak;
pub mod shaders;
pub mod transform;
#[cfg(feature = "native")]
pub mod tune;

use crate::gpu::kernel::{AnyKernel, SharedConst};
use crate::gpu::shader::{str_eq, Snippet};

/// Every kernel declaration: derived by the build from the shaders' `#kernel` lines.
pub static ALL: &[&dyn AnyKernel] = shaders::KERNELS;

/// Every mode constant the host and a shared WGSL snippet both use, with the snippet that
/// defines it.
pub const SHARED_CONSTANTS: &[(&str, &[SharedConst])] = &[
    ("common", &coupling::SHARED_CONSTANTS),
    ("matmul_common", &matmul::SHARED_CONSTANTS),
];

/// Fails the build unless every shared constant has the host's value in its snippet.
const fn check_shared_constants() {
    let mut i = 0;
    while i < SHARED_CONSTANTS.len() {
        let (snippet, consts) = SHARED_CONSTANTS[i];
        let found = find_snippet(snippet);
        let mut j = 0;
        while j < consts.len() {
            let mut k = 0;
            let mut ok = false;
            while k < found.constants.len() {
                let (name, value) = found.constants[k];
                if str_eq(name, consts[j].name) {
                    if value != consts[j].value {
                        panic!(
                            "a mode constant has another value in Rust than in its WGSL snippet"
                        );
                    }
                    ok = true;
                }
                k += 1;
            }
            if !ok {
                panic!("a mode constant of the host is not defined in its WGSL snippet");
            }
            j += 1;
        }
        i += 1;
    }
}

const fn find_snippet(name: &str) -> &'static Snippet {
    let mut i = 0;
    while i < shaders::SNIPPETS.len() {
        if str_eq(shaders::SNIPPETS[i].name, name) {
            return &shaders::SNIPPETS[i];
        }
        i += 1;
    }
    panic!("SHARED_CONSTANTS names a snippet that shaders/shared/ does not have")
}

const _: () = check_shared_constants();

/// `n` as a `u32` for a uniform; sizes are checked against device limits before dispatch.
pub(crate) fn u(n: usize) -> u32 {
    u32::try_from(n).expect("sizes are checked against device limits before dispatch")
}

/// One workgroup per row, folded into 2-D past [`crate::gpu::dispatch::MAX_GROUPS`].
pub(crate) fn groups_rows(rows: usize) -> [u32; 3] {
    crate::gpu::dispatch::groups_for(rows, 1)
}
