//! `flowgpu export-web`: a self-contained static site that explores a trained flow in a
//! browser, on the same WGSL kernels through WebGPU. It holds the page (`web/static/`), the
//! wasm build of `web/` and its JS glue (from `scripts/build-web.sh`), the model's
//! parameters with its test bits/dim, a few hundred test digits for interpolation, and the
//! kernel conformance fixtures for `conformance.html`, and the sample judge's figures at
//! each of the page's temperatures (`judge.json`).

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use crate::checkpoint;
use crate::cli::commands::{load_checkpoint, test_set, Loaded};
use crate::error::{Error, Result};
use crate::gpu::GpuContext;
use crate::judge::{Judge, JudgeTable, DEFAULT_IMAGES};
use crate::train::evaluate::evaluate;
use crate::train::gpu_data::GpuImages;
use crate::train::run::TEST_SEED;

/// The page's own files, compiled in so the binary exports without the source tree.
const STATIC_FILES: [(&str, &str); 5] = [
    ("index.html", include_str!("../../web/static/index.html")),
    ("app.js", include_str!("../../web/static/app.js")),
    ("style.css", include_str!("../../web/static/style.css")),
    (
        "conformance.html",
        include_str!("../../web/static/conformance.html"),
    ),
    (
        "conformance.js",
        include_str!("../../web/static/conformance.js"),
    ),
];

/// What `scripts/build-web.sh` writes (wasm-bindgen `--target web`).
const BUNDLE_FILES: [&str; 2] = ["flowgpu_web.js", "flowgpu_web_bg.wasm"];

/// Where `scripts/build-web.sh` puts the wasm build in this source tree.
pub fn default_bundle_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("web")
        .join("pkg")
}

pub struct ExportWeb {
    pub checkpoint: PathBuf,
    pub out: PathBuf,
    /// Test digits offered for interpolation.
    pub images: usize,
    /// The wasm build to copy; `None`: [`default_bundle_dir`].
    pub bundle: Option<PathBuf>,
    /// Judge the samples at every temperature the page offers (`judge.json`).
    pub judge: bool,
}

/// The page's temperatures (its slider: 0 to 1.5 in steps of 0.05) and its default seed.
const PAGE_TEMPERATURES: usize = 31;
const PAGE_SEED: u32 = 1;

/// The sample judge's figures for 1,000 samples at each of the page's temperatures, with
/// the page's default seed (so its first grid is the first 64 of them).
fn judge_for_page(l: &Loaded) -> Result<JudgeTable> {
    let mut log = |m: &str| eprintln!("{m}");
    let judge = Judge::open(
        l.flow.context(),
        l.opts.dataset,
        &l.opts.data_dir(),
        &mut log,
    )?;
    let temperatures: Vec<f32> = (0..PAGE_TEMPERATURES)
        .map(|i| (i as f32 * 5.0).round() / 100.0)
        .collect();
    judge.flow_table(
        &l.flow,
        l.opts.preprocess(),
        DEFAULT_IMAGES,
        &temperatures,
        PAGE_SEED,
        &mut |_| {},
    )
}

fn write(path: &Path, bytes: &[u8]) -> Result<()> {
    std::fs::write(path, bytes).map_err(|e| Error::io(path, e))
}

/// The test bits/dim of `checkpoint`: from the run's summary.json when it was measured on
/// this very checkpoint (the run's best), else measured now on the test set.
fn test_bits_per_dim(
    ctx: &Arc<GpuContext>,
    path: &Path,
    l: &crate::cli::commands::Loaded,
) -> Result<(f64, String)> {
    if let Some(bpd) = summary_bits_per_dim(path) {
        return Ok((bpd, "from the run's summary.json".into()));
    }
    eprintln!("measuring the test bits/dim of {} ...", path.display());
    let test = GpuImages::upload(ctx, &test_set(&l.opts)?, "test images")?;
    let t = evaluate(
        &l.flow,
        &test,
        l.opts.preprocess(),
        l.opts.test_draws.max(1),
        TEST_SEED,
    )?;
    Ok((
        t.bits_per_dim,
        format!("measured now on {} test images", t.images),
    ))
}

fn summary_bits_per_dim(path: &Path) -> Option<f64> {
    let summary = path.parent()?.join("summary.json");
    let json: serde_json::Value = serde_json::from_slice(&std::fs::read(summary).ok()?).ok()?;
    let best = json.pointer("/outcome/best_checkpoint")?.as_str()?;
    let same = Path::new(best).file_name()? == path.file_name()?;
    let bpd = json.pointer("/outcome/test/bits_per_dim")?.as_f64()?;
    (same && bpd.is_finite()).then_some(bpd)
}

/// Writes the site; returns its files.
pub fn export_web(ctx: Arc<GpuContext>, args: &ExportWeb) -> Result<Vec<PathBuf>> {
    let l = load_checkpoint(ctx.clone(), &args.checkpoint)?;
    let bundle = args.bundle.clone().unwrap_or_else(default_bundle_dir);
    for f in BUNDLE_FILES {
        if !bundle.join(f).is_file() {
            return Err(Error::Config(format!(
                "the browser build is missing ({} not found). Build it with scripts/build-web.sh \
                 (it installs the wasm32 target and wasm-bindgen-cli), or pass --bundle DIR",
                bundle.join(f).display()
            )));
        }
    }
    let test = test_set(&l.opts)?.take(args.images);
    if test.is_empty() {
        return Err(Error::Data("the test set is empty".into()));
    }
    if test.dim() != l.flow.config().dim {
        return Err(Error::Data(format!(
            "test images have {} pixels, the model {}",
            test.dim(),
            l.flow.config().dim
        )));
    }
    let (bpd, source) = test_bits_per_dim(&ctx, &args.checkpoint, &l)?;
    eprintln!("test bits/dim {bpd:.4} ({source})");

    let out = &args.out;
    std::fs::create_dir_all(out.join("pkg")).map_err(|e| Error::io(out, e))?;
    let mut files = Vec::new();
    for (name, text) in STATIC_FILES {
        write(&out.join(name), text.as_bytes())?;
        files.push(out.join(name));
    }
    for f in BUNDLE_FILES {
        let to = out.join("pkg").join(f);
        std::fs::copy(bundle.join(f), &to).map_err(|e| Error::io(bundle.join(f), e))?;
        files.push(to);
    }
    // The parameters only (no optimiser state), with what the page needs to know.
    let params = l.flow.read_params()?;
    let mut meta = HashMap::new();
    meta.insert(
        "preprocess".into(),
        serde_json::to_string(&l.opts.preprocess()).map_err(|e| Error::Config(e.to_string()))?,
    );
    meta.insert("test_bits_per_dim".into(), bpd.to_string());
    meta.insert("test_bits_per_dim_source".into(), source);
    meta.insert(
        "exported_from".into(),
        args.checkpoint.display().to_string(),
    );
    let model = out.join("model.safetensors");
    checkpoint::save(&model, &params, None, &meta)?;
    files.push(model);
    write(&out.join("test-images.u8"), &test.images)?;
    write(&out.join("test-labels.u8"), &test.labels)?;
    files.push(out.join("test-images.u8"));
    files.push(out.join("test-labels.u8"));
    let fixtures = serde_json::to_vec(&crate::conformance::fixtures::fixtures())
        .map_err(|e| Error::Config(e.to_string()))?;
    write(&out.join("fixtures.json"), &fixtures)?;
    files.push(out.join("fixtures.json"));
    if args.judge {
        eprintln!("judging samples at the page's {PAGE_TEMPERATURES} temperatures ...");
        let report = judge_for_page(&l)?;
        let json = serde_json::to_vec(&report).map_err(|e| Error::Report(e.to_string()))?;
        write(&out.join("judge.json"), &json)?;
        files.push(out.join("judge.json"));
    }
    Ok(files)
}
