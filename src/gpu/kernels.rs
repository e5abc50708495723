//! The single table of every compute pipeline: its WGSL file, entry point, bindings and
//! overrides. Binding 0 of every kernel is its uniform `Params`; storage bindings follow.

use crate::error::{Error, Result};
use crate::gpu::tiles::TileConfig;

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Kernel {
    MatmulNN,
    MatmulNT,
    MatmulTN,
    Gather,
    CouplingForward,
    CouplingInverse,
    LogDensity,
    Dequantize,
    ToPixels,
    Gaussian,
    CouplingBackward,
    ScaleGrad,
    ScatterAdd,
    GradNormPartial,
    GradNormFinish,
    Adam,
    AccumulateNll,
    /// Benchmark only: the attainable FMA rate.
    PeakFma,
}

/// How a kernel uses a storage binding.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Access {
    Read,
    ReadWrite,
}

/// How a kernel's workgroup size is set.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Workgroup {
    /// `WG_X`, `WG_Y` from the matmul tiles.
    Matmul,
    /// `WG` = elementwise size.
    Elementwise,
    /// `WG` = reduction size.
    Reduce,
}

pub struct KernelSpec {
    pub kernel: Kernel,
    pub file: &'static str,
    pub source: &'static str,
    pub entry: &'static str,
    pub storage: &'static [Access],
    pub workgroup: Workgroup,
}

use Access::{Read as R, ReadWrite as W};

macro_rules! shader {
    ($name:literal) => {
        ($name, include_str!(concat!("../../shaders/", $name)))
    };
}

const GRAD_NORM: (&str, &str) = shader!("grad_norm.wgsl");

/// Prepended to every kernel.
pub const COMMON: &str = include_str!("../../shaders/common.wgsl");
/// Prepended to the matmul kernels.
pub const MATMUL_COMMON: &str = include_str!("../../shaders/matmul_common.wgsl");

const fn spec(
    kernel: Kernel,
    (file, source): (&'static str, &'static str),
    entry: &'static str,
    storage: &'static [Access],
    workgroup: Workgroup,
) -> KernelSpec {
    KernelSpec {
        kernel,
        file,
        source,
        entry,
        storage,
        workgroup,
    }
}

pub const KERNELS: &[KernelSpec] = &[
    spec(
        Kernel::MatmulNN,
        shader!("matmul_nn.wgsl"),
        "main",
        &[R, R, W, R],
        Workgroup::Matmul,
    ),
    spec(
        Kernel::MatmulNT,
        shader!("matmul_nt.wgsl"),
        "main",
        &[R, R, W, R],
        Workgroup::Matmul,
    ),
    spec(
        Kernel::MatmulTN,
        shader!("matmul_tn.wgsl"),
        "main",
        &[R, R, W, R],
        Workgroup::Matmul,
    ),
    spec(
        Kernel::Gather,
        shader!("gather.wgsl"),
        "main",
        &[R, R, W],
        Workgroup::Elementwise,
    ),
    spec(
        Kernel::CouplingForward,
        shader!("coupling_forward.wgsl"),
        "main",
        &[W, R, R, W],
        Workgroup::Elementwise,
    ),
    spec(
        Kernel::CouplingInverse,
        shader!("coupling_inverse.wgsl"),
        "main",
        &[W, R, R],
        Workgroup::Elementwise,
    ),
    spec(
        Kernel::LogDensity,
        shader!("log_density.wgsl"),
        "main",
        &[R, R, R, W],
        Workgroup::Reduce,
    ),
    spec(
        Kernel::Dequantize,
        shader!("dequantize.wgsl"),
        "main",
        &[R, R, W, W],
        Workgroup::Reduce,
    ),
    spec(
        Kernel::ToPixels,
        shader!("to_pixels.wgsl"),
        "main",
        &[R, W],
        Workgroup::Elementwise,
    ),
    spec(
        Kernel::Gaussian,
        shader!("gaussian.wgsl"),
        "main",
        &[W],
        Workgroup::Elementwise,
    ),
    spec(
        Kernel::CouplingBackward,
        shader!("coupling_backward.wgsl"),
        "main",
        &[R, R, R, R, W, W],
        Workgroup::Elementwise,
    ),
    spec(
        Kernel::ScaleGrad,
        shader!("scale_grad.wgsl"),
        "main",
        &[R, R, W],
        Workgroup::Elementwise,
    ),
    spec(
        Kernel::ScatterAdd,
        shader!("scatter_add.wgsl"),
        "main",
        &[R, W],
        Workgroup::Elementwise,
    ),
    spec(
        Kernel::GradNormPartial,
        GRAD_NORM,
        "partial_sums",
        &[R, W],
        Workgroup::Elementwise,
    ),
    spec(
        Kernel::GradNormFinish,
        GRAD_NORM,
        "finish",
        &[R, W],
        Workgroup::Elementwise,
    ),
    spec(
        Kernel::Adam,
        shader!("adam.wgsl"),
        "main",
        &[W, R, W, W, R],
        Workgroup::Elementwise,
    ),
    spec(
        Kernel::AccumulateNll,
        shader!("accumulate_nll.wgsl"),
        "main",
        &[R, R, W],
        Workgroup::Reduce,
    ),
    spec(
        Kernel::PeakFma,
        shader!("peak_fma.wgsl"),
        "main",
        &[W],
        Workgroup::Elementwise,
    ),
];

impl Kernel {
    pub fn spec(self) -> &'static KernelSpec {
        KERNELS
            .iter()
            .find(|s| s.kernel == self)
            .expect("every kernel has a row in KERNELS")
    }
}

impl KernelSpec {
    /// The WGSL the device compiles: the shared snippets, then the file.
    pub fn full_source(&self) -> String {
        match self.workgroup {
            Workgroup::Matmul => format!("{COMMON}\n{MATMUL_COMMON}\n{}", self.source),
            _ => format!("{COMMON}\n{}", self.source),
        }
    }

    /// Pipeline-overridable constants for these tiles.
    pub fn overrides(&self, tiles: &TileConfig) -> Vec<(&'static str, f64)> {
        match self.workgroup {
            Workgroup::Matmul => vec![
                ("WG_X", tiles.matmul_wg_x as f64),
                ("WG_Y", tiles.matmul_wg_y as f64),
            ],
            Workgroup::Elementwise => vec![("WG", tiles.elementwise_wg as f64)],
            Workgroup::Reduce => vec![("WG", tiles.reduce_wg as f64)],
        }
    }

    /// Invocations per workgroup along x (the unit of a 1-D launch).
    pub fn workgroup_x(&self, tiles: &TileConfig) -> u32 {
        match self.workgroup {
            Workgroup::Matmul => tiles.matmul_wg_x,
            Workgroup::Elementwise => tiles.elementwise_wg,
            Workgroup::Reduce => tiles.reduce_wg,
        }
    }
}

/// Compiled pipelines, one per row of [`KERNELS`].
pub struct Kernels {
    pipelines: Vec<(Kernel, wgpu::ComputePipeline, wgpu::BindGroupLayout)>,
}

impl Kernels {
    pub fn new(device: &wgpu::Device, tiles: &TileConfig) -> Result<Self> {
        let mut pipelines = Vec::with_capacity(KERNELS.len());
        for spec in KERNELS {
            let scope = device.push_error_scope(wgpu::ErrorFilter::Validation);
            let module = device.create_shader_module(wgpu::ShaderModuleDescriptor {
                label: Some(spec.file),
                source: wgpu::ShaderSource::Wgsl(spec.full_source().into()),
            });
            let mut entries = vec![wgpu::BindGroupLayoutEntry {
                binding: 0,
                visibility: wgpu::ShaderStages::COMPUTE,
                ty: wgpu::BindingType::Buffer {
                    ty: wgpu::BufferBindingType::Uniform,
                    has_dynamic_offset: false,
                    min_binding_size: None,
                },
                count: None,
            }];
            for (i, access) in spec.storage.iter().enumerate() {
                entries.push(wgpu::BindGroupLayoutEntry {
                    binding: i as u32 + 1,
                    visibility: wgpu::ShaderStages::COMPUTE,
                    ty: wgpu::BindingType::Buffer {
                        ty: wgpu::BufferBindingType::Storage {
                            read_only: *access == Access::Read,
                        },
                        has_dynamic_offset: false,
                        min_binding_size: None,
                    },
                    count: None,
                });
            }
            let layout = device.create_bind_group_layout(&wgpu::BindGroupLayoutDescriptor {
                label: Some(spec.file),
                entries: &entries,
            });
            let pipeline_layout = device.create_pipeline_layout(&wgpu::PipelineLayoutDescriptor {
                label: Some(spec.file),
                bind_group_layouts: &[Some(&layout)],
                immediate_size: 0,
            });
            let constants = spec.overrides(tiles);
            let pipeline = device.create_compute_pipeline(&wgpu::ComputePipelineDescriptor {
                label: Some(spec.file),
                layout: Some(&pipeline_layout),
                module: &module,
                entry_point: Some(spec.entry),
                compilation_options: wgpu::PipelineCompilationOptions {
                    constants: &constants,
                    zero_initialize_workgroup_memory: false,
                },
                cache: None,
            });
            if let Some(err) = pollster::block_on(scope.pop()) {
                return Err(Error::Gpu(format!(
                    "building kernel {} ({:?}) failed: {err}",
                    spec.file, spec.kernel
                )));
            }
            pipelines.push((spec.kernel, pipeline, layout));
        }
        Ok(Self { pipelines })
    }

    pub fn get(&self, kernel: Kernel) -> (&wgpu::ComputePipeline, &wgpu::BindGroupLayout) {
        let (_, p, l) = self
            .pipelines
            .iter()
            .find(|(k, _, _)| *k == kernel)
            .expect("all kernels are compiled");
        (p, l)
    }
}
