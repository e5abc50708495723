//! Starting a run, fresh or resumed: the options, the run folder, the data on the GPU, the
//! flow and its optimiser state (fresh, or from the checkpoint), the schedule, the metrics
//! file and the progress bar.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Instant;

use super::resume::{bring_best_along, check_same_model, Resumed};
use super::{RunClock, RunPaths, TrainState, TrainingRun};
use crate::data::Splits;
use crate::error::{Error, Result, Setting};
use crate::gpu::GpuContext;
use crate::model::params::FlowParams;
use crate::model::Flow;
use crate::report::metrics::MetricsWriter;
use crate::train::gpu_data::GpuImages;
use crate::train::options::{describe_checkpoints, describe_model, TrainOptions};
use crate::train::schedule::Schedule;
use crate::train::start::{initial_params, load_data};
use crate::train::step::TrainStep;

/// Where the parameters, the optimiser's moments and the state of a run come from.
struct StartingPoint {
    params: FlowParams,
    state: TrainState,
    moments: Option<(FlowParams, FlowParams)>,
    /// The weight average a resumed run had kept.
    average: Option<FlowParams>,
    /// The checkpoint resumed from, if any.
    last_good: Option<PathBuf>,
}

impl TrainingRun {
    /// Start or resume: the options, the run folder, the data on the GPU, the flow and its
    /// optimiser state (fresh, or from the checkpoint), the schedule and the metrics file.
    pub(super) fn start(
        ctx: Arc<GpuContext>,
        opts: &TrainOptions,
        resumed: Option<Resumed>,
        log: &mut dyn FnMut(&str),
    ) -> Result<Self> {
        let opts = checked_options(opts, resumed.as_ref())?;
        Flow::check_fits(&ctx, &opts.flow)?;
        let paths = RunPaths::new(opts.run_dir());
        std::fs::create_dir_all(&paths.dir).map_err(|e| Error::io(&paths.dir, e))?;
        if let Some(r) = &resumed {
            bring_best_along(&r.from, &paths)?;
        }
        let splits = load_data(&opts, log)?;
        check_batch_fits(&opts, &splits)?;
        let train_images = GpuImages::upload(&ctx, &splits.train, "train images")?;
        let valid_images = GpuImages::upload(&ctx, &splits.valid, "validation images")?;

        let resuming = resumed.is_some();
        let start = starting_point(&ctx, &opts, &splits, resumed)?;
        let flow = Flow::new(ctx.clone(), &start.params)?;
        let step = TrainStep::new(
            &flow,
            &train_images,
            opts.batch,
            opts.preprocess(),
            opts.adam.clone(),
        )?;
        if let Some((m, v)) = &start.moments {
            step.write_moments(&ctx, &flow.layout().pack(m), &flow.layout().pack(v))?;
        }
        // A run with a weight average starts it from the weights it starts from, or goes on
        // with the one its checkpoint kept.
        let step = match opts.ema {
            Some(decay) => step.with_ema(&flow, decay)?,
            None => step,
        };
        if let Some(avg) = &start.average {
            step.write_average(&ctx, &flow.layout().pack(avg))?;
        }
        let steps_per_epoch = (splits.train.len() / opts.batch) as u64;
        let schedule = schedule(&opts, steps_per_epoch);
        let metrics_path = paths.dir.join("metrics.csv");
        let metrics = if resuming {
            MetricsWriter::resume_at(&metrics_path, start.state.step)?
        } else {
            MetricsWriter::create(&metrics_path)?
        };
        log_start(&ctx, &opts, &splits, &start, steps_per_epoch, log);
        let bar = progress_bar(opts.progress, schedule.total_steps, start.state.step);
        log(&format!(
            "checkpoints: {} {}",
            paths.last.display(),
            describe_checkpoints(opts.checkpoint_every_s)
        ));
        let clock = RunClock {
            started: Instant::now(),
            elapsed_before: start.state.elapsed_s,
            samples: 0,
            last_save: Instant::now(),
            pace_said: false,
        };
        Ok(Self {
            ctx,
            opts,
            state: start.state,
            splits,
            _train_images: train_images,
            valid_images,
            flow,
            step,
            schedule,
            steps_per_epoch,
            metrics,
            paths,
            last_good: start.last_good,
            clock,
            bar,
        })
    }
}

/// The options checked, and for a resumed run checked against its checkpoint's model.
fn checked_options(opts: &TrainOptions, resumed: Option<&Resumed>) -> Result<TrainOptions> {
    let mut opts = opts.clone();
    opts.validate()?;
    if let Some(r) = resumed {
        check_same_model(&opts, &r.saved_options, &r.from)?;
    } else if opts.runs_dir.is_absolute() && opts.data_dir().is_relative() {
        // A relative data folder is found again from a relative run folder (see
        // `resolve_saved_paths`); beside an absolute one it is saved absolute.
        opts.data_dir = std::path::absolute(opts.data_dir()).ok();
    }
    Ok(opts)
}

/// An epoch needs at least one full batch of training images.
fn check_batch_fits(opts: &TrainOptions, splits: &Splits) -> Result<()> {
    if splits.train.len() < opts.batch {
        return Err(Error::invalid(Setting::Batch, |batch| {
            format!(
                "{batch} {} is larger than the {} training images",
                opts.batch,
                splits.train.len()
            )
        }));
    }
    Ok(())
}

/// Fresh parameters and state, or the checkpoint's with Adam's moments.
fn starting_point(
    ctx: &GpuContext,
    opts: &TrainOptions,
    splits: &Splits,
    resumed: Option<Resumed>,
) -> Result<StartingPoint> {
    Ok(match resumed {
        Some(r) => StartingPoint {
            params: r.checkpoint.params.expect("load gives params"),
            state: r.state,
            moments: r.checkpoint.adam,
            average: r.checkpoint.ema,
            last_good: Some(r.from),
        },
        None => StartingPoint {
            params: initial_params(ctx, opts, &splits.train)?,
            state: TrainState::default(),
            moments: None,
            average: None,
            last_good: None,
        },
    })
}

/// The learning-rate schedule over all the run's epochs.
fn schedule(opts: &TrainOptions, steps_per_epoch: u64) -> Schedule {
    Schedule {
        base: opts.lr,
        warmup_steps: opts.warmup_steps,
        total_steps: steps_per_epoch * opts.epochs as u64,
        steps_per_epoch,
        decay: opts.decay,
        final_fraction: opts.final_lr_fraction,
    }
}

/// What is trained on what; for a resumed run that is already finished, that it only
/// evaluates.
fn log_start(
    ctx: &GpuContext,
    opts: &TrainOptions,
    splits: &Splits,
    start: &StartingPoint,
    steps_per_epoch: u64,
    log: &mut dyn FnMut(&str),
) {
    log(&format!(
        "training {} ({} params) on {} train / {} valid images, batch {}, {} steps per epoch, {} epochs, on {}",
        describe_model(&opts.flow),
        start.params.num_params(),
        splits.train.len(),
        splits.valid.len(),
        opts.batch,
        steps_per_epoch,
        opts.epochs,
        ctx.describe()
    ));
    let state = &start.state;
    if start.last_good.is_some() && state.epoch >= opts.epochs {
        log(&format!(
            "the run is finished ({} of {} epochs): evaluating it; more than {} epochs would train it further",
            state.epoch, opts.epochs, state.epoch
        ));
    }
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
