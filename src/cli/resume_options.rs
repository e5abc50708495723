//! The options of a resumed run (`--resume`): the checkpoint's, with the ones given on the
//! command line applied. The model and its data stay the checkpoint's (a conflicting option
//! is an error naming both values); training options given explicitly win and are
//! reported as changes; paths given win, saved ones are resolved against the checkpoint's
//! own location, so a run resumes from any working directory.

use std::path::Path;

use crate::cli::train_args::TrainArgs;
use crate::error::{Error, Result};
use crate::train::run::{resolve_saved_paths, TrainOptions};

/// The resumed run's options and, in words, the training options that changed.
pub struct ResumeOptions {
    pub options: TrainOptions,
    pub changes: Vec<String>,
}

/// Merges `saved` (the checkpoint's options) with what `args` gives explicitly.
pub fn resume_options(
    args: &TrainArgs,
    saved: &TrainOptions,
    checkpoint: &Path,
) -> Result<ResumeOptions> {
    if let Some(p) = args.preset {
        return Err(Error::Config(format!(
            "--preset {} with --resume: a resumed run takes its options from {}; drop --preset \
             (give single options such as --epochs or --lr to change them)",
            p.name(),
            checkpoint.display()
        )));
    }
    let mut wanted = saved.clone();
    args.apply_model_options(&mut wanted);
    if let Some(d) = args.dataset {
        wanted.dataset = d;
    }
    let conflicts = model_conflicts(saved, &wanted);
    if !conflicts.is_empty() {
        return Err(Error::Config(format!(
            "{}: a resumed run keeps the model and data of {}; drop these options, or start a new run with another --name",
            conflicts.join("; "),
            checkpoint.display()
        )));
    }
    let mut options = saved.clone();
    resolve_saved_paths(&mut options, checkpoint);
    if let Some(d) = &args.runs_dir {
        options.runs_dir = d.clone();
    }
    if let Some(n) = &args.name {
        options.run_name = n.clone();
    }
    if let Some(d) = &args.data_dir {
        options.data_dir = Some(d.clone());
    }
    args.apply_training_options(&mut options);
    Ok(ResumeOptions {
        changes: training_changes(saved, &options),
        options,
    })
}

/// `--option given conflicts with the checkpoint's saved` for every model option that differs.
fn model_conflicts(saved: &TrainOptions, wanted: &TrainOptions) -> Vec<String> {
    let mut out = Vec::new();
    let mut cmp = |flag: &str, s: String, w: String| {
        if s != w {
            out.push(format!(
                "--{flag} {w} conflicts with the checkpoint's {flag} {s}"
            ));
        }
    };
    let alpha = |a: Option<f32>| a.map_or("0".to_string(), |a| a.to_string());
    let limit = |l: Option<usize>| l.map_or("all".to_string(), |l| l.to_string());
    cmp(
        "hidden",
        saved.flow.hidden.to_string(),
        wanted.flow.hidden.to_string(),
    );
    cmp(
        "coupling",
        format!("{:?}", saved.flow.coupling).to_lowercase(),
        format!("{:?}", wanted.flow.coupling).to_lowercase(),
    );
    cmp(
        "mask",
        format!("{:?}", saved.flow.mask).to_lowercase(),
        format!("{:?}", wanted.flow.mask).to_lowercase(),
    );
    cmp(
        "logit-alpha",
        alpha(saved.logit_alpha),
        alpha(wanted.logit_alpha),
    );
    cmp(
        "dataset",
        saved.dataset.as_str().into(),
        wanted.dataset.as_str().into(),
    );
    cmp(
        "subset",
        limit(saved.train_limit),
        limit(wanted.train_limit),
    );
    cmp("batch", saved.batch.to_string(), wanted.batch.to_string());
    cmp("seed", saved.seed.to_string(), wanted.seed.to_string());
    cmp("ema", alpha(saved.ema), alpha(wanted.ema));
    out
}

/// `epochs 4 -> 8` for every training option that differs.
fn training_changes(saved: &TrainOptions, now: &TrainOptions) -> Vec<String> {
    let clip = |c: Option<f32>| c.map_or("off".to_string(), |c| c.to_string());
    let pairs = [
        ("epochs", saved.epochs.to_string(), now.epochs.to_string()),
        ("lr", saved.lr.to_string(), now.lr.to_string()),
        (
            "lr-decay",
            format!("{:?}", saved.decay).to_lowercase(),
            format!("{:?}", now.decay).to_lowercase(),
        ),
        (
            "final-lr",
            saved.final_lr_fraction.to_string(),
            now.final_lr_fraction.to_string(),
        ),
        (
            "warmup",
            saved.warmup_steps.to_string(),
            now.warmup_steps.to_string(),
        ),
        ("clip", clip(saved.adam.clip_norm), clip(now.adam.clip_norm)),
        (
            "log-every",
            saved.log_every.to_string(),
            now.log_every.to_string(),
        ),
        (
            "checkpoint-every",
            format!("{}s", saved.checkpoint_every_s),
            format!("{}s", now.checkpoint_every_s),
        ),
        (
            "on-nan",
            saved.on_nan.name().to_string(),
            now.on_nan.name().to_string(),
        ),
        (
            "test-draws",
            saved.test_draws.to_string(),
            now.test_draws.to_string(),
        ),
    ];
    pairs
        .into_iter()
        .filter(|(_, a, b)| a != b)
        .map(|(name, a, b)| format!("{name} {a} -> {b}"))
        .collect()
}
