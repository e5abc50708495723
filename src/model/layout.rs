//! Where every parameter tensor lives in the single flat GPU parameter buffer.
//!
//! One buffer for all parameters (and one each for their gradients and Adam moments) lets
//! Adam and the gradient norm run as single dispatches. Each linear layer is stored as one
//! `[(n_in + 1), padded(n_out)]` block: the weights with the bias appended as a last row
//! (the matmul kernels' "bias trick"), rows padded to a multiple of 4 for vec4 loads.
//! The K log-scale vectors are contiguous at the end. Every block starts at a multiple of
//! [`VIEW_ALIGN`] elements so it can be bound on its own.

use crate::config::FlowConfig;
use crate::gpu::tensor::{align_up, VIEW_ALIGN};
use crate::kernels::matmul::padded;
use crate::model::params::{FlowParams, Linear};

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct LinearSlot {
    pub offset: usize,
    pub n_in: usize,
    pub n_out: usize,
}

impl LinearSlot {
    /// Elements the block spans: `(n_in + 1) * padded(n_out)`.
    pub fn block_len(&self) -> usize {
        (self.n_in + 1) * padded(self.n_out)
    }

    /// Writes `lin` into its block of `flat`: the weight rows, then the bias row.
    pub fn pack_into(&self, lin: &Linear, flat: &mut [f32]) {
        let ld = padded(self.n_out);
        for i in 0..self.n_in {
            let row = self.offset + i * ld;
            flat[row..row + self.n_out]
                .copy_from_slice(&lin.weight[i * self.n_out..(i + 1) * self.n_out]);
        }
        let bias = self.offset + self.n_in * ld;
        flat[bias..bias + self.n_out].copy_from_slice(&lin.bias);
    }

    /// The layer stored in its block of `flat` (padding ignored).
    pub fn unpack_from(&self, flat: &[f32]) -> Linear {
        let ld = padded(self.n_out);
        let mut lin = Linear::zeros(self.n_in, self.n_out);
        for i in 0..self.n_in {
            let row = self.offset + i * ld;
            lin.weight[i * self.n_out..(i + 1) * self.n_out]
                .copy_from_slice(&flat[row..row + self.n_out]);
        }
        let bias = self.offset + self.n_in * ld;
        lin.bias.copy_from_slice(&flat[bias..bias + self.n_out]);
        lin
    }
}

#[derive(Clone, Debug, PartialEq)]
pub struct ParamLayout {
    pub config: FlowConfig,
    /// `linears[l][k]`: linear layer k of coupling layer l.
    pub linears: Vec<Vec<LinearSlot>>,
    /// Offset of `s_0`; `s_l` starts at `scales_offset + l * dim`.
    pub scales_offset: usize,
    /// Total elements, padding included.
    pub len: usize,
}

impl ParamLayout {
    pub fn new(config: &FlowConfig) -> Self {
        let mut at = 0;
        let mut linears = Vec::with_capacity(config.layers);
        for _ in 0..config.layers {
            let mut mlp = Vec::new();
            for (n_in, n_out) in config.linear_shapes() {
                let slot = LinearSlot {
                    offset: at,
                    n_in,
                    n_out,
                };
                at = align_up(at + slot.block_len());
                mlp.push(slot);
            }
            linears.push(mlp);
        }
        let scales_offset = at;
        let len = align_up(at + config.layers * config.dim);
        debug_assert!(scales_offset % VIEW_ALIGN == 0);
        Self {
            config: config.clone(),
            linears,
            scales_offset,
            len,
        }
    }

    pub fn scale_offset(&self, layer: usize) -> usize {
        self.scales_offset + layer * self.config.dim
    }

    /// The flat buffer contents for `p` (zero padding).
    pub fn pack(&self, p: &FlowParams) -> Vec<f32> {
        let mut flat = vec![0.0; self.len];
        for (slots, mlp) in self.linears.iter().zip(&p.mlps) {
            for (slot, lin) in slots.iter().zip(mlp) {
                slot.pack_into(lin, &mut flat);
            }
        }
        for (l, s) in p.scales.iter().enumerate() {
            let at = self.scale_offset(l);
            flat[at..at + s.len()].copy_from_slice(s);
        }
        flat
    }

    /// Inverse of [`ParamLayout::pack`] (padding ignored).
    pub fn unpack(&self, flat: &[f32]) -> FlowParams {
        assert_eq!(
            flat.len(),
            self.len,
            "flat parameter buffer has the layout's length"
        );
        let mut p = FlowParams::zeros(&self.config);
        for (slots, mlp) in self.linears.iter().zip(&mut p.mlps) {
            for (slot, lin) in slots.iter().zip(mlp) {
                *lin = slot.unpack_from(flat);
            }
        }
        for (l, s) in p.scales.iter_mut().enumerate() {
            let at = self.scale_offset(l);
            s.copy_from_slice(&flat[at..at + self.config.dim]);
        }
        p
    }
}
