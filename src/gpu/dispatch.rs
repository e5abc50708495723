//! Recorded work: a [`Dispatch`] is a kernel's pipeline with its bind group, uniform buffer
//! and launch size, made once and reused every step; a list of them is encoded into one
//! compute pass and one submit.

use std::sync::Arc;

use wgpu::util::DeviceExt;

use crate::error::Result;
use crate::gpu::context::GpuContext;
use crate::gpu::kernel::{Kernel, Params};
use crate::gpu::pipeline::Pipeline;
use crate::gpu::tensor::GpuTensor;

/// Most workgroups per grid dimension every adapter allows.
pub const MAX_GROUPS: u32 = 65535;

pub struct Dispatch {
    pipeline: Arc<Pipeline>,
    /// What this dispatch computes beyond its kernel (e.g. a matmul's shape), for profiles.
    detail: String,
    bind_group: wgpu::BindGroup,
    uniform: wgpu::Buffer,
    groups: [u32; 3],
    /// Recorded right after this one, in order: the later passes of a kernel that runs in
    /// several (a split-K matmul's reduction), so its launch function still returns one
    /// `Dispatch`.
    then: Vec<Dispatch>,
}

impl Dispatch {
    /// This dispatch followed by `next` (recorded after it, in the same compute pass).
    pub fn then(mut self, next: Dispatch) -> Self {
        self.then.push(next);
        self
    }

    /// Replaces the uniform parameters (e.g. Adam's learning rate and step) before a submit.
    /// The type is the one the dispatch was made with, checked by the caller's kernel.
    /// Only this dispatch's own: passes chained with [`Dispatch::then`] keep theirs.
    pub fn set_params<P: Params>(&self, ctx: &GpuContext, params: &P) {
        ctx.queue()
            .write_buffer(&self.uniform, 0, bytemuck::bytes_of(params));
    }

    /// Adds what this dispatch computes to its description (e.g. a matmul's shape).
    pub fn with_detail(mut self, detail: String) -> Self {
        self.detail = detail;
        self
    }

    /// The `file:entry` of this kernel and of the passes chained after it.
    pub fn kernels(&self) -> Vec<String> {
        let mut out = vec![self.pipeline.label.clone()];
        for next in &self.then {
            out.extend(next.kernels());
        }
        out
    }

    /// The kernel's `file:entry` and the detail, for profiles.
    pub fn describe(&self) -> String {
        if self.detail.is_empty() {
            self.pipeline.label.clone()
        } else {
            format!("{} {}", self.pipeline.label, self.detail)
        }
    }
}

/// Workgroups for `count` independent items, `per_group` per workgroup, folded into a 2-D
/// grid when the x dimension would pass [`MAX_GROUPS`] (kernels use `flat_index`).
pub fn groups_for(count: usize, per_group: u32) -> [u32; 3] {
    let n = (count as u64).div_ceil(per_group as u64).max(1);
    if n <= MAX_GROUPS as u64 {
        [n as u32, 1, 1]
    } else {
        [MAX_GROUPS, n.div_ceil(MAX_GROUPS as u64) as u32, 1]
    }
}

fn encode(pass: &mut wgpu::ComputePass<'_>, d: &Dispatch) {
    pass.set_pipeline(&d.pipeline.pipeline);
    pass.set_bind_group(0, &d.bind_group, &[]);
    pass.dispatch_workgroups(d.groups[0], d.groups[1], d.groups[2]);
    for next in &d.then {
        encode(pass, next);
    }
}

impl GpuContext {
    /// Builds a dispatch of `kernel` (with `overrides` besides the tile sizes): `params`
    /// fills binding 0, `storage` bindings 1.. in the declared order.
    pub fn dispatch<P: Params>(
        &self,
        kernel: &Kernel<P>,
        overrides: &[(&'static str, f64)],
        params: &P,
        storage: &[&GpuTensor],
        groups: [u32; 3],
    ) -> Result<Dispatch> {
        let info = &kernel.info;
        assert_eq!(
            storage.len(),
            info.bindings.len(),
            "{} takes {} storage bindings",
            info.label(),
            info.bindings.len()
        );
        let pipeline = self.pipeline(kernel, overrides)?;
        let what = || {
            let sizes: Vec<u64> = storage.iter().map(|t| t.byte_len()).collect();
            format!(
                "building the {} dispatch (storage bindings of {sizes:?} bytes, groups {groups:?})",
                pipeline.label
            )
        };
        let (uniform, bind_group) = self.captured(what, || {
            let uniform = self
                .device()
                .create_buffer_init(&wgpu::util::BufferInitDescriptor {
                    label: Some(&pipeline.label),
                    contents: bytemuck::bytes_of(params),
                    usage: wgpu::BufferUsages::UNIFORM | wgpu::BufferUsages::COPY_DST,
                });
            let mut entries = vec![wgpu::BindGroupEntry {
                binding: 0,
                resource: uniform.as_entire_binding(),
            }];
            for (i, t) in storage.iter().enumerate() {
                entries.push(wgpu::BindGroupEntry {
                    binding: i as u32 + 1,
                    resource: t.binding(),
                });
            }
            let bind_group = self.device().create_bind_group(&wgpu::BindGroupDescriptor {
                label: Some(&pipeline.label),
                layout: &pipeline.layout,
                entries: &entries,
            });
            (uniform, bind_group)
        })?;
        Ok(Dispatch {
            pipeline,
            detail: String::new(),
            bind_group,
            uniform,
            groups,
            then: Vec::new(),
        })
    }

    /// Encodes dispatches, in order, into one compute pass (WebGPU orders their memory effects).
    pub fn record(&self, encoder: &mut wgpu::CommandEncoder, dispatches: &[&Dispatch]) {
        let mut pass = encoder.begin_compute_pass(&wgpu::ComputePassDescriptor {
            label: None,
            timestamp_writes: None,
        });
        for d in dispatches {
            encode(&mut pass, d);
        }
    }

    /// [`GpuContext::record`] with a timestamp before the first dispatch and after each one
    /// (needs `TIMESTAMP_QUERY_INSIDE_PASSES`; `queries` holds `dispatches.len() + 1`).
    pub fn record_timed(
        &self,
        encoder: &mut wgpu::CommandEncoder,
        dispatches: &[&Dispatch],
        queries: &wgpu::QuerySet,
    ) {
        let mut pass = encoder.begin_compute_pass(&wgpu::ComputePassDescriptor {
            label: Some("profiled"),
            timestamp_writes: None,
        });
        pass.write_timestamp(queries, 0);
        for (i, d) in dispatches.iter().enumerate() {
            // A chained multi-pass kernel (split-K) is timed as one.
            encode(&mut pass, d);
            pass.write_timestamp(queries, i as u32 + 1);
        }
    }

    /// Records and submits dispatches without waiting.
    pub fn submit(&self, dispatches: &[&Dispatch]) {
        let mut encoder = self
            .device()
            .create_command_encoder(&wgpu::CommandEncoderDescriptor { label: None });
        self.record(&mut encoder, dispatches);
        self.queue().submit(Some(encoder.finish()));
    }
}
