//! The backward pass: gradients of the mean negative log-likelihood of a batch with respect
//! to every parameter, recorded once per workspace as a list of dispatches that reads the
//! activations the forward program left in the workspace.
//!
//! It starts from `grad_z = dL/dz`, which the loss stage ([`crate::kernels::loss`]) writes.
//! Per coupling layer, last to first: the coupling + scale backward (gradients for the
//! previous state and the conditioner's output), the log-scale gradient (a column sum over
//! the batch), then the conditioner backward: for each linear layer a TN matmul giving
//! `[dW; db]` straight into the flat gradient buffer and an NT matmul giving the input
//! gradient through the ReLU's derivative; finally the conditioning half's gradient is
//! added back into the state gradient.

use crate::error::Result;
use crate::gpu::{Dispatch, GpuContext, GpuTensor};
use crate::kernels::coupling;
use crate::kernels::matmul::{self, padded, Matmul};
use crate::model::layout::ParamLayout;
use crate::model::workspace::Workspace;

pub struct Backprop {
    /// `dL/dθ` in the parameter layout (padding stays zero).
    pub grads: GpuTensor,
    /// `[batch, D]`: dL/dz, the seed of the backward pass (written by the loss stage).
    pub grad_z: GpuTensor,
    dispatches: Vec<Dispatch>,
}

impl Backprop {
    pub fn new(
        ctx: &GpuContext,
        layout: &ParamLayout,
        params: &GpuTensor,
        ws: &Workspace,
    ) -> Result<Self> {
        let cfg = &layout.config;
        let b = ws.batch;
        let grads = ctx.zeros(&[layout.len], "gradients")?;
        let grad_z = ctx.zeros(&[b * cfg.dim], "loss gradient seed")?;
        let gstate = [
            ctx.zeros(&[b * cfg.dim], "state gradient")?,
            ctx.zeros(&[b * cfg.dim], "state gradient")?,
        ];
        let gh = ctx.zeros(&[b, padded(cfg.mlp_out())], "conditioner output gradient")?;
        let gmlp = [
            ctx.zeros(&[b, padded(cfg.hidden)], "hidden gradient")?,
            ctx.zeros(&[b, padded(cfg.hidden)], "hidden gradient")?,
        ];
        let gxa = ctx.zeros(&[b, padded(cfg.half())], "conditioning half gradient")?;

        let mut out = Vec::new();
        let mut cur = 0;
        for l in (0..cfg.layers).rev() {
            let site = ws.site(layout, l);
            let next = 1 - cur;
            let gy = if l + 1 == cfg.layers {
                &grad_z
            } else {
                &gstate[cur]
            };
            out.push(coupling::coupling_backward(
                ctx,
                cfg,
                site,
                gy,
                &ws.states,
                &ws.mlps[l].output,
                params,
                &gstate[next],
                &gh,
            )?);
            out.push(coupling::scale_grad(
                ctx,
                cfg,
                site,
                gy,
                &ws.states,
                &grads,
                layout.scale_offset(l),
            )?);

            let bufs = &ws.mlps[l];
            let slots = &layout.linears[l];
            let mut g_out = &gh;
            for (k, slot) in slots.iter().enumerate().rev() {
                let input = if k == 0 {
                    &bufs.input
                } else {
                    &bufs.hidden[k - 1]
                };
                let dwb = Matmul::weight_grad(b, slot.n_in, slot.n_out);
                out.push(matmul::matmul(
                    ctx,
                    dwb,
                    input,
                    g_out,
                    &grads.view(slot.offset, &[slot.block_len()]),
                    None,
                )?);
                // Layer 0's input gradient is only needed to pass on to an earlier layer.
                if k == 0 && l == 0 {
                    break;
                }
                let (dst, aux) = if k == 0 {
                    (&gxa, None)
                } else {
                    (&gmlp[k % 2], Some(&bufs.hidden[k - 1]))
                };
                let dx = Matmul::input_grad(b, slot.n_in, slot.n_out, aux.is_some());
                out.push(matmul::matmul(
                    ctx,
                    dx,
                    g_out,
                    &params.view(slot.offset, &[slot.block_len()]),
                    dst,
                    aux,
                )?);
                g_out = dst;
            }
            if l > 0 {
                out.push(coupling::scatter_add(
                    ctx,
                    cfg,
                    b,
                    1 - cfg.transformed_part(l),
                    &gxa,
                    &gstate[next],
                )?);
            }
            cur = next;
        }
        Ok(Self {
            grads,
            grad_z,
            dispatches: out,
        })
    }

    pub fn dispatches(&self) -> Vec<&Dispatch> {
        self.dispatches.iter().collect()
    }
}
