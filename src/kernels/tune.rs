//! Autotuning of the matmul kernels: on first use of an adapter, every variant the device
//! can run is timed on each matmul shape the run will use, the fastest is chosen per shape
//! and the choice is cached on disk, keyed by adapter, driver, backend, tile sizes and
//! flowgpu version, so later runs on the same machine start at once.
//!
//! The variants compute the same sums in different orders: a choice changes results only
//! by rounding (tests/tune.rs trains with two variants and compares the losses).

use std::path::{Path, PathBuf};
use std::time::Instant;

use serde::{Deserialize, Serialize};

use crate::config::FlowConfig;
use crate::error::{Error, Result};
use crate::gpu::GpuContext;
use crate::kernels::matmul::generated::SUBGROUP_KERNELS;
use crate::kernels::matmul::{
    choice_block, choice_label, matmul_with, padded, variant_choices, Epilogue, Matmul,
};
use crate::kernels::matmul::{MatmulChoice, MatmulKind, MatmulShape, MatmulVariant};

/// `--tune`: what to do about the matmul variants before a run.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default, clap::ValueEnum)]
pub enum TuneMode {
    /// Use the cached choice for this adapter; time the shapes the cache lacks.
    #[default]
    Auto,
    /// No timing, no cache: the adapter's default variants.
    Off,
    /// Time every shape again and rewrite the cache.
    Force,
}

/// The env variable that overrides the cache directory.
pub const CACHE_ENV: &str = "FLOWGPU_CACHE_DIR";

/// Where choices are cached: `$FLOWGPU_CACHE_DIR`, else `$XDG_CACHE_HOME/flowgpu`, else
/// `~/.cache/flowgpu`, else `.flowgpu-cache` in the working directory.
pub fn default_cache_dir() -> PathBuf {
    let var = |k: &str| {
        std::env::var_os(k)
            .filter(|v| !v.is_empty())
            .map(PathBuf::from)
    };
    var(CACHE_ENV)
        .or_else(|| var("XDG_CACHE_HOME").map(|d| d.join("flowgpu")))
        .or_else(|| var("HOME").map(|d| d.join(".cache").join("flowgpu")))
        .unwrap_or_else(|| PathBuf::from(".flowgpu-cache"))
}

/// Time spent timing at most: a few seconds on a GPU, under 30 s on a CPU adapter.
pub fn default_budget(ctx: &GpuContext) -> f64 {
    if ctx.is_software() {
        25.0
    } else {
        4.0
    }
}

/// The matmul shapes a flow of this configuration runs at this batch size: for every
/// distinct linear layer, its forward, weight-gradient and input-gradient products.
pub fn flow_shapes(cfg: &FlowConfig, batch: usize) -> Vec<Matmul> {
    let mut out: Vec<Matmul> = Vec::new();
    for (n_in, n_out) in cfg.linear_shapes() {
        for mm in [
            Matmul::linear_forward(batch, n_in, n_out, true),
            Matmul::weight_grad(batch, n_in, n_out),
            Matmul::input_grad(batch, n_in, n_out, true),
        ] {
            if !out.iter().any(|o| o.shape() == mm.shape()) {
                out.push(mm);
            }
        }
    }
    out
}

/// One shape's outcome.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct TunedShape {
    pub shape: MatmulShape,
    pub variant: MatmulVariant,
    /// The generated subgroup kernel chosen (its shader name, `matmul_nn_sg_64x4`) for the
    /// subgroup variants; `None` for the others, or for the default block.
    #[serde(default)]
    pub block: Option<String>,
    /// Milliseconds per run of each timed candidate, by [`choice_label`] (empty when it was
    /// not timed).
    pub ms: Vec<(String, f64)>,
    /// The budget cut this shape's sweep short: not written to the cache.
    #[serde(skip)]
    pub partial: bool,
}

impl TunedShape {
    /// The choice this outcome stands for (a block the build no longer has is the default).
    pub fn choice(&self) -> MatmulChoice {
        MatmulChoice {
            variant: self.variant,
            block: self
                .block
                .as_deref()
                .and_then(|name| SUBGROUP_KERNELS.iter().position(|(b, _)| b.name() == name)),
        }
    }

    /// What was chosen, as a user reads it.
    pub fn label(&self) -> String {
        choice_label(self.choice(), self.shape.kind)
    }
}

/// The cache file's contents.
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
struct CacheFile {
    key: String,
    shapes: Vec<TunedShape>,
}

/// What tuning did.
#[derive(Clone, Debug, Default)]
pub struct TuneReport {
    pub shapes: Vec<TunedShape>,
    /// Shapes whose choice came from the cache.
    pub cached: usize,
    /// Shapes timed now.
    pub timed: usize,
    /// Shapes left at the default because the time budget ran out.
    pub untimed: usize,
    /// Shapes whose sweep the budget cut short: chosen among the kernels timed, not cached
    /// (the next run, with the driver's shader cache warm, sweeps them whole).
    pub partial: usize,
    pub seconds: f64,
    pub cache: Option<PathBuf>,
}

impl TuneReport {
    /// One line for the log.
    pub fn summary(&self) -> String {
        let mut counts: Vec<(String, usize)> = Vec::new();
        for s in &self.shapes {
            let label = s.label();
            match counts.iter_mut().find(|(v, _)| *v == label) {
                Some((_, n)) => *n += 1,
                None => counts.push((label, 1)),
            }
        }
        let chosen: Vec<String> = counts.iter().map(|(v, n)| format!("{v} for {n}")).collect();
        let mut budget = String::new();
        if self.partial > 0 {
            budget += &format!(", {} timed in part", self.partial);
        }
        if self.untimed > 0 {
            budget += &format!(", {} left at the default", self.untimed);
        }
        if !budget.is_empty() {
            budget += ": time budget spent";
        }
        let cache = self
            .cache
            .as_ref()
            .map(|p| format!("; cache {}", p.display()))
            .unwrap_or_default();
        format!(
            "matmul kernels: {} of {} shapes ({} from the cache, {} timed in {:.1} s{budget}){cache}",
            chosen.join(", "),
            self.shapes.len(),
            self.cached,
            self.timed,
            self.seconds,
        )
    }
}

/// What a cached choice is only valid for.
fn cache_key(ctx: &GpuContext) -> String {
    let i = ctx.info();
    format!(
        "{} | {:?} {:?} | vendor {:#x} device {:#x} | driver {} {} | tiles {:?} | flowgpu {}",
        i.name,
        i.backend,
        i.device_type,
        i.vendor,
        i.device,
        i.driver,
        i.driver_info,
        ctx.tiles(),
        env!("CARGO_PKG_VERSION")
    )
}

/// The cache file of a key (FNV-1a of the key, so the same machine finds its file).
pub fn cache_file(dir: &Path, ctx: &GpuContext) -> PathBuf {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for b in cache_key(ctx).bytes() {
        h = (h ^ b as u64).wrapping_mul(0x0100_0000_01b3);
    }
    dir.join(format!("matmul-{h:016x}.json"))
}

fn read_cache(path: &Path, key: &str) -> Vec<TunedShape> {
    // A missing, unreadable or foreign cache file is only a cache miss.
    std::fs::read_to_string(path)
        .ok()
        .and_then(|t| serde_json::from_str::<CacheFile>(&t).ok())
        .filter(|c| c.key == key)
        .map(|c| c.shapes)
        .unwrap_or_default()
}

/// The tuner's search space for one kind on this device: every variant it can run, and
/// for the subgroup variants every generated block (`TransposedSubgroup`'s blocks are the
/// NN kernel's, which runs after the transpose). The default comes first.
pub fn candidates(ctx: &GpuContext, kind: MatmulKind) -> Vec<MatmulChoice> {
    let default: MatmulChoice = ctx.matmul().defaults().get(kind).into();
    let mut out = vec![default];
    for v in MatmulVariant::ALL {
        if !(v.applies_to(kind) && v.runs_on(ctx.features(), ctx.info()) && v.fits(ctx.limits())) {
            continue;
        }
        for c in variant_choices(v, kind) {
            // The default's `block: None` is the same kernel as its first block.
            let same = |o: &MatmulChoice| {
                o.variant == c.variant && choice_block(*o, kind) == choice_block(c, kind)
            };
            if !out.iter().any(same) {
                out.push(c);
            }
        }
    }
    // A default the device cannot run (the context replaced it) is not a candidate.
    out.retain(|c| c.variant.runs_on(ctx.features(), ctx.info()) && c.variant.fits(ctx.limits()));
    out
}

/// Seconds per run of `mm` with `choice`, from runs recorded into one compute pass (as in
/// a training step): the fastest of `rounds` timings of about `target_s` seconds each. A
/// choice whose single run already takes more than `give_up` seconds is not timed further
/// (a kernel made for another kind of device).
pub fn time_choice(
    ctx: &GpuContext,
    choice: MatmulChoice,
    mm: Matmul,
    rounds: usize,
    target_s: f64,
    give_up: f64,
) -> Result<f64> {
    let [sa, sb, sc] = mm.stored_shapes();
    let t = |(r, c): (usize, usize), what| ctx.zeros(&[r * padded(c)], what);
    let (a, b, c) = (t(sa, "tune A")?, t(sb, "tune B")?, t(sc, "tune C")?);
    let aux = (mm.epilogue == Epilogue::ReluGrad)
        .then(|| t(sc, "tune aux"))
        .transpose()?;
    let d = matmul_with(ctx, choice, mm, &a, &b, &c, aux.as_ref())?;
    let budget = crate::gpu::timing::Budget {
        target_s,
        max_reps: 50,
        give_up_s: give_up,
    };
    crate::gpu::timing::best_of(ctx, &[&d], rounds, budget)
}

/// Candidates the refinement times again after the coarse sweep...
const REFINE: usize = 3;
/// ... in this many interleaved rounds, so that a slow moment of the machine does not
/// decide.
const REFINE_ROUNDS: usize = 3;

/// Chooses a kernel for each shape, records the choices in `ctx` (dispatches made
/// afterwards use them) and returns what it did. Per shape: a coarse sweep over the whole
/// search space ([`candidates`]), short runs, a candidate far slower than the best so far
/// dropped after one run; then the best `REFINE` (3) and the default timed again in
/// `REFINE_ROUNDS` (3) interleaved rounds, each candidate's fastest timing kept; the
/// fastest is chosen if it beats the default by [`MIN_GAIN`], else the default.
/// `cache_dir: None` neither reads nor writes a cache.
pub fn tune(
    ctx: &GpuContext,
    shapes: &[Matmul],
    mode: TuneMode,
    cache_dir: Option<&Path>,
    budget_s: f64,
) -> Result<TuneReport> {
    let start = Instant::now();
    let mut report = TuneReport::default();
    if mode == TuneMode::Off {
        return Ok(report);
    }
    let key = cache_key(ctx);
    let path = cache_dir.map(|d| cache_file(d, ctx));
    // Read once: reused for this run in `Auto`, and kept for other shapes when rewriting.
    let on_disk = path
        .as_deref()
        .map(|p| read_cache(p, &key))
        .unwrap_or_default();
    let cached: &[TunedShape] = if mode == TuneMode::Auto {
        &on_disk
    } else {
        &[]
    };
    for &mm in shapes {
        let shape = mm.shape();
        if let Some(hit) = cached.iter().find(|c| c.shape == shape) {
            report.shapes.push(hit.clone());
            report.cached += 1;
            continue;
        }
        let space = candidates(ctx, mm.kind);
        if space.len() < 2 || start.elapsed().as_secs_f64() > budget_s {
            report.untimed += (space.len() >= 2) as usize;
            let c = ctx.matmul().choice(shape);
            report.shapes.push(tuned(shape, c, Vec::new()));
            continue;
        }
        let mut ms: Vec<(MatmulChoice, f64)> = Vec::new();
        let mut whole = true;
        for &c in &space {
            // A kernel's first run includes its compilation (seconds for the largest
            // blocks on Mesa 25's lavapipe), so the budget is also checked per candidate;
            // the default (first) is always timed.
            if !ms.is_empty() && start.elapsed().as_secs_f64() > budget_s {
                report.partial += 1;
                whole = false;
                break;
            }
            let best = ms.iter().map(|m| m.1).fold(f64::INFINITY, f64::min);
            ms.push((c, time_choice(ctx, c, mm, 1, 0.02, 3e-3 * best)? * 1e3));
        }
        let mut order: Vec<usize> = (0..ms.len()).collect();
        order.sort_by(|&i, &j| ms[i].1.total_cmp(&ms[j].1));
        // The default (first in `space`) is always refined too: it is what a choice must beat.
        let mut refine: Vec<usize> = order.iter().copied().take(REFINE).collect();
        if !refine.contains(&0) {
            refine.push(0);
        }
        for _ in 0..REFINE_ROUNDS {
            for &i in &refine {
                let again = time_choice(ctx, ms[i].0, mm, 1, 0.03, f64::INFINITY)? * 1e3;
                ms[i].1 = ms[i].1.min(again);
            }
        }
        report.timed += 1;
        let best = choose(&ms);
        let labelled = ms
            .iter()
            .map(|&(c, t)| (choice_label(c, mm.kind), t))
            .collect();
        let mut t = tuned(shape, best, labelled);
        t.partial = !whole;
        report.shapes.push(t);
    }
    let choices: Vec<_> = report
        .shapes
        .iter()
        .map(|s| (s.shape, s.choice()))
        .collect();
    ctx.matmul().set(&choices)?;
    if let (Some(p), true) = (&path, report.timed > 0) {
        // Keep what the cache knew about other shapes (another batch size, another model).
        let mut all = on_disk;
        all.retain(|c| !report.shapes.iter().any(|s| s.shape == c.shape));
        all.extend(
            report
                .shapes
                .iter()
                .filter(|s| !s.ms.is_empty() && !s.partial)
                .cloned(),
        );
        let text = serde_json::to_string_pretty(&CacheFile {
            key: key.clone(),
            shapes: all,
        })
        .map_err(|e| Error::Gpu(format!("encoding the tuning cache: {e}")))?;
        // The cache only saves time: a run whose cache cannot be written still trains.
        if let Err(e) = crate::atomic_write::write_atomic(p, text.as_bytes()) {
            eprintln!("warning: matmul choices not cached ({e}); the next run times them again");
        }
    }
    report.cache = path;
    report.seconds = start.elapsed().as_secs_f64();
    Ok(report)
}

/// A kernel must beat the default by this fraction to replace it: on a CPU adapter the
/// generated blocks often lie within the timing noise of each other, and a kernel's speed
/// alone predicts its speed inside a step only roughly, so a near tie keeps the default.
/// 5%: with Mesa 25 the best of three interleaved timings orders the blocks the same way
/// run after run, and gains of 5-13% (the weight gradient's 32-row blocks, whose padding of
/// the bias row wastes less; NT 64x4) recur on every shape, which 10% threw away.
pub const MIN_GAIN: f64 = 0.05;

/// The fastest of `ms` (milliseconds per candidate, the default first), unless it is within
/// [`MIN_GAIN`] of the default.
fn choose(ms: &[(MatmulChoice, f64)]) -> MatmulChoice {
    let Some(&(default, default_ms)) = ms.first() else {
        return MatmulVariant::Tiled.into();
    };
    let (best, best_ms) = ms
        .iter()
        .copied()
        .min_by(|a, b| a.1.total_cmp(&b.1))
        .unwrap_or((default, default_ms));
    if best_ms < default_ms * (1.0 - MIN_GAIN) {
        best
    } else {
        default
    }
}

/// The outcome for `shape`: `choice` with its block by name.
fn tuned(shape: MatmulShape, choice: MatmulChoice, ms: Vec<(String, f64)>) -> TunedShape {
    TunedShape {
        shape,
        variant: choice.variant,
        block: choice
            .block
            .and_then(|i| SUBGROUP_KERNELS.get(i))
            .map(|(b, _)| b.name()),
        ms,
        partial: false,
    }
}
