//! What the `flowgpu` subcommands and the train example do, on top of the library.

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use crate::checkpoint;
use crate::cli::flags::continue_with;
use crate::cli::resume_options::resume_options;
use crate::cli::train_args::{Preset, TrainArgs};
use crate::data::{self, ImageSet};
use crate::error::{Error, Result};
use crate::gpu::GpuContext;
use crate::kernels::tune::{default_budget, default_cache_dir, flow_shapes, tune, TuneMode};
use crate::model::Flow;
use crate::report::figures::{
    interpolation_grid, layers_grid, pairs_by_label, sample_grid, DEFAULT_PAIR_LABELS,
};
use crate::report::run_report::{write_run_report, RunReport};
use crate::train::evaluate::{evaluate, Likelihood};
use crate::train::gpu_data::GpuImages;
use crate::train::profile::profile_training_step;
use crate::train::run::{
    checkpoint_run_info, resolve_saved_paths, resume_with, train, TrainOptions, TrainState,
    TEST_SEED,
};
use crate::train::start::fetch_missing;

fn log(msg: &str) {
    eprintln!("{msg}");
}

/// Why a run without `--preset` trains what it trains, and how to choose the other.
fn default_preset_note(ctx: &GpuContext, preset: Preset) -> String {
    match preset {
        Preset::Quick => format!(
            "no --preset given and {} is a software adapter: training the quick preset \
             (H = 256, 14 epochs, about 7 to 10 minutes on 2 cores); --preset spec trains the \
             exercise's full model (about 4 hours here)",
            ctx.info().name
        ),
        _ => format!(
            "no --preset given: training the exercise's spec model on {}; --preset quick \
             trains a small model in minutes",
            ctx.info().name
        ),
    }
}

/// Says how long the spec model would take on a software adapter, and what to run instead.
fn warn_slow_spec(ctx: &GpuContext, opts: &TrainOptions) {
    // Forward + backward ~ 3 forward passes, 2 flops per multiply-add; a spec training step
    // on lavapipe sustains about 15 GFLOP/s on 2 cores (`cargo bench`, BENCHMARKS.md).
    let flops = 6.0 * forward_macs(opts) * 50_000.0 * opts.epochs as f64;
    let hours = flops / 15e9 / 3600.0;
    log(&format!(
        "note: {} is a software adapter; the full spec model ({} epochs, H = {}) would take about {hours:.0} h here. \
         `--preset quick` finishes in about 7 to 10 minutes; the full budget wants a real GPU.",
        ctx.info().name, opts.epochs, opts.flow.hidden
    ));
}

/// A flag set by Ctrl-C, SIGTERM or SIGHUP (what `timeout`, `docker stop`, systemd and batch
/// schedulers send, and a closed terminal): the run stops after the current step and saves
/// a checkpoint; a second signal quits at once.
fn stop_on_signals() -> Arc<AtomicBool> {
    let stop = Arc::new(AtomicBool::new(false));
    let flag = stop.clone();
    if let Err(e) = ctrlc::set_handler(move || {
        if flag.swap(true, Ordering::SeqCst) {
            std::process::exit(130);
        }
        eprintln!(
            "\ninterrupted (Ctrl-C, SIGTERM or SIGHUP): stopping after this step and saving a checkpoint (send it again to quit now)"
        );
    }) {
        log(&format!(
            "warning: Ctrl-C, SIGTERM and SIGHUP will not save a checkpoint ({e})"
        ));
    }
    stop
}

/// Multiply-adds of one forward pass of one sample.
fn forward_macs(opts: &TrainOptions) -> f64 {
    let per_layer: usize = opts.flow.linear_shapes().iter().map(|(i, o)| i * o).sum();
    (per_layer * opts.flow.layers) as f64
}

/// A fresh run's options: the preset asked for, or the one that suits the adapter.
fn fresh_options(ctx: &GpuContext, args: &TrainArgs) -> TrainOptions {
    let preset = args.preset_for(ctx.is_software());
    if args.preset.is_none() {
        log(&default_preset_note(ctx, preset));
    }
    let opts = args.options_from(preset);
    if ctx.is_software() && preset == Preset::Spec {
        warn_slow_spec(ctx, &opts);
    }
    opts
}

/// The options of the checkpoint at `path` merged with those given explicitly.
fn resumed_options(args: &TrainArgs, path: &Path) -> Result<TrainOptions> {
    let meta = checkpoint::read_metadata(path)?;
    let (saved, state) = checkpoint_run_info(&meta)
        .map_err(|e| Error::Checkpoint(format!("{}: {e}", path.display())))?;
    let resumed = resume_options(args, &saved, path)?;
    resumed.options.validate()?;
    if state.epoch >= resumed.options.epochs {
        log(&format!(
            "the checkpoint's run has done its {} epochs: give --epochs with more than {} to train it further",
            state.epoch, state.epoch
        ));
    }
    if !resumed.changes.is_empty() {
        log(&format!(
            "options changed from the checkpoint's: {}",
            resumed.changes.join(", ")
        ));
    }
    Ok(resumed.options)
}

/// Trains on `ctx` (a fresh run, or `--resume`d), then writes the figures and the report;
/// prints the test log-likelihood.
pub fn run_train(ctx: Arc<GpuContext>, args: &TrainArgs) -> Result<()> {
    let stop = stop_on_signals();
    // The options in force: a fresh run's, or those merged from the checkpoint.
    let (opts, resume) = match &args.resume {
        None => (fresh_options(&ctx, args), None),
        Some(path) => (resumed_options(args, path)?, Some(path)),
    };
    // A model too large for the device is refused with its own message before tuning
    // allocates matrices of its size.
    Flow::check_fits(&ctx, &opts.flow)?;
    let cache = args.tune_cache.clone().unwrap_or_else(default_cache_dir);
    let tuned = tune(
        &ctx,
        &flow_shapes(&opts.flow, opts.batch),
        args.tune,
        Some(&cache),
        default_budget(&ctx),
    )?;
    if args.tune != TuneMode::Off {
        log(&tuned.summary());
    }
    let outcome = match resume {
        None => train(ctx.clone(), &opts, None, &stop, &mut log)?,
        Some(path) => resume_with(ctx.clone(), &opts, path, &stop, &mut log)?,
    };
    if outcome.interrupted {
        log(&format!(
            "stopped at step {}; {}",
            outcome.state.step,
            continue_with(&outcome.last_checkpoint)
        ));
    }
    if args.profile {
        let p = profile_training_step(&ctx, &opts.flow, opts.batch, opts.preprocess(), 3)?;
        let table = p.table(&format!(
            "profile of one training step (H = {}, batch {})",
            opts.flow.hidden, opts.batch
        ));
        log(&table);
        crate::atomic_write::write_atomic(&outcome.run_dir.join("profile.txt"), table.as_bytes())?;
    }
    // Only an interrupted run ends without a test result; it has said how to resume.
    let Some(test) = outcome.test else {
        return Ok(());
    };
    if !args.no_report {
        let files = report_from_checkpoint(
            ctx,
            &outcome.best_checkpoint,
            Some(test),
            Some(outcome.samples_per_s),
            &ReportFlags {
                judge: !args.no_judge,
                ..ReportFlags::default()
            },
        )?;
        log(&format!(
            "report: {}",
            files
                .iter()
                .find(|p| p.ends_with("report.md"))
                .map_or(String::new(), |p| p.display().to_string())
        ));
    }
    println!(
        "test: {:.2} ± {:.2} nats/image, {:.4} ± {:.4} bits/dim ({} images, {} dequantization draws)",
        test.nats, test.nats_se, test.bits_per_dim, test.bits_per_dim_se, test.images, test.draws
    );
    Ok(())
}

/// A trained flow with the options and state it was trained under.
pub struct Loaded {
    pub flow: Flow,
    pub opts: TrainOptions,
    pub state: TrainState,
}

pub fn load_checkpoint(ctx: Arc<GpuContext>, path: &Path) -> Result<Loaded> {
    let ck = checkpoint::load(path, false)?;
    let (mut opts, state) = checkpoint_run_info(&ck.meta)
        .map_err(|e| Error::Checkpoint(format!("{}: {e}", path.display())))?;
    // Outputs go next to the checkpoint and data is found from it, wherever the run
    // folder has moved and whatever the working directory.
    resolve_saved_paths(&mut opts, path);
    let params = ck
        .params
        .as_ref()
        .ok_or_else(|| Error::Checkpoint(format!("{}: no parameters", path.display())))?;
    let flow = Flow::new(ctx, params)?;
    Ok(Loaded { flow, opts, state })
}

pub fn test_set(opts: &TrainOptions) -> Result<ImageSet> {
    let dir = opts.data_dir();
    fetch_missing(opts.dataset, &dir, &mut log)?;
    let test = data::load_splits(opts.dataset, &dir)?.test;
    Ok(match opts.test_limit {
        Some(n) => test.take(n),
        None => test,
    })
}

/// `flowgpu eval`: the test log-likelihood of a checkpoint.
pub fn run_eval(ctx: Arc<GpuContext>, checkpoint: &Path, draws: u32) -> Result<Likelihood> {
    let l = load_checkpoint(ctx.clone(), checkpoint)?;
    let test = GpuImages::upload(&ctx, &test_set(&l.opts)?, "test images")?;
    evaluate(&l.flow, &test, l.opts.preprocess(), draws.max(1), TEST_SEED)
}

#[derive(Clone, Debug)]
pub struct ReportFlags {
    pub scale: usize,
    pub seed: u32,
    pub pairs: Option<Vec<(usize, usize)>>,
    /// Measure the samples with the sample judge.
    pub judge: bool,
}

impl Default for ReportFlags {
    fn default() -> Self {
        Self {
            scale: 2,
            seed: 7,
            pairs: None,
            judge: true,
        }
    }
}

/// Writes every figure and the report of the run a checkpoint belongs to. The test
/// likelihood is recomputed unless given.
pub fn report_from_checkpoint(
    ctx: Arc<GpuContext>,
    path: &Path,
    test: Option<Likelihood>,
    samples_per_s: Option<f64>,
    flags: &ReportFlags,
) -> Result<Vec<PathBuf>> {
    let l = load_checkpoint(ctx.clone(), path)?;
    let test_images = test_set(&l.opts)?;
    let test = match test {
        Some(t) => t,
        None => {
            log("evaluating the test set ...");
            let gpu = GpuImages::upload(&ctx, &test_images, "test images")?;
            evaluate(
                &l.flow,
                &gpu,
                l.opts.preprocess(),
                l.opts.test_draws.max(1),
                TEST_SEED,
            )?
        }
    };
    let pairs = match &flags.pairs {
        Some(p) => p.clone(),
        None => pairs_by_label(&test_images, &DEFAULT_PAIR_LABELS)?,
    };
    write_run_report(
        &RunReport {
            flow: &l.flow,
            opts: &l.opts,
            state: &l.state,
            test: Some(test),
            test_set: &test_images,
            pairs,
            adapter: ctx.describe(),
            samples_per_s,
            scale: flags.scale,
            seed: flags.seed,
            judge: flags.judge,
            checkpoint: Some(path),
        },
        &mut log,
    )
}

pub fn run_sample(
    ctx: Arc<GpuContext>,
    checkpoint: &Path,
    n: usize,
    temperature: f32,
    seed: u32,
    scale: usize,
    out: &Path,
) -> Result<()> {
    let l = load_checkpoint(ctx, checkpoint)?;
    let cols = (n as f64).sqrt().ceil().max(1.0) as usize;
    let rows = n.div_ceil(cols);
    sample_grid(
        &l.flow,
        l.opts.preprocess(),
        rows,
        cols,
        temperature,
        seed,
        scale,
        out,
    )?;
    Ok(())
}

pub fn run_layers(
    ctx: Arc<GpuContext>,
    checkpoint: &Path,
    rows: usize,
    seed: u32,
    scale: usize,
    out: &Path,
) -> Result<()> {
    let l = load_checkpoint(ctx, checkpoint)?;
    layers_grid(&l.flow, l.opts.preprocess(), rows, seed, scale, out)?;
    Ok(())
}

pub fn run_interpolate(
    ctx: Arc<GpuContext>,
    checkpoint: &Path,
    pairs: Option<Vec<(usize, usize)>>,
    steps: usize,
    scale: usize,
    out: &Path,
) -> Result<()> {
    let l = load_checkpoint(ctx, checkpoint)?;
    let test = test_set(&l.opts)?;
    let pairs = match pairs {
        Some(p) => p,
        None => pairs_by_label(&test, &DEFAULT_PAIR_LABELS)?,
    };
    interpolation_grid(
        &l.flow,
        l.opts.preprocess(),
        &test,
        &pairs,
        steps,
        scale,
        out,
    )?;
    Ok(())
}
