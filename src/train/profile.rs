//! `--profile`: per-kernel GPU time of one training step of a model, on generated images
//! (kernel times do not depend on the pixel values), so it can run after training or in
//! the benchmarks without the data set.

use std::sync::Arc;

use crate::config::{AdamConfig, FlowConfig, Preprocess};
use crate::data::ImageSet;
use crate::error::Result;
use crate::gpu::profile::{profile, Profile};
use crate::gpu::GpuContext;
use crate::model::params::FlowParams;
use crate::model::Flow;
use crate::train::gpu_data::GpuImages;
use crate::train::step::TrainStep;

/// Profiles `runs` training steps of a freshly initialised flow of `cfg` at `batch`.
pub fn profile_training_step(
    ctx: &Arc<GpuContext>,
    cfg: &FlowConfig,
    batch: usize,
    pre: Preprocess,
    runs: usize,
) -> Result<Profile> {
    let flow = Flow::new(ctx.clone(), &FlowParams::init(cfg, 1))?;
    let side = (cfg.dim as f64).sqrt() as usize;
    let (rows, cols) = if side * side == cfg.dim {
        (side, side)
    } else {
        (1, cfg.dim)
    };
    let set = ImageSet {
        images: (0..batch * cfg.dim).map(|i| (i * 37 % 256) as u8).collect(),
        labels: vec![0; batch],
        rows,
        cols,
    };
    let images = GpuImages::upload(ctx, &set, "profile images")?;
    let step = TrainStep::new(&flow, &images, batch, pre, AdamConfig::default())?;
    step.set_order(ctx, &(0..batch as u32).collect::<Vec<_>>());
    step.step(ctx, 0, 1, 1, 1e-4);
    profile(ctx, &step.dispatches(), runs)
}
