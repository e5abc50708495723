//! The files a run writes into its folder: `last.safetensors` (resumable: parameters, Adam's
//! moments, and the run's options and state as metadata), `best.safetensors` (a copy of the
//! last one at the best validation epoch) and `summary.json`.

use std::collections::HashMap;
use std::path::Path;

use crate::error::{Error, Result};
use crate::model::Flow;
use crate::train::checkpoint;
use crate::train::options::TrainOptions;
use crate::train::run::{TrainOutcome, TrainState};
use crate::train::step::TrainStep;

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

/// Saves a resumable checkpoint: the flow's parameters, the step's Adam moments, and the
/// options and state that `--resume` continues from.
pub fn save_checkpoint(
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

pub fn write_summary(run_dir: &Path, opts: &TrainOptions, outcome: &TrainOutcome) -> Result<()> {
    let json = serde_json::json!({ "options": opts, "outcome": outcome });
    let path = run_dir.join("summary.json");
    let text = serde_json::to_string_pretty(&json).map_err(|e| Error::Report(e.to_string()))?;
    std::fs::write(&path, text).map_err(|e| Error::io(&path, e))
}
