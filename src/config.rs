//! The model's configuration. `FlowConfig::default()` is the exercise's spec model.

use serde::{Deserialize, Serialize};

use crate::error::{Error, Setting};

/// What is wrong with a [`FlowConfig`], and the [`Setting`] it is about where a user sets it.
#[derive(Clone, Debug, PartialEq, thiserror::Error)]
#[error("{message}")]
pub struct ConfigError {
    pub setting: Option<Setting>,
    pub message: String,
}

impl ConfigError {
    fn plain(message: String) -> Self {
        Self {
            setting: None,
            message,
        }
    }
}

impl From<ConfigError> for Error {
    fn from(e: ConfigError) -> Self {
        match e.setting {
            Some(setting) => Error::InvalidSetting {
                setting,
                message: e.message,
            },
            None => Error::Config(e.message),
        }
    }
}

/// How the conditioner's output transforms the other half.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum CouplingKind {
    /// NICE: `y_b = x_b + m(x_a)`; volume preserving, the per-layer scale carries all the log-det.
    Additive,
    /// RealNVP: `y_b = x_b * exp(s) + t`, `[raw, t] = m(x_a)`, `s = c * tanh(raw / c)`.
    /// The tanh bound keeps `exp(s)` within `[e^-c, e^c]`, so one bad step cannot blow up
    /// the inverse; near zero it is the identity, so the flow starts as if unbounded.
    Affine,
}

/// Which pixels are copied through (and condition) and which are transformed.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum MaskKind {
    /// The spec: first `D/2` entries vs last `D/2` entries (top vs bottom of the image).
    Halves,
    /// Even vs odd indices, as NICE did.
    Interleaved,
}

impl std::str::FromStr for CouplingKind {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        match s {
            "additive" => Ok(Self::Additive),
            "affine" => Ok(Self::Affine),
            _ => Err(format!(
                "unknown coupling kind '{s}': expected 'additive' or 'affine'"
            )),
        }
    }
}

impl std::str::FromStr for MaskKind {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        match s {
            "halves" => Ok(Self::Halves),
            "interleaved" => Ok(Self::Interleaved),
            _ => Err(format!(
                "unknown mask '{s}': expected 'halves' or 'interleaved'"
            )),
        }
    }
}

/// Number of linear layers in every conditioner MLP (ReLU between them): fixed by the spec.
pub const MLP_LINEAR_LAYERS: usize = 5;

/// Bounds of a valid [`FlowConfig`] (the device limits are checked where buffers are made).
pub const MAX_DIM: usize = 1 << 20;
pub const MAX_LAYERS: usize = 256;
pub const MAX_HIDDEN: usize = 65_536;

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct FlowConfig {
    /// Data dimension D (784 for MNIST); must be even.
    pub dim: usize,
    /// Number of coupling layers K.
    pub layers: usize,
    /// Hidden width H of the conditioner MLPs.
    pub hidden: usize,
    pub coupling: CouplingKind,
    pub mask: MaskKind,
    /// The bound c of the affine log-scale, `s = c * tanh(raw / c)`.
    pub scale_bound: f32,
}

impl Default for FlowConfig {
    fn default() -> Self {
        Self {
            dim: 784,
            layers: 4,
            hidden: 1024,
            coupling: CouplingKind::Affine,
            mask: MaskKind::Halves,
            scale_bound: 2.0,
        }
    }
}

impl FlowConfig {
    /// Size of each half, `D/2`.
    pub fn half(&self) -> usize {
        self.dim / 2
    }

    /// Output width of the conditioner: `D/2` (additive) or `D` (affine: raw scale, then shift).
    pub fn mlp_out(&self) -> usize {
        match self.coupling {
            CouplingKind::Additive => self.half(),
            CouplingKind::Affine => 2 * self.half(),
        }
    }

    /// `(in, out)` of the five linear layers: `D/2 -> H -> H -> H -> H -> out`.
    pub fn linear_shapes(&self) -> [(usize, usize); MLP_LINEAR_LAYERS] {
        let (h, half) = (self.hidden, self.half());
        [(half, h), (h, h), (h, h), (h, h), (h, self.mlp_out())]
    }

    /// Parameters of a flow with this configuration (weights, biases and scales).
    pub fn num_params(&self) -> usize {
        let per_mlp: usize = self.linear_shapes().iter().map(|(i, o)| (i + 1) * o).sum();
        self.layers * (per_mlp + self.dim)
    }

    /// Which half (0 = first, 1 = second) layer `l` transforms; the other conditions.
    /// Layer 0 transforms the second half given the first; the roles swap every layer.
    pub fn transformed_part(&self, layer: usize) -> usize {
        if layer % 2 == 0 {
            1
        } else {
            0
        }
    }

    /// Index in the full vector of entry `j` of part `part` (0 or 1).
    pub fn part_index(&self, part: usize, j: usize) -> usize {
        match self.mask {
            MaskKind::Halves => part * self.half() + j,
            MaskKind::Interleaved => 2 * j + part,
        }
    }

    /// Checks the configuration, with upper bounds that keep [`FlowConfig::num_params`]
    /// far from overflowing (a checkpoint's header is read before its tensors).
    pub fn validate(&self) -> Result<(), ConfigError> {
        if self.dim < 2 || self.dim % 2 != 0 || self.dim > MAX_DIM {
            return Err(ConfigError::plain(format!(
                "dim must be even and in [2, {MAX_DIM}], got {}",
                self.dim
            )));
        }
        if !(1..=MAX_LAYERS).contains(&self.layers) {
            return Err(ConfigError::plain(format!(
                "layers must be in [1, {MAX_LAYERS}], got {}",
                self.layers
            )));
        }
        if !(1..=MAX_HIDDEN).contains(&self.hidden) {
            let setting = Setting::Hidden;
            return Err(ConfigError {
                setting: Some(setting),
                message: format!(
                    "{} must be in [1, {MAX_HIDDEN}], got {}",
                    setting.name(),
                    self.hidden
                ),
            });
        }
        if !(self.scale_bound > 0.0 && self.scale_bound.is_finite()) {
            return Err(ConfigError::plain(format!(
                "scale_bound must be > 0, got {}",
                self.scale_bound
            )));
        }
        Ok(())
    }
}

/// Adam hyper-parameters, shared by the GPU optimiser and the CPU reference.
///
/// Update at step `t >= 1`, with `g` the gradient after optional clipping:
/// `m = b1 m + (1-b1) g; v = b2 v + (1-b2) g^2; p -= lr * (m / (1-b1^t)) / (sqrt(v / (1-b2^t)) + eps)`.
/// Clipping: with `n = ||g||_2` over *all* parameters, `g *= max_norm / n` when `n > max_norm`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct AdamConfig {
    pub beta1: f32,
    pub beta2: f32,
    pub eps: f32,
    /// Global-norm gradient clipping; `None` disables it.
    pub clip_norm: Option<f32>,
}

impl Default for AdamConfig {
    fn default() -> Self {
        Self {
            beta1: 0.9,
            beta2: 0.999,
            eps: 1e-8,
            clip_norm: Some(100.0),
        }
    }
}

/// How 8-bit pixels become the flow's input (saved in checkpoints with the model).
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
pub struct Preprocess {
    /// `Some(a)`: `y = logit(a + (1 - 2a) v)`; `None`: the flow sees `v` in [0, 1).
    pub logit_alpha: Option<f32>,
}
