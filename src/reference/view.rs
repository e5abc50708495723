//! Read-only views of parameters, so that one f64 implementation of the math serves both the
//! stored `f32` parameters ([`FlowParams`]) and an `f64` copy ([`FlowParamsF64`]) that finite
//! differences can perturb by amounts an `f32` cannot represent.

use crate::config::FlowConfig;
use crate::model::params::{FlowParams, Linear};

/// A scalar the reference can read parameters from; every computation happens in `f64`.
pub trait Scalar: Copy + Into<f64> {}
impl Scalar for f32 {}
impl Scalar for f64 {}

/// One linear layer `y = x W + b`, `W` row-major `[n_in, n_out]`.
pub trait LinearView {
    type T: Scalar;
    fn n_in(&self) -> usize;
    fn n_out(&self) -> usize;
    fn weight(&self) -> &[Self::T];
    fn bias(&self) -> &[Self::T];
}

/// The parameters of a whole flow, as the reference reads them.
pub trait ParamView {
    type T: Scalar;
    type Lin: LinearView<T = Self::T>;
    fn config(&self) -> &FlowConfig;
    /// The five linear layers of coupling layer `l`'s conditioner.
    fn mlp(&self, l: usize) -> &[Self::Lin];
    /// The log-scale vector `s_l` (length `dim`) applied after coupling layer `l`.
    fn scale(&self, l: usize) -> &[Self::T];
}

impl LinearView for Linear {
    type T = f32;
    fn n_in(&self) -> usize {
        self.n_in
    }
    fn n_out(&self) -> usize {
        self.n_out
    }
    fn weight(&self) -> &[f32] {
        &self.weight
    }
    fn bias(&self) -> &[f32] {
        &self.bias
    }
}

impl ParamView for FlowParams {
    type T = f32;
    type Lin = Linear;
    fn config(&self) -> &FlowConfig {
        &self.config
    }
    fn mlp(&self, l: usize) -> &[Linear] {
        &self.mlps[l]
    }
    fn scale(&self, l: usize) -> &[f32] {
        &self.scales[l]
    }
}

/// [`Linear`] with `f64` storage.
#[derive(Clone, Debug, PartialEq)]
pub struct LinearF64 {
    pub n_in: usize,
    pub n_out: usize,
    pub weight: Vec<f64>,
    pub bias: Vec<f64>,
}

impl LinearF64 {
    pub fn zeros(n_in: usize, n_out: usize) -> Self {
        Self {
            n_in,
            n_out,
            weight: vec![0.0; n_in * n_out],
            bias: vec![0.0; n_out],
        }
    }
}

impl LinearView for LinearF64 {
    type T = f64;
    fn n_in(&self) -> usize {
        self.n_in
    }
    fn n_out(&self) -> usize {
        self.n_out
    }
    fn weight(&self) -> &[f64] {
        &self.weight
    }
    fn bias(&self) -> &[f64] {
        &self.bias
    }
}

/// [`FlowParams`] with `f64` storage: the reference's gradients, and what finite differences
/// perturb. Tensor order in [`FlowParamsF64::tensors`] matches [`FlowParams::named_tensors`].
#[derive(Clone, Debug, PartialEq)]
pub struct FlowParamsF64 {
    pub config: FlowConfig,
    pub mlps: Vec<Vec<LinearF64>>,
    pub scales: Vec<Vec<f64>>,
}

impl FlowParamsF64 {
    pub fn zeros(config: &FlowConfig) -> Self {
        let mlps = (0..config.layers)
            .map(|_| {
                config
                    .linear_shapes()
                    .iter()
                    .map(|&(i, o)| LinearF64::zeros(i, o))
                    .collect()
            })
            .collect();
        Self {
            config: config.clone(),
            mlps,
            scales: vec![vec![0.0; config.dim]; config.layers],
        }
    }

    /// Exact widening of stored parameters.
    pub fn from_f32(p: &FlowParams) -> Self {
        let wide = |v: &[f32]| v.iter().map(|&x| f64::from(x)).collect::<Vec<f64>>();
        Self {
            config: p.config.clone(),
            mlps: p
                .mlps
                .iter()
                .map(|mlp| {
                    mlp.iter()
                        .map(|lin| LinearF64 {
                            n_in: lin.n_in,
                            n_out: lin.n_out,
                            weight: wide(&lin.weight),
                            bias: wide(&lin.bias),
                        })
                        .collect()
                })
                .collect(),
            scales: p.scales.iter().map(|s| wide(s)).collect(),
        }
    }

    /// Rounds every entry to `f32`.
    pub fn to_f32(&self) -> FlowParams {
        let narrow = |v: &[f64]| v.iter().map(|&x| x as f32).collect::<Vec<f32>>();
        FlowParams {
            config: self.config.clone(),
            mlps: self
                .mlps
                .iter()
                .map(|mlp| {
                    mlp.iter()
                        .map(|lin| Linear {
                            n_in: lin.n_in,
                            n_out: lin.n_out,
                            weight: narrow(&lin.weight),
                            bias: narrow(&lin.bias),
                        })
                        .collect()
                })
                .collect(),
            scales: self.scales.iter().map(|s| narrow(s)).collect(),
        }
    }

    /// Every tensor, in the order of [`FlowParams::named_tensors`].
    pub fn tensors(&self) -> Vec<&[f64]> {
        let mut out: Vec<&[f64]> = Vec::new();
        for (mlp, scale) in self.mlps.iter().zip(&self.scales) {
            for lin in mlp {
                out.push(&lin.weight);
                out.push(&lin.bias);
            }
            out.push(scale);
        }
        out
    }

    /// Mutable access to every tensor, in the order of [`FlowParams::named_tensors`].
    pub fn tensors_mut(&mut self) -> Vec<&mut Vec<f64>> {
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
}

impl ParamView for FlowParamsF64 {
    type T = f64;
    type Lin = LinearF64;
    fn config(&self) -> &FlowConfig {
        &self.config
    }
    fn mlp(&self, l: usize) -> &[LinearF64] {
        &self.mlps[l]
    }
    fn scale(&self, l: usize) -> &[f64] {
        &self.scales[l]
    }
}

/// Widens a slice to `f64`.
pub fn to_f64<T: Scalar>(v: &[T]) -> Vec<f64> {
    v.iter().map(|&x| x.into()).collect()
}

/// Rounds a slice to `f32`.
pub fn to_f32(v: &[f64]) -> Vec<f32> {
    v.iter().map(|&x| x as f32).collect()
}

/// Panics with a clear message unless the parameters have the shapes their config implies.
pub(crate) fn check_params<P: ParamView>(p: &P) {
    let cfg = p.config();
    if let Err(e) = cfg.validate() {
        panic!("reference: invalid config: {e}");
    }
    let shapes = cfg.linear_shapes();
    for l in 0..cfg.layers {
        let mlp = p.mlp(l);
        assert_eq!(
            mlp.len(),
            shapes.len(),
            "reference: coupling {l} has {} linear layers, expected {}",
            mlp.len(),
            shapes.len()
        );
        for (k, (lin, &(i, o))) in mlp.iter().zip(&shapes).enumerate() {
            assert!(
                lin.n_in() == i
                    && lin.n_out() == o
                    && lin.weight().len() == i * o
                    && lin.bias().len() == o,
                "reference: coupling {l} linear {k} has shape [{}, {}] (weight {}, bias {}), \
                 expected [{i}, {o}]",
                lin.n_in(),
                lin.n_out(),
                lin.weight().len(),
                lin.bias().len()
            );
        }
        assert_eq!(
            p.scale(l).len(),
            cfg.dim,
            "reference: scale {l} has length {}, expected dim {}",
            p.scale(l).len(),
            cfg.dim
        );
    }
}
