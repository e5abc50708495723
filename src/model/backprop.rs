//! The backward pass: gradients of the mean negative log-likelihood of a batch with respect
//! to every parameter, recorded once per workspace as a list of dispatches that reads the
//! activations the forward program left in the workspace.
//!
//! It starts from `dL/dz = z / B`, which the last layer's backward kernel computes from `z`
//! as it reads it (no seed dispatch). Per coupling layer, last to first: one coupling + scale backward dispatch (the previous
//! state's gradient, in place, the conditioner output's gradient and the log-scale gradient,
//! a column sum over the batch; it also adds the later layer's conditioner input gradient
//! into the state gradient as it reads it), then the conditioner backward: for each linear
//! layer a TN matmul giving `[dW; db]` straight into the flat gradient buffer and an NT
//! matmul giving the input gradient through the ReLU's derivative. Layer 0's conditioner
//! input gradient is not computed: nothing reads dL/dx_0.

use crate::error::Result;
use crate::gpu::{Dispatch, GpuContext, GpuTensor};
use crate::kernels::coupling::{self, GradIn};
use crate::kernels::matmul::{self, padded, Matmul};
use crate::model::layout::ParamLayout;
use crate::model::workspace::Workspace;

pub struct Backprop {
    /// `dL/dθ` in the parameter layout (padding stays zero).
    pub grads: GpuTensor,
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
        // The state gradients, overwritten layer by layer: each layer's kernel works in
        // place (the recorded dispatches keep these buffers alive).
        let gstate = ctx.zeros(&[b * cfg.dim], "state gradient")?;
        let gh = ctx.zeros(&[b, padded(cfg.mlp_out())], "conditioner output gradient")?;
        let gmlp = [
            ctx.zeros(&[b, padded(cfg.hidden)], "hidden gradient")?,
            ctx.zeros(&[b, padded(cfg.hidden)], "hidden gradient")?,
        ];
        let gxa = ctx.zeros(&[b, padded(cfg.half())], "conditioning half gradient")?;

        let mut out = Vec::new();
        for l in (0..cfg.layers).rev() {
            let site = ws.site(layout, l);
            // Layer l + 1's conditioner input gradient, in gxa, is merged into its
            // conditioning half as this layer's kernel reads the state gradient.
            let gy = if l + 1 == cfg.layers {
                GradIn::LossSeed
            } else {
                GradIn::State(Some(coupling::AddPart {
                    part: 1 - cfg.transformed_part(l + 1),
                    src: &gxa,
                }))
            };
            out.push(coupling::coupling_backward(
                ctx,
                cfg,
                site,
                &gstate,
                gy,
                &ws.states,
                &ws.mlps[l].output,
                params,
                &gh,
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
        }
        Ok(Self {
            grads,
            dispatches: out,
        })
    }

    pub fn dispatches(&self) -> Vec<&Dispatch> {
        self.dispatches.iter().collect()
    }
}
