//! The sample judge's part of a run report ([`crate::judge`]): the figures for the report's
//! sample temperatures beside the two reference lines, as a table, as the discussion's
//! sample sentences, and in `summary.json` / `judge.json`.

use std::path::Path;
use std::sync::Arc;

use serde::Serialize;

use crate::error::{Error, Result};
use crate::judge::{Judge, JudgeInfo, JudgedSet, DEFAULT_IMAGES};
use crate::model::Flow;
use crate::train::run::TrainOptions;

/// What the judge said of a run's samples.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct JudgeSection {
    pub judge: JudgeInfo,
    /// Where the judge is cached (for the report's sentence on it).
    pub cache: String,
    /// Real test images, the untrained flow, then one line per temperature.
    pub sets: Vec<JudgedSet>,
}

impl JudgeSection {
    /// The samples' line at temperature `t`.
    pub fn at(&self, t: f32) -> Option<&JudgedSet> {
        self.sets
            .iter()
            .find(|s| self.at_line(s) && s.temperature == Some(t))
    }

    /// Whether `s` is a line of the run's own samples (not a reference line).
    pub fn at_line(&self, s: &JudgedSet) -> bool {
        s.temperature.is_some() && !s.label.starts_with("untrained")
    }

    /// The real test images' line.
    pub fn real(&self) -> Option<&JudgedSet> {
        self.sets.iter().find(|s| s.label.starts_with("real"))
    }

    /// The untrained flow's line.
    pub fn untrained(&self) -> Option<&JudgedSet> {
        self.sets.iter().find(|s| s.label.starts_with("untrained"))
    }
}

/// Judges `DEFAULT_IMAGES` samples of `flow` at each of `temperatures` (seed `seed`, so the
/// report's 64-sample grids are the first 64 of them), with the reference lines.
pub fn judge_run(
    flow: &Flow,
    opts: &TrainOptions,
    temperatures: &[f32],
    seed: u32,
    log: &mut dyn FnMut(&str),
) -> Result<JudgeSection> {
    let ctx: &Arc<_> = flow.context();
    let judge = Judge::open(ctx, opts.dataset, &opts.data_dir(), log)?;
    let pre = opts.preprocess();
    let n = DEFAULT_IMAGES;
    let mut sets = vec![
        judge.real_images(n, seed as u64)?,
        judge.untrained_flow(flow, pre, n, seed as u64)?,
    ];
    for &t in temperatures {
        sets.push(judge.flow_samples(&format!("samples, T = {t:?}"), flow, pre, n, t, seed)?);
    }
    Ok(JudgeSection {
        judge: judge.info.clone(),
        cache: judge.path.display().to_string(),
        sets,
    })
}

/// Adds the section to the run's `summary.json` (under `"judge"`, when the file exists)
/// and writes it alone as `judge.json`.
pub fn record(run_dir: &Path, section: &JudgeSection) -> Result<()> {
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
