//! Kernel conformance across WGSL compilers: fixtures written natively from the CPU
//! reference ([`fixtures`]), run on any device by the same code ([`runner`]), natively by
//! `tests/conformance.rs` and in a browser by `web/` (Tint and Dawn instead of naga and
//! Vulkan). A fixture holds its inputs, the reference's outputs and the error bound the
//! native kernel tests use for that kernel, so a browser passes by the same standard.
//!
//! Bounds are on the mixed error `|gpu - ref| / (1 + |ref|)` (largest over the outputs), or
//! for gradients on the relative error in norm per parameter tensor, as natively.

pub mod fixtures;
pub mod runner;

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::config::{AdamConfig, FlowConfig, Preprocess};
use crate::kernels::matmul::MatmulKind;

/// What a fixture runs. Every kernel of `shaders/` is reached by one of these (the
/// benchmark probes `peak_*` excepted): see [`fixtures::kernels_covered`].
#[derive(Clone, Debug, Serialize, Deserialize)]
pub enum Op {
    /// One matmul, run with every variant the device can run for its kind. Inputs `a`, `b`
    /// (and `aux` for `relu_grad`), padded as the kernels store them; output `c`.
    Matmul {
        kind: MatmulKind,
        m: usize,
        n: usize,
        k: usize,
        a_ones: bool,
        /// `none`, `relu` or `relu_grad`.
        epilogue: String,
    },
    /// Pixels (inputs `pixels` as values 0..=255, `indices`) to flow inputs `x` and the
    /// transform's log-Jacobian `pre_logdet`; then `x` back to `pixels_back`.
    Dequantize {
        pre: Preprocess,
        dim: usize,
        seed: u32,
        noise: bool,
    },
    /// `count` prior draws `z`.
    Gaussian {
        count: usize,
        seed: u32,
        temperature: f32,
    },
    /// The flow forward on `x` (`params` packed as the parameter layout): `z`, `logdet`,
    /// `log_likelihood`.
    Forward { config: FlowConfig, batch: usize },
    /// The inverse from `z`: outputs `stage_0` (z) .. `stage_K` (x).
    Inverse { config: FlowConfig, batch: usize },
    /// The gradient of the loss of `x`: `grads` (parameter layout).
    Gradients { config: FlowConfig, batch: usize },
    /// The loss stage on `density` (`[2 * batch]`: log|det J|, then log p(y)) and
    /// `pre_logdet`: `nll` per image and `sums` (the batch mean, then 1).
    Loss { dim: usize, batch: usize },
    /// One step of the weights' moving average on `ema` and `params` after a gradient norm
    /// of `grads`: output `ema` (left alone when the norm is not finite).
    Ema { config: FlowConfig, decay: f32 },
    /// The sample judge's input rows: images `indices` of `pixels` (values 0..=255, whole
    /// `side x side` images) translated by up to `shift` pixels, rows of stride
    /// `padded(side^2)`; output `x`.
    ClassifierInput { side: usize, seed: u32, shift: u32 },
    /// The sample judge's loss on `logits` (`[batch, padded(classes)]`, junk in the
    /// padding), labels `labels[indices[r]]`: outputs `grad` (same layout, padding untouched)
    /// and `sums` (mean loss, accuracy, 1).
    SoftmaxCrossEntropy { classes: usize, batch: usize },
    /// Global gradient norm then one Adam step on `params`, `grads`, `m`, `v`: outputs
    /// `norm`, `params`, `m`, `v`.
    Adam {
        config: FlowConfig,
        adam: AdamConfig,
        step: u32,
        lr: f32,
    },
}

/// How outputs are compared with the reference.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
pub enum Metric {
    /// Largest `|gpu - ref| / (1 + |ref|)` over every output.
    MixedMax,
    /// Largest relative error in norm over the tensors of the parameter layout.
    RelNormPerTensor,
}

#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Fixture {
    pub name: String,
    pub op: Op,
    pub inputs: BTreeMap<String, Vec<f32>>,
    /// The reference's outputs, rounded to f32 (the file stays small; the bounds are far
    /// above f32 rounding).
    pub expected: BTreeMap<String, Vec<f32>>,
    pub metric: Metric,
    /// Per output: the bound the native kernel tests use for it.
    pub bounds: BTreeMap<String, f64>,
}

/// What a report checked.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum Check {
    /// The kernels ran on the fixture's inputs and were compared with the reference.
    Ran,
    /// The kernel was only compiled (no fixture can run it on this device).
    CompiledOnly,
    /// The device lacks a feature the kernel needs.
    NotRun,
}

/// One fixture's verdict on one device (a matmul fixture gives one per variant).
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Report {
    pub name: String,
    pub check: Check,
    /// The shaders the run dispatched.
    pub kernels: Vec<String>,
    /// `(output, error, bound)` for every output.
    pub outputs: Vec<(String, f64, f64)>,
    pub passed: bool,
    /// Set when the case could not run (a device error); then `passed` is false.
    pub failure: Option<String>,
}

impl Report {
    /// One line: verdict, name, the output closest to its bound.
    pub fn line(&self) -> String {
        if let Some(f) = &self.failure {
            return format!("FAIL {}: {f}", self.name);
        }
        let worst = self
            .outputs
            .iter()
            .max_by(|a, b| (a.1 / a.2).total_cmp(&(b.1 / b.2)));
        let detail = worst.map_or(String::new(), |(o, e, b)| {
            format!("{o} error {e:.2e} (bound {b:.0e})")
        });
        let verdict = if self.passed { "ok  " } else { "FAIL" };
        format!("{verdict} {}: {detail}", self.name)
    }
}

/// Largest mixed error of `got` against `want`, `f64::INFINITY` on a length mismatch or a
/// non-finite value.
pub fn max_mixed_err(got: &[f32], want: &[f32]) -> f64 {
    if got.len() != want.len() {
        return f64::INFINITY;
    }
    got.iter()
        .zip(want)
        .map(|(&g, &w)| {
            let e = (g as f64 - w as f64).abs() / (1.0 + (w as f64).abs());
            if e.is_nan() {
                f64::INFINITY
            } else {
                e
            }
        })
        .fold(0.0, f64::max)
}

/// `||got - want|| / ||want||`.
pub fn rel_norm_err(got: &[f32], want: &[f32]) -> f64 {
    if got.len() != want.len() {
        return f64::INFINITY;
    }
    let num: f64 = got
        .iter()
        .zip(want)
        .map(|(&g, &w)| (g as f64 - w as f64).powi(2))
        .sum();
    let den: f64 = want.iter().map(|&w| (w as f64).powi(2)).sum();
    let e = (num / den.max(1e-30)).sqrt();
    if e.is_nan() {
        f64::INFINITY
    } else {
        e
    }
}
