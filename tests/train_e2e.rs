//! End to end: a tiny flow trained for a few hundred steps on a small subset of real MNIST
//! (when `data/mnist` holds it) or of generated stroke images (when it does not; the test
//! prints which) must lower the validation bits/dim well below the untrained flow's; its
//! checkpoint must reload to the same log-likelihood bit for bit; and a run stopped and
//! resumed must continue with exactly the losses of an uninterrupted run.

mod common;

use std::path::{Path, PathBuf};
use std::sync::atomic::AtomicBool;

use common::context;
use common::strokes::data_dir;
use flowgpu::checkpoint;
use flowgpu::config::{AdamConfig, FlowConfig};
use flowgpu::data::DatasetName;
use flowgpu::report::figures::pairs_by_label;
use flowgpu::report::metrics::{read_metrics_csv, MetricKind};
use flowgpu::report::run_report::{write_run_report, RunReport};
use flowgpu::train::evaluate::evaluate;
use flowgpu::train::gpu_data::GpuImages;
use flowgpu::train::options::NanPolicy;
use flowgpu::train::run::{
    checkpoint_run_info, initial_params, train, TrainOptions, BEST, LAST, VALID_SEED,
};
use flowgpu::train::schedule::DecayKind;
use flowgpu::{Flow, FlowParams};

fn scratch(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("flowgpu-e2e-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).expect("temp dir");
    dir
}

fn options(runs: &Path, data: &Path, name: &str) -> TrainOptions {
    TrainOptions {
        run_name: name.into(),
        runs_dir: runs.to_path_buf(),
        dataset: DatasetName::Mnist,
        data_dir: Some(data.to_path_buf()),
        flow: FlowConfig {
            hidden: 24,
            ..FlowConfig::default()
        },
        logit_alpha: Some(0.05),
        epochs: 8,
        batch: 32,
        lr: 2e-3,
        decay: DecayKind::Cosine,
        final_lr_fraction: 0.1,
        warmup_steps: 20,
        adam: AdamConfig::default(),
        seed: 3,
        log_every: 1,
        test_draws: 1,
        train_limit: Some(1024),
        valid_limit: Some(250),
        test_limit: Some(250),
        max_steps: None,
        progress: false,
        data_init: true,
        checkpoint_every_s: 0.0,
        on_nan: NanPolicy::Stop,
        ema: None,
    }
}

#[test]
fn training_lowers_validation_bpd_and_checkpoints_reload_exactly() {
    let dir = scratch("train");
    let data = data_dir(&dir);
    let ctx = context();
    let opts = options(&dir, &data, "tiny");
    let stop = AtomicBool::new(false);
    let mut quiet = |_: &str| {};

    // The untrained flow (its data-dependent start) on the same validation images.
    let splits = flowgpu::train::run::load_data(&opts, &mut quiet).expect("data");
    let valid = GpuImages::upload(&ctx, &splits.valid, "valid").expect("upload");
    let start = initial_params(&ctx, &opts, &splits.train).expect("initial parameters");
    let untrained = Flow::new(ctx.clone(), &start).expect("flow");
    let before = evaluate(&untrained, &valid, opts.preprocess(), 1, VALID_SEED)
        .expect("eval")
        .bits_per_dim;

    let outcome = train(ctx.clone(), &opts, None, &stop, &mut quiet).expect("training runs");
    assert_eq!(outcome.state.step, 8 * 32, "8 epochs of 32 steps");
    let rows = read_metrics_csv(&dir.join("tiny/metrics.csv")).expect("metrics");
    let valid_rows: Vec<f64> = rows
        .iter()
        .filter(|r| r.kind == MetricKind::Valid)
        .map(|r| r.bits_per_dim)
        .collect();
    let best = valid_rows.iter().copied().fold(f64::INFINITY, f64::min);
    eprintln!("validation bits/dim: untrained {before:.3}, per epoch {valid_rows:.3?}");
    // Stated margin: at least 1 bit/dim below the untrained flow after 256 steps.
    assert!(
        best < before - 1.0,
        "validation {best:.3} is not 1 bit/dim below the untrained {before:.3}"
    );
    assert!(outcome.test.expect("test result").bits_per_dim.is_finite());

    // The best checkpoint reloads to exactly the validation number it was kept for.
    let ck = checkpoint::load(&dir.join("tiny").join(BEST), false).expect("best checkpoint");
    let reloaded = Flow::new(ctx.clone(), ck.params.as_ref().expect("params")).expect("flow");
    let again = evaluate(&reloaded, &valid, opts.preprocess(), 1, VALID_SEED)
        .expect("eval")
        .bits_per_dim;
    assert_eq!(
        again, best,
        "reloaded checkpoint gives the same validation bits/dim bit for bit"
    );

    // The run's report: every figure it lists exists, and it carries the test result.
    let (run_opts, state) = checkpoint_run_info(&ck.meta).expect("run info in the checkpoint");
    let pairs = pairs_by_label(&splits.test, &[(1, 2), (2, 1), (1, 1)])
        .unwrap_or_else(|_| vec![(0, 1), (2, 3), (4, 5)]);
    let files = write_run_report(
        &RunReport {
            flow: &reloaded,
            opts: &run_opts,
            state: &state,
            test: outcome.test,
            test_set: &splits.test,
            pairs,
            adapter: ctx.describe(),
            samples_per_s: Some(outcome.samples_per_s),
            scale: 1,
            seed: 1,
            judge: true,
            checkpoint: Some(&dir.join("tiny").join(BEST)),
        },
        &mut |l| eprintln!("{l}"),
    )
    .expect("report");
    let md = std::fs::read_to_string(dir.join("tiny/report.md")).expect("report.md");
    for name in [
        "curves.png",
        "samples_t1.0.png",
        "samples_t0.7.png",
        "layers.png",
        "interpolations.png",
    ] {
        assert!(md.contains(name), "report.md lists {name}");
        assert!(dir.join("tiny").join(name).is_file(), "{name} exists");
    }
    assert!(files.iter().all(|f| f.is_file()));
    assert!(md.contains("bits/dim"));
    assert!(std::fs::read_to_string(dir.join("tiny/report.html"))
        .expect("html")
        .contains("data:image/png;base64,"));

    // The judge's table is in the report and its figures in summary.json and judge.json.
    assert!(md.contains("| samples, T = 0.7 |"), "{md}");
    let judge: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(dir.join("tiny/judge.json")).expect("judge.json"),
    )
    .expect("json");
    assert_eq!(judge["sets"].as_array().map(Vec::len), Some(4));

    // The notebook: valid nbformat 4 whose code cells, run by plain Python, rebuild the flow
    // from best.safetensors and match flowgpu's bits/dim to 1e-3.
    let out = run_notebook(&dir.join("tiny"));
    assert!(out.contains("the NumPy flow matches flowgpu"), "{out}");
}

/// Runs the code cells of `report.ipynb` in `run_dir` in order, in one Python process (as
/// Jupyter's kernel would), after validating it with nbformat where that is installed.
fn run_notebook(run_dir: &std::path::Path) -> String {
    let script = r#"
import json, sys
nb = json.load(open("report.ipynb"))
assert nb["nbformat"] == 4, nb["nbformat"]
try:
    import nbformat
    nbformat.validate(nbformat.reads(json.dumps(nb), as_version=4))
    print("nbformat: valid")
except ImportError:
    print("nbformat is not installed: structure checked by hand")
    for c in nb["cells"]:
        assert c["cell_type"] in ("markdown", "code") and isinstance(c["source"], list)
code = [c for c in nb["cells"] if c["cell_type"] == "code"]
assert len(code) >= 3, len(code)
scope = {"__name__": "__main__"}
for c in code:
    exec(compile("".join(c["source"]), "report.ipynb", "exec"), scope)
"#;
    let out = std::process::Command::new("python3")
        .arg("-c")
        .arg(script)
        .current_dir(run_dir)
        .output()
        .expect("python3 runs (the notebook test needs Python 3 with NumPy: pip install numpy)");
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        out.status.success(),
        "the notebook's cells failed (they need NumPy: pip install numpy):\n{text}"
    );
    text
}

#[test]
fn a_resumed_run_continues_exactly_like_an_uninterrupted_one() {
    let dir = scratch("resume");
    let data = data_dir(&dir);
    let ctx = context();
    let stop = AtomicBool::new(false);
    let mut quiet = |_: &str| {};
    // 45 steps cross the first epoch boundary (32 steps per epoch) after the interruption.
    let total = 45;
    let mut straight = options(&dir, &data, "straight");
    straight.max_steps = Some(total);
    train(ctx.clone(), &straight, None, &stop, &mut quiet).expect("uninterrupted run");

    let mut first = options(&dir, &data, "resumed");
    first.max_steps = Some(20);
    let out = train(ctx.clone(), &first, None, &stop, &mut quiet).expect("first part");
    assert!(out.interrupted);
    let mut rest = first.clone();
    rest.max_steps = Some(total);
    train(
        ctx.clone(),
        &rest,
        Some(&dir.join("resumed").join(LAST)),
        &stop,
        &mut quiet,
    )
    .expect("resumed part");

    let losses = |name: &str| -> Vec<(u64, f64)> {
        read_metrics_csv(&dir.join(name).join("metrics.csv"))
            .expect("metrics")
            .into_iter()
            .filter(|r| r.kind != MetricKind::TrainStep || r.step > 0)
            .map(|r| (r.step, r.bits_per_dim))
            .collect()
    };
    let (a, b) = (losses("straight"), losses("resumed"));
    assert_eq!(a.len(), b.len(), "same rows: {a:?} vs {b:?}");
    for (x, y) in a.iter().zip(&b) {
        assert_eq!(x, y, "step {} differs after resuming", x.0);
    }
}

#[test]
fn broken_checkpoints_are_clear_errors() {
    let dir = scratch("ck");
    let cfg = FlowConfig {
        dim: 8,
        hidden: 4,
        ..FlowConfig::default()
    };
    let p = FlowParams::random(&cfg, 1, 1.0);
    let path = dir.join("a.safetensors");
    checkpoint::save(&path, &p, None, &Default::default()).expect("save");
    let temporaries: Vec<_> = std::fs::read_dir(&dir)
        .expect("list the folder")
        .flatten()
        .filter(|e| e.file_name().to_string_lossy().ends_with(".tmp"))
        .map(|e| e.file_name())
        .collect();
    assert!(
        temporaries.is_empty(),
        "the temporary file is renamed away: {temporaries:?}"
    );
    let back = checkpoint::load(&path, false).expect("load");
    assert_eq!(back.params.expect("params"), p, "save then load is exact");
    let err = checkpoint::load(&path, true).expect_err("no Adam moments saved");
    assert!(err.to_string().contains("adam.m."), "{err}");

    std::fs::write(dir.join("junk.safetensors"), b"not a checkpoint").expect("write");
    let err = checkpoint::load(&dir.join("junk.safetensors"), false).expect_err("junk");
    assert!(err.to_string().contains("not a safetensors file"), "{err}");
    let err = checkpoint::load(&dir.join("missing.safetensors"), false).expect_err("missing");
    assert!(err.to_string().contains("missing.safetensors"), "{err}");
}

#[test]
fn a_weight_average_is_validated_saved_as_best_and_resumed_exactly() {
    let dir = scratch("ema");
    let data = data_dir(&dir);
    let ctx = context();
    let stop = AtomicBool::new(false);
    let mut quiet = |_: &str| {};
    let with_ema = |name: &str| TrainOptions {
        ema: Some(0.9),
        ..options(&dir, &data, name)
    };

    // One whole epoch (32 steps): best is the average, last the raw weights and the average.
    let mut one = with_ema("one");
    one.epochs = 1;
    let out = train(ctx.clone(), &one, None, &stop, &mut quiet).expect("run");
    assert!(!out.interrupted);
    let best = checkpoint::load(&dir.join("one").join(BEST), false).expect("best");
    let last = checkpoint::load(&dir.join("one").join(LAST), true).expect("last");
    let average = last.ema.expect("last.safetensors keeps the average");
    assert_eq!(best.params.as_ref(), Some(&average), "best is the average");
    assert_ne!(
        last.params.as_ref(),
        Some(&average),
        "last keeps the raw weights"
    );
    // The validation row is the average's: evaluating best gives it back bit for bit.
    let flow = Flow::new(ctx.clone(), best.params.as_ref().expect("params")).expect("flow");
    let splits = flowgpu::train::start::load_data(&one, &mut quiet).expect("data");
    let valid = GpuImages::upload(&ctx, &splits.valid, "valid").expect("upload");
    let again = evaluate(&flow, &valid, one.preprocess(), 1, VALID_SEED).expect("eval");
    let rows = read_metrics_csv(&dir.join("one").join("metrics.csv")).expect("metrics");
    let logged = rows
        .iter()
        .rev()
        .find(|r| r.kind == MetricKind::Valid)
        .expect("a validation row");
    assert_eq!(logged.bits_per_dim, again.bits_per_dim);

    // Stopped at step 20 and resumed to 45, the average is the uninterrupted run's.
    let mut straight = with_ema("ema-straight");
    straight.max_steps = Some(45);
    train(ctx.clone(), &straight, None, &stop, &mut quiet).expect("uninterrupted run");
    let mut first = with_ema("ema-resumed");
    first.max_steps = Some(20);
    train(ctx.clone(), &first, None, &stop, &mut quiet).expect("first part");
    let mut rest = first.clone();
    rest.max_steps = Some(45);
    train(
        ctx.clone(),
        &rest,
        Some(&dir.join("ema-resumed").join(LAST)),
        &stop,
        &mut quiet,
    )
    .expect("resumed part");
    let avg = |name: &str| {
        checkpoint::load(&dir.join(name).join(LAST), true)
            .expect("last")
            .ema
            .expect("average")
    };
    assert_eq!(avg("ema-straight"), avg("ema-resumed"));
}

#[test]
fn the_weight_average_warms_up_to_its_decay() {
    use flowgpu::kernels::optimizer::ema_decay_at;
    assert_eq!(ema_decay_at(0.999, 1), 2.0 / 11.0);
    assert!(ema_decay_at(0.999, 100) < 0.92);
    assert_eq!(ema_decay_at(0.999, 100_000), 0.999);
    assert_eq!(ema_decay_at(0.5, 3), 4.0 / 13.0);
    assert_eq!(ema_decay_at(0.5, 20), 0.5);
}
