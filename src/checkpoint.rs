//! Checkpoints in the safetensors format (PyTorch and NumPy users can open them): every
//! parameter tensor under its name, optionally Adam's moments (`adam.m.*`, `adam.v.*`) to
//! resume training, and metadata holding the format version, the model configuration and
//! the training state as JSON. Written through [`write_atomic`] (temporary file, fsync,
//! rename), so a crash or a full disk never leaves a half-written checkpoint in place of a
//! good one.

use std::collections::HashMap;
use std::path::Path;

use safetensors::tensor::{Dtype, TensorView};
use safetensors::SafeTensors;

use crate::atomic_write::write_atomic;
use crate::config::FlowConfig;
use crate::error::{Error, Result};
use crate::model::params::FlowParams;

pub const FORMAT: &str = "flowgpu-checkpoint";
pub const FORMAT_VERSION: u32 = 1;

/// What a checkpoint holds besides the parameters.
#[derive(Clone, Debug, Default)]
pub struct Checkpoint {
    pub params: Option<FlowParams>,
    /// Adam's moments in the same tensor order as the parameters.
    pub adam: Option<(FlowParams, FlowParams)>,
    /// The moving average of the weights (`ema.*`), in a resumable checkpoint of a run
    /// that keeps one (read with the moments).
    pub ema: Option<FlowParams>,
    /// Free-form JSON metadata (training state, data transform, ...), stored as strings.
    pub meta: HashMap<String, String>,
}

fn bytes_of(v: &[f32]) -> &[u8] {
    bytemuck::cast_slice(v)
}

pub fn save(
    path: &Path,
    params: &FlowParams,
    adam: Option<(&FlowParams, &FlowParams)>,
    meta: &HashMap<String, String>,
) -> Result<()> {
    save_with_average(path, params, adam, None, meta)
}

/// [`save`], with the moving average of the weights as `ema.*` tensors.
pub fn save_with_average(
    path: &Path,
    params: &FlowParams,
    adam: Option<(&FlowParams, &FlowParams)>,
    ema: Option<&FlowParams>,
    meta: &HashMap<String, String>,
) -> Result<()> {
    let mut metadata = meta.clone();
    metadata.insert("format".into(), FORMAT.into());
    metadata.insert("format_version".into(), FORMAT_VERSION.to_string());
    let config =
        serde_json::to_string(&params.config).map_err(|e| Error::Checkpoint(e.to_string()))?;
    metadata.insert("config".into(), config);
    let mut sets: Vec<(&str, &FlowParams)> = vec![("", params)];
    if let Some((m, v)) = adam {
        sets.push(("adam.m.", m));
        sets.push(("adam.v.", v));
    }
    if let Some(e) = ema {
        sets.push(("ema.", e));
    }
    let mut tensors: Vec<(String, TensorView<'_>)> = Vec::new();
    for (prefix, p) in sets {
        for (name, shape, data) in p.named_tensors() {
            let view = TensorView::new(Dtype::F32, shape, bytes_of(data))
                .map_err(|e| Error::Checkpoint(format!("{name}: {e}")))?;
            tensors.push((format!("{prefix}{name}"), view));
        }
    }
    let bytes = safetensors::serialize(tensors, Some(metadata))
        .map_err(|e| Error::Checkpoint(e.to_string()))?;
    write_atomic(path, &bytes)
}

/// Non-finite values met while reading tensors: the first tensor that had any, and the total.
#[derive(Default)]
struct NonFinite {
    first: Option<(String, usize, usize)>,
    total: usize,
}

impl NonFinite {
    fn count(&mut self, name: &str, values: &[f32]) {
        let bad = values.iter().filter(|v| !v.is_finite()).count();
        if bad > 0 && self.first.is_none() {
            self.first = Some((name.to_string(), bad, values.len()));
        }
        self.total += bad;
    }

    fn check(&self, path: &Path) -> Result<()> {
        match &self.first {
            None => Ok(()),
            Some((name, bad, len)) => Err(Error::Checkpoint(format!(
                "{}: {} non-finite values (NaN or infinity), the first in tensor '{name}' ({bad} of its {len}); \
                 the checkpoint was saved from a diverged run or is damaged: use an earlier one",
                path.display(),
                self.total
            ))),
        }
    }
}

fn read_into(
    st: &SafeTensors<'_>,
    prefix: &str,
    p: &mut FlowParams,
    path: &Path,
    non_finite: &mut NonFinite,
) -> Result<()> {
    let names: Vec<(String, Vec<usize>)> = p
        .named_tensors()
        .into_iter()
        .map(|(n, s, _)| (n, s))
        .collect();
    for ((name, shape), dst) in names.into_iter().zip(p.tensors_mut()) {
        let full = format!("{prefix}{name}");
        let t = st.tensor(&full).map_err(|_| {
            Error::Checkpoint(format!("{}: tensor '{full}' is missing", path.display()))
        })?;
        if t.dtype() != Dtype::F32 || t.shape() != shape.as_slice() {
            return Err(Error::Checkpoint(format!(
                "{}: tensor '{full}' is {:?} {:?}, expected F32 {shape:?} for this configuration",
                path.display(),
                t.dtype(),
                t.shape()
            )));
        }
        let data = t.data();
        for (d, c) in dst.iter_mut().zip(data.chunks_exact(4)) {
            *d = f32::from_le_bytes([c[0], c[1], c[2], c[3]]);
        }
        non_finite.count(&full, dst);
    }
    Ok(())
}

/// Largest metadata header read without its tensors (safetensors' own limit is 100 MB).
const MAX_HEADER_BYTES: u64 = 100_000_000;

/// The metadata of a checkpoint (format, configuration, training options and state) without
/// reading its tensors: a resumed run decides its options from it before loading anything big.
pub fn read_metadata(path: &Path) -> Result<HashMap<String, String>> {
    use std::io::Read;
    let bad = |what: String| Error::Checkpoint(format!("{}: {what}", path.display()));
    let mut file = std::fs::File::open(path).map_err(|e| Error::io(path, e))?;
    let mut len = [0u8; 8];
    file.read_exact(&mut len)
        .map_err(|_| bad("not a safetensors file (shorter than its header)".into()))?;
    let n = u64::from_le_bytes(len);
    if n > MAX_HEADER_BYTES {
        return Err(bad("not a safetensors file (header too large)".into()));
    }
    let mut header = vec![0u8; n as usize];
    file.read_exact(&mut header)
        .map_err(|_| bad("not a safetensors file (truncated header)".into()))?;
    #[derive(serde::Deserialize)]
    struct Header {
        #[serde(rename = "__metadata__", default)]
        metadata: HashMap<String, String>,
    }
    let h: Header = serde_json::from_slice(&header)
        .map_err(|e| bad(format!("not a safetensors file ({e})")))?;
    check_format(&h.metadata, path)?;
    Ok(h.metadata)
}

/// The format and version a checkpoint's metadata must carry.
fn check_format(meta: &HashMap<String, String>, path: &Path) -> Result<()> {
    let bad = |what: String| Error::Checkpoint(format!("{}: {what}", path.display()));
    if meta.get("format").map(String::as_str) != Some(FORMAT) {
        return Err(bad("not a flowgpu checkpoint (no 'format' metadata)".into()));
    }
    let version: u32 = meta
        .get("format_version")
        .and_then(|v| v.parse().ok())
        .ok_or_else(|| bad("missing format_version".into()))?;
    if version != FORMAT_VERSION {
        return Err(bad(format!(
            "format version {version}; this flowgpu reads version {FORMAT_VERSION}"
        )));
    }
    Ok(())
}

/// The model configuration saved in a checkpoint's metadata, validated.
pub fn config_of(meta: &HashMap<String, String>, path: &Path) -> Result<FlowConfig> {
    let bad = |what: String| Error::Checkpoint(format!("{}: {what}", path.display()));
    let config: FlowConfig = serde_json::from_str(
        meta.get("config")
            .ok_or_else(|| bad("missing config".into()))?,
    )
    .map_err(|e| bad(format!("bad config: {e}")))?;
    config
        .validate()
        .map_err(|e| bad(format!("invalid config: {e}")))?;
    Ok(config)
}

/// Loads a checkpoint; `with_adam` also loads the moments (an error if they are absent).
/// Nothing is trusted unchecked: the format version, the configuration (validated, and
/// small enough for the file before anything is allocated), every tensor's dtype and
/// shape, and every value finite.
pub fn load(path: &Path, with_adam: bool) -> Result<Checkpoint> {
    let bytes = std::fs::read(path).map_err(|e| Error::io(path, e))?;
    from_bytes(&bytes, with_adam, path)
}

/// [`load`] from the file's bytes (the browser fetches them); `path` names them in errors.
pub fn from_bytes(bytes: &[u8], with_adam: bool, path: &Path) -> Result<Checkpoint> {
    let bad = |what: String| Error::Checkpoint(format!("{}: {what}", path.display()));
    let (_, header) = SafeTensors::read_metadata(bytes)
        .map_err(|e| bad(format!("not a safetensors file ({e})")))?;
    let meta = header.metadata().clone().unwrap_or_default();
    check_format(&meta, path)?;
    let config = config_of(&meta, path)?;
    // The parameters must fit in the file before they are allocated (Adam's moments, of
    // the same size, are then bounded too).
    let needed = config.num_params() as u64 * 4;
    if needed > bytes.len() as u64 {
        return Err(bad(format!(
            "its configuration (H = {}) needs {needed} bytes of tensors but the file has {}: truncated or inconsistent",
            config.hidden,
            bytes.len()
        )));
    }
    let st = SafeTensors::deserialize(bytes).map_err(|e| bad(e.to_string()))?;
    let mut non_finite = NonFinite::default();
    let mut params = FlowParams::zeros(&config);
    read_into(&st, "", &mut params, path, &mut non_finite)?;
    let adam = if with_adam {
        let mut m = FlowParams::zeros(&config);
        let mut v = FlowParams::zeros(&config);
        read_into(&st, "adam.m.", &mut m, path, &mut non_finite)?;
        read_into(&st, "adam.v.", &mut v, path, &mut non_finite)?;
        Some((m, v))
    } else {
        None
    };
    let ema = if with_adam && st.names().iter().any(|n| n.starts_with("ema.")) {
        let mut e = FlowParams::zeros(&config);
        read_into(&st, "ema.", &mut e, path, &mut non_finite)?;
        Some(e)
    } else {
        None
    };
    non_finite.check(path)?;
    Ok(Checkpoint {
        params: Some(params),
        adam,
        ema,
        meta,
    })
}
