//! The files a run writes into its folder: `last.safetensors` (resumable: parameters, Adam's
//! moments, and the run's options and state as metadata), `best.safetensors` (a copy of the
//! last one at the best validation epoch) and `summary.json`.

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use crate::checkpoint;
use crate::config::FlowConfig;
use crate::error::{Error, Result};
use crate::model::Flow;
use crate::train::options::{describe_model, TrainOptions};
use crate::train::run::{TrainOutcome, TrainState};
use crate::train::step::TrainStep;
use crate::FlowParams;

pub const BEST: &str = "best.safetensors";
pub const LAST: &str = "last.safetensors";

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

/// Reads the training options and state stored in a checkpoint's metadata, and checks that
/// they agree with the model configuration saved beside them.
pub fn checkpoint_run_info(meta: &HashMap<String, String>) -> Result<(TrainOptions, TrainState)> {
    let get = |k: &str| {
        meta.get(k)
            .ok_or_else(|| Error::Checkpoint(format!("the checkpoint has no '{k}' metadata")))
    };
    let opts: TrainOptions = serde_json::from_str(get("train_options")?)
        .map_err(|e| Error::Checkpoint(format!("train_options: {e}")))?;
    let state: TrainState = serde_json::from_str(get("train_state")?)
        .map_err(|e| Error::Checkpoint(format!("train_state: {e}")))?;
    if let Some(config) = meta.get("config") {
        let config: FlowConfig =
            serde_json::from_str(config).map_err(|e| Error::Checkpoint(format!("config: {e}")))?;
        if config != opts.flow {
            return Err(Error::Checkpoint(format!(
                "the saved training options describe another model ({}) than the saved configuration ({})",
                describe_model(&opts.flow),
                describe_model(&config)
            )));
        }
    }
    opts.validate()
        .map_err(|e| Error::Checkpoint(format!("the saved training options are invalid: {e}")))?;
    Ok((opts, state))
}

/// Makes the paths saved in a checkpoint's options work from any working directory: the
/// run folder becomes the checkpoint's own folder, and a relative data folder is resolved
/// against the directory the run was started from, found by taking the saved (relative)
/// run folder off the checkpoint's location (else the folder two levels up, the usual
/// `<root>/runs/<name>/`). Absolute paths are kept.
pub fn resolve_saved_paths(opts: &mut TrainOptions, checkpoint: &Path) {
    let absolute = std::path::absolute(checkpoint).unwrap_or_else(|_| checkpoint.to_path_buf());
    let Some(run_dir) = absolute.parent() else {
        return;
    };
    let saved_run_dir = opts.run_dir();
    let root = strip_suffix(run_dir, &saved_run_dir).or_else(|| {
        run_dir
            .parent()
            .and_then(Path::parent)
            .map(Path::to_path_buf)
    });
    let data_dir = opts.data_dir();
    if data_dir.is_relative() {
        if let Some(root) = &root {
            opts.data_dir = Some(root.join(data_dir));
        }
    }
    if let Some(name) = run_dir.file_name() {
        opts.run_name = name.to_string_lossy().into_owned();
        opts.runs_dir = run_dir.parent().map(Path::to_path_buf).unwrap_or_default();
    }
}

/// `path` without the trailing components `suffix` (a relative path), if it ends with them.
fn strip_suffix(path: &Path, suffix: &Path) -> Option<PathBuf> {
    if suffix.is_absolute() || !path.ends_with(suffix) {
        return None;
    }
    let mut root = path.to_path_buf();
    for _ in suffix.components() {
        root.pop();
    }
    Some(root)
}

/// Saves a resumable checkpoint: the flow's parameters, the step's Adam moments, and the
/// options and state that `--resume` continues from.
pub(crate) fn save_checkpoint(
    path: &Path,
    flow: &Flow,
    step: &TrainStep,
    opts: &TrainOptions,
    state: &TrainState,
) -> Result<()> {
    let ctx = flow.context();
    let params = finite_params(flow, path)?;
    let (m, v) = step.read_moments(ctx)?;
    let (m, v) = (flow.layout().unpack(&m), flow.layout().unpack(&v));
    let ema = step
        .read_average(ctx)?
        .map(|flat| flow.layout().unpack(&flat));
    checkpoint::save_with_average(
        path,
        &params,
        Some((&m, &v)),
        ema.as_ref(),
        &meta(opts, state)?,
    )
}

/// The flow's current weights alone (no optimiser state), with the run's metadata: a run
/// that averages its weights saves the average this way as `best.safetensors`.
pub(crate) fn save_weights(
    path: &Path,
    flow: &Flow,
    opts: &TrainOptions,
    state: &TrainState,
) -> Result<()> {
    let params = finite_params(flow, path)?;
    checkpoint::save(path, &params, None, &meta(opts, state)?)
}

/// The flow's weights, or an error when any is not finite: a good checkpoint at `path` is
/// never replaced with a broken model (Adam skips non-finite updates, so this is a last
/// guard).
fn finite_params(flow: &Flow, path: &Path) -> Result<FlowParams> {
    let params = flow.read_params()?;
    if let Some((name, _, _)) = params
        .named_tensors()
        .into_iter()
        .find(|(_, _, v)| v.iter().any(|x| !x.is_finite()))
    {
        return Err(Error::Checkpoint(format!(
            "not saving {}: tensor '{name}' holds non-finite values; the previous checkpoint is kept",
            path.display()
        )));
    }
    Ok(params)
}

pub(crate) fn write_summary(
    run_dir: &Path,
    opts: &TrainOptions,
    outcome: &TrainOutcome,
) -> Result<()> {
    let json = serde_json::json!({ "options": opts, "outcome": outcome });
    let path = run_dir.join("summary.json");
    let text = serde_json::to_string_pretty(&json).map_err(|e| Error::Report(e.to_string()))?;
    crate::atomic_write::write_atomic(&path, text.as_bytes())
}
