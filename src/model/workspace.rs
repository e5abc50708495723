//! The GPU buffers of one batch size and the recorded programs that run the flow on them.
//! Made once per batch size and reused: a step only rewrites inputs and submits.

use crate::config::FlowConfig;
use crate::error::{Error, Result};
use crate::gpu::{Dispatch, GpuContext, GpuTensor};
use crate::kernels::coupling::{self, CouplingSite, NextInput};
use crate::kernels::density;
use crate::kernels::matmul::{self, padded, Matmul};
use crate::model::layout::ParamLayout;

/// Activations of one coupling layer's conditioner.
pub struct MlpBuffers {
    /// The gathered conditioning half, `[batch, padded(D/2)]`.
    pub input: GpuTensor,
    /// Outputs of the four hidden linear layers after ReLU, `[batch, padded(H)]`.
    pub hidden: Vec<GpuTensor>,
    /// The conditioner's output, `[batch, padded(mlp_out)]`.
    pub output: GpuTensor,
}

pub struct Workspace {
    pub batch: usize,
    /// The flow's state before and after every layer: block `l` (offset `l * batch * D`) is
    /// the input of coupling layer `l`; block `K` is `z`.
    pub states: GpuTensor,
    pub mlps: Vec<MlpBuffers>,
    /// Bounded log-scales of the affine couplings, `[K, batch, D/2]`.
    pub log_scales: GpuTensor,
    /// `[2 * batch]`: log|det J| per sample, then log p(x) per sample.
    pub density: GpuTensor,
    /// Layer 0's split: its conditioning half of block 0 into `mlps[0].input`.
    split: Option<Dispatch>,
    /// The rest of the forward program, from layer 0's conditioner on.
    forward: Vec<Dispatch>,
    inverse: Vec<Dispatch>,
}

/// The largest batch whose biggest single buffer (the state stack) fits one storage binding.
pub fn max_batch(ctx: &GpuContext, cfg: &FlowConfig) -> usize {
    let per_sample = ((cfg.layers + 1) * cfg.dim * 4) as u64;
    ((ctx.max_binding_bytes() / per_sample) as usize).min(65535)
}

impl Workspace {
    pub fn new(
        ctx: &GpuContext,
        layout: &ParamLayout,
        params: &GpuTensor,
        batch: usize,
    ) -> Result<Self> {
        let cfg = &layout.config;
        if batch == 0 {
            return Err(Error::Config("batch size must be at least 1".into()));
        }
        let limit = max_batch(ctx, cfg);
        if batch > limit {
            return Err(Error::Gpu(format!(
                "a batch of {batch} does not fit this adapter's {} MiB storage bindings (at most {limit})",
                ctx.max_binding_bytes() >> 20
            )));
        }
        let (d, k) = (cfg.dim, cfg.layers);
        let states = ctx.zeros(&[(k + 1) * batch * d], "states")?;
        let mut mlps = Vec::with_capacity(k);
        for _ in 0..k {
            let hidden = (0..4)
                .map(|_| ctx.zeros(&[batch, padded(cfg.hidden)], "mlp hidden"))
                .collect::<Result<Vec<_>>>()?;
            mlps.push(MlpBuffers {
                input: ctx.zeros(&[batch, padded(cfg.half())], "mlp input")?,
                hidden,
                output: ctx.zeros(&[batch, padded(cfg.mlp_out())], "mlp output")?,
            });
        }
        let log_scales = ctx.zeros(&[k * batch * cfg.half()], "log scales")?;
        let density = ctx.zeros(&[2 * batch], "density")?;
        let mut ws = Self {
            batch,
            states,
            mlps,
            log_scales,
            density,
            split: None,
            forward: Vec::new(),
            inverse: Vec::new(),
        };
        ws.split = Some(coupling::gather(
            ctx,
            cfg,
            batch,
            &ws.states,
            0,
            1 - cfg.transformed_part(0),
            None,
            params,
            &ws.mlps[0].input,
        )?);
        ws.forward = ws.record_forward(ctx, layout, params)?;
        ws.inverse = ws.record_inverse(ctx, layout, params)?;
        Ok(ws)
    }

    /// Offset of state block `l` in `states`.
    pub fn state_offset(&self, cfg: &FlowConfig, l: usize) -> usize {
        l * self.batch * cfg.dim
    }

    pub fn site(&self, layout: &ParamLayout, l: usize) -> CouplingSite {
        let cfg = &layout.config;
        CouplingSite {
            layer: l,
            batch: self.batch,
            in_offset: self.state_offset(cfg, l),
            out_offset: self.state_offset(cfg, l + 1),
            scale_offset: layout.scale_offset(l),
        }
    }

    /// The five linear layers of conditioner `l`, from `mlps[l].input` to `mlps[l].output`.
    fn record_mlp(
        &self,
        ctx: &GpuContext,
        layout: &ParamLayout,
        params: &GpuTensor,
        l: usize,
        out: &mut Vec<Dispatch>,
    ) -> Result<()> {
        let bufs = &self.mlps[l];
        let slots = &layout.linears[l];
        for (i, slot) in slots.iter().enumerate() {
            let src = if i == 0 {
                &bufs.input
            } else {
                &bufs.hidden[i - 1]
            };
            let dst = if i == slots.len() - 1 {
                &bufs.output
            } else {
                &bufs.hidden[i]
            };
            let relu = i + 1 < slots.len();
            let mm = Matmul::linear_forward(self.batch, slot.n_in, slot.n_out, relu);
            let w = params.view(slot.offset, &[slot.block_len()]);
            out.push(matmul::matmul(ctx, mm, src, &w, dst, None)?);
        }
        Ok(())
    }

    fn record_forward(
        &self,
        ctx: &GpuContext,
        layout: &ParamLayout,
        params: &GpuTensor,
    ) -> Result<Vec<Dispatch>> {
        let cfg = &layout.config;
        let mut out = Vec::new();
        for l in 0..cfg.layers {
            let site = self.site(layout, l);
            // Layer 0's input is split by `split` (or by the training step's dequantize);
            // every later layer's input half is written by the previous layer's coupling
            // kernel (no gather dispatch).
            self.record_mlp(ctx, layout, params, l, &mut out)?;
            let s_offset = l * self.batch * cfg.half();
            out.push(coupling::coupling_forward(
                ctx,
                cfg,
                site,
                &self.states,
                &self.mlps[l].output,
                params,
                &self.log_scales,
                s_offset,
                (l + 1 < cfg.layers).then(|| NextInput {
                    part: 1 - cfg.transformed_part(l + 1),
                    dst: &self.mlps[l + 1].input,
                }),
            )?);
        }
        out.push(density::log_density(
            ctx,
            cfg,
            self.batch,
            &self.states,
            self.state_offset(cfg, cfg.layers),
            &self.log_scales,
            self.batch,
            params,
            layout.scales_offset,
            &self.density,
        )?);
        Ok(out)
    }

    fn record_inverse(
        &self,
        ctx: &GpuContext,
        layout: &ParamLayout,
        params: &GpuTensor,
    ) -> Result<Vec<Dispatch>> {
        let cfg = &layout.config;
        let mut out = Vec::new();
        for l in (0..cfg.layers).rev() {
            let site = self.site(layout, l);
            let cond = 1 - cfg.transformed_part(l);
            // The inverse reads the layer's output: gather its conditioning half, unscaled.
            let (inv_in, inv_out) = (site.out_offset, site.in_offset);
            out.push(coupling::gather(
                ctx,
                cfg,
                self.batch,
                &self.states,
                inv_in,
                cond,
                Some(site.scale_offset),
                params,
                &self.mlps[l].input,
            )?);
            self.record_mlp(ctx, layout, params, l, &mut out)?;
            let inv_site = CouplingSite {
                in_offset: inv_in,
                out_offset: inv_out,
                ..site
            };
            out.push(coupling::coupling_inverse(
                ctx,
                cfg,
                inv_site,
                &self.states,
                &self.mlps[l].output,
                params,
            )?);
        }
        Ok(out)
    }

    /// States block 0 -> block K, the per-layer log-scales and the density.
    pub fn forward(&self) -> Vec<&Dispatch> {
        self.split.iter().chain(&self.forward).collect()
    }

    /// [`Workspace::forward`] without layer 0's split, for when whatever wrote block 0 also
    /// wrote its conditioning half (part `1 - transformed_part(0)`) into `mlps[0].input`.
    pub fn forward_after_split(&self) -> Vec<&Dispatch> {
        self.forward.iter().collect()
    }

    /// States block K -> block 0, filling every intermediate block.
    pub fn inverse(&self) -> Vec<&Dispatch> {
        self.inverse.iter().collect()
    }
}
