//! Wall-clock timing of recorded dispatches, the one loop the benchmarks, the matmul tuner
//! and the host-clock profile share: a list repeated `reps` times in one compute pass and
//! one submit, then one wait, so per-submit costs are amortized the same way everywhere.

use std::time::Instant;

use crate::error::Result;
use crate::gpu::{Dispatch, GpuContext};

/// Seconds per repetition of `list`, repeated `reps` times in one submit (no warm-up).
pub fn seconds_per_run(ctx: &GpuContext, list: &[&Dispatch], reps: usize) -> Result<f64> {
    let reps = reps.max(1);
    let mut all: Vec<&Dispatch> = Vec::with_capacity(reps * list.len());
    for _ in 0..reps {
        all.extend_from_slice(list);
    }
    let start = Instant::now();
    ctx.submit(&all);
    ctx.wait()?;
    Ok(start.elapsed().as_secs_f64() / reps as f64)
}

/// How long to time for.
#[derive(Clone, Copy, Debug)]
pub struct Budget {
    /// Seconds of repetitions to aim for.
    pub target_s: f64,
    /// At most this many repetitions.
    pub max_reps: usize,
    /// A list whose single run takes longer than this is not repeated.
    pub give_up_s: f64,
}

/// Seconds per repetition of `list`: one untimed warm-up run (pipelines, caches), one timed
/// run, then about `budget.target_s` seconds of repetitions unless one run already took
/// longer than `budget.give_up_s`.
pub fn time_for(ctx: &GpuContext, list: &[&Dispatch], budget: Budget) -> Result<f64> {
    seconds_per_run(ctx, list, 1)?;
    let once = seconds_per_run(ctx, list, 1)?;
    let reps = ((budget.target_s / once.max(1e-6)) as usize).clamp(1, budget.max_reps.max(1));
    if reps == 1 || once > budget.give_up_s {
        return Ok(once);
    }
    seconds_per_run(ctx, list, reps)
}

/// The fastest of `rounds` runs of [`time_for`]: on a shared or busy machine a run is only
/// ever slowed down by others, so the minimum is the figure that repeats.
pub fn best_of(ctx: &GpuContext, list: &[&Dispatch], rounds: usize, budget: Budget) -> Result<f64> {
    let mut best = f64::INFINITY;
    for _ in 0..rounds.max(1) {
        best = best.min(time_for(ctx, list, budget)?);
    }
    Ok(best)
}
