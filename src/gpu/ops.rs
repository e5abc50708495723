//! Typed operations: each builds the [`Dispatch`] of one kernel from tensors and shapes, with
//! a `#[repr(C)]` mirror of the kernel's WGSL `Params`. Shapes are checked here, so a wrong
//! call fails on the host with a message instead of as a GPU validation error.

use bytemuck::{Pod, Zeroable};

use crate::config::{CouplingKind, FlowConfig, MaskKind};
use crate::gpu::context::GpuContext;
use crate::gpu::kernels::Kernel;
use crate::gpu::program::{groups_for, Dispatch, MAX_GROUPS};
use crate::gpu::tensor::GpuTensor;
use crate::gpu::tiles::{MATMUL_NT_REGISTER_TILE, MATMUL_REGISTER_TILE};

fn mask_code(mask: MaskKind) -> u32 {
    match mask {
        MaskKind::Halves => 0,
        MaskKind::Interleaved => 1,
    }
}

fn affine_code(kind: CouplingKind) -> u32 {
    (kind == CouplingKind::Affine) as u32
}

fn u(n: usize) -> u32 {
    u32::try_from(n).expect("sizes are checked against device limits before dispatch")
}

/// One workgroup per row, folded into 2-D past [`MAX_GROUPS`].
fn groups_rows(rows: usize) -> [u32; 3] {
    groups_for(rows, 1)
}

// ---------------------------------------------------------------------------------------
// Matmul

/// Which operand is transposed: the three products a linear layer needs.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum MatmulKind {
    /// `C = A B`
    NN,
    /// `C = A B^T`
    NT,
    /// `C = A^T B`
    TN,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Epilogue {
    None,
    Relu,
    /// Multiply by `aux > 0`: the ReLU derivative, `aux` holding the ReLU's output.
    ReluGrad,
}

#[repr(C)]
#[derive(Clone, Copy, Pod, Zeroable)]
pub struct MatmulParams {
    pub m: u32,
    pub n: u32,
    pub k: u32,
    pub lda: u32,
    pub ldb: u32,
    pub ldc: u32,
    pub a_ones: u32,
    pub epilogue: u32,
}

/// Row stride of every matrix the matmul kernels touch: columns rounded up to a multiple of
/// 4, so rows can be read as vec4. The padding is zero and stays zero (kernels never write it).
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

/// `aux` (the ReLU output, C's shape) is needed by [`Epilogue::ReluGrad`] only.
pub fn matmul(
    ctx: &GpuContext,
    mm: Matmul,
    a: &GpuTensor,
    b: &GpuTensor,
    c: &GpuTensor,
    aux: Option<&GpuTensor>,
) -> Dispatch {
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
    let aux = aux.unwrap_or(&ctx.unused);
    let (kernel, tile) = match mm.kind {
        MatmulKind::NN => (Kernel::MatmulNN, MATMUL_REGISTER_TILE),
        MatmulKind::TN => (Kernel::MatmulTN, MATMUL_REGISTER_TILE),
        MatmulKind::NT => (Kernel::MatmulNT, MATMUL_NT_REGISTER_TILE),
    };
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
        epilogue: match mm.epilogue {
            Epilogue::None => 0,
            Epilogue::Relu => 1,
            Epilogue::ReluGrad => 2,
        },
    };
    let (bm, bn) = ctx.tiles.matmul_block(tile);
    let groups = [
        u(mm.n.div_ceil(bn as usize)),
        u(mm.m.div_ceil(bm as usize)),
        1,
    ];
    assert!(
        groups[0] <= MAX_GROUPS && groups[1] <= MAX_GROUPS,
        "matmul grid too large; split the batch"
    );
    ctx.dispatch(kernel, &params, &[a, b, c, aux], groups)
}

// ---------------------------------------------------------------------------------------
// Coupling: split, forward, inverse, merge

#[repr(C)]
#[derive(Clone, Copy, Pod, Zeroable)]
pub struct GatherParams {
    pub batch: u32,
    pub dim: u32,
    pub half: u32,
    pub mask: u32,
    pub src_offset: u32,
    pub part: u32,
    pub unscale: u32,
    pub scale_offset: u32,
    pub dst_ld: u32,
    pub _pad: [u32; 3],
}

/// `dst[b, j] = states[src_offset + b * D + part_index(part, j)]`, times `exp(-scale)` when
/// `unscale` is given (the offset of `s_l` in `params`).
pub fn gather(
    ctx: &GpuContext,
    cfg: &FlowConfig,
    batch: usize,
    states: &GpuTensor,
    src_offset: usize,
    part: usize,
    unscale: Option<usize>,
    params: &GpuTensor,
    dst: &GpuTensor,
) -> Dispatch {
    assert!(states.len() >= src_offset + batch * cfg.dim);
    assert!(dst.len() >= batch * padded(cfg.half()));
    let p = GatherParams {
        batch: u(batch),
        dim: u(cfg.dim),
        half: u(cfg.half()),
        mask: mask_code(cfg.mask),
        src_offset: u(src_offset),
        part: u(part),
        unscale: unscale.is_some() as u32,
        scale_offset: u(unscale.unwrap_or(0)),
        dst_ld: u(padded(cfg.half())),
        _pad: [0; 3],
    };
    ctx.dispatch(
        Kernel::Gather,
        &p,
        &[states, params, dst],
        groups_for(batch * cfg.half(), ctx.tiles.elementwise_wg),
    )
}

/// Mirror of `CouplingParams` in shaders/common.wgsl.
#[repr(C)]
#[derive(Clone, Copy, Pod, Zeroable)]
pub struct CouplingParams {
    pub batch: u32,
    pub dim: u32,
    pub half: u32,
    pub mask: u32,
    pub in_offset: u32,
    pub out_offset: u32,
    pub tpart: u32,
    pub affine: u32,
    pub h_ld: u32,
    pub s_offset: u32,
    pub scale_offset: u32,
    pub bound: f32,
}

impl CouplingParams {
    fn new(cfg: &FlowConfig, site: CouplingSite, s_offset: usize) -> Self {
        Self {
            batch: u(site.batch),
            dim: u(cfg.dim),
            half: u(cfg.half()),
            mask: mask_code(cfg.mask),
            in_offset: u(site.in_offset),
            out_offset: u(site.out_offset),
            tpart: u(cfg.transformed_part(site.layer)),
            affine: affine_code(cfg.coupling),
            h_ld: u(padded(cfg.mlp_out())),
            s_offset: u(s_offset),
            scale_offset: u(site.scale_offset),
            bound: cfg.scale_bound,
        }
    }
}

/// Where one coupling layer reads and writes inside the state and parameter buffers.
#[derive(Clone, Copy, Debug)]
pub struct CouplingSite {
    pub layer: usize,
    pub batch: usize,
    /// Offsets (elements) in `states` of the layer's input x_l and output x_{l+1}.
    pub in_offset: usize,
    pub out_offset: usize,
    /// Offset of `s_l` in the parameter buffer.
    pub scale_offset: usize,
}

/// Forward coupling + scale; writes `states[out]` and (affine) the layer's bounded log-scales
/// at `s_offset` in `log_scales`.
pub fn coupling_forward(
    ctx: &GpuContext,
    cfg: &FlowConfig,
    site: CouplingSite,
    states: &GpuTensor,
    h: &GpuTensor,
    params: &GpuTensor,
    log_scales: &GpuTensor,
    s_offset: usize,
) -> Dispatch {
    assert!(h.len() >= site.batch * padded(cfg.mlp_out()));
    let p = CouplingParams::new(cfg, site, s_offset);
    let groups = groups_for(site.batch * cfg.dim, ctx.tiles.elementwise_wg);
    ctx.dispatch(
        Kernel::CouplingForward,
        &p,
        &[states, h, params, log_scales],
        groups,
    )
}

/// Inverse coupling + scale: `states[out] = layer^-1(states[in])`, `h` computed from the
/// gathered, unscaled conditioning half of `states[in]`.
pub fn coupling_inverse(
    ctx: &GpuContext,
    cfg: &FlowConfig,
    site: CouplingSite,
    states: &GpuTensor,
    h: &GpuTensor,
    params: &GpuTensor,
) -> Dispatch {
    assert!(h.len() >= site.batch * padded(cfg.mlp_out()));
    let p = CouplingParams::new(cfg, site, 0);
    let groups = groups_for(site.batch * cfg.dim, ctx.tiles.elementwise_wg);
    ctx.dispatch(Kernel::CouplingInverse, &p, &[states, h, params], groups)
}

#[repr(C)]
#[derive(Clone, Copy, Pod, Zeroable)]
pub struct ScatterParams {
    pub batch: u32,
    pub dim: u32,
    pub half: u32,
    pub mask: u32,
    pub part: u32,
    pub src_ld: u32,
    pub _pad: [u32; 2],
}

/// `dst[b, part_index(part, j)] += src[b, j]` (`src` with [`padded`] rows).
pub fn scatter_add(
    ctx: &GpuContext,
    cfg: &FlowConfig,
    batch: usize,
    part: usize,
    src: &GpuTensor,
    dst: &GpuTensor,
) -> Dispatch {
    assert!(src.len() >= batch * padded(cfg.half()) && dst.len() >= batch * cfg.dim);
    let p = ScatterParams {
        batch: u(batch),
        dim: u(cfg.dim),
        half: u(cfg.half()),
        mask: mask_code(cfg.mask),
        part: u(part),
        src_ld: u(padded(cfg.half())),
        _pad: [0; 2],
    };
    ctx.dispatch(
        Kernel::ScatterAdd,
        &p,
        &[src, dst],
        groups_for(batch * cfg.half(), ctx.tiles.elementwise_wg),
    )
}

// ---------------------------------------------------------------------------------------
// Log-density reduction

#[repr(C)]
#[derive(Clone, Copy, Pod, Zeroable)]
pub struct LogDensityParams {
    pub batch: u32,
    pub dim: u32,
    pub half: u32,
    pub layers: u32,
    pub z_offset: u32,
    pub affine: u32,
    pub scales_offset: u32,
    pub s_batch: u32,
}

/// `out[b] = log|det J|`, `out[batch + b] = log p(x_b)`; `log_scales` holds `layers` blocks of
/// `[s_batch, D/2]` (only read for affine couplings).
pub fn log_density(
    ctx: &GpuContext,
    cfg: &FlowConfig,
    batch: usize,
    states: &GpuTensor,
    z_offset: usize,
    log_scales: &GpuTensor,
    s_batch: usize,
    params: &GpuTensor,
    scales_offset: usize,
    out: &GpuTensor,
) -> Dispatch {
    assert!(out.len() >= 2 * batch);
    let p = LogDensityParams {
        batch: u(batch),
        dim: u(cfg.dim),
        half: u(cfg.half()),
        layers: u(cfg.layers),
        z_offset: u(z_offset),
        affine: affine_code(cfg.coupling),
        scales_offset: u(scales_offset),
        s_batch: u(s_batch),
    };
    ctx.dispatch(
        Kernel::LogDensity,
        &p,
        &[states, log_scales, params, out],
        groups_rows(batch),
    )
}

// ---------------------------------------------------------------------------------------
// Data transform

/// How 8-bit pixels become the flow's input.
#[derive(Clone, Copy, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct Preprocess {
    /// `Some(a)`: `y = logit(a + (1 - 2a) v)`; `None`: the flow sees `v` in [0, 1).
    pub logit_alpha: Option<f32>,
}

#[repr(C)]
#[derive(Clone, Copy, Pod, Zeroable)]
pub struct DequantizeParams {
    pub batch: u32,
    pub dim: u32,
    pub seed: u32,
    pub no_noise: u32,
    pub logit: u32,
    pub alpha: f32,
    pub out_offset: u32,
    pub index_offset: u32,
}

/// The dequantize dispatch and its uniform values; `seed` changes per epoch via `set_params`.
pub fn dequantize(
    ctx: &GpuContext,
    params: DequantizeParams,
    pixels: &GpuTensor,
    indices: &GpuTensor,
    states: &GpuTensor,
    pre_logdet: &GpuTensor,
) -> Dispatch {
    let batch = params.batch as usize;
    assert!(pre_logdet.len() >= batch);
    assert!(states.len() >= params.out_offset as usize + batch * params.dim as usize);
    ctx.dispatch(
        Kernel::Dequantize,
        &params,
        &[pixels, indices, states, pre_logdet],
        groups_rows(batch),
    )
}

impl Preprocess {
    pub fn params(&self, batch: usize, dim: usize, seed: u32, noise: bool) -> DequantizeParams {
        DequantizeParams {
            batch: u(batch),
            dim: u(dim),
            seed,
            no_noise: (!noise) as u32,
            logit: self.logit_alpha.is_some() as u32,
            alpha: self.logit_alpha.unwrap_or(0.0),
            out_offset: 0,
            index_offset: 0,
        }
    }
}

#[repr(C)]
#[derive(Clone, Copy, Pod, Zeroable)]
pub struct ToPixelsParams {
    pub count: u32,
    pub logit: u32,
    pub alpha: f32,
    pub in_offset: u32,
}

/// `dst = clamp(inverse transform(src[in_offset..]), 0, 1)`, `count` elements.
pub fn to_pixels(
    ctx: &GpuContext,
    pre: Preprocess,
    count: usize,
    src: &GpuTensor,
    in_offset: usize,
    dst: &GpuTensor,
) -> Dispatch {
    assert!(src.len() >= in_offset + count && dst.len() >= count);
    let p = ToPixelsParams {
        count: u(count),
        logit: pre.logit_alpha.is_some() as u32,
        alpha: pre.logit_alpha.unwrap_or(0.0),
        in_offset: u(in_offset),
    };
    ctx.dispatch(
        Kernel::ToPixels,
        &p,
        &[src, dst],
        groups_for(count, ctx.tiles.elementwise_wg),
    )
}

#[repr(C)]
#[derive(Clone, Copy, Pod, Zeroable)]
pub struct GaussianParams {
    pub count: u32,
    pub seed: u32,
    pub temperature: f32,
    pub out_offset: u32,
}

/// `dst[out_offset..][..count] = temperature * N(0, 1)` from a counter-based hash of `seed`.
pub fn gaussian(
    ctx: &GpuContext,
    count: usize,
    seed: u32,
    temperature: f32,
    dst: &GpuTensor,
    out_offset: usize,
) -> Dispatch {
    assert!(dst.len() >= out_offset + count);
    let p = GaussianParams {
        count: u(count),
        seed,
        temperature,
        out_offset: u(out_offset),
    };
    ctx.dispatch(
        Kernel::Gaussian,
        &p,
        &[dst],
        groups_for(count, ctx.tiles.elementwise_wg),
    )
}

// ---------------------------------------------------------------------------------------
// Backward

#[repr(C)]
#[derive(Clone, Copy, Pod, Zeroable)]
pub struct CouplingBackwardParams {
    pub layer: CouplingParams,
    pub inv_batch: f32,
    pub from_prior: u32,
    pub _pad: [u32; 2],
}

/// Backward of coupling + scale. `gy = None` means the layer is the last and its output
/// gradient is `z / B` (read from `states[out]`).
pub fn coupling_backward(
    ctx: &GpuContext,
    cfg: &FlowConfig,
    site: CouplingSite,
    gy: Option<&GpuTensor>,
    states: &GpuTensor,
    h: &GpuTensor,
    params: &GpuTensor,
    gx: &GpuTensor,
    gh: &GpuTensor,
) -> Dispatch {
    let p = CouplingBackwardParams {
        layer: CouplingParams::new(cfg, site, 0),
        inv_batch: 1.0 / site.batch as f32,
        from_prior: gy.is_none() as u32,
        _pad: [0; 2],
    };
    // WebGPU forbids binding one buffer as read and read-write in a dispatch: with no `gy`,
    // bind `states` (unread) in its place.
    let gy = gy.unwrap_or(states);
    let groups = groups_for(site.batch * cfg.dim, ctx.tiles.elementwise_wg);
    ctx.dispatch(
        Kernel::CouplingBackward,
        &p,
        &[gy, states, h, params, gx, gh],
        groups,
    )
}

#[repr(C)]
#[derive(Clone, Copy, Pod, Zeroable)]
pub struct ScaleGradParams {
    pub batch: u32,
    pub dim: u32,
    pub out_offset: u32,
    pub from_prior: u32,
    pub inv_batch: f32,
    pub grad_offset: u32,
    pub _pad: [u32; 2],
}

/// `grads[grad_offset + d] = sum_b gy[b, d] x_{l+1}[b, d] - 1`.
pub fn scale_grad(
    ctx: &GpuContext,
    cfg: &FlowConfig,
    site: CouplingSite,
    gy: Option<&GpuTensor>,
    states: &GpuTensor,
    grads: &GpuTensor,
    grad_offset: usize,
) -> Dispatch {
    let p = ScaleGradParams {
        batch: u(site.batch),
        dim: u(cfg.dim),
        out_offset: u(site.out_offset),
        from_prior: gy.is_none() as u32,
        inv_batch: 1.0 / site.batch as f32,
        grad_offset: u(grad_offset),
        _pad: [0; 2],
    };
    let gy = gy.unwrap_or(states);
    ctx.dispatch(
        Kernel::ScaleGrad,
        &p,
        &[gy, states, grads],
        groups_for(cfg.dim, ctx.tiles.elementwise_wg),
    )
}

// ---------------------------------------------------------------------------------------
// Optimiser

/// Workgroups of the first gradient-norm pass; fixed so the sum order (and result) is too.
pub const NORM_PARTIALS: usize = 256;

#[repr(C)]
#[derive(Clone, Copy, Pod, Zeroable)]
pub struct GradNormParams {
    pub count: u32,
    pub partials: u32,
    pub _pad: [u32; 2],
}

/// Two dispatches leaving `||grads||_2` in `sums[NORM_PARTIALS]` (`sums` holds
/// `NORM_PARTIALS + 1` elements).
pub fn grad_norm(ctx: &GpuContext, grads: &GpuTensor, sums: &GpuTensor) -> [Dispatch; 2] {
    assert!(sums.len() > NORM_PARTIALS);
    let p = GradNormParams {
        count: u(grads.len()),
        partials: u(NORM_PARTIALS),
        _pad: [0; 2],
    };
    [
        ctx.dispatch(
            Kernel::GradNormPartial,
            &p,
            &[grads, sums],
            [u(NORM_PARTIALS), 1, 1],
        ),
        ctx.dispatch(Kernel::GradNormFinish, &p, &[grads, sums], [1, 1, 1]),
    ]
}

#[repr(C)]
#[derive(Clone, Copy, Pod, Zeroable)]
pub struct AdamParams {
    pub count: u32,
    pub norm_index: u32,
    pub lr: f32,
    pub beta1: f32,
    pub beta2: f32,
    pub eps: f32,
    pub bc1: f32,
    pub bc2: f32,
    pub clip: f32,
    pub _pad: [u32; 3],
}

impl AdamParams {
    /// The uniform values of step `t >= 1`.
    pub fn for_step(cfg: &crate::config::AdamConfig, count: usize, t: u32, lr: f32) -> Self {
        Self {
            count: u(count),
            norm_index: u(NORM_PARTIALS),
            lr,
            beta1: cfg.beta1,
            beta2: cfg.beta2,
            eps: cfg.eps,
            bc1: (1.0 - (cfg.beta1 as f64).powi(t as i32)) as f32,
            bc2: (1.0 - (cfg.beta2 as f64).powi(t as i32)) as f32,
            clip: cfg.clip_norm.unwrap_or(0.0),
            _pad: [0; 3],
        }
    }
}

pub fn adam(
    ctx: &GpuContext,
    params: AdamParams,
    weights: &GpuTensor,
    grads: &GpuTensor,
    m: &GpuTensor,
    v: &GpuTensor,
    norm: &GpuTensor,
) -> Dispatch {
    let n = params.count as usize;
    assert!(weights.len() >= n && grads.len() >= n && m.len() >= n && v.len() >= n);
    ctx.dispatch(
        Kernel::Adam,
        &params,
        &[weights, grads, m, v, norm],
        groups_for(n, ctx.tiles.elementwise_wg),
    )
}

#[repr(C)]
#[derive(Clone, Copy, Pod, Zeroable)]
pub struct AccumulateParams {
    pub batch: u32,
    pub _pad: [u32; 3],
}

/// `sums[0] += mean_b -(log p_b + pre_b)`, `sums[1] += 1`.
pub fn accumulate_nll(
    ctx: &GpuContext,
    batch: usize,
    density: &GpuTensor,
    pre_logdet: &GpuTensor,
    sums: &GpuTensor,
) -> Dispatch {
    assert!(density.len() >= 2 * batch && pre_logdet.len() >= batch && sums.len() >= 2);
    let p = AccumulateParams {
        batch: u(batch),
        _pad: [0; 3],
    };
    ctx.dispatch(
        Kernel::AccumulateNll,
        &p,
        &[density, pre_logdet, sums],
        [1, 1, 1],
    )
}

#[repr(C)]
#[derive(Clone, Copy, Pod, Zeroable)]
pub struct PeakParams {
    pub iterations: u32,
    pub count: u32,
    pub _pad: [u32; 2],
}

/// Benchmark: `count` invocations of `iterations` x 16 chains of FMAs; returns the dispatch
/// and its FLOP count.
pub fn peak_fma(
    ctx: &GpuContext,
    count: usize,
    iterations: u32,
    out: &GpuTensor,
) -> (Dispatch, f64) {
    assert!(out.len() >= count);
    let p = PeakParams {
        iterations,
        count: u(count),
        _pad: [0; 2],
    };
    let flops = count as f64 * iterations as f64 * 16.0 * 2.0;
    (
        ctx.dispatch(
            Kernel::PeakFma,
            &p,
            &[out],
            groups_for(count, ctx.tiles.elementwise_wg),
        ),
        flops,
    )
}
