//! The training loop: epochs of fused GPU steps, a loss readback every `log_every` steps,
//! validation after every epoch, the best checkpoint by validation bits/dim, a resumable
//! `last.safetensors`, and the test log-likelihood of the best model at the end.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Instant;

use rand::{rngs::StdRng, seq::SliceRandom, SeedableRng};
use serde::{Deserialize, Serialize};

use crate::config::Preprocess;
use crate::config::{AdamConfig, FlowConfig};
use crate::data::{self, DatasetName, ImageSet, Splits};
use crate::error::{Error, Result};
use crate::gpu::GpuContext;
use crate::model::likelihood::nats_to_bpd;
use crate::model::params::FlowParams;
use crate::model::Flow;
use crate::report::metrics::{MetricKind, MetricRow, MetricsWriter};
use crate::train::checkpoint;
use crate::train::evaluate::{evaluate, Likelihood};
use crate::train::gpu_data::GpuImages;
use crate::train::schedule::{DecayKind, Schedule};
use crate::train::step::TrainStep;

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

    pub fn validate(&self) -> Result<()> {
        self.flow.validate().map_err(Error::Config)?;
        let bad = |m: String| Err(Error::Config(m));
        if self.batch == 0 {
            return bad("--batch must be at least 1".into());
        }
        if !(self.lr > 0.0 && self.lr.is_finite()) {
            return bad(format!("--lr must be a positive number, got {}", self.lr));
        }
        if let Some(a) = self.logit_alpha {
            if !(0.0..0.5).contains(&a) {
                return bad(format!("--logit-alpha must be in [0, 0.5), got {a}"));
            }
        }
        if self.log_every == 0 {
            return bad("--log-every must be at least 1".into());
        }
        if self.run_name.is_empty() || self.run_name.contains(['/', '\\']) {
            return bad(format!(
                "--name '{}' must be a plain folder name",
                self.run_name
            ));
        }
        Ok(())
    }
}

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

pub const BEST: &str = "best.safetensors";
pub const LAST: &str = "last.safetensors";

fn limit(set: ImageSet, n: Option<usize>) -> ImageSet {
    match n {
        Some(n) => set.take(n),
        None => set,
    }
}

/// Loads (fetching if needed) and trims the splits.
pub fn load_data(opts: &TrainOptions, log: &mut dyn FnMut(&str)) -> Result<Splits> {
    let dir = opts.data_dir();
    data::ensure_dataset(opts.dataset, &dir, log)?;
    let s = data::load_splits(opts.dataset, &dir)?;
    let dim = s.train.dim();
    if dim != opts.flow.dim {
        return Err(Error::Config(format!(
            "the model's dim is {} but the images have {dim} pixels",
            opts.flow.dim
        )));
    }
    Ok(Splits {
        train: limit(s.train, opts.train_limit),
        valid: limit(s.valid, opts.valid_limit),
        test: limit(s.test, opts.test_limit),
    })
}

/// Images the data-dependent initialisation looks at.
const DATA_INIT_IMAGES: usize = 2048;

/// `FlowParams::init`, and with `data_init` the last scale `s_{K-1}[d] = -ln(E[x_d^2]) / 2`
/// over a sample of dequantized training images: the untrained flow (the identity up to that
/// scale) then maps the data to unit second moments instead of logit values of size ~10,
/// which saves the first few hundred steps.
pub fn initial_params(
    ctx: &GpuContext,
    opts: &TrainOptions,
    train: &ImageSet,
) -> Result<FlowParams> {
    let mut params = FlowParams::init(&opts.flow, opts.seed);
    if !opts.data_init {
        return Ok(params);
    }
    let sample = train.take(DATA_INIT_IMAGES);
    let images = GpuImages::upload(ctx, &sample, "initialisation images")?;
    let x = ctx.read(&images.dequantized(
        ctx,
        opts.preprocess(),
        Some(noise_seed(opts.seed, u32::MAX)),
    )?)?;
    let dim = opts.flow.dim;
    let mut second = vec![0.0f64; dim];
    for row in x.chunks_exact(dim) {
        for (s, &v) in second.iter_mut().zip(row) {
            *s += (v as f64) * (v as f64);
        }
    }
    let last = params.scales.last_mut().expect("at least one layer");
    for (s, m) in last.iter_mut().zip(&second) {
        *s = (-0.5 * (m / sample.len() as f64).max(1e-12).ln()) as f32;
    }
    Ok(params)
}

fn epoch_order(seed: u64, epoch: u32, n: usize) -> Vec<u32> {
    let mut order: Vec<u32> = (0..n as u32).collect();
    order.shuffle(&mut StdRng::seed_from_u64(
        seed ^ (0x9e37_79b9_7f4a_7c15u64.wrapping_mul(epoch as u64 + 1)),
    ));
    order
}

fn noise_seed(seed: u64, epoch: u32) -> u32 {
    (seed as u32) ^ (epoch.wrapping_add(1)).wrapping_mul(0x85eb_ca6b)
}

/// Seed of the fixed dequantization noise used for validation (the same every epoch, so the
/// validation curve measures the model, not the noise).
pub const VALID_SEED: u32 = 0x5eed_0001;
pub const TEST_SEED: u32 = 0x5eed_1000;

fn meta(opts: &TrainOptions, state: &TrainState) -> Result<HashMap<String, String>> {
    let j = |e: serde_json::Error| Error::Checkpoint(e.to_string());
    let mut m = HashMap::new();
    m.insert(
        "train_options".into(),
        serde_json::to_string(opts).map_err(j)?,
    );
    m.insert(
        "train_state".into(),
        serde_json::to_string(state).map_err(j)?,
    );
    m.insert(
        "preprocess".into(),
        serde_json::to_string(&opts.preprocess()).map_err(j)?,
    );
    Ok(m)
}

/// Reads the training options and state stored in a checkpoint's metadata.
pub fn checkpoint_run_info(meta: &HashMap<String, String>) -> Result<(TrainOptions, TrainState)> {
    let get = |k: &str| {
        meta.get(k)
            .ok_or_else(|| Error::Checkpoint(format!("the checkpoint has no '{k}' metadata")))
    };
    let opts = serde_json::from_str(get("train_options")?)
        .map_err(|e| Error::Checkpoint(format!("train_options: {e}")))?;
    let state = serde_json::from_str(get("train_state")?)
        .map_err(|e| Error::Checkpoint(format!("train_state: {e}")))?;
    Ok((opts, state))
}

fn save(
    path: &Path,
    flow: &Flow,
    step: &TrainStep,
    opts: &TrainOptions,
    state: &TrainState,
) -> Result<()> {
    let ctx = flow.context();
    let params = flow.read_params()?;
    let (m, v) = step.read_moments(ctx)?;
    let (m, v) = (flow.layout().unpack(&m), flow.layout().unpack(&v));
    checkpoint::save(path, &params, Some((&m, &v)), &meta(opts, state)?)
}

/// Trains as `opts` says. `resume`: a `last.safetensors` to continue from (its options win
/// over `opts` except `epochs` and `progress`). Stops cleanly, saving `last.safetensors`,
/// when `stop` becomes true.
pub fn train(
    ctx: Arc<GpuContext>,
    opts: &TrainOptions,
    resume: Option<&Path>,
    stop: &AtomicBool,
    log: &mut dyn FnMut(&str),
) -> Result<TrainOutcome> {
    let (opts, resumed) = match resume {
        Some(path) => {
            let ck = checkpoint::load(path, true)?;
            let (mut saved, state) = checkpoint_run_info(&ck.meta)?;
            saved.epochs = opts.epochs;
            saved.progress = opts.progress;
            saved.max_steps = opts.max_steps;
            log(&format!(
                "resuming {} from step {} (epoch {})",
                path.display(),
                state.step,
                state.epoch + 1
            ));
            (saved, Some((ck, state)))
        }
        None => (opts.clone(), None),
    };
    opts.validate()?;
    let run_dir = opts.run_dir();
    std::fs::create_dir_all(&run_dir).map_err(|e| Error::io(&run_dir, e))?;
    let splits = load_data(&opts, log)?;
    let dim = opts.flow.dim;
    if splits.train.len() < opts.batch {
        return Err(Error::Config(format!(
            "--batch {} is larger than the {} training images",
            opts.batch,
            splits.train.len()
        )));
    }
    let train_gpu = GpuImages::upload(&ctx, &splits.train, "train images")?;
    let valid_gpu = GpuImages::upload(&ctx, &splits.valid, "validation images")?;
    let pre = opts.preprocess();

    let (params, mut state, moments) = match resumed {
        Some((ck, state)) => (ck.params.expect("load gives params"), state, ck.adam),
        None => (
            initial_params(&ctx, &opts, &splits.train)?,
            TrainState::default(),
            None,
        ),
    };
    let flow = Flow::new(ctx.clone(), &params)?;
    let step = TrainStep::new(&flow, &train_gpu, opts.batch, pre, opts.adam.clone())?;
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
    let metrics_path = run_dir.join("metrics.csv");
    let mut metrics = if resume.is_some() {
        MetricsWriter::resume_at(&metrics_path, state.step)?
    } else {
        MetricsWriter::create(&metrics_path)?
    };
    let best_path = run_dir.join(BEST);
    let last_path = run_dir.join(LAST);
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

    let bar = progress_bar(opts.progress, total_steps, state.step);
    let started = Instant::now();
    let elapsed0 = state.elapsed_s;
    let mut samples_done = 0u64;
    let mut interrupted = false;
    'epochs: while state.epoch < opts.epochs {
        let order = epoch_order(opts.seed, state.epoch, splits.train.len());
        step.set_order(&ctx, &order);
        let seed = noise_seed(opts.seed, state.epoch);
        while state.step_in_epoch < steps_per_epoch {
            if opts.max_steps.is_some_and(|m| state.step >= m) || stop.load(Ordering::SeqCst) {
                interrupted = true;
                break 'epochs;
            }
            let t = state.step + 1;
            let lr = schedule.lr(t);
            step.step(
                &ctx,
                (state.step_in_epoch as usize) * opts.batch,
                seed,
                t as u32,
                lr as f32,
            );
            state.step = t;
            state.step_in_epoch += 1;
            samples_done += opts.batch as u64;
            if t % opts.log_every as u64 == 0 || state.step_in_epoch == steps_per_epoch {
                let (nats, steps) = step.take_loss(&ctx)?;
                if !nats.is_finite() {
                    return Err(Error::Config(format!(
                        "training diverged at step {t} (loss {nats}); the last good checkpoint is {}. Lower --lr or set --clip",
                        last_path.display()
                    )));
                }
                state.epoch_loss_sum += nats * steps as f64;
                state.epoch_loss_steps += steps as u64;
                state.elapsed_s = elapsed0 + started.elapsed().as_secs_f64();
                let bpd = nats_to_bpd(nats, dim);
                let epoch_f =
                    state.epoch as f64 + state.step_in_epoch as f64 / steps_per_epoch as f64;
                metrics.write(&MetricRow {
                    kind: MetricKind::TrainStep,
                    step: t,
                    epoch: epoch_f,
                    bits_per_dim: bpd,
                    learning_rate: lr,
                    elapsed_s: state.elapsed_s,
                })?;
                let rate = samples_done as f64 / started.elapsed().as_secs_f64().max(1e-9);
                bar.set_position(t);
                bar.set_message(format!(
                    "epoch {} | train {bpd:.3} bits/dim | {rate:.0} samples/s | lr {lr:.2e}",
                    state.epoch + 1
                ));
            }
        }
        // End of epoch: train mean, validation, checkpoints.
        let train_bpd = nats_to_bpd(
            state.epoch_loss_sum / state.epoch_loss_steps.max(1) as f64,
            dim,
        );
        let valid = evaluate(&flow, &valid_gpu, pre, 1, VALID_SEED)?;
        state.epoch += 1;
        state.step_in_epoch = 0;
        state.epoch_loss_sum = 0.0;
        state.epoch_loss_steps = 0;
        state.elapsed_s = elapsed0 + started.elapsed().as_secs_f64();
        let lr = schedule.lr(state.step);
        let e = state.epoch as f64;
        metrics.write(&MetricRow {
            kind: MetricKind::TrainEpoch,
            step: state.step,
            epoch: e,
            bits_per_dim: train_bpd,
            learning_rate: lr,
            elapsed_s: state.elapsed_s,
        })?;
        metrics.write(&MetricRow {
            kind: MetricKind::Valid,
            step: state.step,
            epoch: e,
            bits_per_dim: valid.bits_per_dim,
            learning_rate: lr,
            elapsed_s: state.elapsed_s,
        })?;
        let improved = state.best_valid_bpd.is_none_or(|b| valid.bits_per_dim < b);
        if improved {
            state.best_valid_bpd = Some(valid.bits_per_dim);
            state.best_epoch = Some(state.epoch);
        }
        save(&last_path, &flow, &step, &opts, &state)?;
        if improved {
            std::fs::copy(&last_path, &best_path).map_err(|e| Error::io(&best_path, e))?;
        }
        bar.suspend(|| {
            log(&format!(
                "epoch {}/{}: train {train_bpd:.4} bits/dim, valid {:.4} ± {:.4} bits/dim{} ({:.0} s)",
                state.epoch,
                opts.epochs,
                valid.bits_per_dim,
                valid.bits_per_dim_se,
                if improved { " (best)" } else { "" },
                state.elapsed_s
            ))
        });
    }
    bar.finish_and_clear();
    let samples_per_s = samples_done as f64 / started.elapsed().as_secs_f64().max(1e-9);
    if interrupted {
        state.elapsed_s = elapsed0 + started.elapsed().as_secs_f64();
        save(&last_path, &flow, &step, &opts, &state)?;
        log(&format!(
            "stopped at step {}; continue with --resume {}",
            state.step,
            last_path.display()
        ));
        return Ok(TrainOutcome {
            run_dir,
            best_checkpoint: best_path,
            last_checkpoint: last_path,
            interrupted,
            state,
            test: None,
            samples_per_s,
            adapter: ctx.describe(),
        });
    }
    // Test log-likelihood of the best model by validation.
    let best = checkpoint::load(&best_path, false)?;
    flow.write_params(best.params.as_ref().expect("load gives params"))?;
    let test_gpu = GpuImages::upload(&ctx, &splits.test, "test images")?;
    let test = evaluate(&flow, &test_gpu, pre, opts.test_draws.max(1), TEST_SEED)?;
    log(&format!(
        "test log-likelihood (best epoch {}): {:.2} ± {:.2} nats/image, {:.4} ± {:.4} bits/dim over {} images, {} draws",
        state.best_epoch.unwrap_or(0),
        -test.nats,
        test.nats_se,
        test.bits_per_dim,
        test.bits_per_dim_se,
        test.images,
        test.draws
    ));
    let outcome = TrainOutcome {
        run_dir: run_dir.clone(),
        best_checkpoint: best_path,
        last_checkpoint: last_path,
        interrupted,
        state,
        test: Some(test),
        samples_per_s,
        adapter: ctx.describe(),
    };
    write_summary(&run_dir, &opts, &outcome)?;
    Ok(outcome)
}

pub fn describe_model(cfg: &FlowConfig) -> String {
    let coupling = match cfg.coupling {
        crate::config::CouplingKind::Additive => "additive (NICE)",
        crate::config::CouplingKind::Affine => "affine (RealNVP)",
    };
    let mask = match cfg.mask {
        crate::config::MaskKind::Halves => "halves",
        crate::config::MaskKind::Interleaved => "interleaved",
    };
    format!("{coupling} coupling flow, {} layers, {mask} mask, conditioners of 5 linear layers with H = {}", cfg.layers, cfg.hidden)
}

fn write_summary(run_dir: &Path, opts: &TrainOptions, outcome: &TrainOutcome) -> Result<()> {
    let json = serde_json::json!({ "options": opts, "outcome": outcome });
    let path = run_dir.join("summary.json");
    let text = serde_json::to_string_pretty(&json).map_err(|e| Error::Report(e.to_string()))?;
    std::fs::write(&path, text).map_err(|e| Error::io(&path, e))
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
