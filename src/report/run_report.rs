//! Everything a finished run shows a person, from its checkpoint and metrics: the curves, the
//! sample grids at T = 1.0 and 0.7, the 10 x 5 layer-by-layer grid, the interpolations, and
//! `report.md` / `report.html` tying them together with the run's own numbers. This file
//! gathers the inputs (settings as tables, captions, the test likelihood, sample saturation
//! per temperature); [`crate::report::document`] and [`crate::report::discussion`] turn them
//! into text.

use std::path::PathBuf;

use crate::data::ImageSet;
use crate::error::Result;
use crate::model::images::GpuImages;
use crate::model::likelihood::{nats_per_image, nats_to_bpd};
use crate::model::Flow;
use crate::report::document::{
    write_report, Figure, FigureSection, ReportInputs, SampleSaturation,
};
use crate::report::figures::{interpolation_grid, layers_grid, sample_grid};
use crate::report::judged;
use crate::report::metrics::read_metrics_csv;
use crate::report::notebook::NotebookCheck;
use crate::report::plot::plot_curves;
use crate::train::evaluate::Likelihood;
use crate::train::options::describe_checkpoints;
use crate::train::run::{describe_model, TrainOptions, TrainState};

/// Inputs of [`write_run_report`].
pub struct RunReport<'a> {
    pub flow: &'a Flow,
    pub opts: &'a TrainOptions,
    pub state: &'a TrainState,
    pub test: Option<Likelihood>,
    pub test_set: &'a ImageSet,
    pub pairs: Vec<(usize, usize)>,
    pub adapter: String,
    pub samples_per_s: Option<f64>,
    pub scale: usize,
    pub seed: u32,
    /// Whether the sample judge ([`crate::judge`]) measures the samples; it is trained
    /// (about two minutes on two CPU cores) the first time a data set needs it.
    pub judge: bool,
    /// The checkpoint `flow` was loaded from, for the notebook to read (default: the run's
    /// `best.safetensors`).
    pub checkpoint: Option<&'a std::path::Path>,
}

/// The temperatures of the report's sample grids and judged samples.
pub const SAMPLE_TEMPERATURES: [f32; 2] = [1.0, 0.7];

/// Share of pixels that are nearly black or white (below 0.1 or above 0.9): how clean a set
/// of samples looks. The discussion compares it across temperatures.
fn saturated_share(images: &[Vec<f32>]) -> f64 {
    let (mut n, mut s) = (0usize, 0usize);
    for img in images {
        for &v in img {
            n += 1;
            s += (!(0.1..=0.9).contains(&v)) as usize;
        }
    }
    s as f64 / n.max(1) as f64
}

fn kv(k: &str, v: impl ToString) -> (String, String) {
    (k.to_string(), v.to_string())
}

/// Writes every figure and the report into the run directory; returns the files written.
/// `log` gets the judge's progress (its training, the first time).
pub fn write_run_report(r: &RunReport<'_>, log: &mut dyn FnMut(&str)) -> Result<Vec<PathBuf>> {
    let dir = r.opts.run_dir();
    let pre = r.opts.preprocess();
    let cfg = r.flow.config();
    let mut written = Vec::new();
    let mut figures = Vec::new();
    let file = |name: &str| -> PathBuf { dir.join(name) };

    let metrics = read_metrics_csv(&file("metrics.csv"))?;
    plot_curves(
        &metrics,
        &file("curves.png"),
        &format!(
            "{}: bits/dim on {}",
            r.opts.run_name,
            r.opts.dataset.title()
        ),
    )?;
    written.push(file("curves.png"));
    figures.push(Figure {
        file: "curves.png".into(),
        title: "Training and validation bits/dim".into(),
        caption: "Train bits/dim per logging interval (thin), per epoch, and validation bits/dim after each epoch (fixed dequantization noise).".into(),
        section: FigureSection::Curves,
    });

    let mut samples = Vec::new();
    for t in SAMPLE_TEMPERATURES {
        let name = format!("samples_t{t:.1}.png");
        let images = sample_grid(r.flow, pre, 8, 8, t, r.seed, r.scale, &file(&name))?;
        samples.push(SampleSaturation {
            temperature: t,
            share: saturated_share(&images),
        });
        written.push(file(&name));
        figures.push(Figure {
            file: name,
            title: format!("64 samples at temperature T = {t:.1}"),
            caption: format!("x = f^-1(z), z ~ N(0, {t:.1}^2 I), seed {}.", r.seed),
            section: FigureSection::Samples,
        });
    }

    // A judge that cannot run (no data, a damaged cache) is reported, not fatal: the
    // figures and the likelihood stand without it.
    let judge = r.judge.then(|| {
        judged::judge_run(r.flow, r.opts, &SAMPLE_TEMPERATURES, r.seed, log)
            .map_err(|e| e.to_string())
    });
    match &judge {
        Some(Ok(j)) => {
            judged::record(&dir, j)?;
            written.push(dir.join("judge.json"));
        }
        Some(Err(e)) => log(&format!("warning: the sample judge did not run: {e}")),
        None => {}
    }

    let rows = 10;
    layers_grid(
        r.flow,
        pre,
        rows,
        r.seed.wrapping_add(1),
        r.scale,
        &file("layers.png"),
    )?;
    written.push(file("layers.png"));
    figures.push(Figure {
        file: "layers.png".into(),
        title: format!("From z to x, layer by layer ({rows} x {})", cfg.layers + 1),
        caption: format!(
            "Each row is one z ~ N(0, I). Column 1 is z, columns 2 to {} the state after undoing layers {} to 1 (the sampling direction), the last column the sample x. Every column is mapped to pixels the same way: {}, clamped to [0, 1].",
            cfg.layers + 1,
            cfg.layers,
            match pre.logit_alpha {
                Some(a) => format!("v = (sigmoid(y) - a) / (1 - 2a) with a = {a}"),
                None => "v = y".to_string(),
            }
        ),
        section: FigureSection::Layers,
    });

    let steps = 10;
    let interp = interpolation_grid(
        r.flow,
        pre,
        r.test_set,
        &r.pairs,
        steps,
        r.scale,
        &file("interpolations.png"),
    )?;
    written.push(file("interpolations.png"));
    let described: Vec<String> = interp
        .pairs
        .iter()
        .zip(&interp.labels)
        .map(|(&(i, j), &(a, b))| format!("test #{i} (a {a}) to #{j} (a {b})"))
        .collect();
    figures.push(Figure {
        file: "interpolations.png".into(),
        title: format!("Latent interpolations, {} pairs x {steps} steps", r.pairs.len()),
        caption: format!(
            "Rows: {}. z1 = f(x1), z2 = f(x2) (bin-centre dequantization), then {steps} points on the line from z1 to z2, ends included, each decoded by f^-1. The originals stand left and right, set apart.",
            described.join("; ")
        ),
        section: FigureSection::Interpolations,
    });

    let o = r.opts;
    let mut training = vec![
        kv("epochs", format!("{} run of {}", r.state.epoch, o.epochs)),
        kv("optimizer steps", r.state.step),
        kv("batch size", o.batch),
        kv(
            "learning rate",
            format!(
                "{:e}, {:?} decay to {} x, {} warm-up steps",
                o.lr, o.decay, o.final_lr_fraction, o.warmup_steps
            )
            .to_lowercase(),
        ),
        kv(
            "Adam",
            format!(
                "beta1 {}, beta2 {}, eps {:e}",
                o.adam.beta1, o.adam.beta2, o.adam.eps
            ),
        ),
        kv(
            "gradient clipping",
            o.adam
                .clip_norm
                .map_or("off".to_string(), |c| format!("global L2 norm {c}")),
        ),
        kv(
            "weight average",
            o.ema.map_or("off".to_string(), |d| {
                format!("EMA, decay {d}: validation, test and samples use the average")
            }),
        ),
        kv("seed", o.seed),
        kv("checkpoints", describe_checkpoints(o.checkpoint_every_s)),
        kv(
            "best epoch (validation)",
            r.state.best_epoch.map_or("-".into(), |e| e.to_string()),
        ),
    ];
    if let Some(s) = r.samples_per_s {
        training.push(kv("throughput", format!("{s:.0} training samples/s")));
    }
    let inputs = ReportInputs {
        run_name: o.run_name.clone(),
        model: vec![
            kv("flow", describe_model(cfg)),
            kv("dimension D", cfg.dim),
            kv(
                "conditioner",
                format!(
                    "{} -> {h} -> {h} -> {h} -> {h} -> {}, ReLU between",
                    cfg.half(),
                    cfg.mlp_out(),
                    h = cfg.hidden
                ),
            ),
            kv(
                "affine scale bound",
                format!("s = {c} tanh(raw / {c})", c = cfg.scale_bound),
            ),
            kv("per-layer scale", "x * exp(s_i), s_i a learned D-vector"),
            kv("prior", "N(0, I)"),
            kv("parameters", cfg.num_params()),
        ],
        data: vec![
            kv("dataset", o.dataset.title()),
            kv(
                "dequantization",
                "v = (pixel + u) / 256, u ~ U[0, 1), fresh every epoch",
            ),
            kv(
                "representation",
                o.logit_alpha.map_or("v in [0, 1)".to_string(), |a| {
                    format!("y = logit({a} + (1 - 2 x {a}) v)")
                }),
            ),
            kv(
                "splits",
                "first 50,000 training images train, last 10,000 validate, 10,000 t10k images test"
                    .to_string(),
            ),
            kv(
                "likelihood",
                "bits/dim = -(log p(y) + log|dy/dv| - D ln 256) / (D ln 2)",
            ),
        ],
        training,
        hardware: r.adapter.clone(),
        wall_time_s: r.state.elapsed_s,
        test: r.test,
        metrics,
        figures,
        samples,
        judge,
        notebook: Some(notebook_check(r, &dir)?),
    };
    written.extend(write_report(&dir, &inputs)?);
    Ok(written)
}

/// Test images the notebook recomputes.
pub const NOTEBOOK_IMAGES: usize = 300;

/// flowgpu's bits/dim of the first [`NOTEBOOK_IMAGES`] test images at the bin centres, for
/// the notebook to compare its NumPy flow with.
fn notebook_check(r: &RunReport<'_>, run_dir: &std::path::Path) -> Result<NotebookCheck> {
    let ctx = r.flow.context();
    let dim = r.flow.config().dim;
    let n = NOTEBOOK_IMAGES.min(r.test_set.len());
    let images =
        GpuImages::from_pixels(ctx, &r.test_set.images[..n * dim], dim, "notebook images")?;
    let (x, pre_logdet) = images.dequantized_with_logdet(ctx, r.opts.preprocess(), None)?;
    let log_p = r.flow.log_likelihood(&x)?;
    let got = ctx.read_many(&[&log_p, &pre_logdet])?;
    let nats: f64 = got[0]
        .iter()
        .zip(&got[1])
        .map(|(&lp, &pl)| nats_per_image(lp as f64, pl as f64, dim))
        .sum::<f64>()
        / n.max(1) as f64;
    let data_dir = r.opts.data_dir();
    let data_dir = std::path::absolute(&data_dir).unwrap_or(data_dir);
    // Beside the notebook by its name, elsewhere by its absolute path.
    let checkpoint = match r.checkpoint {
        Some(p)
            if p.parent().and_then(|d| d.canonicalize().ok()) == run_dir.canonicalize().ok() =>
        {
            p.file_name().map_or("best.safetensors".into(), |f| {
                f.to_string_lossy().into_owned()
            })
        }
        Some(p) => std::path::absolute(p)
            .unwrap_or_else(|_| p.to_path_buf())
            .display()
            .to_string(),
        None => "best.safetensors".to_string(),
    };
    Ok(NotebookCheck {
        checkpoint,
        data_dir: data_dir.display().to_string(),
        images: n,
        bits_per_dim: Some(nats_to_bpd(nats, dim)),
    })
}
