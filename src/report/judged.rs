//! The sample judge's part of a run report ([`crate::judge`]): the figures for the report's
//! sample temperatures beside the two reference lines, as a table, as the discussion's
//! sample sentences, and in `summary.json` / `judge.json`.

use std::path::Path;

use crate::error::{Error, Result};
use crate::judge::{Judge, JudgeTable, DEFAULT_IMAGES};
use crate::model::Flow;
use crate::train::run::TrainOptions;

/// Judges `DEFAULT_IMAGES` samples of `flow` at each of `temperatures` (seed `seed`, so the
/// report's 64-sample grids are the first 64 of them), with the reference lines.
pub fn judge_run(
    flow: &Flow,
    opts: &TrainOptions,
    temperatures: &[f32],
    seed: u32,
    log: &mut dyn FnMut(&str),
) -> Result<JudgeTable> {
    let judge = Judge::open(flow.context(), opts.dataset, &opts.data_dir(), log)?;
    let pre = opts.preprocess();
    judge.flow_table(flow, pre, DEFAULT_IMAGES, temperatures, seed, log)
}

/// Adds the section to the run's `summary.json` (under `"judge"`, when the file exists)
/// and writes it alone as `judge.json`.
pub fn record(run_dir: &Path, section: &JudgeTable) -> Result<()> {
    let value = serde_json::to_value(section).map_err(|e| Error::Report(e.to_string()))?;
    let pretty = |v: &serde_json::Value| {
        serde_json::to_string_pretty(v).map_err(|e| Error::Report(e.to_string()))
    };
    crate::atomic_write::write_atomic(&run_dir.join("judge.json"), pretty(&value)?.as_bytes())?;
    let summary = run_dir.join("summary.json");
    if let Ok(text) = std::fs::read_to_string(&summary) {
        let mut json: serde_json::Value = serde_json::from_str(&text)
            .map_err(|e| Error::Report(format!("{} is not valid JSON: {e}", summary.display())))?;
        if let Some(obj) = json.as_object_mut() {
            obj.insert("judge".into(), value);
            crate::atomic_write::write_atomic(&summary, pretty(&json)?.as_bytes())?;
        }
    }
    Ok(())
}
