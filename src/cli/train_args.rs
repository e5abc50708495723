//! Command-line options of `train` (the example and the `flowgpu train` subcommand), with the
//! presets: `spec` (the exercise's model, the default) and `quick` (small enough for a CPU).

use crate::kernels::tune::TuneMode;
use std::path::PathBuf;

use clap::{Args, ValueEnum};

use crate::cli::value_checks::{
    self, clip_norm, ema_decay, fraction, learning_rate, logit_alpha, u32_in, usize_in, MAX_BATCH,
    MAX_DRAWS, MAX_HIDDEN,
};

use crate::config::{AdamConfig, CouplingKind, FlowConfig, MaskKind};
use crate::data::DatasetName;
use crate::error::Result;
use crate::train::options::{NanPolicy, DEFAULT_CHECKPOINT_EVERY_S};
use crate::train::run::TrainOptions;
use crate::train::schedule::DecayKind;

#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum Preset {
    /// The exercise's model: affine couplings, halves mask, H = 1024, 40 epochs. Needs a GPU.
    Spec,
    /// H = 256, 14 epochs of batch 128 at peak rate 2.5e-3: about 7 to 10 minutes on 2 CPU
    /// cores (lavapipe), test 1.94 bits/dim.
    Quick,
    /// A few hundred steps of a tiny model on a data subset: checks the pipeline end to end.
    Smoke,
}

#[derive(Clone, Debug, Args)]
pub struct TrainArgs {
    /// Starting point for every option below (default: spec on a GPU, quick on a software
    /// adapter such as lavapipe). Not with --resume: a resumed run starts from its
    /// checkpoint's options.
    #[arg(long, value_enum)]
    pub preset: Option<Preset>,
    /// Run name: outputs go to `<runs-dir>/<name>/` (default: the preset's name; with
    /// --resume, the checkpoint's folder).
    #[arg(long)]
    pub name: Option<String>,
    /// Folder of the run folders (default: runs; with --resume, where the checkpoint is).
    #[arg(long)]
    pub runs_dir: Option<PathBuf>,
    /// mnist or fashion-mnist (default: mnist).
    #[arg(long)]
    pub dataset: Option<DatasetName>,
    /// Folder with the four IDX files (raw or .gz); fetched there when missing.
    #[arg(long)]
    pub data_dir: Option<PathBuf>,
    #[arg(long, allow_hyphen_values = true, value_parser = u32_in(1, 1_000_000))]
    pub epochs: Option<u32>,
    #[arg(long, allow_hyphen_values = true, value_parser = usize_in(1, MAX_BATCH))]
    pub batch: Option<usize>,
    /// Peak learning rate, in (0, 10].
    #[arg(long, allow_hyphen_values = true, value_parser = learning_rate)]
    pub lr: Option<f64>,
    /// constant, cosine or exponential.
    #[arg(long)]
    pub lr_decay: Option<DecayKind>,
    /// Learning rate at the end, as a fraction of the peak, in [0, 1].
    #[arg(long, allow_hyphen_values = true, value_parser = fraction)]
    pub final_lr: Option<f64>,
    #[arg(long, allow_hyphen_values = true)]
    pub warmup: Option<u64>,
    /// Global-norm gradient clipping; 0 turns it off.
    #[arg(long, allow_hyphen_values = true, value_parser = clip_norm)]
    pub clip: Option<f32>,
    #[arg(long, allow_hyphen_values = true)]
    pub seed: Option<u64>,
    /// additive (NICE) or affine (RealNVP).
    #[arg(long)]
    pub coupling: Option<CouplingKind>,
    /// halves (the spec) or interleaved.
    #[arg(long)]
    pub mask: Option<MaskKind>,
    /// Hidden width H of the conditioner MLPs.
    #[arg(long, allow_hyphen_values = true, value_parser = usize_in(1, MAX_HIDDEN))]
    pub hidden: Option<usize>,
    /// a of the logit transform y = logit(a + (1 - 2a) v), in [0, 0.5); 0 disables the logit.
    #[arg(long, allow_hyphen_values = true, value_parser = logit_alpha)]
    pub logit_alpha: Option<f32>,
    /// Read the training loss back every N steps.
    #[arg(long, allow_hyphen_values = true, value_parser = u32_in(1, 1_000_000))]
    pub log_every: Option<u32>,
    /// Dequantization draws averaged for the test log-likelihood.
    #[arg(long, allow_hyphen_values = true, value_parser = u32_in(1, MAX_DRAWS))]
    pub test_draws: Option<u32>,
    /// Use only the first N training images (and N/5 validation, N/5 test).
    #[arg(long, allow_hyphen_values = true, value_parser = usize_in(1, usize::MAX as u64))]
    pub subset: Option<usize>,
    /// Stop after N steps (the checkpoint can be resumed).
    #[arg(long, allow_hyphen_values = true)]
    pub max_steps: Option<u64>,
    /// Also write last.safetensors this often inside an epoch, e.g. 10m, 30s, 1h (a bare
    /// number is minutes; 0: only at the end of every epoch). Default: 10 minutes.
    #[arg(long, allow_hyphen_values = true, value_parser = value_checks::duration)]
    pub checkpoint_every: Option<std::time::Duration>,
    /// What a step with a non-finite loss or gradient norm does: stop the run (the last
    /// checkpoint is kept) or skip the step's update and go on. Default: stop.
    #[arg(long, value_enum)]
    pub on_nan: Option<NanPolicy>,
    /// Keep a moving average of the weights with this decay (e.g. 0.999; 0 = off, the
    /// default) and validate, test, sample and save as best.safetensors the average.
    #[arg(long, allow_hyphen_values = true, value_parser = ema_decay)]
    pub ema: Option<f32>,
    /// Continue a run from its last.safetensors.
    #[arg(long)]
    pub resume: Option<PathBuf>,
    /// Do not draw the progress bar.
    #[arg(long)]
    pub no_progress: bool,
    /// Skip the figures and report at the end.
    #[arg(long)]
    pub no_report: bool,
    /// Do not measure the samples with the sample judge (which is trained, about two
    /// minutes on two CPU cores, the first time a data set needs it).
    #[arg(long)]
    pub no_judge: bool,
    /// Start from the plain initialisation (identity flow) instead of the data-dependent scale.
    #[arg(long)]
    pub no_data_init: bool,
    /// Matmul kernels: auto (time each variant once per adapter and cache the choice), off
    /// (the adapter's defaults) or force (time again).
    #[arg(long, value_enum, default_value = "auto")]
    pub tune: TuneMode,
    /// Where tuning choices are cached (default: $FLOWGPU_CACHE_DIR, else
    /// $XDG_CACHE_HOME/flowgpu, else ~/.cache/flowgpu).
    #[arg(long)]
    pub tune_cache: Option<PathBuf>,
    /// At the end, print the GPU time of every kernel of one training step, sorted by share.
    #[arg(long)]
    pub profile: bool,
}

impl Preset {
    pub fn name(self) -> &'static str {
        match self {
            Self::Spec => "spec",
            Self::Quick => "quick",
            Self::Smoke => "smoke",
        }
    }

    pub fn options(self) -> TrainOptions {
        let spec = TrainOptions {
            run_name: self.name().into(),
            runs_dir: "runs".into(),
            dataset: DatasetName::Mnist,
            data_dir: None,
            flow: FlowConfig::default(),
            logit_alpha: Some(1e-6),
            epochs: 40,
            batch: 256,
            // 1e-3 (and 5e-4) made the loss jump as the warm-up reached the peak at H = 1024
            // (README, Results); 2.5e-4 ran its first 400 steps here without a jump.
            lr: 2.5e-4,
            decay: DecayKind::Cosine,
            final_lr_fraction: 0.02,
            warmup_steps: 200,
            adam: AdamConfig::default(),
            seed: 1,
            log_every: 50,
            test_draws: 4,
            train_limit: None,
            valid_limit: None,
            test_limit: None,
            max_steps: None,
            progress: true,
            data_init: true,
            checkpoint_every_s: DEFAULT_CHECKPOINT_EVERY_S,
            on_nan: NanPolicy::Stop,
            ema: None,
        };
        match self {
            Self::Spec => spec,
            Self::Quick => TrainOptions {
                flow: FlowConfig {
                    hidden: 256,
                    ..FlowConfig::default()
                },
                // 14, not 9: in 12 minutes on 2 cores (docs/model.md, Samples judged).
                epochs: 14,
                batch: 128,
                lr: 2.5e-3,
                test_draws: 2,
                ..spec
            },
            Self::Smoke => TrainOptions {
                flow: FlowConfig {
                    hidden: 32,
                    ..FlowConfig::default()
                },
                epochs: 3,
                batch: 64,
                lr: 1e-3,
                warmup_steps: 20,
                log_every: 10,
                test_draws: 1,
                train_limit: Some(4096),
                valid_limit: Some(1000),
                test_limit: Some(1000),
                ..spec
            },
        }
    }
}

impl TrainArgs {
    /// Checks what can be checked before a device is opened: the options of a fresh run
    /// (a resumed run's come from its checkpoint and are checked when it is read).
    pub fn validate(&self) -> Result<()> {
        if self.resume.is_none() {
            self.options().validate()?;
        }
        Ok(())
    }

    /// The preset a fresh run starts from: the one given, else by adapter (the spec model
    /// on a GPU, the quick preset on a software adapter, where the spec takes about a day).
    pub fn preset_for(&self, software_adapter: bool) -> Preset {
        self.preset.unwrap_or(if software_adapter {
            Preset::Quick
        } else {
            Preset::Spec
        })
    }

    /// The spec preset (or the one given) with every given option applied: what
    /// [`TrainArgs::validate`] checks before the adapter is known.
    pub fn options(&self) -> TrainOptions {
        self.options_from(self.preset_for(false))
    }

    /// `preset` with every given option applied.
    pub fn options_from(&self, preset: Preset) -> TrainOptions {
        let mut o = preset.options();
        if let Some(n) = &self.name {
            o.run_name = n.clone();
        }
        if let Some(d) = &self.runs_dir {
            o.runs_dir = d.clone();
        }
        if let Some(d) = self.dataset {
            o.dataset = d;
        }
        o.data_dir = self.data_dir.clone();
        self.apply_model_options(&mut o);
        self.apply_training_options(&mut o);
        o
    }

    /// The options that decide the model and its data (a resumed run cannot change them).
    pub(crate) fn apply_model_options(&self, o: &mut TrainOptions) {
        if let Some(v) = self.batch {
            o.batch = v;
        }
        if let Some(v) = self.seed {
            o.seed = v;
        }
        if let Some(v) = self.coupling {
            o.flow.coupling = v;
        }
        if let Some(v) = self.mask {
            o.flow.mask = v;
        }
        if let Some(v) = self.hidden {
            o.flow.hidden = v;
        }
        if let Some(a) = self.logit_alpha {
            o.logit_alpha = (a > 0.0).then_some(a);
        }
        if let Some(n) = self.subset {
            o.train_limit = Some(n);
            o.valid_limit = Some((n / 5).max(1));
            o.test_limit = Some((n / 5).max(1));
        }
        if self.no_data_init {
            o.data_init = false;
        }
        if let Some(d) = self.ema {
            o.ema = (d > 0.0).then_some(d);
        }
    }

    /// The options a resumed run may change, and how it runs this time.
    pub(crate) fn apply_training_options(&self, o: &mut TrainOptions) {
        macro_rules! set {
            ($field:expr, $arg:expr) => {
                if let Some(v) = $arg {
                    $field = v;
                }
            };
        }
        set!(o.epochs, self.epochs);
        set!(o.lr, self.lr);
        set!(o.decay, self.lr_decay);
        set!(o.final_lr_fraction, self.final_lr);
        set!(o.warmup_steps, self.warmup);
        set!(o.log_every, self.log_every);
        set!(o.test_draws, self.test_draws);
        if let Some(p) = self.on_nan {
            o.on_nan = p;
        }
        if let Some(d) = self.checkpoint_every {
            o.checkpoint_every_s = d.as_secs_f64();
        }
        if let Some(c) = self.clip {
            o.adam.clip_norm = (c > 0.0).then_some(c);
        }
        o.max_steps = self.max_steps;
        o.progress = !self.no_progress;
    }
}
