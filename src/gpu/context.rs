//! The one place that owns the wgpu instance, adapter, device and queue.

use std::sync::{Arc, Mutex};

use crate::error::{Error, Result};
use crate::gpu::device_errors::DeviceErrors;
use crate::gpu::kernel::{Kernel, Params};
use crate::gpu::pipeline::{Pipeline, PipelineCache};
use crate::gpu::scratch::Scratch;
use crate::gpu::tensor::GpuTensor;
use crate::gpu::tiles::TileConfig;
use crate::kernels::config::KernelConfig;
use crate::kernels::matmul::MatmulPolicy;

/// Which adapter to use. Read from `FLOWGPU_ADAPTER` (or a command-line flag):
/// `auto` (default: discrete GPU, then integrated, then anything else, then software),
/// `hardware` (refuse a software adapter), `software` (force e.g. Mesa lavapipe), or any
/// other text, matched case-insensitively against the adapter names.
#[derive(Clone, Debug, PartialEq, Eq, Default)]
pub enum AdapterChoice {
    #[default]
    Auto,
    Hardware,
    Software,
    Named(String),
}

impl AdapterChoice {
    pub const ENV: &'static str = "FLOWGPU_ADAPTER";

    pub fn parse(s: &str) -> Self {
        match s.trim().to_ascii_lowercase().as_str() {
            "" | "auto" => Self::Auto,
            "hardware" | "gpu" => Self::Hardware,
            "software" | "cpu" => Self::Software,
            other => Self::Named(other.to_string()),
        }
    }

    pub fn from_env() -> Self {
        std::env::var(Self::ENV)
            .map(|s| Self::parse(&s))
            .unwrap_or_default()
    }
}

/// Everything a kernel needs to run: device, queue, the pipelines built so far and the
/// adapter facts that decide tile sizes and batch limits. `Send + Sync`: one context can
/// serve several threads.
///
/// Its methods are grouped by topic: opening and adapter facts here; buffers in and out in
/// [`tensor`](crate::gpu::tensor); recording and submitting in
/// [`dispatch`](crate::gpu::dispatch); [`scratch`](crate::gpu::scratch) memory; error
/// capture in [`device_errors`](crate::gpu::device_errors).
pub struct GpuContext {
    device: wgpu::Device,
    queue: wgpu::Queue,
    info: wgpu::AdapterInfo,
    limits: wgpu::Limits,
    /// Optional features the device was opened with (see [`OPTIONAL_FEATURES`]).
    features: wgpu::Features,
    tiles: TileConfig,
    /// Which matmul kernel each shape uses. Kept here because every recorded matmul asks
    /// it; what it decides is `kernels::matmul::policy`'s.
    matmul: MatmulPolicy,
    pipelines: PipelineCache,
    /// A tiny tensor bound where a kernel's optional input is unused (WebGPU forbids binding
    /// one buffer as both read and read-write in a dispatch, so outputs can't stand in).
    unused: GpuTensor,
    /// Shared by multi-pass kernels between their passes (see [`GpuContext::scratch`]).
    pub(crate) scratch: Scratch,
    /// Device errors outside an error scope, and the device's loss, until the next wait.
    errors: DeviceErrors,
    /// The readback buffer, grown to the largest read so far and reused.
    pub(crate) staging: Mutex<Option<Arc<wgpu::Buffer>>>,
    // Kept alive for the lifetime of the device.
    _adapter: wgpu::Adapter,
    _instance: wgpu::Instance,
}

/// Features requested when the adapter has them; kernels that need one are only chosen when
/// the device has it. `SUBGROUP`: the CPU matmul variants share loads across SIMD lanes.
/// `TIMESTAMP_QUERY` and `..._INSIDE_PASSES`: `--profile` times each kernel on the GPU.
pub const OPTIONAL_FEATURES: wgpu::Features = wgpu::Features::SUBGROUP
    .union(wgpu::Features::TIMESTAMP_QUERY)
    .union(wgpu::Features::TIMESTAMP_QUERY_INSIDE_PASSES);

/// Storage buffers the widest kernel binds in one stage.
pub const REQUIRED_STORAGE_BUFFERS: u32 = 8;

const NO_ADAPTER_HELP: &str =
    "no usable GPU adapter was found. flowgpu needs Vulkan, Metal or DX12 \
with compute shaders. On a machine without a GPU install Mesa's software Vulkan driver \
(Debian/Ubuntu: `sudo apt-get install mesa-vulkan-drivers libvulkan1`), then run again";

/// What to do when no adapter fits: install a driver natively; in a browser, another browser.
fn no_adapter_help() -> &'static str {
    if cfg!(target_arch = "wasm32") {
        "this browser's WebGPU adapter lacks what flowgpu needs (compute shaders and 8 storage \
buffers per shader stage). Try a recent Chrome, Edge or Safari, or another GPU"
    } else {
        NO_ADAPTER_HELP
    }
}

/// The adapters of `backends` with compute shaders and enough storage buffers per stage.
async fn usable_adapters(
    instance: &wgpu::Instance,
    backends: wgpu::Backends,
) -> Vec<wgpu::Adapter> {
    let mut out = Vec::new();
    for adapter in instance.enumerate_adapters(backends).await {
        let caps = adapter.get_downlevel_capabilities();
        if !caps.flags.contains(wgpu::DownlevelFlags::COMPUTE_SHADERS) {
            continue;
        }
        if adapter.limits().max_storage_buffers_per_shader_stage < REQUIRED_STORAGE_BUFFERS {
            continue;
        }
        out.push(adapter);
    }
    out
}

fn matches_choice(info: &wgpu::AdapterInfo, choice: &AdapterChoice) -> bool {
    match choice {
        AdapterChoice::Auto => true,
        AdapterChoice::Hardware => info.device_type != wgpu::DeviceType::Cpu,
        AdapterChoice::Software => info.device_type == wgpu::DeviceType::Cpu,
        AdapterChoice::Named(n) => info.name.to_ascii_lowercase().contains(n),
    }
}

fn type_rank(t: wgpu::DeviceType) -> u32 {
    match t {
        wgpu::DeviceType::DiscreteGpu => 0,
        wgpu::DeviceType::IntegratedGpu => 1,
        wgpu::DeviceType::VirtualGpu => 2,
        wgpu::DeviceType::Other => 3,
        wgpu::DeviceType::Cpu => 4,
    }
}

fn describe_info(info: &wgpu::AdapterInfo) -> String {
    // A browser may keep the name to itself (WebGPU's adapter info is privacy-limited).
    if info.name.is_empty() && info.backend == wgpu::Backend::BrowserWebGpu {
        let about = [info.driver.as_str(), info.driver_info.as_str()]
            .into_iter()
            .filter(|s| !s.is_empty())
            .collect::<Vec<_>>()
            .join(", ");
        return format!(
            "the browser's WebGPU adapter ({:?}{}{})",
            info.device_type,
            if about.is_empty() { "" } else { ", " },
            about
        );
    }
    format!(
        "{} ({:?}, {:?}, driver {} {})",
        info.name, info.device_type, info.backend, info.driver, info.driver_info
    )
}

impl GpuContext {
    /// Adapter chosen by `FLOWGPU_ADAPTER` (default `auto`).
    #[cfg(not(target_arch = "wasm32"))]
    pub fn from_env() -> Result<Self> {
        Self::new(&AdapterChoice::from_env())
    }

    #[cfg(not(target_arch = "wasm32"))]
    pub fn new(choice: &AdapterChoice) -> Result<Self> {
        pollster::block_on(Self::new_async(choice, None))
    }

    /// Like [`GpuContext::new`] but with given workgroup sizes and matmul kernels instead of
    /// the adapter's defaults (tests run every kernel under several configurations).
    #[cfg(not(target_arch = "wasm32"))]
    pub fn with_config(choice: &AdapterChoice, config: KernelConfig) -> Result<Self> {
        pollster::block_on(Self::new_async(choice, Some(config)))
    }

    /// Opens the adapter `choice` names (the browser's one adapter on the web) with the
    /// given configuration, or the adapter's default when `None`.
    pub async fn new_async(choice: &AdapterChoice, config: Option<KernelConfig>) -> Result<Self> {
        // Native APIs first; the GL backend (whose EGL probing of display servers can print
        // to stderr) is only started when they offer no adapter that fits the choice.
        let wanted = wgpu::InstanceDescriptor::new_without_display_handle_from_env().backends;
        let mut all: Vec<String> = Vec::new();
        let mut found = None;
        for backends in [
            wanted & wgpu::Backends::PRIMARY,
            wanted & wgpu::Backends::GL,
        ] {
            if backends.is_empty() {
                continue;
            }
            let instance = wgpu::Instance::new(wgpu::InstanceDescriptor {
                backends,
                ..wgpu::InstanceDescriptor::new_without_display_handle_from_env()
            });
            let usable = usable_adapters(&instance, backends).await;
            all.extend(usable.iter().map(|a| describe_info(&a.get_info())));
            let chosen: Vec<wgpu::Adapter> = usable
                .into_iter()
                .filter(|a| matches_choice(&a.get_info(), choice))
                .collect();
            if !chosen.is_empty() {
                found = Some((instance, chosen));
                break;
            }
        }
        let Some((instance, mut candidates)) = found else {
            if all.is_empty() {
                return Err(Error::Gpu(no_adapter_help().into()));
            }
            return Err(Error::Gpu(format!(
                "no adapter matches the adapter choice {choice:?} (from the command line or {}); available: {}",
                AdapterChoice::ENV,
                all.join("; ")
            )));
        };
        // Native APIs before GL (GL compute is a fallback), then by device type.
        candidates.sort_by_key(|a| {
            let info = a.get_info();
            (
                info.backend == wgpu::Backend::Gl,
                type_rank(info.device_type),
            )
        });
        let adapter = candidates
            .into_iter()
            .next()
            .ok_or_else(|| Error::Gpu(no_adapter_help().into()))?;
        let info = adapter.get_info();
        let adapter_limits = adapter.limits();
        // Ask for what the adapter has: the defaults (128 MiB bindings) are smaller than many GPUs.
        let (device, queue) = adapter
            .request_device(&wgpu::DeviceDescriptor {
                label: Some("flowgpu"),
                required_features: adapter.features() & OPTIONAL_FEATURES,
                required_limits: adapter_limits.clone(),
                ..Default::default()
            })
            .await
            .map_err(|e| Error::Gpu(format!("could not open {}: {e}", describe_info(&info))))?;
        let errors = DeviceErrors::default();
        errors.install(&device);
        let limits = device.limits();
        let features = device.features();
        let config = config.unwrap_or_else(|| KernelConfig::for_adapter(&info));
        let matmul = MatmulPolicy::new(config.matmul, features, &info, &limits);
        let unused = GpuTensor::new_zeroed(&device, 4, "unused binding");
        Ok(Self {
            device,
            queue,
            info,
            limits,
            features,
            tiles: config.tiles,
            matmul,
            pipelines: PipelineCache::default(),
            unused,
            scratch: Scratch::default(),
            errors,
            staging: Mutex::new(None),
            _adapter: adapter,
            _instance: instance,
        })
    }

    pub fn device(&self) -> &wgpu::Device {
        &self.device
    }

    pub fn queue(&self) -> &wgpu::Queue {
        &self.queue
    }

    pub fn info(&self) -> &wgpu::AdapterInfo {
        &self.info
    }

    pub fn limits(&self) -> &wgpu::Limits {
        &self.limits
    }

    pub fn features(&self) -> wgpu::Features {
        self.features
    }

    /// Which matmul kernel computes each shape on this device (defaults and tuned choices).
    pub fn matmul(&self) -> &MatmulPolicy {
        &self.matmul
    }

    /// The workgroup sizes every pipeline of this context is built with.
    pub fn tiles(&self) -> &TileConfig {
        &self.tiles
    }

    /// The tensor to bind where a kernel's optional input is not used.
    pub fn unused(&self) -> &GpuTensor {
        &self.unused
    }

    /// The pipeline of `kernel` with `overrides`, built and checked against its shader on
    /// first use.
    pub fn pipeline<P: Params>(
        &self,
        kernel: &Kernel<P>,
        overrides: &[(&'static str, f64)],
    ) -> Result<Arc<Pipeline>> {
        self.pipelines
            .get(&self.device, &self.tiles, kernel, overrides)
    }

    /// Builds `kernel`'s pipeline with its default overrides without dispatching it: the
    /// device's compiler accepts the shader (conformance checks kernels it cannot run).
    pub fn build_pipeline(&self, kernel: &dyn crate::gpu::kernel::AnyKernel) -> Result<()> {
        self.pipelines
            .get(&self.device, &self.tiles, kernel, &[])
            .map(|_| ())
    }

    /// One line naming the adapter, for logs and reports.
    pub fn describe(&self) -> String {
        describe_info(&self.info)
    }

    /// True on a CPU implementation such as Mesa lavapipe.
    pub fn is_software(&self) -> bool {
        self.info.device_type == wgpu::DeviceType::Cpu
    }

    /// The largest buffer that can be bound as one storage binding, in bytes.
    pub fn max_binding_bytes(&self) -> u64 {
        self.limits
            .max_storage_buffer_binding_size
            .min(self.limits.max_buffer_size)
    }

    /// Waits for all submitted work; a lost device, or a device error no scope caught since
    /// the last wait, becomes an error instead of a hang or a panic.
    /// On the web the browser runs the queue by itself and this returns at once.
    pub fn wait(&self) -> Result<()> {
        self.device
            .poll(wgpu::PollType::wait_indefinitely())
            .map_err(|e| Error::Gpu(format!("waiting for the device failed: {e}")))?;
        self.errors.take()
    }

    /// The device error kept since the last wait, if any (see [`DeviceErrors`]).
    pub fn take_device_errors(&self) -> Result<()> {
        self.errors.take()
    }
}
