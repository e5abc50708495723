//! One training step as a single submit: dequantize the batch from the GPU-resident images,
//! forward, the loss stage (per-sample loss and its running sum), backward (which seeds
//! itself with dL/dz), gradient norm and Adam. The host only writes the step's uniforms (image
//! offset, learning rate, step number); it reads the loss sum back once per logging interval.

use std::sync::Arc;

use crate::config::{AdamConfig, Preprocess};
use crate::error::{Error, Result};
use crate::gpu::{Dispatch, GpuContext, GpuTensor};
use crate::kernels::loss::{self, LossBuffers};
use crate::kernels::optimizer::{
    self, AdamParams, EmaParams, NormFaults, NORM_PARTIALS, NORM_SLOTS,
};
use crate::kernels::transform::{self, DequantizeParams};
use crate::model::backprop::Backprop;
use crate::model::workspace::Workspace;
use crate::model::Flow;
use crate::train::gpu_data::GpuImages;

/// What one readback of a logging interval brings: the mean loss and the fault counters.
#[derive(Clone, Copy, Debug)]
pub struct Readback {
    /// Mean loss in nats per image over the interval's steps (NaN if any step's was).
    pub nats: f64,
    pub steps: u32,
    pub faults: NormFaults,
}

/// The moving average of the weights and a place to keep the raw weights while the average
/// is evaluated in their stead.
struct Ema {
    decay: f32,
    weights: GpuTensor,
    backup: GpuTensor,
    update: Dispatch,
}

pub struct TrainStep {
    ws: Arc<Workspace>,
    backprop: Backprop,
    /// Adam's first and second moments, in the parameter layout.
    m: GpuTensor,
    v: GpuTensor,
    /// The epoch's shuffled image order.
    order: GpuTensor,
    pre_logdet: GpuTensor,
    /// `[batch]`: the last batch's loss per image, in nats.
    nll: GpuTensor,
    loss_sums: GpuTensor,
    /// `[norm, steps, non-finite steps, first non-finite]`: the tail of the gradient-norm
    /// buffer, read with the loss sums.
    faults: GpuTensor,
    /// The gradient-norm buffer (the moving average reads the norm to skip faulty steps).
    norm: GpuTensor,
    /// The weights' moving average, when the run keeps one ([`TrainStep::with_ema`]).
    ema: Option<Ema>,
    dequantize: Dispatch,
    loss: Dispatch,
    grad_norm: [Dispatch; 2],
    adam: Dispatch,
    dequantize_params: DequantizeParams,
    adam_cfg: AdamConfig,
    param_count: usize,
    batch: usize,
    dim: usize,
}

impl TrainStep {
    pub fn new(
        flow: &Flow,
        images: &GpuImages,
        batch: usize,
        pre: Preprocess,
        adam_cfg: AdamConfig,
    ) -> Result<Self> {
        if batch > images.count {
            return Err(Error::Config(format!(
                "batch size {batch} is larger than the {} training images",
                images.count
            )));
        }
        let ctx = flow.context().as_ref();
        let layout = flow.layout();
        let params = flow.params_tensor();
        let ws = flow.workspace(batch)?;
        let backprop = Backprop::new(ctx, layout, params, &ws)?;
        let m = ctx.zeros(&[layout.len], "adam m")?;
        let v = ctx.zeros(&[layout.len], "adam v")?;
        let norm = ctx.zeros(&[NORM_SLOTS], "gradient norm")?;
        let faults = norm.view(NORM_PARTIALS, &[NORM_SLOTS - NORM_PARTIALS]);
        let order = ctx.zeros(&[images.count], "epoch order")?;
        let pre_logdet = ctx.zeros(&[batch], "transform log-det")?;
        let nll = ctx.zeros(&[batch], "loss per image")?;
        let loss_sums = ctx.zeros(&[2], "loss sums")?;
        let dim = layout.config.dim;
        // Dequantize also writes layer 0's conditioner input (no gather dispatch).
        let dequantize_params = transform::dequantize_params(pre, batch, dim, 0, true)
            .with_split(layout.config.mask, 1 - layout.config.transformed_part(0));
        let dequantize = transform::dequantize_and_split(
            ctx,
            dequantize_params,
            &images.pixels,
            &order,
            &ws.states,
            &pre_logdet,
            Some(&ws.mlps[0].input),
        )?;
        let loss = loss::loss_per_image(
            ctx,
            batch,
            dim,
            LossBuffers {
                density: &ws.density,
                pre_logdet: &pre_logdet,
                nll: &nll,
                sums: &loss_sums,
            },
        )?;
        let grad_norm = optimizer::grad_norm(ctx, &backprop.grads, &norm)?;
        let adam = optimizer::adam(
            ctx,
            AdamParams::for_step(&adam_cfg, layout.len, 1, 0.0),
            params,
            &backprop.grads,
            &m,
            &v,
            &norm,
        )?;
        Ok(Self {
            ws,
            backprop,
            m,
            v,
            order,
            pre_logdet,
            nll,
            loss_sums,
            faults,
            norm,
            ema: None,
            dequantize,
            loss,
            grad_norm,
            adam,
            dequantize_params,
            adam_cfg,
            param_count: layout.len,
            batch,
            dim,
        })
    }

    /// This step with a moving average of the weights (decay `decay`, warmed up as
    /// [`optimizer::ema_decay_at`] says) updated after every
    /// Adam step, starting from the flow's current weights.
    pub fn with_ema(mut self, flow: &Flow, decay: f32) -> Result<Self> {
        let ctx = flow.context().as_ref();
        let params = flow.params_tensor();
        let weights = ctx.zeros(&[self.param_count], "weight average")?;
        let backup = ctx.zeros(
            &[self.param_count],
            "weights while the average is evaluated",
        )?;
        ctx.copy(params, &weights);
        let update = optimizer::ema(ctx, self.param_count, decay, &weights, params, &self.norm)?;
        self.ema = Some(Ema {
            decay,
            weights,
            backup,
            update,
        });
        Ok(self)
    }

    /// Whether the step keeps a moving average of the weights.
    pub fn has_ema(&self) -> bool {
        self.ema.is_some()
    }

    /// Puts the moving average in place of the flow's weights (which are kept aside) so
    /// that evaluation and saving see the average; [`TrainStep::restore_weights`] undoes it.
    pub fn swap_in_average(&self, flow: &Flow) {
        if let Some(e) = &self.ema {
            let ctx = flow.context().as_ref();
            ctx.copy(flow.params_tensor(), &e.backup);
            ctx.copy(&e.weights, flow.params_tensor());
        }
    }

    /// The flow's own weights back after [`TrainStep::swap_in_average`].
    pub fn restore_weights(&self, flow: &Flow) {
        if let Some(e) = &self.ema {
            flow.context().copy(&e.backup, flow.params_tensor());
        }
    }

    /// The moving average, read back (`None` without one).
    pub fn read_average(&self, ctx: &GpuContext) -> Result<Option<Vec<f32>>> {
        self.ema.as_ref().map(|e| ctx.read(&e.weights)).transpose()
    }

    /// Replaces the moving average (a resumed run's); a no-op without one.
    pub fn write_average(&self, ctx: &GpuContext, flat: &[f32]) -> Result<()> {
        if let Some(e) = &self.ema {
            if flat.len() != self.param_count {
                return Err(Error::Checkpoint(
                    "the weight average does not match the model's parameter layout".into(),
                ));
            }
            ctx.write(&e.weights, flat);
        }
        Ok(())
    }

    /// Sets the image order of the next epoch (indices into the training images).
    pub fn set_order(&self, ctx: &GpuContext, order: &[u32]) {
        ctx.write_words(&self.order, order);
    }

    /// Queues step `t` (from 1) on images `order[offset .. offset + batch]`, dequantized with
    /// noise stream `seed`, at learning rate `lr`. Returns without waiting.
    pub fn step(&self, ctx: &GpuContext, offset: usize, seed: u32, t: u32, lr: f32) {
        self.set_step_params(ctx, offset, seed, t, lr);
        ctx.submit(&self.dispatches());
    }

    /// [`TrainStep::step`] with `edit` run on the dequantized batch (`[batch, D]`, on the
    /// GPU) before the rest of the step: fault injection for tests (two submits, not one).
    pub fn step_with_batch_edit(
        &self,
        ctx: &GpuContext,
        offset: usize,
        seed: u32,
        t: u32,
        lr: f32,
        edit: impl FnOnce(&GpuTensor),
    ) {
        self.set_step_params(ctx, offset, seed, t, lr);
        ctx.submit(&[&self.dequantize]);
        edit(&self.ws.states.view(0, &[self.batch, self.dim]));
        // The edit is in block 0 only: split it again for layer 0's conditioner.
        let mut list = self.ws.forward();
        list.extend(self.after_forward());
        ctx.submit(&list);
    }

    fn set_step_params(&self, ctx: &GpuContext, offset: usize, seed: u32, t: u32, lr: f32) {
        let dq = DequantizeParams {
            seed,
            index_offset: offset as u32,
            ..self.dequantize_params
        };
        self.dequantize.set_params(ctx, &dq);
        self.adam.set_params(
            ctx,
            &AdamParams::for_step(&self.adam_cfg, self.param_count, t, lr),
        );
        if let Some(e) = &self.ema {
            e.update
                .set_params(ctx, &EmaParams::for_step(self.param_count, e.decay, t));
        }
    }

    /// The step's dispatches in order, as one submit records them (the bench counts them,
    /// `--profile` times each).
    pub fn dispatches(&self) -> Vec<&Dispatch> {
        let mut list: Vec<&Dispatch> = vec![&self.dequantize];
        list.extend(self.ws.forward_after_split());
        list.extend(self.after_forward());
        list
    }

    /// Everything after the forward pass: loss, backward, norm and Adam.
    fn after_forward(&self) -> Vec<&Dispatch> {
        let mut list: Vec<&Dispatch> = Vec::new();
        list.push(&self.loss);
        list.extend(self.backprop.dispatches());
        list.extend(self.grad_norm.iter());
        list.push(&self.adam);
        if let Some(e) = &self.ema {
            list.push(&e.update);
        }
        list
    }

    /// Mean training loss since the last call, in nats per 8-bit image (the per-step batch
    /// means averaged), and the number of steps it covers; clears the sums.
    /// Waits for every queued step: call it once per logging interval, not per step.
    pub fn take_loss(&self, ctx: &GpuContext) -> Result<(f64, u32)> {
        let r = self.take_readback(ctx)?;
        Ok((r.nats, r.steps))
    }

    /// The loss since the last readback with the numerical-fault counters, read in one
    /// wait; clears both. Call it once per logging interval, not per step.
    pub fn take_readback(&self, ctx: &GpuContext) -> Result<Readback> {
        let mut got = ctx.read_many(&[&self.loss_sums, &self.faults])?;
        let faults = NormFaults::from_tail(&got.pop().unwrap_or_default());
        let sums = got.pop().unwrap_or_default();
        ctx.write(&self.loss_sums, &[0.0, 0.0]);
        ctx.write(&self.faults, &[0.0; NORM_SLOTS - NORM_PARTIALS]);
        let steps = sums.get(1).copied().unwrap_or(0.0) as u32;
        let nats = if steps > 0 {
            sums[0] as f64 / steps as f64
        } else {
            f64::NAN
        };
        Ok(Readback {
            nats,
            steps,
            faults,
        })
    }

    pub fn read_moments(&self, ctx: &GpuContext) -> Result<(Vec<f32>, Vec<f32>)> {
        let mut mv = ctx.read_many(&[&self.m, &self.v])?;
        let v = mv.pop().expect("two tensors");
        Ok((mv.pop().expect("two tensors"), v))
    }

    pub fn write_moments(&self, ctx: &GpuContext, m: &[f32], v: &[f32]) -> Result<()> {
        if m.len() != self.param_count || v.len() != self.param_count {
            return Err(Error::Checkpoint(
                "Adam moments do not match the model's parameter layout".into(),
            ));
        }
        ctx.write(&self.m, m);
        ctx.write(&self.v, v);
        Ok(())
    }

    /// The per-sample transform log-det of the last batch (tests).
    pub fn pre_logdet(&self) -> &GpuTensor {
        &self.pre_logdet
    }

    /// The last batch's loss per image in nats, as the loss stage computed it (tests).
    pub fn nll(&self) -> &GpuTensor {
        &self.nll
    }

    pub fn gradients(&self) -> &GpuTensor {
        &self.backprop.grads
    }
}
