//! The training loop, in stages that read top to bottom in [`train`]: start (fresh, or resumed
//! from `last.safetensors`), run an epoch (fused GPU steps, a loss readback every `log_every`
//! steps, stopping cleanly on Ctrl-C or `max_steps`), end the epoch (validation, the best and
//! last checkpoints, metrics rows), and finish (the test log-likelihood of the best model by
//! validation, `summary.json`) or stop (a resumable checkpoint).

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Instant;

use serde::{Deserialize, Serialize};

use crate::atomic_write::write_atomic;
use crate::checkpoint::{self, Checkpoint};
use crate::data::Splits;
use crate::error::{Error, Result};
use crate::gpu::GpuContext;
use crate::model::likelihood::nats_to_bpd;
use crate::model::Flow;
use crate::report::metrics::{MetricKind, MetricRow, MetricsWriter};
use crate::train::evaluate::{evaluate, Likelihood};
use crate::train::gpu_data::GpuImages;
use crate::train::run_files::{save_checkpoint, write_summary};
use crate::train::schedule::Schedule;
use crate::train::seeds::{epoch_order, noise_seed};
use crate::train::step::TrainStep;

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

/// A checkpoint to continue from, with the options and state saved in it.
struct Resumed {
    from: PathBuf,
    checkpoint: Checkpoint,
    saved_options: TrainOptions,
    state: TrainState,
}

impl Resumed {
    /// A resumed run goes on with its checkpoint's options (paths resolved against the
    /// checkpoint's location), except how long it runs and whether it draws a progress
    /// bar, which the caller decides.
    fn options(&self, given: &TrainOptions) -> TrainOptions {
        let mut saved = self.saved_options.clone();
        resolve_saved_paths(&mut saved, &self.from);
        TrainOptions {
            epochs: given.epochs,
            progress: given.progress,
            max_steps: given.max_steps,
            ..saved
        }
    }
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
}

impl RunClock {
    fn elapsed_s(&self) -> f64 {
        self.elapsed_before + self.started.elapsed().as_secs_f64()
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
    /// Start or resume: the options, the run folder, the data on the GPU, the flow and its
    /// optimiser state (fresh, or from the checkpoint), the schedule and the metrics file.
    fn start(
        ctx: Arc<GpuContext>,
        opts: &TrainOptions,
        resumed: Option<Resumed>,
        log: &mut dyn FnMut(&str),
    ) -> Result<Self> {
        let mut opts = opts.clone();
        opts.validate()?;
        if let Some(r) = &resumed {
            check_same_model(&opts, &r.saved_options, &r.from)?;
        } else if opts.runs_dir.is_absolute() && opts.data_dir().is_relative() {
            // A relative data folder is found again from a relative run folder (see
            // `resolve_saved_paths`); beside an absolute one it is saved absolute.
            opts.data_dir = std::path::absolute(opts.data_dir()).ok();
        }
        Flow::check_fits(&ctx, &opts.flow)?;
        let paths = RunPaths::new(opts.run_dir());
        std::fs::create_dir_all(&paths.dir).map_err(|e| Error::io(&paths.dir, e))?;
        if let Some(r) = &resumed {
            bring_best_along(&r.from, &paths)?;
        }
        let splits = load_data(&opts, log)?;
        if splits.train.len() < opts.batch {
            return Err(Error::Config(format!(
                "--batch {} is larger than the {} training images",
                opts.batch,
                splits.train.len()
            )));
        }
        let train_images = GpuImages::upload(&ctx, &splits.train, "train images")?;
        let valid_images = GpuImages::upload(&ctx, &splits.valid, "validation images")?;

        let resuming = resumed.is_some();
        let (params, state, moments, last_good) = match resumed {
            Some(r) => (
                r.checkpoint.params.expect("load gives params"),
                r.state,
                r.checkpoint.adam,
                Some(r.from),
            ),
            None => (
                initial_params(&ctx, &opts, &splits.train)?,
                TrainState::default(),
                None,
                None,
            ),
        };
        let flow = Flow::new(ctx.clone(), &params)?;
        let step = TrainStep::new(
            &flow,
            &train_images,
            opts.batch,
            opts.preprocess(),
            opts.adam.clone(),
        )?;
        if let Some((m, v)) = &moments {
            step.write_moments(&ctx, &flow.layout().pack(m), &flow.layout().pack(v))?;
        }
        let steps_per_epoch = (splits.train.len() / opts.batch) as u64;
        let total_steps = steps_per_epoch * opts.epochs as u64;
        let schedule = Schedule {
            base: opts.lr,
            warmup_steps: opts.warmup_steps,
            total_steps,
            steps_per_epoch,
            decay: opts.decay,
            final_fraction: opts.final_lr_fraction,
        };
        let metrics_path = paths.dir.join("metrics.csv");
        let metrics = if resuming {
            MetricsWriter::resume_at(&metrics_path, state.step)?
        } else {
            MetricsWriter::create(&metrics_path)?
        };
        log(&format!(
            "training {} ({} params) on {} train / {} valid images, batch {}, {} steps per epoch, {} epochs, on {}",
            describe_model(&opts.flow),
            params.num_params(),
            splits.train.len(),
            splits.valid.len(),
            opts.batch,
            steps_per_epoch,
            opts.epochs,
            ctx.describe()
        ));
        if resuming && state.epoch >= opts.epochs {
            log(&format!(
                "the run is finished ({} of {} epochs): evaluating it; give --epochs with more than {} to train further",
                state.epoch, opts.epochs, state.epoch
            ));
        }
        let bar = progress_bar(opts.progress, total_steps, state.step);
        log(&format!(
            "checkpoints: {} {}",
            paths.last.display(),
            describe_checkpoints(opts.checkpoint_every_s)
        ));
        let clock = RunClock {
            started: Instant::now(),
            elapsed_before: state.elapsed_s,
            samples: 0,
            last_save: Instant::now(),
        };
        Ok(Self {
            ctx,
            opts,
            state,
            splits,
            _train_images: train_images,
            valid_images,
            flow,
            step,
            schedule,
            steps_per_epoch,
            metrics,
            paths,
            last_good,
            clock,
            bar,
        })
    }

    /// Runs the rest of the current epoch (all of it, unless resumed in its middle), checking
    /// `stop` and `max_steps` before every step.
    fn run_epoch(&mut self, stop: &AtomicBool, log: &mut dyn FnMut(&str)) -> Result<EpochEnd> {
        let order = epoch_order(self.opts.seed, self.state.epoch, self.splits.train.len());
        self.step.set_order(&self.ctx, &order);
        let seed = noise_seed(self.opts.seed, self.state.epoch);
        while self.state.step_in_epoch < self.steps_per_epoch {
            let at_max = self.opts.max_steps.is_some_and(|m| self.state.step >= m);
            if at_max || stop.load(Ordering::SeqCst) {
                return Ok(EpochEnd::Stopped);
            }
            self.queue_step(seed);
            let t = self.state.step;
            if t % self.opts.log_every as u64 == 0
                || self.state.step_in_epoch == self.steps_per_epoch
            {
                self.log_train_loss(log)?;
                if self.checkpoint_due() {
                    self.state.elapsed_s = self.clock.elapsed_s();
                    self.save_last()?;
                }
            }
        }
        Ok(EpochEnd::Completed)
    }

    /// Queues the next optimizer step on the GPU (no wait) and counts it.
    fn queue_step(&mut self, noise_seed: u32) {
        let t = self.state.step + 1;
        let lr = self.schedule.lr(t);
        let offset = (self.state.step_in_epoch as usize) * self.opts.batch;
        self.step
            .step(&self.ctx, offset, noise_seed, t as u32, lr as f32);
        self.state.step = t;
        self.state.step_in_epoch += 1;
        self.clock.samples += self.opts.batch as u64;
    }

    /// Reads back the mean loss of the steps since the last readback (the loop's only wait for
    /// the GPU) with the fault counters, adds it to the epoch's mean, and writes a
    /// `train_step` row and the progress bar. A non-finite gradient norm (whose update Adam
    /// skipped) stops the run at the step it appeared, or with `--on-nan skip` is counted
    /// and passed over.
    fn log_train_loss(&mut self, log: &mut dyn FnMut(&str)) -> Result<()> {
        let t = self.state.step;
        let lr = self.schedule.lr(t);
        let readback = self.step.take_readback(&self.ctx)?;
        let (nats, steps, faults) = (readback.nats, readback.steps, readback.faults);
        if faults.non_finite > 0 {
            let first = faults.first_step(t).unwrap_or(t);
            if self.opts.on_nan == NanPolicy::Stop || faults.non_finite >= faults.steps {
                return Err(Error::Diverged {
                    step: first,
                    what: "gradient norm",
                    value: f64::NAN,
                    last_good: self.last_good.clone(),
                });
            }
            self.state.skipped_steps += faults.non_finite as u64;
            let message = format!(
                "skipped {} step(s) with a non-finite gradient norm, the first at step {first} ({} skipped in all)",
                faults.non_finite, self.state.skipped_steps
            );
            self.bar.suspend(|| log(&message));
            if !nats.is_finite() {
                // The interval's loss includes the skipped steps' non-finite ones.
                return Ok(());
            }
        }
        if !nats.is_finite() {
            return Err(self.diverged("train loss", nats));
        }
        self.state.epoch_loss_sum += nats * steps as f64;
        self.state.epoch_loss_steps += steps as u64;
        self.state.elapsed_s = self.clock.elapsed_s();
        let bpd = self.bits_per_dim(nats);
        let epoch =
            self.state.epoch as f64 + self.state.step_in_epoch as f64 / self.steps_per_epoch as f64;
        self.metrics.write(&MetricRow {
            kind: MetricKind::TrainStep,
            step: t,
            epoch,
            bits_per_dim: bpd,
            learning_rate: lr,
            elapsed_s: self.state.elapsed_s,
        })?;
        let rate = self.clock.samples_per_s();
        self.bar.set_position(t);
        self.bar.set_message(format!(
            "epoch {} | train {bpd:.3} bits/dim | {rate:.0} samples/s | lr {lr:.2e}",
            self.state.epoch + 1
        ));
        Ok(())
    }

    /// End of an epoch: the epoch's mean training loss, validation, `train_epoch` and `valid`
    /// rows, `last.safetensors`, and `best.safetensors` when validation improved.
    fn end_epoch(&mut self, log: &mut dyn FnMut(&str)) -> Result<()> {
        let train_bpd = self
            .bits_per_dim(self.state.epoch_loss_sum / self.state.epoch_loss_steps.max(1) as f64);
        let valid = evaluate(
            &self.flow,
            &self.valid_images,
            self.opts.preprocess(),
            1,
            VALID_SEED,
        )?;
        // Non-finite parameters after the epoch's last update show here first; saving them
        // would overwrite the last good checkpoint.
        if !valid.bits_per_dim.is_finite() {
            return Err(self.diverged("validation bits/dim", valid.bits_per_dim));
        }
        self.state.close_epoch(self.clock.elapsed_s());
        self.write_epoch_rows(train_bpd, valid.bits_per_dim)?;
        let improved = self.state.record_validation(valid.bits_per_dim);
        self.save_checkpoints(improved)?;
        let state = &self.state;
        let message = format!(
            "epoch {}/{}: train {train_bpd:.4} bits/dim, valid {:.4} ± {:.4} bits/dim{} ({:.0} s)",
            state.epoch,
            self.opts.epochs,
            valid.bits_per_dim,
            valid.bits_per_dim_se,
            if improved { " (best)" } else { "" },
            state.elapsed_s
        );
        self.bar.suspend(|| log(&message));
        Ok(())
    }

    /// The `train_epoch` and `valid` rows of the epoch just closed.
    fn write_epoch_rows(&mut self, train_bpd: f64, valid_bpd: f64) -> Result<()> {
        let lr = self.schedule.lr(self.state.step);
        for (kind, bits_per_dim) in [
            (MetricKind::TrainEpoch, train_bpd),
            (MetricKind::Valid, valid_bpd),
        ] {
            self.metrics.write(&MetricRow {
                kind,
                step: self.state.step,
                epoch: self.state.epoch as f64,
                bits_per_dim,
                learning_rate: lr,
                elapsed_s: self.state.elapsed_s,
            })?;
        }
        Ok(())
    }

    /// True when the interval checkpoint is due; only asked right after a loss readback
    /// (mid-interval the epoch's running loss lacks the steps not yet read).
    fn checkpoint_due(&self) -> bool {
        let every = self.opts.checkpoint_every_s;
        every > 0.0
            && self.state.step_in_epoch < self.steps_per_epoch
            && self.clock.last_save.elapsed().as_secs_f64() >= every
    }

    /// Writes the resumable `last.safetensors` (atomically: a kill while writing leaves
    /// the previous one).
    fn save_last(&mut self) -> Result<()> {
        let last = &self.paths.last;
        save_checkpoint(last, &self.flow, &self.step, &self.opts, &self.state)?;
        self.last_good = Some(last.clone());
        self.clock.last_save = Instant::now();
        Ok(())
    }

    /// `last.safetensors`, copied to `best.safetensors` when validation improved.
    fn save_checkpoints(&mut self, improved: bool) -> Result<()> {
        self.save_last()?;
        let last = &self.paths.last;
        if improved {
            copy_atomic(last, &self.paths.best)?;
        }
        Ok(())
    }

    /// Stopped before the end: saves a resumable `last.safetensors`.
    fn stop(mut self, log: &mut dyn FnMut(&str)) -> Result<TrainOutcome> {
        self.bar.finish_and_clear();
        let samples_per_s = self.clock.samples_per_s();
        self.state.elapsed_s = self.clock.elapsed_s();
        self.save_last()?;
        log(&format!(
            "stopped at step {}; continue with --resume {}",
            self.state.step,
            self.paths.last.display()
        ));
        Ok(self.outcome(true, None, samples_per_s))
    }

    /// All epochs done: the test log-likelihood of the best model by validation, and
    /// `summary.json`.
    fn finish(self, log: &mut dyn FnMut(&str)) -> Result<TrainOutcome> {
        self.bar.finish_and_clear();
        let samples_per_s = self.clock.samples_per_s();
        let best = checkpoint::load(&self.paths.best, false)?;
        self.flow
            .write_params(best.params.as_ref().expect("load gives params"))?;
        let test_images = GpuImages::upload(&self.ctx, &self.splits.test, "test images")?;
        let test = evaluate(
            &self.flow,
            &test_images,
            self.opts.preprocess(),
            self.opts.test_draws.max(1),
            TEST_SEED,
        )?;
        log(&format!(
            "test log-likelihood (best epoch {}): {:.2} ± {:.2} nats/image, {:.4} ± {:.4} bits/dim over {} images, {} draws",
            self.state.best_epoch.unwrap_or(0),
            -test.nats,
            test.nats_se,
            test.bits_per_dim,
            test.bits_per_dim_se,
            test.images,
            test.draws
        ));
        let outcome = self.outcome(false, Some(test), samples_per_s);
        write_summary(&self.paths.dir, &self.opts, &outcome)?;
        Ok(outcome)
    }

    fn outcome(
        &self,
        interrupted: bool,
        test: Option<Likelihood>,
        samples_per_s: f64,
    ) -> TrainOutcome {
        TrainOutcome {
            run_dir: self.paths.dir.clone(),
            best_checkpoint: self.paths.best.clone(),
            last_checkpoint: self.paths.last.clone(),
            interrupted,
            state: self.state.clone(),
            test,
            samples_per_s,
            adapter: self.ctx.describe(),
        }
    }

    /// Bits per dimension of a loss in nats per 8-bit image (the loss stage's unit).
    fn bits_per_dim(&self, nats: f64) -> f64 {
        nats_to_bpd(nats, self.opts.flow.dim)
    }

    /// A device error (lost device, out of memory) ends the run; the message says at which
    /// step and which checkpoint is still good, since nothing is saved from a failed device.
    fn device_fault(&self, e: Error) -> Error {
        match e {
            Error::Gpu(message) => Error::Gpu(format!(
                "{message}; training stopped at step {}: {}",
                self.state.step,
                match &self.last_good {
                    Some(p) => format!(
                        "the last checkpoint, {}, is kept (continue with --resume {})",
                        p.display(),
                        p.display()
                    ),
                    None => "no checkpoint was written yet".into(),
                }
            )),
            other => other,
        }
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

/// `from` to `to` through [`write_atomic`]: a kill during the copy leaves the old `to`.
fn copy_atomic(from: &Path, to: &Path) -> Result<()> {
    let bytes = std::fs::read(from).map_err(|e| Error::io(from, e))?;
    write_atomic(to, &bytes)
}

/// A run resumed into another folder (`--name`, `--runs-dir`) takes its best checkpoint
/// along, so that it can end with the test likelihood of the best epoch.
fn bring_best_along(from: &Path, paths: &RunPaths) -> Result<()> {
    let best = from.with_file_name(BEST);
    if paths.best.exists() || !best.is_file() {
        return Ok(());
    }
    copy_atomic(&best, &paths.best)
}

/// A resumed run keeps its model and data: the parts of `opts` that decide them must be the
/// checkpoint's (`saved`).
fn check_same_model(opts: &TrainOptions, saved: &TrainOptions, from: &Path) -> Result<()> {
    let same = opts.flow == saved.flow
        && opts.logit_alpha == saved.logit_alpha
        && opts.dataset == saved.dataset
        && opts.train_limit == saved.train_limit;
    if same {
        return Ok(());
    }
    Err(Error::Config(format!(
        "{} holds a {} (logit alpha {:?}, {:?}, {:?} training images); the options ask for a {} (logit alpha {:?}, {:?}, {:?}): a resumed run keeps its checkpoint's model",
        from.display(),
        describe_model(&saved.flow),
        saved.logit_alpha,
        saved.dataset,
        saved.train_limit,
        describe_model(&opts.flow),
        opts.logit_alpha,
        opts.dataset,
        opts.train_limit,
    )))
}

/// Reads the checkpoint a run resumes from, with the state saved in it.
fn read_resume_point(path: &Path, log: &mut dyn FnMut(&str)) -> Result<Resumed> {
    let checkpoint = checkpoint::load(path, true)?;
    let (saved_options, state) = checkpoint_run_info(&checkpoint.meta)?;
    log(&format!(
        "resuming {} from step {} (epoch {})",
        path.display(),
        state.step,
        state.epoch + 1
    ));
    Ok(Resumed {
        from: path.to_path_buf(),
        checkpoint,
        saved_options,
        state,
    })
}

fn progress_bar(show: bool, total: u64, at: u64) -> indicatif::ProgressBar {
    if !show {
        return indicatif::ProgressBar::hidden();
    }
    let bar = indicatif::ProgressBar::new(total);
    bar.set_style(
        indicatif::ProgressStyle::with_template(
            "{bar:30} {pos}/{len} steps [{elapsed_precise} < {eta_precise}] {msg}",
        )
        .unwrap_or_else(|_| indicatif::ProgressStyle::default_bar()),
    );
    bar.set_position(at);
    bar
}
