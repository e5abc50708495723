//! The coupling layers' elementwise kernels: split (`gather.wgsl`), the coupling plus the
//! per-layer scale forward and inverse (`coupling_forward.wgsl`, `coupling_inverse.wgsl`)
//! and their backward (`coupling_backward.wgsl`: the state and conditioner gradients, the
//! scale's gradient and the merge of the next layer's conditioning-half gradient, in one
//! dispatch). Reference: `reference::flow` and `reference::backward`.

use crate::config::{CouplingKind, FlowConfig, MaskKind};
use crate::error::Result;
use crate::gpu::dispatch::groups_for;
use crate::gpu::kernel::{read, write, Kernel, KernelInfo, Params, SharedConst, Workgroup};
use crate::gpu::shader::Shader;
use crate::gpu::{Dispatch, GpuContext, GpuTensor};
use crate::kernels::matmul::padded;
use crate::kernels::{shaders, u};

/// The mask and coupling codes as common.wgsl names them.
pub const SHARED_CONSTANTS: [SharedConst; 4] = [
    SharedConst {
        name: "MASK_HALVES",
        value: MASK_HALVES,
    },
    SharedConst {
        name: "MASK_INTERLEAVED",
        value: MASK_INTERLEAVED,
    },
    SharedConst {
        name: "COUPLING_ADDITIVE",
        value: COUPLING_ADDITIVE,
    },
    SharedConst {
        name: "COUPLING_AFFINE",
        value: COUPLING_AFFINE,
    },
];
const MASK_HALVES: u32 = 0;
const MASK_INTERLEAVED: u32 = 1;
const COUPLING_ADDITIVE: u32 = 0;
const COUPLING_AFFINE: u32 = 1;

pub(crate) fn mask_code(mask: MaskKind) -> u32 {
    match mask {
        MaskKind::Halves => MASK_HALVES,
        MaskKind::Interleaved => MASK_INTERLEAVED,
    }
}

pub(crate) fn coupling_code(kind: CouplingKind) -> u32 {
    match kind {
        CouplingKind::Additive => COUPLING_ADDITIVE,
        CouplingKind::Affine => COUPLING_AFFINE,
    }
}

const fn elementwise<P: Params>(
    shader: &'static Shader,
    bindings: &'static [crate::gpu::kernel::Binding],
) -> Kernel<P> {
    Kernel::new(KernelInfo {
        shader,
        entry: "main",
        bindings,
        workgroup: Workgroup::Elementwise,
        overrides: &[],
        features: wgpu::Features::empty(),
    })
}

// ---------------------------------------------------------------------------------------
// Split

crate::gpu_params! {
    /// Mirror of `Params` in shaders/gather.wgsl.
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
}

pub const GATHER: Kernel<GatherParams> = elementwise(
    &shaders::GATHER,
    &[read("states"), read("params"), write("dst")],
);

/// `dst[b, j] = states[src_offset + b * D + part_index(part, j)]`, times `exp(-scale)` when
/// `unscale` is given (the offset of `s_l` in `params`).
#[allow(clippy::too_many_arguments)]
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
) -> Result<Dispatch> {
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
        &GATHER,
        &[],
        &p,
        &[states, params, dst],
        groups_for(batch * cfg.half(), ctx.tiles().elementwise_wg),
    )
}

// ---------------------------------------------------------------------------------------
// Coupling and scale, forward and inverse

crate::gpu_params! {
    /// Mirror of `CouplingParams` in shaders/common.wgsl.
    pub struct CouplingParams {
        pub batch: u32,
        pub dim: u32,
        pub half: u32,
        pub mask: u32,
        pub in_offset: u32,
        pub out_offset: u32,
        pub tpart: u32,
        pub coupling: u32,
        pub h_ld: u32,
        pub s_offset: u32,
        pub scale_offset: u32,
        pub bound: f32,
    }
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
            coupling: coupling_code(cfg.coupling),
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

crate::gpu_params! {
    /// Mirror of `Params` in shaders/coupling_forward.wgsl.
    pub struct CouplingForwardParams {
        pub layer: CouplingParams,
        pub next_part: u32,
        pub next_ld: u32,
        pub has_next: u32,
        pub _pad: u32,
    }
}

pub const COUPLING_FORWARD: Kernel<CouplingForwardParams> = elementwise(
    &shaders::COUPLING_FORWARD,
    &[
        write("states"),
        read("h"),
        read("params"),
        write("log_scales"),
        write("next_input"),
    ],
);

/// Where [`coupling_forward`] also writes the next layer's conditioner input: that layer's
/// conditioning part of the output, `[batch, padded(D/2)]` (the split `gather` would do).
#[derive(Clone, Copy)]
pub struct NextInput<'a> {
    pub part: usize,
    pub dst: &'a GpuTensor,
}

pub const COUPLING_INVERSE: Kernel<CouplingParams> = elementwise(
    &shaders::COUPLING_INVERSE,
    &[write("states"), read("h"), read("params")],
);

/// Forward coupling + scale; writes `states[out]`, (affine) the layer's bounded log-scales
/// at `s_offset` in `log_scales`, and, given `next`, the next layer's conditioner input.
#[allow(clippy::too_many_arguments)]
pub fn coupling_forward(
    ctx: &GpuContext,
    cfg: &FlowConfig,
    site: CouplingSite,
    states: &GpuTensor,
    h: &GpuTensor,
    params: &GpuTensor,
    log_scales: &GpuTensor,
    s_offset: usize,
    next: Option<NextInput<'_>>,
) -> Result<Dispatch> {
    assert!(h.len() >= site.batch * padded(cfg.mlp_out()));
    if let Some(n) = next {
        assert!(n.part < 2 && n.dst.len() >= site.batch * padded(cfg.half()));
    }
    let p = CouplingForwardParams {
        layer: CouplingParams::new(cfg, site, s_offset),
        next_part: u(next.map_or(0, |n| n.part)),
        next_ld: u(padded(cfg.half())),
        has_next: next.is_some() as u32,
        _pad: 0,
    };
    let next_input = next.map_or(ctx.unused(), |n| n.dst);
    let groups = groups_for(site.batch * cfg.dim, ctx.tiles().elementwise_wg);
    ctx.dispatch(
        &COUPLING_FORWARD,
        &[],
        &p,
        &[states, h, params, log_scales, next_input],
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
) -> Result<Dispatch> {
    assert!(h.len() >= site.batch * padded(cfg.mlp_out()));
    let p = CouplingParams::new(cfg, site, 0);
    let groups = groups_for(site.batch * cfg.dim, ctx.tiles().elementwise_wg);
    ctx.dispatch(&COUPLING_INVERSE, &[], &p, &[states, h, params], groups)
}

// ---------------------------------------------------------------------------------------
// Backward

crate::gpu_params! {
    /// Mirror of `Params` in shaders/coupling_backward.wgsl.
    pub struct CouplingBackwardParams {
        pub layer: CouplingParams,
        pub inv_batch: f32,
        pub grad_offset: u32,
        pub has_add: u32,
        pub add_part: u32,
        pub add_ld: u32,
        pub seed: u32,
        pub _pad: [u32; 2],
    }
}

pub const COUPLING_BACKWARD: Kernel<CouplingBackwardParams> = Kernel::new(KernelInfo {
    shader: &shaders::COUPLING_BACKWARD,
    entry: "main",
    bindings: &[
        write("g"),
        read("add"),
        read("states"),
        read("h"),
        read("params"),
        write("gh"),
        write("grads"),
    ],
    workgroup: Workgroup::Reduce,
    overrides: &["COLS"],
    features: wgpu::Features::empty(),
});

/// Columns of the scale gradient one workgroup of [`coupling_backward`] reduces; the other
/// `reduce_wg / COLS` invocations of a column split the batch. 8 columns: 32-byte row
/// segments per load, and 98 workgroups for the 784 pixels of MNIST.
pub const BACKWARD_COLS: u32 = 8;
const _: () = assert!(BACKWARD_COLS.is_power_of_two());

/// The gradient merged into [`coupling_backward`]'s `gy` as it is read: `src[b, j]` (row
/// stride [`padded`]`(D/2)`) added to entry `j` of part `part`, the next layer's
/// conditioning half (whose conditioner's input gradient `src` is).
#[derive(Clone, Copy)]
pub struct AddPart<'a> {
    pub part: usize,
    pub src: &'a GpuTensor,
}

/// Where [`coupling_backward`] gets `gy = dL/dx_{l+1}`.
#[derive(Clone, Copy)]
pub enum GradIn<'a> {
    /// The last layer: `dL/dz = z / B`, the loss's gradient, computed from the layer's
    /// output (`g` is only written).
    LossSeed,
    /// From `g`, with `add` merged while reading.
    State(Option<AddPart<'a>>),
}

/// Backward of coupling + scale in one dispatch. `g` holds `gy = dL/dx_{l+1}` (see
/// [`GradIn`]) and is overwritten with `dL/dx_l` less the conditioner's input gradient (the
/// next call's `add`); writes the conditioner output's gradient `gh` and
/// `grads[grad_offset + d] = dL/ds_l[d]`, a parallel reduction over the batch in a fixed
/// order (one workgroup per [`BACKWARD_COLS`] columns).
#[allow(clippy::too_many_arguments)]
pub fn coupling_backward(
    ctx: &GpuContext,
    cfg: &FlowConfig,
    site: CouplingSite,
    g: &GpuTensor,
    gy: GradIn<'_>,
    states: &GpuTensor,
    h: &GpuTensor,
    params: &GpuTensor,
    gh: &GpuTensor,
    grads: &GpuTensor,
    grad_offset: usize,
) -> Result<Dispatch> {
    assert!(g.len() >= site.batch * cfg.dim && grads.len() >= grad_offset + cfg.dim);
    assert!(h.len() >= site.batch * padded(cfg.mlp_out()));
    assert!(gh.len() >= site.batch * padded(cfg.mlp_out()));
    let add = match gy {
        GradIn::LossSeed => None,
        GradIn::State(add) => add,
    };
    if let Some(a) = add {
        assert!(a.part < 2 && a.src.len() >= site.batch * padded(cfg.half()));
    }
    let wg = ctx.tiles().reduce_wg;
    assert!(
        wg.is_power_of_two() && wg >= BACKWARD_COLS,
        "coupling_backward needs a power-of-two reduce workgroup of at least {BACKWARD_COLS}"
    );
    let p = CouplingBackwardParams {
        layer: CouplingParams::new(cfg, site, 0),
        inv_batch: 1.0 / site.batch as f32,
        grad_offset: u(grad_offset),
        has_add: add.is_some() as u32,
        add_part: u(add.map_or(0, |a| a.part)),
        add_ld: u(padded(cfg.half())),
        seed: matches!(gy, GradIn::LossSeed) as u32,
        _pad: [0; 2],
    };
    let add = add.map_or(ctx.unused(), |a| a.src);
    ctx.dispatch(
        &COUPLING_BACKWARD,
        &[("COLS", BACKWARD_COLS as f64)],
        &p,
        &[g, add, states, h, params, gh, grads],
        groups_for(cfg.dim, BACKWARD_COLS),
    )
}
