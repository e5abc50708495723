//! Compute pipelines built from kernel declarations, once per (kernel, overrides) and
//! cached by the context. Declarations were checked against their shaders when the crate
//! compiled ([`crate::gpu::kernel::check_declaration`]); a shader the device rejects, or
//! one needing a feature it lacks, becomes an error naming the kernel.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use crate::error::{Error, Result};
use crate::gpu::device_errors::scoped;
use crate::gpu::kernel::{Access, AnyKernel, KernelInfo, Workgroup};
use crate::gpu::tiles::TileConfig;

/// A built pipeline and the bind group layout its dispatches use.
pub struct Pipeline {
    pub(crate) pipeline: wgpu::ComputePipeline,
    pub(crate) layout: wgpu::BindGroupLayout,
    /// `file:entry`.
    pub label: String,
}

/// The workgroup-size overrides a kernel is built with under `tiles`.
pub fn workgroup_overrides(workgroup: Workgroup, tiles: &TileConfig) -> Vec<(&'static str, f64)> {
    match workgroup {
        Workgroup::Matmul => vec![
            ("WG_X", tiles.matmul_wg_x as f64),
            ("WG_Y", tiles.matmul_wg_y as f64),
        ],
        Workgroup::Elementwise => vec![("WG", tiles.elementwise_wg as f64)],
        Workgroup::Reduce => vec![("WG", tiles.reduce_wg as f64)],
        Workgroup::Fixed => vec![],
    }
}

type Key = (&'static str, &'static str, Vec<(&'static str, u64)>);

/// Pipelines built so far, shared by every dispatch of a context.
#[derive(Default)]
pub(crate) struct PipelineCache {
    built: Mutex<HashMap<Key, Arc<Pipeline>>>,
}

impl PipelineCache {
    /// The pipeline of `kernel` with the tile overrides and `overrides`, built on first use.
    pub fn get(
        &self,
        device: &wgpu::Device,
        tiles: &TileConfig,
        kernel: &dyn AnyKernel,
        overrides: &[(&'static str, f64)],
    ) -> Result<Arc<Pipeline>> {
        let info = kernel.info();
        let key: Key = (
            info.shader.file,
            info.entry,
            overrides.iter().map(|&(n, v)| (n, v.to_bits())).collect(),
        );
        let mut built = self
            .built
            .lock()
            .map_err(|_| Error::Gpu("the pipeline cache was poisoned by a panic".into()))?;
        if let Some(p) = built.get(&key) {
            return Ok(p.clone());
        }
        let p = Arc::new(build(device, tiles, kernel, overrides)?);
        built.insert(key, p.clone());
        Ok(p)
    }
}

fn build(
    device: &wgpu::Device,
    tiles: &TileConfig,
    kernel: &dyn AnyKernel,
    overrides: &[(&'static str, f64)],
) -> Result<Pipeline> {
    let info = kernel.info();
    let label = info.label();
    for (name, _) in overrides {
        if !info.overrides.contains(name) {
            return Err(Error::Gpu(format!(
                "kernel {label} has no declared override `{name}`"
            )));
        }
    }
    if !device.features().contains(info.features) {
        return Err(Error::Gpu(format!(
            "kernel {label} needs {:?}, which this device lacks",
            info.features - device.features()
        )));
    }
    let (built, error) = scoped(device, &[wgpu::ErrorFilter::Validation], || {
        make(device, tiles, info, &label, overrides)
    });
    if let Some(err) = error {
        return Err(Error::Gpu(format!("building kernel {label} failed: {err}")));
    }
    let (pipeline, layout) = built;
    Ok(Pipeline {
        pipeline,
        layout,
        label,
    })
}

/// The shader module, bind group layout and pipeline of one kernel.
fn make(
    device: &wgpu::Device,
    tiles: &TileConfig,
    info: &KernelInfo,
    label: &str,
    overrides: &[(&'static str, f64)],
) -> (wgpu::ComputePipeline, wgpu::BindGroupLayout) {
    let module = device.create_shader_module(wgpu::ShaderModuleDescriptor {
        label: Some(label),
        source: wgpu::ShaderSource::Wgsl(info.source().into()),
    });
    let mut entries = vec![wgpu::BindGroupLayoutEntry {
        binding: 0,
        visibility: wgpu::ShaderStages::COMPUTE,
        ty: wgpu::BindingType::Buffer {
            ty: wgpu::BufferBindingType::Uniform,
            has_dynamic_offset: false,
            min_binding_size: wgpu::BufferSize::new(info.shader.params_size as u64),
        },
        count: None,
    }];
    for b in info.shader.storage {
        entries.push(wgpu::BindGroupLayoutEntry {
            binding: b.binding,
            visibility: wgpu::ShaderStages::COMPUTE,
            ty: wgpu::BindingType::Buffer {
                ty: wgpu::BufferBindingType::Storage {
                    read_only: b.access == Access::Read,
                },
                has_dynamic_offset: false,
                min_binding_size: wgpu::BufferSize::new(b.min_size),
            },
            count: None,
        });
    }
    let layout = device.create_bind_group_layout(&wgpu::BindGroupLayoutDescriptor {
        label: Some(label),
        entries: &entries,
    });
    let pipeline_layout = device.create_pipeline_layout(&wgpu::PipelineLayoutDescriptor {
        label: Some(label),
        bind_group_layouts: &[Some(&layout)],
        immediate_size: 0,
    });
    let mut constants = workgroup_overrides(info.workgroup, tiles);
    constants.extend_from_slice(overrides);
    let pipeline = device.create_compute_pipeline(&wgpu::ComputePipelineDescriptor {
        label: Some(label),
        layout: Some(&pipeline_layout),
        module: &module,
        entry_point: Some(info.entry),
        compilation_options: wgpu::PipelineCompilationOptions {
            constants: &constants,
            zero_initialize_workgroup_memory: false,
        },
        cache: None,
    });
    (pipeline, layout)
}
