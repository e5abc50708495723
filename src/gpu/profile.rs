//! Per-kernel GPU time of a recorded program. With `TIMESTAMP_QUERY_INSIDE_PASSES` a
//! timestamp is written before the first dispatch and after each one inside the one compute
//! pass the program normally runs in, so the figures are those of the real program. Without
//! it, each dispatch is submitted and waited for alone and timed on the host: clearly
//! labelled, since that adds the submit-and-wait cost (~0.1 ms on lavapipe) to every kernel.

use crate::error::Result;
use crate::gpu::context::GpuContext;
use crate::gpu::dispatch::Dispatch;

/// How the times were taken.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ProfileClock {
    /// GPU timestamps inside the compute pass.
    Timestamps,
    /// Host wall clock around one submit-and-wait per dispatch (no timestamp queries here).
    HostPerDispatch,
}

/// One kernel (pipeline and shape) over the profiled runs.
#[derive(Clone, Debug)]
pub struct KernelTime {
    pub label: String,
    pub calls: usize,
    pub seconds: f64,
}

#[derive(Clone, Debug)]
pub struct Profile {
    pub clock: ProfileClock,
    /// Sorted by time, largest first; seconds per run of the program.
    pub kernels: Vec<KernelTime>,
    /// Seconds per run: the sum over kernels.
    pub total: f64,
}

impl Profile {
    /// A table sorted by share of the program.
    pub fn table(&self, title: &str) -> String {
        let clock = match self.clock {
            ProfileClock::Timestamps => "GPU timestamps",
            ProfileClock::HostPerDispatch => {
                "host clock, one submit per dispatch: no timestamp queries on this adapter, \
                 so every row includes ~0.1 ms of submit-and-wait"
            }
        };
        let mut s = format!(
            "{title}: {:.2} ms per run ({clock})\n{:>7} {:>9} {:>6}  kernel\n",
            self.total * 1e3,
            "share",
            "ms",
            "calls"
        );
        for k in &self.kernels {
            s.push_str(&format!(
                "{:>6.1}% {:>9.3} {:>6}  {}\n",
                100.0 * k.seconds / self.total.max(1e-12),
                k.seconds * 1e3,
                k.calls,
                k.label
            ));
        }
        s
    }
}

fn add(rows: &mut Vec<KernelTime>, label: String, seconds: f64) {
    match rows.iter_mut().find(|r| r.label == label) {
        Some(r) => {
            r.calls += 1;
            r.seconds += seconds;
        }
        None => rows.push(KernelTime {
            label,
            calls: 1,
            seconds,
        }),
    }
}

fn finish(clock: ProfileClock, mut rows: Vec<KernelTime>, runs: usize) -> Profile {
    for r in &mut rows {
        r.seconds /= runs as f64;
        r.calls /= runs;
    }
    rows.sort_by(|a, b| b.seconds.total_cmp(&a.seconds));
    let total = rows.iter().map(|r| r.seconds).sum();
    Profile {
        clock,
        kernels: rows,
        total,
    }
}

/// Profiles `runs` runs of `program` (after one warm-up run).
pub fn profile(ctx: &GpuContext, program: &[&Dispatch], runs: usize) -> Result<Profile> {
    let runs = runs.max(1);
    ctx.submit(program);
    ctx.wait()?;
    let needed = wgpu::Features::TIMESTAMP_QUERY | wgpu::Features::TIMESTAMP_QUERY_INSIDE_PASSES;
    if !ctx.features().contains(needed) || program.len() + 1 > wgpu::QUERY_SET_MAX_QUERIES as usize
    {
        let mut rows = Vec::new();
        for _ in 0..runs {
            for d in program {
                let seconds = crate::gpu::timing::seconds_per_run(ctx, &[d], 1)?;
                add(&mut rows, d.describe(), seconds);
            }
        }
        return Ok(finish(ProfileClock::HostPerDispatch, rows, runs));
    }
    let count = program.len() as u32 + 1;
    let device = ctx.device();
    let queries = device.create_query_set(&wgpu::QuerySetDescriptor {
        label: Some("profile"),
        ty: wgpu::QueryType::Timestamp,
        count,
    });
    let bytes = count as u64 * 8;
    let resolve = device.create_buffer(&wgpu::BufferDescriptor {
        label: Some("profile resolve"),
        size: bytes,
        usage: wgpu::BufferUsages::QUERY_RESOLVE | wgpu::BufferUsages::COPY_SRC,
        mapped_at_creation: false,
    });
    let readback = device.create_buffer(&wgpu::BufferDescriptor {
        label: Some("profile readback"),
        size: bytes,
        usage: wgpu::BufferUsages::MAP_READ | wgpu::BufferUsages::COPY_DST,
        mapped_at_creation: false,
    });
    let period_s = ctx.queue().get_timestamp_period() as f64 * 1e-9;
    let mut rows = Vec::new();
    for _ in 0..runs {
        let mut encoder = device.create_command_encoder(&Default::default());
        ctx.record_timed(&mut encoder, program, &queries);
        encoder.resolve_query_set(&queries, 0..count, &resolve, 0);
        encoder.copy_buffer_to_buffer(&resolve, 0, &readback, 0, bytes);
        ctx.queue().submit(Some(encoder.finish()));
        let ticks: Vec<u64> = {
            let view = ctx.map_for_reading(readback.slice(..))?;
            bytemuck::cast_slice(&view).to_vec()
        };
        readback.unmap();
        for (d, w) in program.iter().zip(ticks.windows(2)) {
            add(
                &mut rows,
                d.describe(),
                w[1].saturating_sub(w[0]) as f64 * period_s,
            );
        }
    }
    Ok(finish(ProfileClock::Timestamps, rows, runs))
}
