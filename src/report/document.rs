//! The report as a document: what a run hands in ([`ReportInputs`]: settings, the test
//! likelihood, metrics, figures, sample measurements), the list of blocks built from it
//! (headings, paragraphs, tables, figures) and [`write_report`], which renders that one list
//! as `report.md` ([`super::markdown`]) and `report.html` ([`super::html`]) so that both
//! carry the same content. The discussion's sentences come from [`super::discussion`]; the
//! figure captions appear once, under their figures, and nowhere else.

use std::collections::BTreeMap;
use std::path::{Component, Path, PathBuf};

use super::discussion::{discuss, discuss_judge, discuss_temperature, per_epoch};
use super::html::render_html;
use super::markdown::render_markdown;
use super::metrics::{MetricKind, MetricRow};
use super::notebook::{render_notebook, NotebookCheck};
use super::text::{fmt_duration, fmt_epoch};
use crate::atomic_write::write_atomic;
use crate::error::{Error, Result};
use crate::judge::JudgeTable;
use crate::train::evaluate::Likelihood;

/// The report section a figure belongs in.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum FigureSection {
    /// Training / validation curves.
    Curves,
    /// Samples from the model (put the temperature in the caption).
    Samples,
    /// The layer-by-layer grid (data pushed through the flow, one column per stage).
    Layers,
    /// Latent-space interpolations.
    Interpolations,
    /// Anything else.
    Other,
}

impl FigureSection {
    const ORDER: [Self; 5] = [
        Self::Curves,
        Self::Samples,
        Self::Layers,
        Self::Interpolations,
        Self::Other,
    ];

    fn heading(self) -> &'static str {
        match self {
            Self::Curves => "Training curves",
            Self::Samples => "Samples",
            Self::Layers => "Layer by layer",
            Self::Interpolations => "Interpolations",
            Self::Other => "Other figures",
        }
    }
}

/// An image file in the run directory to show in the report.
#[derive(Debug, Clone, PartialEq)]
pub struct Figure {
    /// Path relative to the run directory, e.g. `samples_t1.0.png`.
    pub file: String,
    pub title: String,
    /// One or two sentences; for samples include the temperature, e.g. "T = 0.7".
    pub caption: String,
    pub section: FigureSection,
}

impl Figure {
    /// The figure's path under `run_dir`, checking that it is relative and exists.
    pub(crate) fn path_in(&self, run_dir: &Path) -> Result<PathBuf> {
        let rel = Path::new(&self.file);
        if rel.as_os_str().is_empty()
            || rel
                .components()
                .any(|c| !matches!(c, Component::Normal(_) | Component::CurDir))
        {
            return Err(Error::Report(format!(
                "figure `{}` must be a path inside the run directory (relative, no `..`)",
                self.file
            )));
        }
        let path = run_dir.join(rel);
        if !path.is_file() {
            return Err(Error::Report(format!(
                "figure `{}` listed in the report does not exist: {}",
                self.title,
                path.display()
            )));
        }
        Ok(path)
    }
}

/// How clean the samples drawn at one temperature look: the share of their pixels that are
/// nearly black or white (below 0.1 or above 0.9).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct SampleSaturation {
    pub temperature: f32,
    /// In [0, 1].
    pub share: f64,
}

/// Everything the report says about a run.
#[derive(Debug, Clone, PartialEq)]
pub struct ReportInputs {
    pub run_name: String,
    /// Model configuration as key/value pairs.
    pub model: Vec<(String, String)>,
    /// Dataset, representation (dequantization, logit parameter), split sizes.
    pub data: Vec<(String, String)>,
    /// Epochs, batch size, learning rate, schedule, gradient clipping, seed.
    pub training: Vec<(String, String)>,
    /// Adapter name, backend, device type.
    pub hardware: String,
    /// Training wall time in seconds.
    pub wall_time_s: f64,
    /// Test-set log-likelihood, the same value `summary.json` records.
    pub test: Option<Likelihood>,
    pub metrics: Vec<MetricRow>,
    pub figures: Vec<Figure>,
    /// Sample cleanliness per temperature, compared in the discussion.
    pub samples: Vec<SampleSaturation>,
    /// The sample judge's figures, or why it could not run; `None` when not asked for.
    pub judge: Option<std::result::Result<JudgeTable, String>>,
    /// What `report.ipynb`'s code cells recompute; `None`: `best.safetensors` and
    /// `data/mnist`, with no flowgpu figure to compare.
    pub notebook: Option<NotebookCheck>,
}

/// One piece of the document, rendered the same way by both renderers.
#[derive(Clone)]
pub(crate) enum Block {
    /// Level (1 = title) and text.
    Heading(u8, String),
    Para(String),
    /// Header cells and rows.
    Table(Vec<String>, Vec<Vec<String>>),
    /// Figure number (in document order) and the figure.
    Figure(usize, Figure),
}

/// Writes `report.md` and `report.html` into `run_dir` and returns their paths.
///
/// Fails, naming the file, if a listed figure is missing: a report that silently drops a
/// figure is worse than no report.
pub fn write_report(run_dir: &Path, inputs: &ReportInputs) -> Result<Vec<PathBuf>> {
    for fig in &inputs.figures {
        fig.path_in(run_dir)?;
    }
    let blocks = build_blocks(inputs);
    let md = render_markdown(&blocks);
    let html = render_html(&blocks, &inputs.run_name, run_dir)?;
    let check = inputs.notebook.clone().unwrap_or(NotebookCheck {
        checkpoint: "best.safetensors".into(),
        data_dir: "data/mnist".into(),
        images: 300,
        bits_per_dim: None,
    });
    let notebook = render_notebook(&blocks, run_dir, &check)?;
    let md_path = run_dir.join("report.md");
    let html_path = run_dir.join("report.html");
    let nb_path = run_dir.join("report.ipynb");
    write_atomic(&md_path, md.as_bytes())?;
    write_atomic(&html_path, html.as_bytes())?;
    write_atomic(&nb_path, notebook.as_bytes())?;
    Ok(vec![md_path, html_path, nb_path])
}

fn kv_table(pairs: &[(String, String)]) -> Block {
    Block::Table(
        vec!["setting".into(), "value".into()],
        pairs
            .iter()
            .map(|(k, v)| vec![k.clone(), v.clone()])
            .collect(),
    )
}

/// The whole document, top to bottom: what was done, the test likelihood, the figures by
/// section, the discussion.
fn build_blocks(inputs: &ReportInputs) -> Vec<Block> {
    let mut b = Vec::new();
    b.push(Block::Heading(
        1,
        format!("Run report: {}", inputs.run_name),
    ));

    // What was done.
    b.push(Block::Heading(2, "What was done".into()));
    let epochs = per_epoch(&inputs.metrics, MetricKind::TrainEpoch).len();
    let steps = inputs.metrics.iter().map(|r| r.step).max().unwrap_or(0);
    b.push(Block::Para(format!(
        "A normalizing flow was trained by maximum likelihood for {epochs} epoch{} \
         ({steps} optimizer steps) in {} of wall time on {}.",
        if epochs == 1 { "" } else { "s" },
        fmt_duration(inputs.wall_time_s),
        if inputs.hardware.trim().is_empty() {
            "unrecorded hardware"
        } else {
            inputs.hardware.trim()
        }
    )));
    for (title, pairs) in [
        ("Model", &inputs.model),
        ("Data and representation", &inputs.data),
        ("Training setup", &inputs.training),
    ] {
        b.push(Block::Heading(3, title.into()));
        if pairs.is_empty() {
            b.push(Block::Para("(not recorded)".into()));
        } else {
            b.push(kv_table(pairs));
        }
    }
    b.push(Block::Heading(3, "Hardware and time".into()));
    b.push(kv_table(&[
        ("adapter".into(), inputs.hardware.clone()),
        ("wall time".into(), fmt_duration(inputs.wall_time_s)),
    ]));

    b.push(Block::Heading(2, "Test log-likelihood".into()));
    b.extend(likelihood_blocks(inputs.test.as_ref()));

    // Figures by section; the curves section also gets the per-epoch table.
    let mut number = 0;
    for section in FigureSection::ORDER {
        let figs: Vec<&Figure> = inputs
            .figures
            .iter()
            .filter(|f| f.section == section)
            .collect();
        if figs.is_empty() && section == FigureSection::Other {
            continue;
        }
        b.push(Block::Heading(2, section.heading().into()));
        if figs.is_empty() {
            b.push(Block::Para("(not produced in this run)".into()));
        }
        for fig in figs {
            number += 1;
            b.push(Block::Figure(number, fig.clone()));
        }
        if section == FigureSection::Curves {
            if let Some(t) = epoch_table(&inputs.metrics) {
                b.push(t);
            }
        }
        if section == FigureSection::Samples {
            b.extend(judge_blocks(inputs.judge.as_ref()));
        }
    }

    b.push(Block::Heading(2, "Discussion".into()));
    b.push(Block::Para(
        discuss(&inputs.metrics, inputs.test.as_ref())
            .into_iter()
            .chain(match &inputs.judge {
                Some(Ok(j)) => discuss_judge(j),
                _ => None,
            })
            .chain(discuss_temperature(&inputs.samples))
            .collect::<Vec<_>>()
            .join(" "),
    ));
    b
}

/// The judge's table under the sample figures, with what it is and how far to trust it.
fn judge_blocks(judge: Option<&std::result::Result<JudgeTable, String>>) -> Vec<Block> {
    let j = match judge {
        None => return Vec::new(),
        Some(Err(why)) => {
            return vec![Block::Para(format!(
                "The sample judge could not run: {why}."
            ))]
        }
        Some(Ok(j)) => j,
    };
    let n = j.sets.iter().map(|s| s.figures.images).max().unwrap_or(0);
    let mut out = vec![Block::Para(format!(
        "Judged: {n} samples per temperature (the grids above are the first 64 of them) by \
         the sample judge, an MLP digit classifier trained with this project's kernels that \
         labels {:.2}% of the test set correctly ({}). Digit-like: the top class is a digit \
         with probability >= 0.9; not a digit: the top class is the judge's eleventh, trained \
         on noise and blotches. Class entropy: of the histogram of top digit classes, in bits \
         (3.32 when every digit is as frequent). MNIST FID: the Fréchet distance between the \
         classifier's 256 features of the images and of the 10,000 test images (lower is \
         closer; {n} real images are not at 0 because {n} is not 10,000).",
        100.0 * j.judge.test_accuracy,
        j.cache
    ))];
    let rows = j
        .sets
        .iter()
        .map(|s| {
            let f = &s.figures;
            vec![
                s.label.clone(),
                format!("{:.1}%", 100.0 * f.digit_like),
                format!(
                    "{:.1}%",
                    100.0 * f.not_digit as f64 / f.images.max(1) as f64
                ),
                format!("{:.2}", f.class_entropy_bits),
                format!("{:.1}", f.frechet),
                f.histogram
                    .iter()
                    .map(|c| c.to_string())
                    .collect::<Vec<_>>()
                    .join(" "),
            ]
        })
        .collect();
    out.push(Block::Table(
        vec![
            "images".into(),
            "digit-like".into(),
            "not a digit".into(),
            "class entropy (bits)".into(),
            "MNIST FID".into(),
            "per class 0-9".into(),
        ],
        rows,
    ));
    out
}

/// The test likelihood as a table with its standard errors, or a note that there is none.
fn likelihood_blocks(test: Option<&Likelihood>) -> Vec<Block> {
    let Some(t) = test else {
        return vec![Block::Para(
            "The test set was not evaluated in this run.".into(),
        )];
    };
    vec![
        Block::Table(
            vec!["measure".into(), "value".into(), "standard error".into()],
            vec![
                vec![
                    "negative log-likelihood (nats/image)".into(),
                    format!("{:.3}", t.nats),
                    format!("{:.3}", t.nats_se),
                ],
                vec![
                    "bits/dim".into(),
                    format!("{:.4}", t.bits_per_dim),
                    format!("{:.4}", t.bits_per_dim_se),
                ],
                vec!["test images".into(), t.images.to_string(), String::new()],
                vec![
                    "dequantization draws per image".into(),
                    t.draws.to_string(),
                    String::new(),
                ],
            ],
        ),
        Block::Para(
            "Standard errors are the standard deviation of the per-image values divided by \
             the square root of the number of images. Lower is better."
                .into(),
        ),
    ]
}

/// Per-epoch train / validation table, or `None` without epoch-level rows.
fn epoch_table(metrics: &[MetricRow]) -> Option<Block> {
    let mut map: BTreeMap<i64, [Option<&MetricRow>; 2]> = BTreeMap::new();
    for r in metrics {
        let slot = match r.kind {
            MetricKind::TrainEpoch => 0,
            MetricKind::Valid => 1,
            MetricKind::TrainStep => continue,
        };
        if r.epoch.is_finite() {
            map.entry((r.epoch * 1000.0).round() as i64).or_default()[slot] = Some(r);
        }
    }
    if map.is_empty() {
        return None;
    }
    let rows = map
        .into_values()
        .filter_map(|[t, v]| {
            let any = v.or(t)?;
            let bpd = |r: Option<&MetricRow>| {
                r.map_or(String::new(), |r| format!("{:.4}", r.bits_per_dim))
            };
            Some(vec![
                fmt_epoch(any.epoch),
                bpd(t),
                bpd(v),
                format!("{:.3e}", any.learning_rate),
                format!("{:.0}", any.elapsed_s),
            ])
        })
        .collect();
    Some(Block::Table(
        vec![
            "epoch".into(),
            "train bits/dim (epoch mean)".into(),
            "validation bits/dim".into(),
            "learning rate".into(),
            "elapsed (s)".into(),
        ],
        rows,
    ))
}
