//! The options that define a training run (stored in every checkpoint and `summary.json`),
//! their validation, and the one-line description of the model they train.

use std::path::PathBuf;

use serde::{Deserialize, Serialize};

use crate::config::Preprocess;
use crate::config::{AdamConfig, CouplingKind, FlowConfig, MaskKind};
use crate::data::{self, DatasetName};
use crate::error::{Error, Result, Setting};
use crate::train::schedule::DecayKind;

/// Everything that defines a training run. Stored in checkpoints and `summary.json`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct TrainOptions {
    pub run_name: String,
    pub runs_dir: PathBuf,
    pub dataset: DatasetName,
    /// Where the IDX files are (default `data/<dataset>`); fetched there when missing.
    pub data_dir: Option<PathBuf>,
    pub flow: FlowConfig,
    /// `Some(a)`: the flow models `logit(a + (1 - 2a) v)`; `None`: `v` itself.
    pub logit_alpha: Option<f32>,
    pub epochs: u32,
    pub batch: usize,
    pub lr: f64,
    pub decay: DecayKind,
    pub final_lr_fraction: f64,
    pub warmup_steps: u64,
    pub adam: AdamConfig,
    pub seed: u64,
    pub log_every: u32,
    /// Dequantization draws averaged for the final test log-likelihood.
    pub test_draws: u32,
    /// Use only the first N images of each split (smoke runs and tests).
    pub train_limit: Option<usize>,
    pub valid_limit: Option<usize>,
    pub test_limit: Option<usize>,
    /// Stop after this many steps in total (tests; `None` = all epochs).
    pub max_steps: Option<u64>,
    /// Draw a progress bar on stderr.
    pub progress: bool,
    /// Data-dependent start: the last per-layer scale is set so that every output dimension
    /// has unit second moment on a sample of training images (as ActNorm does in Glow).
    #[serde(default)]
    pub data_init: bool,
    /// Seconds between the checkpoints written inside an epoch (right after a loss
    /// readback); 0 writes them only at the end of every epoch and when stopped.
    #[serde(default = "default_checkpoint_every_s")]
    pub checkpoint_every_s: f64,
    /// What a step with a non-finite gradient norm does to the run (Adam skips its update
    /// either way).
    #[serde(default)]
    pub on_nan: NanPolicy,
    /// `Some(decay)`: keep an exponential moving average of the weights after every step,
    /// `ema = decay ema + (1 - decay) w`, and validate, test, sample and save as
    /// `best.safetensors` the average instead of the last weights.
    #[serde(default)]
    pub ema: Option<f32>,
}

/// What a non-finite loss or gradient norm does to a run.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize, clap::ValueEnum)]
#[serde(rename_all = "lowercase")]
pub enum NanPolicy {
    /// End the run with a training error naming the step; the last checkpoint is kept.
    #[default]
    Stop,
    /// Go on without the step's update (a run where every step of a logging interval is
    /// non-finite still stops).
    Skip,
}

impl NanPolicy {
    pub fn name(self) -> &'static str {
        match self {
            Self::Stop => "stop",
            Self::Skip => "skip",
        }
    }
}

/// Ten minutes: at most that much training is lost to a crash or a kill.
pub(crate) const DEFAULT_CHECKPOINT_EVERY_S: f64 = 600.0;

fn default_checkpoint_every_s() -> f64 {
    DEFAULT_CHECKPOINT_EVERY_S
}

/// "every 10 min and at the end of every epoch": when a run writes `last.safetensors`.
pub fn describe_checkpoints(every_s: f64) -> String {
    if every_s <= 0.0 {
        return "at the end of every epoch and when stopped".into();
    }
    let every = if every_s >= 60.0 && every_s % 60.0 == 0.0 {
        format!("{} min", every_s / 60.0)
    } else {
        format!("{every_s} s")
    };
    format!("every {every} and at the end of every epoch and when stopped")
}

impl TrainOptions {
    pub fn run_dir(&self) -> PathBuf {
        self.runs_dir.join(&self.run_name)
    }

    pub fn preprocess(&self) -> Preprocess {
        Preprocess {
            logit_alpha: self.logit_alpha,
        }
    }

    pub fn data_dir(&self) -> PathBuf {
        self.data_dir
            .clone()
            .unwrap_or_else(|| data::default_data_dir(self.dataset))
    }

    /// Every option in its range (checkpoints and library callers go through here too, not
    /// only the CLI); an error names the [`Setting`] that is out of range.
    pub fn validate(&self) -> Result<()> {
        self.flow.validate()?;
        let bad = |setting: Setting, problem: &str| {
            Err(Error::invalid(setting, |name| format!("{name} {problem}")))
        };
        if self.epochs == 0 {
            return bad(Setting::Epochs, "must be at least 1");
        }
        if let Some(d) = self.ema {
            if !(d > 0.0 && d < 1.0) {
                return bad(Setting::Ema, &format!("must be in (0, 1), got {d}"));
            }
        }
        if self.batch == 0 {
            return bad(Setting::Batch, "must be at least 1");
        }
        if !(self.lr > 0.0 && self.lr.is_finite()) {
            return bad(
                Setting::LearningRate,
                &format!("must be a positive finite number, got {}", self.lr),
            );
        }
        if !(0.0..=1.0).contains(&self.final_lr_fraction) {
            return bad(
                Setting::FinalLrFraction,
                &format!(
                    "must be a fraction of the peak rate in [0, 1], got {}",
                    self.final_lr_fraction
                ),
            );
        }
        if let Some(c) = self.adam.clip_norm {
            if !(c > 0.0 && c.is_finite()) {
                return bad(
                    Setting::ClipNorm,
                    &format!("must be a finite number >= 0, got {c}"),
                );
            }
        }
        let AdamConfig {
            beta1, beta2, eps, ..
        } = self.adam;
        if !((0.0..1.0).contains(&beta1) && (0.0..1.0).contains(&beta2)) {
            return Err(Error::Config(format!(
                "Adam's betas must be in [0, 1), got {beta1} and {beta2}"
            )));
        }
        if !(eps > 0.0 && eps.is_finite()) {
            return Err(Error::Config(format!(
                "Adam's eps must be a positive number, got {eps}"
            )));
        }
        if let Some(a) = self.logit_alpha {
            if !(0.0..0.5).contains(&a) {
                return bad(
                    Setting::LogitAlpha,
                    &format!("must be in [0, 0.5), got {a}"),
                );
            }
        }
        if !(self.checkpoint_every_s >= 0.0 && self.checkpoint_every_s.is_finite()) {
            return bad(
                Setting::CheckpointEvery,
                &format!(
                    "must be a finite duration >= 0, got {} s",
                    self.checkpoint_every_s
                ),
            );
        }
        if self.log_every == 0 {
            return bad(Setting::LogEvery, "must be at least 1");
        }
        if self.test_draws == 0 {
            return bad(Setting::TestDraws, "must be at least 1");
        }
        let limits = [self.train_limit, self.valid_limit, self.test_limit];
        if limits.contains(&Some(0)) {
            return bad(Setting::Subset, "must be at least 1");
        }
        if self.run_name.is_empty() || self.run_name.contains(['/', '\\']) || self.run_name == ".."
        {
            return Err(Error::invalid(Setting::RunName, |name| {
                format!("{name} '{}' must be a plain folder name", self.run_name)
            }));
        }
        Ok(())
    }
}

/// "affine (RealNVP) coupling flow, 4 layers, ...": the model in words, for logs and the report.
pub fn describe_model(cfg: &FlowConfig) -> String {
    let coupling = match cfg.coupling {
        CouplingKind::Additive => "additive (NICE)",
        CouplingKind::Affine => "affine (RealNVP)",
    };
    let mask = match cfg.mask {
        MaskKind::Halves => "halves",
        MaskKind::Interleaved => "interleaved",
    };
    format!("{coupling} coupling flow, {} layers, {mask} mask, conditioners of 5 linear layers with H = {}", cfg.layers, cfg.hidden)
}
