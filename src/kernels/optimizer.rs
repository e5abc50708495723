//! The optimiser on the GPU: the global gradient norm in two fixed-order passes
//! (`grad_norm.wgsl`) and Adam with global-norm clipping (`adam.wgsl`) over the one flat
//! parameter buffer, and the moving average of the weights (`ema.wgsl`). Reference:
//! `reference::adam`.

use crate::config::AdamConfig;
use crate::error::Result;
use crate::gpu::dispatch::groups_for;
use crate::gpu::kernel::{read, write, Binding, Kernel, KernelInfo, Workgroup};
use crate::gpu::{Dispatch, GpuContext, GpuTensor};
use crate::kernels::{shaders, u};

/// Workgroups of the first gradient-norm pass; fixed so the sum order (and result) is too.
pub const NORM_PARTIALS: usize = 256;

/// Elements of the gradient-norm buffer: the partial sums, the norm at `NORM_PARTIALS`,
/// then the numerical-fault counters (see [`NormFaults`]).
pub const NORM_SLOTS: usize = NORM_PARTIALS + 4;

/// The fault counters `grad_norm.wgsl` keeps after the norm, since they were last cleared:
/// steps counted, steps whose gradient norm was NaN or infinite (Adam left the parameters
/// alone on those), and which step was the first of them.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct NormFaults {
    pub steps: u32,
    pub non_finite: u32,
    /// 1-based index among `steps` of the first non-finite norm; 0 when none.
    pub first_non_finite: u32,
}

impl NormFaults {
    /// Reads the counters out of the `[norm, steps, non_finite, first]` tail of the buffer.
    pub fn from_tail(tail: &[f32]) -> Self {
        let at = |i: usize| tail.get(i).copied().unwrap_or(0.0) as u32;
        Self {
            steps: at(1),
            non_finite: at(2),
            first_non_finite: at(3),
        }
    }

    /// The training step (counted from 1) of the first non-finite norm, given the step the
    /// counters were read after; `None` when there was none.
    pub fn first_step(&self, read_after: u64) -> Option<u64> {
        (self.non_finite > 0 && self.first_non_finite > 0)
            .then(|| read_after + self.first_non_finite as u64 - self.steps as u64)
    }
}

crate::gpu_params! {
    /// Mirror of `Params` in shaders/grad_norm.wgsl.
    pub struct GradNormParams {
        pub count: u32,
        pub partials: u32,
        pub _pad: [u32; 2],
    }
}

const GRAD_NORM_BINDINGS: &[Binding] = &[read("grads"), write("sums")];

const fn grad_norm_kernel(entry: &'static str) -> Kernel<GradNormParams> {
    Kernel::new(KernelInfo {
        shader: &shaders::GRAD_NORM,
        entry,
        bindings: GRAD_NORM_BINDINGS,
        // A tree reduction per workgroup, so the reductions' (smaller) workgroup size: on
        // lavapipe every barrier level of a 256-wide tree costs more than its loads.
        workgroup: Workgroup::Reduce,
        overrides: &[],
        features: wgpu::Features::empty(),
    })
}

pub const GRAD_NORM_PARTIAL: Kernel<GradNormParams> = grad_norm_kernel("partial_sums");
pub const GRAD_NORM_FINISH: Kernel<GradNormParams> = grad_norm_kernel("finish");

/// Two dispatches leaving `||grads||_2` in `sums[NORM_PARTIALS]` and counting non-finite
/// norms after it (`sums` holds [`NORM_SLOTS`] elements). `grads` holds a multiple of 4
/// floats (the kernel reads vec4s), as every parameter layout does.
pub fn grad_norm(ctx: &GpuContext, grads: &GpuTensor, sums: &GpuTensor) -> Result<[Dispatch; 2]> {
    assert!(sums.len() >= NORM_SLOTS);
    assert!(
        grads.len() % 4 == 0,
        "grad_norm reads vec4s: {} floats is not a multiple of 4",
        grads.len()
    );
    let p = GradNormParams {
        count: u(grads.len()),
        partials: u(NORM_PARTIALS),
        _pad: [0; 2],
    };
    Ok([
        ctx.dispatch(
            &GRAD_NORM_PARTIAL,
            &[],
            &p,
            &[grads, sums],
            [u(NORM_PARTIALS), 1, 1],
        )?,
        ctx.dispatch(&GRAD_NORM_FINISH, &[], &p, &[grads, sums], [1, 1, 1])?,
    ])
}

crate::gpu_params! {
    /// Mirror of `Params` in shaders/adam.wgsl.
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
}

impl AdamParams {
    /// The uniform values of step `t >= 1`.
    pub fn for_step(cfg: &AdamConfig, count: usize, t: u32, lr: f32) -> Self {
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

pub const ADAM: Kernel<AdamParams> = Kernel::new(KernelInfo {
    shader: &shaders::ADAM,
    entry: "main",
    bindings: &[
        write("params"),
        read("grads"),
        write("m"),
        write("v"),
        read("norm"),
    ],
    workgroup: Workgroup::Elementwise,
    overrides: &[],
    features: wgpu::Features::empty(),
});

/// One Adam step over `params.count` weights (a multiple of 4: the kernel works on vec4s),
/// clipped by the norm `grad_norm` left in `norm`.
pub fn adam(
    ctx: &GpuContext,
    params: AdamParams,
    weights: &GpuTensor,
    grads: &GpuTensor,
    m: &GpuTensor,
    v: &GpuTensor,
    norm: &GpuTensor,
) -> Result<Dispatch> {
    let n = params.count as usize;
    assert!(
        n % 4 == 0,
        "Adam works on vec4s: {n} weights is not a multiple of 4"
    );
    assert!(weights.len() >= n && grads.len() >= n && m.len() >= n && v.len() >= n);
    ctx.dispatch(
        &ADAM,
        &[],
        &params,
        &[weights, grads, m, v, norm],
        groups_for(n / 4, ctx.tiles().elementwise_wg),
    )
}

crate::gpu_params! {
    /// Mirror of `Params` in shaders/ema.wgsl.
    pub struct EmaParams {
        pub count: u32,
        pub norm_index: u32,
        pub decay: f32,
        pub _pad: u32,
    }
}

pub const EMA: Kernel<EmaParams> = Kernel::new(KernelInfo {
    shader: &shaders::EMA,
    entry: "main",
    bindings: &[write("ema"), read("params"), read("norm")],
    workgroup: Workgroup::Elementwise,
    overrides: &[],
    features: wgpu::Features::empty(),
});

/// The decay of step `t >= 1` for a target `decay`: `min(decay, (1 + t) / (10 + t))`, the
/// usual warm-up, so that the average forgets the initial weights within the first hundred
/// steps instead of carrying `decay^t` of them (3% after 3,500 steps at 0.999).
pub fn ema_decay_at(decay: f32, t: u32) -> f32 {
    decay.min((1.0 + t as f32) / (10.0 + t as f32))
}

impl EmaParams {
    /// The uniform values for `count` weights at decay `decay`.
    pub fn new(count: usize, decay: f32) -> Self {
        Self {
            count: u(count),
            norm_index: u(NORM_PARTIALS),
            decay,
            _pad: 0,
        }
    }

    /// The uniform values of step `t` for a target `decay` ([`ema_decay_at`]).
    pub fn for_step(count: usize, decay: f32, t: u32) -> Self {
        Self::new(count, ema_decay_at(decay, t))
    }
}

/// `ema = decay ema + (1 - decay) weights` over `count` weights (a multiple of 4), unless
/// the step's gradient norm in `norm` (from [`grad_norm`]) is not finite.
pub fn ema(
    ctx: &GpuContext,
    count: usize,
    decay: f32,
    ema: &GpuTensor,
    weights: &GpuTensor,
    norm: &GpuTensor,
) -> Result<Dispatch> {
    assert!(count % 4 == 0, "the average works on vec4s");
    assert!(ema.len() >= count && weights.len() >= count && norm.len() >= NORM_SLOTS);
    ctx.dispatch(
        &EMA,
        &[],
        &EmaParams::new(count, decay),
        &[ema, weights, norm],
        groups_for(count / 4, ctx.tiles().elementwise_wg),
    )
}
