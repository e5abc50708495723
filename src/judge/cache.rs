//! The trained judge on disk, beside the data set it was trained on
//! (`<data dir>/judge-v<VERSION>.safetensors`): its layers as safetensors tensors and, in
//! the metadata, what it is and how it scored. A file of another version, shape or data set
//! is not used (the judge is retrained); writes are atomic.

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use safetensors::tensor::{Dtype, TensorView};
use safetensors::SafeTensors;
use serde::{Deserialize, Serialize};

use crate::atomic_write::write_atomic;
use crate::data::DatasetName;
use crate::error::{Error, Result};
use crate::judge::classifier::WIDTHS;
use crate::Linear;

/// Bumped whenever the classifier, its input or its training change, so that a cached
/// judge of an older kind is retrained instead of giving figures of another scale.
pub const JUDGE_VERSION: u32 = 3;

const FORMAT: &str = "flowgpu-judge";

/// What the cache records about a judge besides its weights.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct JudgeInfo {
    pub dataset: DatasetName,
    pub version: u32,
    pub widths: Vec<usize>,
    /// Share of the test set it labels correctly.
    pub test_accuracy: f64,
    /// Share of the test set it calls digit-like (top probability >= 0.9): the ceiling a
    /// flow's samples can reach.
    pub test_digit_like: f64,
    pub epochs: usize,
    /// Seconds its training took, and on which adapter.
    pub train_seconds: f64,
    pub adapter: String,
}

/// Where the judge of `dataset` is cached.
pub fn cache_path(data_dir: &Path) -> PathBuf {
    data_dir.join(format!("judge-v{JUDGE_VERSION}.safetensors"))
}

pub fn save(path: &Path, layers: &[Linear], info: &JudgeInfo) -> Result<()> {
    let mut meta = HashMap::new();
    meta.insert("format".to_string(), FORMAT.to_string());
    let json = serde_json::to_string(info).map_err(|e| Error::Checkpoint(e.to_string()))?;
    meta.insert("judge".to_string(), json);
    let mut tensors = Vec::new();
    for (i, lin) in layers.iter().enumerate() {
        for (name, shape, data) in [
            ("weight", vec![lin.n_in, lin.n_out], &lin.weight),
            ("bias", vec![lin.n_out], &lin.bias),
        ] {
            let view = TensorView::new(Dtype::F32, shape, bytemuck::cast_slice(data))
                .map_err(|e| Error::Checkpoint(format!("judge layer {i} {name}: {e}")))?;
            tensors.push((format!("layer{i}.{name}"), view));
        }
    }
    let bytes = safetensors::serialize(tensors, Some(meta))
        .map_err(|e| Error::Checkpoint(e.to_string()))?;
    write_atomic(path, &bytes)
}

/// The cached judge of `dataset` at `path`, or `None` when there is none of this version,
/// shape and data set (a file that cannot be read is an error: it is not overwritten
/// without the user knowing).
pub fn load(path: &Path, dataset: DatasetName) -> Result<Option<(Vec<Linear>, JudgeInfo)>> {
    let bytes = match std::fs::read(path) {
        Ok(b) => b,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) => {
            return Err(Error::Checkpoint(format!(
                "cannot read the cached judge {}: {e}",
                path.display()
            )))
        }
    };
    let bad = |why: String| {
        Error::Checkpoint(format!(
            "the cached judge {} is damaged ({why}); delete it to retrain",
            path.display()
        ))
    };
    let (_, header) = SafeTensors::read_metadata(&bytes).map_err(|e| bad(e.to_string()))?;
    let meta = header.metadata().clone().unwrap_or_default();
    if meta.get("format").map(String::as_str) != Some(FORMAT) {
        return Err(bad("not a flowgpu judge file".into()));
    }
    let info: JudgeInfo = match meta.get("judge").map(|j| serde_json::from_str(j)) {
        Some(Ok(info)) => info,
        _ => return Err(bad("no judge metadata".into())),
    };
    if info.version != JUDGE_VERSION || info.widths != WIDTHS || info.dataset != dataset {
        return Ok(None);
    }
    let st = SafeTensors::deserialize(&bytes).map_err(|e| bad(e.to_string()))?;
    let mut layers = Vec::new();
    for (i, w) in WIDTHS.windows(2).enumerate() {
        let mut lin = Linear::zeros(w[0], w[1]);
        for (name, dst) in [("weight", &mut lin.weight), ("bias", &mut lin.bias)] {
            let t = st
                .tensor(&format!("layer{i}.{name}"))
                .map_err(|e| bad(e.to_string()))?;
            if t.dtype() != Dtype::F32 || t.data().len() != dst.len() * 4 {
                return Err(bad(format!("layer{i}.{name} has the wrong type or size")));
            }
            for (d, c) in dst.iter_mut().zip(t.data().chunks_exact(4)) {
                *d = f32::from_le_bytes([c[0], c[1], c[2], c[3]]);
            }
            if dst.iter().any(|v| !v.is_finite()) {
                return Err(bad(format!("layer{i}.{name} holds non-finite values")));
            }
        }
        layers.push(lin);
    }
    Ok(Some((layers, info)))
}
