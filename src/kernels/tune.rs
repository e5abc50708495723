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
use crate::gpu::tiles::{MatmulShape, MatmulVariant};
use crate::gpu::GpuContext;
use crate::kernels::matmul::{matmul_with, padded, Epilogue, Matmul};

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
    /// Milliseconds per run of each timed variant (empty when it was not timed).
    pub ms: Vec<(MatmulVariant, f64)>,
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
    pub seconds: f64,
    pub cache: Option<PathBuf>,
}

impl TuneReport {
    /// One line for the log.
    pub fn summary(&self) -> String {
        let mut counts: Vec<(MatmulVariant, usize)> = Vec::new();
        for s in &self.shapes {
            match counts.iter_mut().find(|(v, _)| *v == s.variant) {
                Some((_, n)) => *n += 1,
                None => counts.push((s.variant, 1)),
            }
        }
        let chosen: Vec<String> = counts
            .iter()
            .map(|(v, n)| format!("{v:?} for {n}"))
            .collect();
        let budget = if self.untimed > 0 {
            format!(", {} left at the default: time budget spent", self.untimed)
        } else {
            String::new()
        };
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

/// Seconds per run of `mm` with `variant`, from runs recorded into one compute pass (as in
/// a training step). A variant whose single run already takes more than `give_up` seconds
/// is not timed further (a kernel made for another kind of device).
pub fn time_variant(
    ctx: &GpuContext,
    variant: MatmulVariant,
    mm: Matmul,
    give_up: f64,
) -> Result<f64> {
    let [sa, sb, sc] = mm.stored_shapes();
    let t = |(r, c): (usize, usize), what| ctx.zeros(&[r * padded(c)], what);
    let (a, b, c) = (t(sa, "tune A")?, t(sb, "tune B")?, t(sc, "tune C")?);
    let aux = (mm.epilogue == Epilogue::ReluGrad)
        .then(|| t(sc, "tune aux"))
        .transpose()?;
    let d = matmul_with(ctx, variant, mm, &a, &b, &c, aux.as_ref())?;
    crate::gpu::timing::time_for(
        ctx,
        &[&d],
        crate::gpu::timing::Budget {
            target_s: 0.05,
            max_reps: 50,
            give_up_s: give_up,
        },
    )
}

/// Chooses a variant for each shape, records the choices in `ctx` (dispatches made
/// afterwards use them) and returns what it did. `cache_dir: None` neither reads nor
/// writes a cache.
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
    let candidates: Vec<MatmulVariant> = MatmulVariant::ALL
        .into_iter()
        .filter(|v| v.runs_on(ctx.features(), ctx.info()) && v.fits(ctx.limits()))
        .collect();
    for &mm in shapes {
        let shape = mm.shape();
        if let Some(hit) = cached.iter().find(|c| c.shape == shape) {
            report.shapes.push(hit.clone());
            report.cached += 1;
            continue;
        }
        let choices = candidates.iter().filter(|v| v.applies_to(mm.kind)).count();
        if choices < 2 || start.elapsed().as_secs_f64() > budget_s {
            report.untimed += (choices >= 2) as usize;
            report.shapes.push(TunedShape {
                shape,
                variant: ctx.matmul_variant(shape),
                ms: Vec::new(),
            });
            continue;
        }
        // The default first, so a far slower variant is dropped after one timed run.
        let default = ctx.matmul_variant(shape);
        let mut order: Vec<MatmulVariant> = candidates
            .iter()
            .copied()
            .filter(|v| v.applies_to(mm.kind))
            .collect();
        order.sort_by_key(|&v| v != default);
        let mut ms: Vec<(MatmulVariant, f64)> = Vec::new();
        for v in order {
            let best = ms.iter().map(|m| m.1).fold(f64::INFINITY, f64::min);
            ms.push((v, time_variant(ctx, v, mm, 3e-3 * best)? * 1e3));
        }
        report.timed += 1;
        let best = ms
            .iter()
            .min_by(|a, b| a.1.total_cmp(&b.1))
            .map(|&(v, _)| v)
            .unwrap_or(MatmulVariant::Tiled);
        report.shapes.push(TunedShape {
            shape,
            variant: best,
            ms,
        });
    }
    let choices: Vec<_> = report.shapes.iter().map(|s| (s.shape, s.variant)).collect();
    ctx.set_matmul_choices(&choices)?;
    if let (Some(p), true) = (&path, report.timed > 0) {
        // Keep what the cache knew about other shapes (another batch size, another model).
        let mut all = on_disk;
        all.retain(|c| !report.shapes.iter().any(|s| s.shape == c.shape));
        all.extend(report.shapes.iter().filter(|s| !s.ms.is_empty()).cloned());
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
