//! The flow on the GPU: `forward`, `inverse`, `inverse_with_stages`, `log_likelihood` and
//! `sample` on batches of any size. Tensors stay on the GPU; call
//! [`GpuContext::read`] when the host needs the numbers. A `Flow` is `Send + Sync`.

use std::sync::{Arc, Mutex};

use crate::config::{FlowConfig, Preprocess};
use crate::error::{Error, Result, Setting};
use crate::gpu::{GpuContext, GpuTensor};
use crate::kernels::transform;
use crate::model::layout::ParamLayout;
use crate::model::params::FlowParams;
use crate::model::workspace::{max_batch, Workspace};

/// Largest batch run at once by the inference calls; larger inputs go through in chunks.
pub const DEFAULT_CHUNK: usize = 1000;

/// Workspaces kept per flow (each holds a batch size's activations): training, evaluation
/// and a figure's odd size fit; the least recently used goes first.
pub const MAX_WORKSPACES: usize = 4;

pub struct Flow {
    ctx: Arc<GpuContext>,
    layout: ParamLayout,
    params: GpuTensor,
    chunk: usize,
    /// Most recently used last.
    workspaces: Mutex<Vec<Arc<Workspace>>>,
}

/// What a chunked call copies out of each chunk's workspace.
enum Output {
    State(usize),
    Density(usize),
}

impl Flow {
    /// Checks, before anything is allocated on the host or the device, that a flow of this
    /// configuration fits the adapter: its parameters in one storage binding, and the
    /// activations of at least one image.
    pub fn check_fits(ctx: &GpuContext, cfg: &FlowConfig) -> Result<()> {
        cfg.validate()?;
        let bytes = ParamLayout::new(cfg).len as u64 * 4;
        let limit = ctx.max_binding_bytes();
        if bytes > limit || max_batch(ctx, cfg) == 0 {
            return Err(Error::invalid(Setting::Hidden, |hidden| {
                format!(
                    "a flow with {hidden} {} has {:.1} MiB of parameters; {} binds at most {:.1} MiB per buffer: use a smaller {hidden}",
                    cfg.hidden,
                    bytes as f64 / 1048576.0,
                    ctx.info().name,
                    limit as f64 / 1048576.0
                )
            }));
        }
        Ok(())
    }

    pub fn new(ctx: Arc<GpuContext>, params: &FlowParams) -> Result<Self> {
        Self::check_fits(&ctx, &params.config)?;
        let layout = ParamLayout::new(&params.config);
        let tensor = ctx.upload(&layout.pack(params), &[layout.len], "parameters")?;
        let chunk = DEFAULT_CHUNK.min(max_batch(&ctx, &params.config)).max(1);
        Ok(Self {
            ctx,
            layout,
            params: tensor,
            chunk,
            workspaces: Mutex::new(Vec::new()),
        })
    }

    pub fn config(&self) -> &FlowConfig {
        &self.layout.config
    }

    pub fn layout(&self) -> &ParamLayout {
        &self.layout
    }

    pub fn context(&self) -> &Arc<GpuContext> {
        &self.ctx
    }

    /// The flat parameter buffer (training updates it in place).
    pub fn params_tensor(&self) -> &GpuTensor {
        &self.params
    }

    /// Reads the parameters back to the host.
    #[cfg(not(target_arch = "wasm32"))]
    pub fn read_params(&self) -> Result<FlowParams> {
        Ok(self.layout.unpack(&self.ctx.read(&self.params)?))
    }

    pub fn write_params(&self, params: &FlowParams) -> Result<()> {
        if params.config != self.layout.config {
            return Err(Error::Config(
                "parameters are for a different model configuration".into(),
            ));
        }
        self.ctx.write(&self.params, &self.layout.pack(params));
        Ok(())
    }

    /// Sets the largest batch the inference calls run at once.
    pub fn set_chunk(&mut self, chunk: usize) {
        self.chunk = chunk.clamp(1, max_batch(&self.ctx, self.config()));
    }

    /// The cached workspace for a batch size (made on first use; at most
    /// [`MAX_WORKSPACES`] are kept).
    pub fn workspace(&self, batch: usize) -> Result<Arc<Workspace>> {
        let mut cache = self
            .workspaces
            .lock()
            .map_err(|_| Error::Gpu("the workspace cache was poisoned by a panic".into()))?;
        if let Some(i) = cache.iter().position(|ws| ws.batch == batch) {
            let ws = cache.remove(i);
            cache.push(ws.clone());
            return Ok(ws);
        }
        let ws = Arc::new(Workspace::new(
            &self.ctx,
            &self.layout,
            &self.params,
            batch,
        )?);
        if cache.len() >= MAX_WORKSPACES {
            cache.remove(0);
        }
        cache.push(ws.clone());
        Ok(ws)
    }

    fn rows_of(&self, t: &GpuTensor, what: &str) -> Result<usize> {
        let d = self.config().dim;
        if t.len() % d != 0 || t.is_empty() {
            return Err(Error::Config(format!(
                "{what} has {} values, not a whole number of {d}-vectors",
                t.len()
            )));
        }
        Ok(t.len() / d)
    }

    /// Runs `input` (rows of D values) through `direction` in chunks, copying the input into
    /// state block `input_block` and each requested output out of the workspace.
    fn run_chunked(
        &self,
        input: &GpuTensor,
        forward: bool,
        outputs: &[Output],
    ) -> Result<Vec<GpuTensor>> {
        let cfg = self.config().clone();
        let n = self.rows_of(input, "the input")?;
        let batch = n.min(self.chunk);
        let ws = self.workspace(batch)?;
        let input_block = if forward { 0 } else { cfg.layers };
        let results: Vec<GpuTensor> = outputs
            .iter()
            .map(|o| match o {
                Output::State(_) => self.ctx.zeros(&[n, cfg.dim], "flow output"),
                Output::Density(_) => self.ctx.zeros(&[n], "flow output"),
            })
            .collect::<Result<_>>()?;
        let mut encoder =
            self.ctx
                .device()
                .create_command_encoder(&wgpu::CommandEncoderDescriptor {
                    label: Some("flow"),
                });
        let row_bytes = (cfg.dim * 4) as u64;
        for start in (0..n).step_by(batch) {
            let rows = (n - start).min(batch) as u64;
            let dst = ws.states.byte_offset() + (ws.state_offset(&cfg, input_block) * 4) as u64;
            encoder.copy_buffer_to_buffer(
                input.buffer(),
                input.byte_offset() + start as u64 * row_bytes,
                ws.states.buffer(),
                dst,
                rows * row_bytes,
            );
            let program = if forward { ws.forward() } else { ws.inverse() };
            self.ctx.record(&mut encoder, &program);
            for (out, result) in outputs.iter().zip(&results) {
                let (src, src_offset, width) = match *out {
                    Output::State(block) => {
                        (&ws.states, ws.state_offset(&cfg, block) * 4, row_bytes)
                    }
                    Output::Density(which) => (&ws.density, which * ws.batch * 4, 4),
                };
                encoder.copy_buffer_to_buffer(
                    src.buffer(),
                    src.byte_offset() + src_offset as u64,
                    result.buffer(),
                    result.byte_offset() + start as u64 * width,
                    rows * width,
                );
            }
        }
        self.ctx.queue().submit(Some(encoder.finish()));
        Ok(results)
    }

    /// `(z, log|det dz/dx|)` for each row of `x` (`[n, D]`).
    pub fn forward(&self, x: &GpuTensor) -> Result<(GpuTensor, GpuTensor)> {
        let k = self.config().layers;
        let mut out = self.run_chunked(x, true, &[Output::State(k), Output::Density(0)])?;
        let logdet = out.pop().expect("two outputs");
        Ok((out.pop().expect("two outputs"), logdet))
    }

    /// `x = f^-1(z)` for each row of `z`.
    pub fn inverse(&self, z: &GpuTensor) -> Result<GpuTensor> {
        Ok(self.run_chunked(z, false, &[Output::State(0)])?.remove(0))
    }

    /// `[z, after undoing layer K-1, ..., x]`: the K + 1 stages of the sampling direction.
    pub fn inverse_with_stages(&self, z: &GpuTensor) -> Result<Vec<GpuTensor>> {
        let k = self.config().layers;
        let outputs: Vec<Output> = (0..=k).rev().map(Output::State).collect();
        self.run_chunked(z, false, &outputs)
    }

    /// `log p(x)` in nats for each row of `x`, in the flow's input space:
    /// `log N(f(x); 0, I) + log|det df/dx|`. Training minimises the mean of its negative.
    pub fn log_likelihood(&self, x: &GpuTensor) -> Result<GpuTensor> {
        Ok(self.run_chunked(x, true, &[Output::Density(1)])?.remove(0))
    }

    /// `n` prior draws `z = temperature * N(0, I)` (seeded, reproducible).
    pub fn sample_latent(&self, n: usize, temperature: f32, seed: u32) -> Result<GpuTensor> {
        if !(temperature.is_finite() && temperature >= 0.0) {
            return Err(Error::Config(format!(
                "the sampling temperature must be a finite number >= 0, got {temperature}"
            )));
        }
        let d = self.config().dim;
        let z = self.ctx.zeros(&[n, d], "latent")?;
        let draw = transform::gaussian(&self.ctx, n * d, seed, temperature, &z, 0)?;
        self.ctx.submit(&[&draw]);
        Ok(z)
    }

    /// `n` samples `x = f^-1(z)`, `z ~ N(0, temperature^2 I)`.
    pub fn sample(&self, n: usize, temperature: f32, seed: u32) -> Result<GpuTensor> {
        self.inverse(&self.sample_latent(n, temperature, seed)?)
    }

    /// Maps flow inputs (or any stage) back to pixel intensities in [0, 1].
    pub fn to_pixels(&self, x: &GpuTensor, pre: Preprocess) -> Result<GpuTensor> {
        let out = self.ctx.zeros(x.shape(), "pixels")?;
        let d = transform::to_pixels(&self.ctx, pre, x.len(), x, 0, &out)?;
        self.ctx.submit(&[&d]);
        Ok(out)
    }
}
