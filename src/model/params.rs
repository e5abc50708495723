//! Host-side parameters of a flow: what checkpoints store, what the CPU reference reads,
//! and what the GPU flow uploads into its single parameter buffer.

use crate::config::FlowConfig;
use rand::{rngs::StdRng, Rng, SeedableRng};

/// One linear layer `y = x W + b`, `W` row-major with shape `[n_in, n_out]`.
#[derive(Clone, Debug, PartialEq)]
pub struct Linear {
    pub n_in: usize,
    pub n_out: usize,
    pub weight: Vec<f32>,
    pub bias: Vec<f32>,
}

impl Linear {
    pub fn zeros(n_in: usize, n_out: usize) -> Self {
        Self {
            n_in,
            n_out,
            weight: vec![0.0; n_in * n_out],
            bias: vec![0.0; n_out],
        }
    }
}

/// Parameters of a whole flow: `layers` conditioner MLPs of five linear layers each, and one
/// learned log-scale vector `s_i` of length `dim` per coupling layer.
#[derive(Clone, Debug, PartialEq)]
pub struct FlowParams {
    pub config: FlowConfig,
    /// `mlps[l][k]`: linear layer `k` of coupling layer `l`.
    pub mlps: Vec<Vec<Linear>>,
    /// `scales[l]`: the log-scale `s_l` applied after coupling layer `l`.
    pub scales: Vec<Vec<f32>>,
}

impl FlowParams {
    pub fn zeros(config: &FlowConfig) -> Self {
        let mlps = (0..config.layers)
            .map(|_| {
                config
                    .linear_shapes()
                    .iter()
                    .map(|&(i, o)| Linear::zeros(i, o))
                    .collect()
            })
            .collect();
        let scales = vec![vec![0.0; config.dim]; config.layers];
        Self {
            config: config.clone(),
            mlps,
            scales,
        }
    }

    /// The training initialisation: PyTorch's default `U(-1/sqrt(in), 1/sqrt(in))` for the
    /// weights and biases of the first four linear layers; the last linear layer and the
    /// scales start at zero, so the untrained flow is the identity.
    pub fn init(config: &FlowConfig, seed: u64) -> Self {
        let mut p = Self::zeros(config);
        let mut rng = StdRng::seed_from_u64(seed);
        for mlp in &mut p.mlps {
            let last = mlp.len() - 1;
            for lin in &mut mlp[..last] {
                let bound = 1.0 / (lin.n_in as f32).sqrt();
                for w in lin.weight.iter_mut().chain(lin.bias.iter_mut()) {
                    *w = rng.random_range(-bound..bound);
                }
            }
        }
        p
    }

    /// Like [`FlowParams::init`], but every tensor, including the last linear layers and the
    /// scales, gets non-zero values of the given magnitude: tests use it so that no part of
    /// the model is trivially the identity.
    pub fn random(config: &FlowConfig, seed: u64, magnitude: f32) -> Self {
        let mut p = Self::init(config, seed);
        let mut rng = StdRng::seed_from_u64(seed ^ 0x5eed_cafe);
        for mlp in &mut p.mlps {
            let last = mlp.last_mut().expect("five linear layers");
            let bound = magnitude / (last.n_in as f32).sqrt();
            for w in last.weight.iter_mut().chain(last.bias.iter_mut()) {
                *w = rng.random_range(-bound..bound);
            }
        }
        for s in p.scales.iter_mut().flatten() {
            *s = rng.random_range(-0.1 * magnitude..0.1 * magnitude);
        }
        p
    }

    /// Every tensor with a stable name and shape, in a fixed order (checkpoints, reports).
    pub fn named_tensors(&self) -> Vec<(String, Vec<usize>, &[f32])> {
        let mut out = Vec::new();
        for (l, mlp) in self.mlps.iter().enumerate() {
            for (k, lin) in mlp.iter().enumerate() {
                out.push((
                    format!("coupling.{l}.linear.{k}.weight"),
                    vec![lin.n_in, lin.n_out],
                    &lin.weight[..],
                ));
                out.push((
                    format!("coupling.{l}.linear.{k}.bias"),
                    vec![lin.n_out],
                    &lin.bias[..],
                ));
            }
            out.push((
                format!("coupling.{l}.scale"),
                vec![self.config.dim],
                &self.scales[l][..],
            ));
        }
        out
    }

    /// Mutable access to every tensor, in the order of [`FlowParams::named_tensors`].
    pub fn tensors_mut(&mut self) -> Vec<&mut Vec<f32>> {
        let mut out = Vec::new();
        for (mlp, scale) in self.mlps.iter_mut().zip(self.scales.iter_mut()) {
            for lin in mlp.iter_mut() {
                out.push(&mut lin.weight);
                out.push(&mut lin.bias);
            }
            out.push(scale);
        }
        out
    }

    pub fn num_params(&self) -> usize {
        self.config.num_params()
    }
}
