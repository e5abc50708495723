//! Matrix products of the conditioners' linear layers: `C = A B` (forward, with the bias
//! trick and a ReLU epilogue), `C = A^T B` (weight and bias gradients) and `C = A B^T`
//! (input gradients through the ReLU's derivative). Shaders: `matmul_{nn,tn,nt}.wgsl` with
//! `matmul_common.wgsl`; reference: `reference::mlp`.
//!
//! Every matrix is row-major with a row stride of [`padded`] columns, so rows can be read
//! as vec4; the padding is zero and stays zero (kernels never write it).
//!
//! Each kind has several kernels ([`MatmulVariant`], one table: [`variant_kernel`]):
//! - `Tiled` (`matmul_{nn,tn,nt}.wgsl`): each invocation keeps a 4 x 16 (NT: 4 x 4) block of
//!   C in `mat4x4` accumulators; workgroup size from the tiles; runs everywhere.
//! - `Subgroup` (`matmul_{nn,tn,nt}_sg_RxC.wgsl`, written by `scripts/gen_matmul_subgroup.py`):
//!   one 8-lane subgroup per workgroup owns R rows x 8C columns of C; lane l loads the left
//!   operand's rows l, l + 8, .. and shares them with `subgroupBroadcast`. On lavapipe every
//!   storage load is a loop over the lanes, so loads, not FMAs, bound the tiled kernels;
//!   this layout loads R / 8 + C scalars per k for R C FMAs. Blocks chosen by timing.
//! - `Shared` and `SplitK` ([`crate::kernels::matmul_shared`], `matmul_shared_*.wgsl`): for
//!   GPUs, double-buffered K tiles in workgroup memory; `SplitK` also splits K across
//!   workgroups when the M x N grid is small, with a second reduction dispatch.

use crate::error::Result;
use crate::gpu::kernel::{read, write, Binding, Kernel, KernelInfo, SharedConst, Workgroup};
use crate::gpu::program::MAX_GROUPS;
pub use crate::gpu::tiles::{MatmulKind, MatmulShape};
use crate::gpu::tiles::{
    MatmulVariant, TileConfig, MATMUL_NT_REGISTER_TILE, MATMUL_REGISTER_TILE, SUBGROUP_LANES,
};
use crate::gpu::{Dispatch, GpuContext, GpuTensor};
use crate::kernels::matmul_shared::{
    self, MATMUL_NN_SHARED, MATMUL_NT_SHARED, MATMUL_TN_SHARED, SHARED_BLOCK,
};
use crate::kernels::{u, COMMON, MATMUL_COMMON};

crate::gpu_params! {
    /// Mirror of `MatmulParams` in shaders/matmul_common.wgsl.
    pub struct MatmulParams {
        pub m: u32,
        pub n: u32,
        pub k: u32,
        pub lda: u32,
        pub ldb: u32,
        pub ldc: u32,
        pub a_ones: u32,
        pub _pad0: u32,
    }
}

pub(crate) const BINDINGS: &[Binding] = &[read("a"), read("b"), write("c"), read("aux")];

/// A kernel of the matmul family: `MatmulParams` and the a, b, c, aux bindings. Its
/// variants differ in the snippets before the file, the workgroup class, the overrides and the
/// device features they need.
pub(crate) const fn matmul_family(
    file: &'static str,
    source: &'static str,
    snippets: &'static [&'static str],
    workgroup: Workgroup,
    overrides: &'static [&'static str],
    features: wgpu::Features,
) -> Kernel<MatmulParams> {
    Kernel::new(KernelInfo {
        file,
        source,
        snippets,
        entry: "main",
        bindings: BINDINGS,
        workgroup,
        overrides,
        features,
    })
}

const fn matmul_kernel(file: &'static str, source: &'static str) -> Kernel<MatmulParams> {
    matmul_family(
        file,
        source,
        &[COMMON, MATMUL_COMMON],
        Workgroup::Matmul,
        &["EPILOGUE"],
        wgpu::Features::empty(),
    )
}

const fn subgroup_kernel(file: &'static str, source: &'static str) -> Kernel<MatmulParams> {
    matmul_family(
        file,
        source,
        &[COMMON, MATMUL_COMMON],
        Workgroup::Fixed,
        &["EPILOGUE"],
        wgpu::Features::SUBGROUP,
    )
}

pub const MATMUL_NN_SUBGROUP: Kernel<MatmulParams> = subgroup_kernel(
    "matmul_nn_sg_64x4.wgsl",
    include_str!("../../shaders/matmul_nn_sg_64x4.wgsl"),
);
pub const MATMUL_TN_SUBGROUP: Kernel<MatmulParams> = subgroup_kernel(
    "matmul_tn_sg_24x8.wgsl",
    include_str!("../../shaders/matmul_tn_sg_24x8.wgsl"),
);
pub const MATMUL_NT_SUBGROUP: Kernel<MatmulParams> = subgroup_kernel(
    "matmul_nt_sg_32x4.wgsl",
    include_str!("../../shaders/matmul_nt_sg_32x4.wgsl"),
);

/// The kernel of a variant for a kind, and the rows x columns of C one workgroup covers
/// (the grid is `ceil(N / cols) x ceil(M / rows)`).
pub fn variant_kernel(
    variant: MatmulVariant,
    kind: MatmulKind,
    tiles: &TileConfig,
) -> (&'static Kernel<MatmulParams>, (u32, u32)) {
    use MatmulKind::{NN, NT, TN};
    use MatmulVariant::{Shared, SplitK, Subgroup, Tiled, TransposedSubgroup};
    match (variant, kind) {
        (Tiled, NN) => (&MATMUL_NN, tiles.matmul_block(MATMUL_REGISTER_TILE)),
        (Tiled, TN) => (&MATMUL_TN, tiles.matmul_block(MATMUL_REGISTER_TILE)),
        (Tiled, NT) => (&MATMUL_NT, tiles.matmul_block(MATMUL_NT_REGISTER_TILE)),
        // Rows R x (8 lanes * C columns) of matmul_<kind>_sg_<R>x<C>.wgsl.
        (Subgroup | TransposedSubgroup, NN) => (&MATMUL_NN_SUBGROUP, (64, SUBGROUP_LANES * 4)),
        (Subgroup, TN) => (&MATMUL_TN_SUBGROUP, (24, SUBGROUP_LANES * 8)),
        (Subgroup | TransposedSubgroup, NT) => (&MATMUL_NT_SUBGROUP, (32, SUBGROUP_LANES * 4)),
        // The transpose pass first (see `transposed_weight_grad`), then the NN kernel.
        (TransposedSubgroup, TN) => (&MATMUL_NN_SUBGROUP, (64, SUBGROUP_LANES * 4)),
        // SplitK runs the same kernels, its grid given a z dimension.
        (Shared | SplitK, NN) => (&MATMUL_NN_SHARED, SHARED_BLOCK),
        (Shared | SplitK, TN) => (&MATMUL_TN_SHARED, SHARED_BLOCK),
        (Shared | SplitK, NT) => (&MATMUL_NT_SHARED, SHARED_BLOCK),
    }
}

/// The transpose pass of `TransposedSubgroup` (shaders/matmul_transpose.wgsl).
pub const MATMUL_TRANSPOSE: Kernel<MatmulParams> = matmul_family(
    "matmul_transpose.wgsl",
    include_str!("../../shaders/matmul_transpose.wgsl"),
    &[COMMON, MATMUL_COMMON],
    Workgroup::Fixed,
    &[],
    wgpu::Features::empty(),
);

/// Invocations along K of the transpose pass (its WGSL workgroup size).
const TRANSPOSE_WG: usize = 64;

/// `C = A^T B` as `T = A^T` (with the ones row of the bias trick) into the context's scratch
/// buffer, then `C = T B` on the subgroup NN kernel; one [`Dispatch`] of two passes.
fn transposed_weight_grad(
    ctx: &GpuContext,
    mm: Matmul,
    a: &GpuTensor,
    b: &GpuTensor,
    c: &GpuTensor,
    aux: Option<&GpuTensor>,
) -> Result<Dispatch> {
    let [sa, _, _] = mm.stored_shapes();
    let ldt = padded(mm.k);
    let t = ctx.scratch(mm.m * ldt)?;
    let params = MatmulParams {
        m: u(mm.m),
        n: u(mm.n),
        k: u(mm.k),
        lda: u(padded(sa.1)),
        ldb: 0,
        ldc: u(ldt),
        a_ones: mm.a_ones as u32,
        _pad0: 0,
    };
    let groups = [u(ldt.div_ceil(TRANSPOSE_WG)), u(mm.m), 1];
    assert!(
        groups[1] <= MAX_GROUPS,
        "matmul grid too large; split the batch"
    );
    let transpose = ctx.dispatch(
        &MATMUL_TRANSPOSE,
        &[],
        &params,
        &[a, b, &t, ctx.unused()],
        groups,
    )?;
    let product = Matmul {
        kind: MatmulKind::NN,
        a_ones: false,
        ..mm
    };
    let nn = matmul_with(ctx, MatmulVariant::Subgroup, product, &t, b, c, aux)?;
    Ok(transpose.then(nn))
}

pub const MATMUL_NN: Kernel<MatmulParams> = matmul_kernel(
    "matmul_nn.wgsl",
    include_str!("../../shaders/matmul_nn.wgsl"),
);
pub const MATMUL_TN: Kernel<MatmulParams> = matmul_kernel(
    "matmul_tn.wgsl",
    include_str!("../../shaders/matmul_tn.wgsl"),
);
pub const MATMUL_NT: Kernel<MatmulParams> = matmul_kernel(
    "matmul_nt.wgsl",
    include_str!("../../shaders/matmul_nt.wgsl"),
);

/// Applied to each element of C before it is stored; a pipeline override (`EPILOGUE`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Epilogue {
    None = 0,
    Relu = 1,
    /// Multiply by `aux > 0`: the ReLU derivative, `aux` holding the ReLU's output.
    ReluGrad = 2,
}

/// The epilogue codes as matmul_common.wgsl names them.
pub const SHARED_CONSTANTS: [SharedConst; 3] = [
    SharedConst {
        name: "EPILOGUE_NONE",
        value: Epilogue::None as u32,
    },
    SharedConst {
        name: "EPILOGUE_RELU",
        value: Epilogue::Relu as u32,
    },
    SharedConst {
        name: "EPILOGUE_RELU_GRAD",
        value: Epilogue::ReluGrad as u32,
    },
];

/// Row stride of every matrix the matmul kernels touch: columns rounded up to a multiple of
/// 4, so rows can be read as vec4.
pub fn padded(cols: usize) -> usize {
    cols.div_ceil(4) * 4
}

/// A product `C[m, n] = opA(A)[m, k] opB(B)[k, n]` on row-major matrices with [`padded`]
/// row strides.
#[derive(Clone, Copy, Debug)]
pub struct Matmul {
    pub kind: MatmulKind,
    pub m: usize,
    pub n: usize,
    pub k: usize,
    /// The bias trick: opA's last column (NN) or last row (TN) is ones, not stored in A;
    /// B (NN) or C (TN) then has one more row than A has columns: the bias.
    pub a_ones: bool,
    pub epilogue: Epilogue,
}

impl Matmul {
    pub fn flops(&self) -> f64 {
        2.0 * self.m as f64 * self.n as f64 * self.k as f64
    }

    /// The forward product of a linear layer `[batch, n_in] -> [batch, n_out]` with the bias
    /// trick, through a ReLU or not.
    pub fn linear_forward(batch: usize, n_in: usize, n_out: usize, relu: bool) -> Self {
        Self {
            kind: MatmulKind::NN,
            m: batch,
            n: n_out,
            k: n_in + 1,
            a_ones: true,
            epilogue: if relu { Epilogue::Relu } else { Epilogue::None },
        }
    }

    /// `[dW; db] = [x | 1]^T dy` of that layer.
    pub fn weight_grad(batch: usize, n_in: usize, n_out: usize) -> Self {
        Self {
            kind: MatmulKind::TN,
            m: n_in + 1,
            n: n_out,
            k: batch,
            a_ones: true,
            epilogue: Epilogue::None,
        }
    }

    /// `dx = dy W^T` of that layer, through the derivative of the ReLU that made `x` or not.
    pub fn input_grad(batch: usize, n_in: usize, n_out: usize, relu_grad: bool) -> Self {
        Self {
            kind: MatmulKind::NT,
            m: batch,
            n: n_in,
            k: n_out,
            a_ones: false,
            epilogue: if relu_grad {
                Epilogue::ReluGrad
            } else {
                Epilogue::None
            },
        }
    }

    pub fn shape(&self) -> MatmulShape {
        MatmulShape {
            kind: self.kind,
            m: self.m,
            n: self.n,
            k: self.k,
        }
    }

    /// Stored (rows, cols) of A, B and C; row strides are `padded(cols)`.
    pub fn stored_shapes(&self) -> [(usize, usize); 3] {
        let ones = self.a_ones as usize;
        match self.kind {
            MatmulKind::NN => [(self.m, self.k - ones), (self.k, self.n), (self.m, self.n)],
            MatmulKind::TN => [(self.k, self.m - ones), (self.k, self.n), (self.m, self.n)],
            MatmulKind::NT => [(self.m, self.k), (self.n, self.k), (self.m, self.n)],
        }
    }
}

/// `aux` (the ReLU output, C's shape) is needed by [`Epilogue::ReluGrad`] only. The kernel
/// is the context's choice for this shape ([`GpuContext::matmul_variant`]).
pub fn matmul(
    ctx: &GpuContext,
    mm: Matmul,
    a: &GpuTensor,
    b: &GpuTensor,
    c: &GpuTensor,
    aux: Option<&GpuTensor>,
) -> Result<Dispatch> {
    matmul_with(ctx, ctx.matmul_variant(mm.shape()), mm, a, b, c, aux)
}

/// [`matmul`] with a given variant (autotuning and benchmarks compare them).
pub fn matmul_with(
    ctx: &GpuContext,
    variant: MatmulVariant,
    mm: Matmul,
    a: &GpuTensor,
    b: &GpuTensor,
    c: &GpuTensor,
    aux: Option<&GpuTensor>,
) -> Result<Dispatch> {
    assert!(
        !(mm.a_ones && mm.kind == MatmulKind::NT),
        "the bias trick is for NN and TN"
    );
    assert!(mm.m > 0 && mm.n > 0 && mm.k > 0, "empty matmul {mm:?}");
    let [sa, sb, sc] = mm.stored_shapes();
    for (name, t, (rows, cols)) in [("A", a, sa), ("B", b, sb), ("C", c, sc)] {
        assert!(
            t.len() >= rows * padded(cols),
            "matmul {name} holds {} < {rows} x {} elements",
            t.len(),
            padded(cols)
        );
    }
    if mm.epilogue == Epilogue::ReluGrad {
        assert!(
            aux.is_some_and(|t| t.len() >= sc.0 * padded(sc.1)),
            "ReluGrad needs aux of C's shape"
        );
    }
    let aux = aux.unwrap_or(ctx.unused());
    let (kernel, (bm, bn)) = variant_kernel(variant, mm.kind, ctx.tiles());
    let params = MatmulParams {
        m: u(mm.m),
        n: u(mm.n),
        // NN loops over the stored columns of A and adds the bias row after.
        k: u(if mm.kind == MatmulKind::NN {
            sa.1
        } else {
            mm.k
        }),
        lda: u(padded(sa.1)),
        ldb: u(padded(sb.1)),
        ldc: u(padded(sc.1)),
        a_ones: mm.a_ones as u32,
        _pad0: 0,
    };
    let groups = [
        u(mm.n.div_ceil(bn as usize)),
        u(mm.m.div_ceil(bm as usize)),
        1,
    ];
    assert!(
        groups[0] <= MAX_GROUPS && groups[1] <= MAX_GROUPS,
        "matmul grid too large; split the batch"
    );
    let detail = format!("{:?} {}x{}x{} {variant:?}", mm.kind, mm.m, mm.n, mm.k);
    if variant == MatmulVariant::TransposedSubgroup && mm.kind == MatmulKind::TN {
        return Ok(transposed_weight_grad(ctx, mm, a, b, c, Some(aux))?.with_detail(detail));
    }
    if matches!(variant, MatmulVariant::Shared | MatmulVariant::SplitK) {
        return Ok(matmul_shared::dispatch(
            ctx,
            variant,
            kernel,
            &mm,
            &params,
            [a, b, c, aux],
            groups,
        )?
        .with_detail(detail));
    }
    Ok(ctx
        .dispatch(
            kernel,
            &[("EPILOGUE", mm.epilogue as u32 as f64)],
            &params,
            &[a, b, c, aux],
            groups,
        )?
        .with_detail(detail))
}
