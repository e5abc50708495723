//! A judge table: what the judge is, and one line per judged set (the reference lines, then
//! the flow's samples per temperature or image files). `flowgpu judge`, the run report and
//! the explorer page all write it as `judge.json`.

use serde::Serialize;

use crate::judge::cache::JudgeInfo;
use crate::judge::figures::JudgedSet;

#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct JudgeTable {
    pub judge: JudgeInfo,
    /// Where the judge is cached.
    pub cache: String,
    /// Real test images, the untrained flow, then the samples or files judged.
    pub sets: Vec<JudgedSet>,
}

impl JudgeTable {
    /// The samples' line at temperature `t`.
    pub fn at(&self, t: f32) -> Option<&JudgedSet> {
        self.sets
            .iter()
            .find(|s| self.at_line(s) && s.temperature == Some(t))
    }

    /// Whether `s` is a line of the flow's own samples (not a reference line).
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
