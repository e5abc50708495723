//! The training loop, in stages that read top to bottom in [`train`]: start (fresh, or resumed
//! from `last.safetensors`: `begin`, `resume`), run an epoch (fused GPU steps, a loss
//! readback every `log_every` steps, stopping cleanly on Ctrl-C or `max_steps`: `epoch`),
//! end the epoch (validation, the best and last checkpoints, metrics rows: `epoch_end`),
//! and finish (the test log-likelihood of the best model by validation, `summary.json`) or
//! stop (a resumable checkpoint: `finish`).

mod begin;
mod epoch;
mod epoch_end;
mod finish;
mod resume;

use std::path::{Path, PathBuf};
use std::sync::atomic::AtomicBool;
use std::sync::Arc;
use std::time::Instant;

use serde::{Deserialize, Serialize};

use crate::data::Splits;
use crate::error::{Error, Result};
use crate::gpu::GpuContext;
use crate::model::likelihood::nats_to_bpd;
use crate::model::Flow;
use crate::report::metrics::MetricsWriter;
use crate::train::evaluate::Likelihood;
use crate::train::gpu_data::GpuImages;
use crate::train::schedule::Schedule;
use crate::train::step::TrainStep;
use resume::read_resume_point;

pub use crate::train::options::{describe_checkpoints, describe_model, NanPolicy, TrainOptions};
pub use crate::train::run_files::{checkpoint_run_info, resolve_saved_paths, BEST, LAST};
pub use crate::train::seeds::{TEST_SEED, VALID_SEED};
pub use crate::train::start::{initial_params, load_data};

/// Where training stands; saved with every checkpoint so `--resume` continues exactly.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct TrainState {
    /// Optimizer steps done.
    pub step: u64,
    pub epoch: u32,
    pub step_in_epoch: u64,
    pub best_valid_bpd: Option<f64>,
    pub best_epoch: Option<u32>,
    pub elapsed_s: f64,
    /// Sum of logged train losses (nats) and steps in the current epoch.
    pub epoch_loss_sum: f64,
    pub epoch_loss_steps: u64,
    /// Steps whose update was skipped for a non-finite gradient norm (`--on-nan skip`).
    #[serde(default)]
    pub skipped_steps: u64,
}

impl TrainState {
    /// Counts the epoch as done and clears its running loss.
    fn close_epoch(&mut self, elapsed_s: f64) {
        self.epoch += 1;
        self.step_in_epoch = 0;
        self.epoch_loss_sum = 0.0;
        self.epoch_loss_steps = 0;
        self.elapsed_s = elapsed_s;
    }

    /// Keeps the validation result of the epoch just closed if it is the best so far; says so.
    fn record_validation(&mut self, bits_per_dim: f64) -> bool {
        let improved = self.best_valid_bpd.is_none_or(|b| bits_per_dim < b);
        if improved {
            self.best_valid_bpd = Some(bits_per_dim);
            self.best_epoch = Some(self.epoch);
        }
        improved
    }
}

#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct TrainOutcome {
    pub run_dir: PathBuf,
    pub best_checkpoint: PathBuf,
    pub last_checkpoint: PathBuf,
    pub interrupted: bool,
    pub state: TrainState,
    pub test: Option<Likelihood>,
    pub samples_per_s: f64,
    pub adapter: String,
}

/// Trains as `opts` says. `resume`: a `last.safetensors` to continue from (its options win
/// over `opts` except `epochs`, `progress` and `max_steps`; its paths are resolved against
/// its own location). Stops cleanly, saving `last.safetensors`, when `stop` becomes true.
pub fn train(
    ctx: Arc<GpuContext>,
    opts: &TrainOptions,
    resume: Option<&Path>,
    stop: &AtomicBool,
    log: &mut dyn FnMut(&str),
) -> Result<TrainOutcome> {
    let resumed = resume
        .map(|path| read_resume_point(path, log))
        .transpose()?;
    let opts = match &resumed {
        Some(r) => r.options(opts),
        None => opts.clone(),
    };
    run_to_end(TrainingRun::start(ctx, &opts, resumed, log)?, stop, log)
}

/// Continues the run saved in `from` with exactly `opts`: the command line merges the
/// checkpoint's options with the ones given explicitly (see `cli::train_args`). The model
/// must be the checkpoint's; anything else may change.
pub fn resume_with(
    ctx: Arc<GpuContext>,
    opts: &TrainOptions,
    from: &Path,
    stop: &AtomicBool,
    log: &mut dyn FnMut(&str),
) -> Result<TrainOutcome> {
    let resumed = read_resume_point(from, log)?;
    run_to_end(
        TrainingRun::start(ctx, opts, Some(resumed), log)?,
        stop,
        log,
    )
}

fn run_to_end(
    mut run: TrainingRun,
    stop: &AtomicBool,
    log: &mut dyn FnMut(&str),
) -> Result<TrainOutcome> {
    while run.state.epoch < run.opts.epochs {
        let end = run.run_epoch(stop, log).map_err(|e| run.device_fault(e))?;
        match end {
            EpochEnd::Completed => run.end_epoch(log).map_err(|e| run.device_fault(e))?,
            EpochEnd::Stopped => return run.stop(log),
        }
    }
    run.finish(log)
}

/// How [`TrainingRun::run_epoch`] returned.
enum EpochEnd {
    /// Every step of the epoch ran.
    Completed,
    /// `stop` was set or `max_steps` reached before the next step.
    Stopped,
}

/// The files of a run's folder.
struct RunPaths {
    dir: PathBuf,
    best: PathBuf,
    last: PathBuf,
}

impl RunPaths {
    fn new(dir: PathBuf) -> Self {
        Self {
            best: dir.join(BEST),
            last: dir.join(LAST),
            dir,
        }
    }
}

/// Time and throughput of this process's share of the run; `elapsed_s` adds the time a
/// resumed run had already spent.
struct RunClock {
    started: Instant,
    elapsed_before: f64,
    samples: u64,
    /// When `last.safetensors` was last written (or the run started).
    last_save: Instant,
    /// Whether this process has said how long the rest of the run will take.
    pace_said: bool,
}

/// A duration as a reader says it: `40 s`, `6 min 30 s`.
fn minutes(seconds: f64) -> String {
    let s = seconds.round() as u64;
    if s < 60 {
        format!("{s} s")
    } else {
        format!("{} min {} s", s / 60, s % 60)
    }
}

impl RunClock {
    fn elapsed_s(&self) -> f64 {
        self.elapsed_before + self.started.elapsed().as_secs_f64()
    }

    /// After the first epoch this process trained: how long the remaining epochs will take
    /// at its pace (validation included), said once, so that a user on a slower machine can
    /// change the epoch count early. A resumed run's first epoch may be a part of one, hence
    /// the pace per step.
    fn pace_note(
        &mut self,
        steps_here: u64,
        epochs_left: u32,
        steps_per_epoch: u64,
    ) -> Option<String> {
        if self.pace_said || epochs_left == 0 || steps_here == 0 {
            return None;
        }
        self.pace_said = true;
        let per_step = self.started.elapsed().as_secs_f64() / steps_here as f64;
        let left = per_step * (u64::from(epochs_left) * steps_per_epoch) as f64;
        Some(format!(
            "at this pace the remaining {epochs_left} epochs take about {} (the epoch count sets the length)",
            minutes(left)
        ))
    }

    fn samples_per_s(&self) -> f64 {
        self.samples as f64 / self.started.elapsed().as_secs_f64().max(1e-9)
    }
}

/// One run in progress: everything its stages share.
struct TrainingRun {
    ctx: Arc<GpuContext>,
    opts: TrainOptions,
    state: TrainState,
    splits: Splits,
    /// Bound by the step's recorded dispatches; held for as long as they run.
    _train_images: GpuImages,
    valid_images: GpuImages,
    flow: Flow,
    step: TrainStep,
    schedule: Schedule,
    steps_per_epoch: u64,
    metrics: MetricsWriter,
    paths: RunPaths,
    /// The newest checkpoint of this run on disk (resumed from or written since): where a
    /// diverging run sends the user.
    last_good: Option<PathBuf>,
    clock: RunClock,
    bar: indicatif::ProgressBar,
}

impl TrainingRun {
    /// Bits per dimension of a loss in nats per 8-bit image (the loss stage's unit).
    fn bits_per_dim(&self, nats: f64) -> f64 {
        nats_to_bpd(nats, self.opts.flow.dim)
    }

    fn diverged(&self, what: &'static str, value: f64) -> Error {
        Error::Diverged {
            step: self.state.step,
            what,
            value,
            last_good: self.last_good.clone(),
        }
    }
}
