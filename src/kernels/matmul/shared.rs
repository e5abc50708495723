//! The workgroup-memory matmuls for GPUs: `MatmulVariant::Shared` and `SplitK`.
//!
//! One shader body (`matmul_shared.wgsl`) with a file per kind saying how it reads its
//! operands (`matmul_shared_{nn,tn,nt}.wgsl`): a square workgroup of
//! [`MATMUL_SHARED_SIDE`]^2 invocations computes a [`SHARED_BLOCK`] of C from double-buffered
//! K tiles in workgroup memory. `SplitK` runs the same kernels with the grid's z dimension
//! cutting K into slices ([`split_k_slices`]): each slice writes its partial product to the
//! context's scratch buffer ([`GpuContext::scratch`]), and `matmul_split_k_reduce.wgsl` adds
//! the slices in a fixed order and applies the epilogue; the two passes are one [`Dispatch`].
//! Made for GPUs; on lavapipe (where barriers are very slow) they are only tested.

use crate::error::Result;
use crate::gpu::dispatch::groups_for;
use crate::gpu::kernel::{Kernel, Workgroup};
use crate::gpu::shader::Shader;
use crate::gpu::{Dispatch, GpuContext, GpuTensor};
use crate::kernels::matmul::policy::{
    MatmulVariant, MATMUL_SHARED_SIDE, MATMUL_SPLIT_K_MIN_TILES, MATMUL_SPLIT_K_TARGET_GROUPS,
};
use crate::kernels::matmul::{matmul_family, Epilogue, Matmul, MatmulParams};
use crate::kernels::{shaders, u};

/// Rows x columns of C one workgroup covers: 4 x 4 per invocation.
pub const SHARED_BLOCK: (u32, u32) = (4 * MATMUL_SHARED_SIDE, 4 * MATMUL_SHARED_SIDE);

const fn shared_kernel(shader: &'static Shader) -> Kernel<MatmulParams> {
    matmul_family(
        shader,
        Workgroup::Fixed,
        &["EPILOGUE", "WG_SIDE"],
        wgpu::Features::empty(),
    )
}

pub const MATMUL_NN_SHARED: Kernel<MatmulParams> = shared_kernel(&shaders::MATMUL_SHARED_NN);
pub const MATMUL_TN_SHARED: Kernel<MatmulParams> = shared_kernel(&shaders::MATMUL_SHARED_TN);
pub const MATMUL_NT_SHARED: Kernel<MatmulParams> = shared_kernel(&shaders::MATMUL_SHARED_NT);

/// Adds the slices of a split-K product: `MatmulParams` with `k` = slices and `lda` = the
/// elements between slices; `a` the partial sums, `b` unused.
pub const MATMUL_SPLIT_K_REDUCE: Kernel<MatmulParams> = matmul_family(
    &shaders::MATMUL_SPLIT_K_REDUCE,
    Workgroup::Elementwise,
    &["EPILOGUE"],
    wgpu::Features::empty(),
);

/// Slices of K for a product whose grid has `groups` workgroups and whose K (opA's columns,
/// the bias column included) is `k`: enough to bring the grid to
/// [`MATMUL_SPLIT_K_TARGET_GROUPS`], no slice shorter than [`MATMUL_SPLIT_K_MIN_TILES`] tiles,
/// whole tiles per slice, and at most `max_slices` (the scratch buffer's limit). Depends on
/// the shape only, so results are reproducible across runs and devices with the same tiles.
pub fn split_k_slices(groups: usize, k: usize, max_slices: usize) -> usize {
    let tiles = k.div_ceil(MATMUL_SHARED_SIDE as usize);
    let wanted = MATMUL_SPLIT_K_TARGET_GROUPS.div_ceil(groups.max(1));
    let slices = wanted
        .min(tiles / MATMUL_SPLIT_K_MIN_TILES)
        .min(max_slices)
        .max(1);
    // Round to whole tiles per slice without an empty last slice.
    tiles.div_ceil(tiles.div_ceil(slices))
}

/// Records a `Shared` or `SplitK` matmul whose kernel, parameters, storage (a, b, c, aux) and
/// M x N grid `kernels::matmul::matmul` has checked and computed.
pub(crate) fn dispatch(
    ctx: &GpuContext,
    variant: MatmulVariant,
    kernel: &'static Kernel<MatmulParams>,
    mm: &Matmul,
    params: &MatmulParams,
    storage: [&GpuTensor; 4],
    groups: [u32; 3],
) -> Result<Dispatch> {
    let side = ("WG_SIDE", MATMUL_SHARED_SIDE as f64);
    let epilogue = ("EPILOGUE", mm.epilogue as u32 as f64);
    let slice_len = mm.m * params.ldc as usize;
    let slices = match variant {
        MatmulVariant::SplitK => {
            let max_slices = (ctx.max_binding_bytes() / 4) as usize / slice_len;
            split_k_slices((groups[0] * groups[1]) as usize, mm.k, max_slices)
        }
        _ => 1,
    };
    if slices == 1 {
        return ctx.dispatch(kernel, &[epilogue, side], params, &storage, groups);
    }
    let [a, b, c, aux] = storage;
    let partials = ctx.scratch(slices * slice_len)?;
    let partial_pass = ctx.dispatch(
        kernel,
        &[("EPILOGUE", Epilogue::None as u32 as f64), side],
        params,
        &[a, b, &partials, ctx.unused()],
        [groups[0], groups[1], u(slices)],
    )?;
    let reduce_params = MatmulParams {
        k: u(slices),
        lda: u(slice_len),
        ..*params
    };
    let reduce = ctx.dispatch(
        &MATMUL_SPLIT_K_REDUCE,
        &[epilogue],
        &reduce_params,
        &[&partials, ctx.unused(), c, aux],
        groups_for(slice_len / 4, ctx.tiles().elementwise_wg),
    )?;
    Ok(partial_pass.then(reduce))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_spec_weight_gradient_is_split_to_fill_a_large_gpu() {
        // dW of a 1024 -> 1024 layer at batch 256: 17 x 16 blocks of 64 x 64, 16 K tiles.
        assert_eq!(split_k_slices(17 * 16, 256, usize::MAX), 4);
        // A big grid is not split; a short K is not split below the minimum slice.
        assert_eq!(split_k_slices(2000, 4096, usize::MAX), 1);
        assert_eq!(split_k_slices(1, 37, usize::MAX), 1);
        // Whole tiles per slice, none empty: 9 tiles into at most 4 slices -> 3 of 3.
        assert_eq!(split_k_slices(1, 130, usize::MAX), 3);
        // The scratch limit wins.
        assert_eq!(split_k_slices(1, 4096, 5), 5);
    }
}
