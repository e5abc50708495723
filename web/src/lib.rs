//! flowgpu in the browser: the crate's flow and WGSL kernels, built for wasm32 and run on the
//! page's WebGPU adapter. [`Explorer`] is what `index.html` drives (samples, the layer-by-layer
//! stages, interpolation); [`run_conformance`] runs the kernel conformance cases that a native
//! test wrote from the CPU reference. Every call that touches the GPU returns a `Promise`.

use std::path::Path;
use std::rc::Rc;
use std::sync::Arc;

use flowgpu::checkpoint;
use flowgpu::gpu::{AdapterChoice, GpuContext};
use flowgpu::model::explore;
use flowgpu::{Flow, Preprocess};
use wasm_bindgen::prelude::*;
use wasm_bindgen_futures::future_to_promise;

/// Largest sample grid the page may ask for at once.
const MAX_IMAGES: usize = 400;

fn js_error(e: impl std::fmt::Display) -> JsValue {
    JsValue::from_str(&e.to_string())
}

/// The adapter the browser offers, opened with flowgpu's defaults for it.
async fn open_context() -> Result<GpuContext, JsValue> {
    GpuContext::new_async(&AdapterChoice::Auto, None)
        .await
        .map_err(js_error)
}

struct Loaded {
    flow: Flow,
    pre: Preprocess,
    /// Test images, `dim` bytes each, and their labels.
    images: Vec<u8>,
    labels: Vec<u8>,
    test_bits_per_dim: Option<f64>,
    description: String,
}

impl Loaded {
    /// Test image `i`'s pixels, or an error naming the valid range.
    fn image(&self, i: usize, d: usize) -> Result<&[u8], JsValue> {
        self.images.get(i * d..(i + 1) * d).ok_or_else(|| {
            js_error(format!(
                "test images are numbered 0 to {}, not {i}",
                self.labels.len().saturating_sub(1)
            ))
        })
    }
}

/// A trained flow on the page's GPU, with the test images it interpolates between.
#[wasm_bindgen]
pub struct Explorer {
    inner: Rc<Loaded>,
}

#[wasm_bindgen]
impl Explorer {
    /// Opens WebGPU and uploads the model (`model.safetensors` bytes, as `flowgpu
    /// export-web` writes it) with `images` (`n * dim` 8-bit pixels) and their `labels`.
    pub async fn load(
        model: Vec<u8>,
        images: Vec<u8>,
        labels: Vec<u8>,
    ) -> Result<Explorer, JsValue> {
        let ck = checkpoint::from_bytes(&model, false, Path::new("model.safetensors"))
            .map_err(js_error)?;
        let config =
            checkpoint::config_of(&ck.meta, Path::new("model.safetensors")).map_err(js_error)?;
        let pre: Preprocess = match ck.meta.get("preprocess") {
            Some(json) => serde_json::from_str(json).map_err(js_error)?,
            None => {
                return Err(js_error(
                    "the model file does not say how pixels become flow inputs (no 'preprocess' metadata); export it again with flowgpu export-web",
                ))
            }
        };
        let dim = config.dim;
        if images.len() != labels.len() * dim {
            return Err(js_error(format!(
                "{} image bytes do not hold {} images of {dim} pixels",
                images.len(),
                labels.len()
            )));
        }
        let test_bits_per_dim = ck
            .meta
            .get("test_bits_per_dim")
            .and_then(|v| v.parse::<f64>().ok());
        let params = ck
            .params
            .ok_or_else(|| js_error("the model file holds no parameters"))?;
        let ctx = Arc::new(open_context().await?);
        let description = format!(
            "{} coupling layers, H = {}, {} parameters",
            config.layers,
            config.hidden,
            params.num_params()
        );
        let mut flow = Flow::new(ctx, &params).map_err(js_error)?;
        flow.set_chunk(MAX_IMAGES);
        Ok(Explorer {
            inner: Rc::new(Loaded {
                flow,
                pre,
                images,
                labels,
                test_bits_per_dim,
                description,
            }),
        })
    }

    /// The adapter in use, as flowgpu names it.
    pub fn adapter(&self) -> String {
        self.inner.flow.context().describe()
    }

    /// The matmul variants the adapter runs (`SUBGROUP` decides between them).
    pub fn kernels(&self) -> String {
        self.inner.flow.context().matmul().defaults().describe()
    }

    /// Test bits/dim recorded when the model was exported, if it was measured.
    pub fn test_bits_per_dim(&self) -> Option<f64> {
        self.inner.test_bits_per_dim
    }

    pub fn description(&self) -> String {
        self.inner.description.clone()
    }

    /// Side of the square images.
    pub fn side(&self) -> usize {
        (self.inner.flow.config().dim as f64).sqrt().round() as usize
    }

    /// Stages shown per row of the layer-by-layer view: z, each undone layer, x.
    pub fn stages(&self) -> usize {
        self.inner.flow.config().layers + 1
    }

    pub fn image_count(&self) -> usize {
        self.inner.labels.len()
    }

    pub fn label(&self, i: usize) -> Option<u8> {
        self.inner.labels.get(i).copied()
    }

    /// Test image `i` as 8-bit pixels.
    pub fn image(&self, i: usize) -> Option<Vec<u8>> {
        let d = self.inner.flow.config().dim;
        self.inner.image(i, d).ok().map(<[u8]>::to_vec)
    }

    /// `n` samples at `temperature` with `seed`: a `Float32Array` of `n * dim` pixels in [0, 1].
    pub fn samples(&self, n: usize, temperature: f32, seed: u32) -> js_sys::Promise {
        let inner = self.inner.clone();
        future_to_promise(async move {
            if n == 0 || n > MAX_IMAGES {
                return Err(js_error(format!(
                    "ask for 1 to {MAX_IMAGES} samples, not {n}"
                )));
            }
            let px = explore::samples(&inner.flow, inner.pre, n, temperature, seed)
                .await
                .map_err(js_error)?;
            Ok(js_sys::Float32Array::from(px.as_slice()).into())
        })
    }

    /// `rows` draws followed stage by stage: `rows * stages() * dim` pixels, row by row.
    pub fn layers(&self, rows: usize, temperature: f32, seed: u32) -> js_sys::Promise {
        let inner = self.inner.clone();
        future_to_promise(async move {
            if rows == 0 || rows > 100 {
                return Err(js_error(format!("ask for 1 to 100 rows, not {rows}")));
            }
            let px = explore::layer_stages(&inner.flow, inner.pre, rows, temperature, seed)
                .await
                .map_err(js_error)?;
            Ok(js_sys::Float32Array::from(px.as_slice()).into())
        })
    }

    /// Bits/dim of test images `i` and `j` (dequantized at their pixels' bin centres): a
    /// `Float64Array` of two.
    pub fn pair_bits_per_dim(&self, i: usize, j: usize) -> js_sys::Promise {
        let inner = self.inner.clone();
        future_to_promise(async move {
            let d = inner.flow.config().dim;
            let (first, second) = (inner.image(i, d)?, inner.image(j, d)?);
            let bpd = explore::bits_per_dim(&inner.flow, inner.pre, &[first, second].concat())
                .await
                .map_err(js_error)?;
            Ok(js_sys::Float64Array::from(bpd.as_slice()).into())
        })
    }

    /// The latent line from test image `i` to test image `j` in `steps` steps:
    /// `(2 + steps) * dim` pixels, the two originals (dequantized and mapped back) first.
    pub fn interpolate(&self, i: usize, j: usize, steps: usize) -> js_sys::Promise {
        let inner = self.inner.clone();
        future_to_promise(async move {
            let d = inner.flow.config().dim;
            if !(2..=100).contains(&steps) {
                return Err(js_error(format!("ask for 2 to 100 steps, not {steps}")));
            }
            let (first, second) = (inner.image(i, d)?, inner.image(j, d)?);
            let (mut originals, path) =
                explore::interpolation(&inner.flow, inner.pre, first, second, steps)
                    .await
                    .map_err(js_error)?;
            originals.extend_from_slice(&path);
            Ok(js_sys::Float32Array::from(originals.as_slice()).into())
        })
    }
}

/// Runs the conformance fixtures (`fixtures.json`, written natively from the CPU reference by
/// `tests/browser.rs`) on this browser's adapter. Resolves to JSON:
/// `{"adapter": .., "kernels": .., "reports": [..]}` (see `flowgpu::conformance::Report`).
#[wasm_bindgen]
pub fn run_conformance(fixtures_json: String) -> js_sys::Promise {
    future_to_promise(async move {
        let fixtures: Vec<flowgpu::conformance::Fixture> =
            serde_json::from_str(&fixtures_json).map_err(js_error)?;
        let ctx = Arc::new(open_context().await?);
        let reports = flowgpu::conformance::runner::run_all(&ctx, &fixtures).await;
        let out = serde_json::json!({
            "adapter": ctx.describe(),
            "kernels": ctx.matmul().defaults().describe(),
            "reports": reports,
        });
        Ok(JsValue::from_str(&out.to_string()))
    })
}
