//! `report.md` and `report.html`: a self-contained account of one run that can stand in for a
//! notebook. Both files are rendered from the same list of blocks, so they carry the same
//! content; the HTML embeds every figure as a base64 `data:` URI so that it is one portable
//! file, while the Markdown links the figure files next to it in the run directory.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::path::{Component, Path, PathBuf};

use super::metrics::{MetricKind, MetricRow};
use crate::error::{Error, Result};

/// Validation improvement per epoch below which the curve counts as flat.
pub const FLAT_THRESHOLD_BITS: f64 = 0.01;

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

/// Test-set log-likelihood with standard errors over images.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct TestResult {
    /// Mean negative log-likelihood in nats per image.
    pub nats_per_image: f64,
    /// Standard error of `nats_per_image` over the test images.
    pub nats_per_image_se: f64,
    /// Mean negative log-likelihood in bits per dimension.
    pub bits_per_dim: f64,
    /// Standard error of `bits_per_dim` over the test images.
    pub bits_per_dim_se: f64,
    /// Number of test images evaluated.
    pub n_images: usize,
    /// Dequantization noise draws averaged per image.
    pub draws: usize,
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
    pub test: Option<TestResult>,
    pub metrics: Vec<MetricRow>,
    pub figures: Vec<Figure>,
    /// Further sentences for the discussion, measured by the caller (e.g. from the samples).
    pub observations: Vec<String>,
}

/// Writes `report.md` and `report.html` into `run_dir` and returns their paths.
///
/// Fails, naming the file, if a listed figure is missing: a report that silently drops a
/// figure is worse than no report.
pub fn write_report(run_dir: &Path, inputs: &ReportInputs) -> Result<Vec<PathBuf>> {
    for fig in &inputs.figures {
        figure_path(run_dir, fig)?;
    }
    let blocks = build_blocks(inputs);
    let md = render_markdown(&blocks);
    let html = render_html(&blocks, &inputs.run_name, run_dir)?;
    let md_path = run_dir.join("report.md");
    let html_path = run_dir.join("report.html");
    crate::atomic_write::write_atomic(&md_path, md.as_bytes())?;
    crate::atomic_write::write_atomic(&html_path, html.as_bytes())?;
    Ok(vec![md_path, html_path])
}

/// The figure's path under `run_dir`, checking that it is relative and exists.
fn figure_path(run_dir: &Path, fig: &Figure) -> Result<PathBuf> {
    let rel = Path::new(&fig.file);
    if rel.as_os_str().is_empty()
        || rel
            .components()
            .any(|c| !matches!(c, Component::Normal(_) | Component::CurDir))
    {
        return Err(Error::Report(format!(
            "figure `{}` must be a path inside the run directory (relative, no `..`)",
            fig.file
        )));
    }
    let path = run_dir.join(rel);
    if !path.is_file() {
        return Err(Error::Report(format!(
            "figure `{}` listed in the report does not exist: {}",
            fig.title,
            path.display()
        )));
    }
    Ok(path)
}

/// Standard base64 (RFC 4648, with padding), for `data:` URIs.
pub fn base64_encode(bytes: &[u8]) -> String {
    const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = String::with_capacity(bytes.len().div_ceil(3) * 4);
    for chunk in bytes.chunks(3) {
        let b = [
            chunk[0],
            chunk.get(1).copied().unwrap_or(0),
            chunk.get(2).copied().unwrap_or(0),
        ];
        let n = (u32::from(b[0]) << 16) | (u32::from(b[1]) << 8) | u32::from(b[2]);
        for i in 0..4 {
            if i <= chunk.len() {
                out.push(char::from(ALPHABET[((n >> (18 - 6 * i)) & 63) as usize]));
            } else {
                out.push('=');
            }
        }
    }
    out
}

/// MIME type for a figure file, from its extension.
fn mime_type(file: &str) -> &'static str {
    let ext = Path::new(file)
        .extension()
        .and_then(|e| e.to_str())
        .map(str::to_ascii_lowercase);
    match ext.as_deref() {
        Some("png") => "image/png",
        Some("jpg" | "jpeg") => "image/jpeg",
        Some("gif") => "image/gif",
        Some("svg") => "image/svg+xml",
        Some("webp") => "image/webp",
        _ => "application/octet-stream",
    }
}

// ---------------------------------------------------------------------------------------------
// Number formatting

fn fmt_epoch(e: f64) -> String {
    if (e - e.round()).abs() < 1e-9 {
        format!("{e:.0}")
    } else {
        format!("{e:.2}")
    }
}

fn fmt_duration(s: f64) -> String {
    if !s.is_finite() || s < 0.0 {
        return "unknown".into();
    }
    let total = s.round() as u64;
    let (h, m, sec) = (total / 3600, (total / 60) % 60, total % 60);
    if h > 0 {
        format!("{h} h {m:02} min {sec:02} s ({s:.0} s)")
    } else if m > 0 {
        format!("{m} min {sec:02} s ({s:.0} s)")
    } else {
        format!("{s:.1} s")
    }
}

/// Ends a sentence with a period unless it already has terminal punctuation.
fn sentence(s: &str) -> String {
    let t = s.trim();
    if t.ends_with(['.', '!', '?']) {
        t.to_string()
    } else {
        format!("{t}.")
    }
}

// ---------------------------------------------------------------------------------------------
// Discussion

/// One value per epoch for `kind` (the last row wins, as in a resumed run), finite values
/// only, sorted by epoch.
fn per_epoch(metrics: &[MetricRow], kind: MetricKind) -> Vec<(f64, f64)> {
    let mut map: BTreeMap<i64, (f64, f64)> = BTreeMap::new();
    for r in metrics.iter().filter(|r| r.kind == kind) {
        if r.epoch.is_finite() && r.bits_per_dim.is_finite() {
            map.insert((r.epoch * 1000.0).round() as i64, (r.epoch, r.bits_per_dim));
        }
    }
    map.into_values().collect()
}

/// Sentences about the run computed from its own numbers: best validation epoch, where the
/// validation curve flattens, the final train/validation gap, and test against validation.
pub fn discuss(metrics: &[MetricRow], test: Option<&TestResult>) -> Vec<String> {
    let valid = per_epoch(metrics, MetricKind::Valid);
    let train = per_epoch(metrics, MetricKind::TrainEpoch);
    let mut out = Vec::new();

    match valid.as_slice() {
        [] => out.push(
            "No validation bits/dim were recorded, so the curves cannot be judged against \
             held-out data."
                .to_string(),
        ),
        [(e, v)] => out.push(format!(
            "Validation was measured once, after epoch {}: {v:.4} bits/dim.",
            fmt_epoch(*e)
        )),
        _ => {
            let (best_e, best_v) =
                valid
                    .iter()
                    .copied()
                    .fold(
                        (f64::NAN, f64::INFINITY),
                        |acc, p| if p.1 < acc.1 { p } else { acc },
                    );
            let (last_e, last_v) = valid[valid.len() - 1];
            let mut s = format!(
                "The best validation result is {best_v:.4} bits/dim after epoch {}",
                fmt_epoch(best_e)
            );
            if best_e == last_e {
                s.push_str(", the last epoch measured, so the final model is also the best one.");
            } else {
                let _ = write!(
                    s,
                    "; the last epoch ({}) reached {last_v:.4}, {:.4} bits/dim higher, so the \
                     checkpoint from epoch {} is the better model.",
                    fmt_epoch(last_e),
                    last_v - best_v,
                    fmt_epoch(best_e)
                );
            }
            out.push(s);

            let flat = valid.windows(2).find_map(|w| {
                let de = (w[1].0 - w[0].0).max(1e-9);
                let per_epoch = (w[0].1 - w[1].1) / de;
                (per_epoch < FLAT_THRESHOLD_BITS).then_some((w[0].0, w[0].1, w[1].0, per_epoch))
            });
            match flat {
                Some((e, v, next_e, impr)) => {
                    let mut s = format!(
                        "The validation curve flattens after epoch {}: the next epoch changed it \
                         by {:+.4} bits/dim (an improvement below {FLAT_THRESHOLD_BITS} bits/dim \
                         per epoch)",
                        fmt_epoch(e),
                        -impr
                    );
                    if next_e != last_e {
                        let _ = write!(
                            s,
                            ", and from there to the end it changed by {:+.4} bits/dim in total",
                            last_v - v
                        );
                    }
                    s.push('.');
                    out.push(s);
                }
                None => {
                    let w = &valid[valid.len() - 2..];
                    let impr = (w[0].1 - w[1].1) / (w[1].0 - w[0].0).max(1e-9);
                    out.push(format!(
                        "The validation curve has not flattened: every epoch improved it by at \
                         least {FLAT_THRESHOLD_BITS} bits/dim (the last by {impr:.4}), so longer \
                         training should still help."
                    ));
                }
            }
        }
    }

    if let (Some(&(ve, vv)), false) = (valid.last(), train.is_empty()) {
        let (te, tv) = train
            .iter()
            .copied()
            .find(|(e, _)| (e - ve).abs() < 1e-6)
            .unwrap_or(train[train.len() - 1]);
        let gap = vv - tv;
        let when = if (te - ve).abs() < 1e-6 {
            format!("At epoch {}", fmt_epoch(ve))
        } else {
            format!(
                "At the end (train epoch {}, validation epoch {})",
                fmt_epoch(te),
                fmt_epoch(ve)
            )
        };
        let verdict = if gap.abs() < 0.02 {
            "train and validation agree closely, with no sign of overfitting"
        } else if gap > 0.0 {
            "validation is worse than train, a sign of overfitting; since the train figure is \
             averaged over an epoch in which the model still improved, the true gap is, if \
             anything, larger"
        } else {
            "validation is better than the train mean, which is expected while the model still \
             improves quickly: the train figure averages over the whole epoch, the validation \
             figure is measured at its end"
        };
        out.push(format!(
            "{when} the train epoch mean is {tv:.4} and validation {vv:.4} bits/dim, a gap of \
             {gap:+.4}: {verdict}."
        ));
    }

    match test {
        Some(t) => {
            let mut s = format!(
                "On the test set ({} images, {} dequantization draw{} each) the model reaches \
                 {:.4} ± {:.4} bits/dim ({:.2} ± {:.2} nats/image)",
                t.n_images,
                t.draws,
                if t.draws == 1 { "" } else { "s" },
                t.bits_per_dim,
                t.bits_per_dim_se,
                t.nats_per_image,
                t.nats_per_image_se
            );
            if let Some(&(ve, vv)) = valid.last() {
                let diff = t.bits_per_dim - vv;
                let within = diff.abs() <= 2.0 * t.bits_per_dim_se;
                let _ = write!(
                    s,
                    ", {diff:+.4} bits/dim from the final validation value ({vv:.4}, epoch {}); \
                     the difference is {} two standard errors, so {}",
                    fmt_epoch(ve),
                    if within { "within" } else { "beyond" },
                    if within {
                        "test and validation agree"
                    } else {
                        "the two sets differ by more than sampling noise of the test estimate \
                         explains (validation noise and the model used may also differ)"
                    }
                );
            }
            s.push('.');
            out.push(s);
        }
        None => out.push("The test set was not evaluated in this run.".to_string()),
    }
    out
}

// ---------------------------------------------------------------------------------------------
// Document model

enum Block {
    Heading(u8, String),
    Para(String),
    Table(Vec<String>, Vec<Vec<String>>),
    Figure(usize, Figure),
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

    // Test log-likelihood.
    b.push(Block::Heading(2, "Test log-likelihood".into()));
    match &inputs.test {
        Some(t) => {
            b.push(Block::Table(
                vec!["measure".into(), "value".into(), "standard error".into()],
                vec![
                    vec![
                        "negative log-likelihood (nats/image)".into(),
                        format!("{:.3}", t.nats_per_image),
                        format!("{:.3}", t.nats_per_image_se),
                    ],
                    vec![
                        "bits/dim".into(),
                        format!("{:.4}", t.bits_per_dim),
                        format!("{:.4}", t.bits_per_dim_se),
                    ],
                    vec!["test images".into(), t.n_images.to_string(), String::new()],
                    vec![
                        "dequantization draws per image".into(),
                        t.draws.to_string(),
                        String::new(),
                    ],
                ],
            ));
            b.push(Block::Para(
                "Standard errors are the standard deviation of the per-image values divided by \
                 the square root of the number of images. Lower is better."
                    .into(),
            ));
        }
        None => b.push(Block::Para(
            "The test set was not evaluated in this run.".into(),
        )),
    }

    // Figures by section; the curves section also gets the per-epoch table.
    let mut number = 0;
    let mut figure_sentences = Vec::new();
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
            figure_sentences.push(format!(
                "Figure {number} ({}): {}",
                fig.title.trim(),
                sentence(&fig.caption)
            ));
            b.push(Block::Figure(number, fig.clone()));
        }
        if section == FigureSection::Curves {
            if let Some(t) = epoch_table(&inputs.metrics) {
                b.push(t);
            }
        }
    }

    b.push(Block::Heading(2, "Discussion".into()));
    b.push(Block::Para(
        discuss(&inputs.metrics, inputs.test.as_ref())
            .into_iter()
            .chain(inputs.observations.iter().cloned())
            .collect::<Vec<_>>()
            .join(" "),
    ));
    if !figure_sentences.is_empty() {
        b.push(Block::Para(figure_sentences.join(" ")));
    }
    b
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

// ---------------------------------------------------------------------------------------------
// Rendering

/// Markdown text: `<` is escaped so that names like `run <1>` are not taken for HTML tags.
fn md_text(s: &str) -> String {
    s.replace('<', "\\<")
}

/// A Markdown table cell: text plus escaped pipes, on one line.
fn md_cell(s: &str) -> String {
    md_text(s).replace('|', "\\|").replace('\n', " ")
}

fn md_link_target(file: &str) -> String {
    if file.contains([' ', '(', ')', '<', '>']) {
        format!("<{}>", file.replace('<', "%3C").replace('>', "%3E"))
    } else {
        file.to_string()
    }
}

fn render_markdown(blocks: &[Block]) -> String {
    let mut out = String::new();
    for block in blocks {
        match block {
            Block::Heading(level, text) => {
                let _ = writeln!(
                    out,
                    "{} {}\n",
                    "#".repeat(usize::from(*level)),
                    md_text(text)
                );
            }
            Block::Para(text) => {
                let _ = writeln!(out, "{}\n", md_text(text));
            }
            Block::Table(header, rows) => {
                let row = |cells: &[String]| {
                    let cells: Vec<String> = cells.iter().map(|c| md_cell(c)).collect();
                    format!("| {} |", cells.join(" | "))
                };
                let _ = writeln!(out, "{}", row(header));
                let _ = writeln!(out, "|{}", "---|".repeat(header.len()));
                for r in rows {
                    let _ = writeln!(out, "{}", row(r));
                }
                out.push('\n');
            }
            Block::Figure(n, fig) => {
                let _ = writeln!(
                    out,
                    "![{}]({})\n\n*Figure {n}: {}* {}\n",
                    md_cell(&fig.title),
                    md_link_target(&fig.file),
                    md_text(fig.title.trim()),
                    md_text(&sentence(&fig.caption))
                );
            }
        }
    }
    out
}

fn html_escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            _ => out.push(c),
        }
    }
    out
}

const HTML_STYLE: &str =
    "body{font-family:sans-serif;max-width:60em;margin:2em auto;padding:0 1em;\
line-height:1.45;color:#222}table{border-collapse:collapse;margin:0.5em 0 1em}\
td,th{border:1px solid #bbb;padding:0.25em 0.6em;text-align:left}th{background:#f0f0f0}\
figure{margin:1em 0}figure img{max-width:100%;image-rendering:pixelated}\
figcaption{font-size:0.92em;color:#444;margin-top:0.3em}";

fn render_html(blocks: &[Block], run_name: &str, run_dir: &Path) -> Result<String> {
    let mut out = String::new();
    let _ = write!(
        out,
        "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n\
         <title>Run report: {}</title>\n<style>{HTML_STYLE}</style>\n</head>\n<body>\n",
        html_escape(run_name)
    );
    for block in blocks {
        match block {
            Block::Heading(level, text) => {
                let _ = writeln!(out, "<h{level}>{}</h{level}>", html_escape(text));
            }
            Block::Para(text) => {
                let _ = writeln!(out, "<p>{}</p>", html_escape(text));
            }
            Block::Table(header, rows) => {
                out.push_str("<table>\n<tr>");
                for h in header {
                    let _ = write!(out, "<th>{}</th>", html_escape(h));
                }
                out.push_str("</tr>\n");
                for r in rows {
                    out.push_str("<tr>");
                    for c in r {
                        let _ = write!(out, "<td>{}</td>", html_escape(c));
                    }
                    out.push_str("</tr>\n");
                }
                out.push_str("</table>\n");
            }
            Block::Figure(n, fig) => {
                let path = figure_path(run_dir, fig)?;
                let bytes = std::fs::read(&path).map_err(|e| Error::io(&path, e))?;
                let _ = writeln!(
                    out,
                    "<figure>\n<img src=\"data:{};base64,{}\" alt=\"{}\">\n\
                     <figcaption><strong>Figure {n}: {}</strong> {}</figcaption>\n</figure>",
                    mime_type(&fig.file),
                    base64_encode(&bytes),
                    html_escape(&fig.title),
                    html_escape(fig.title.trim()),
                    html_escape(&sentence(&fig.caption))
                );
            }
        }
    }
    out.push_str("</body>\n</html>\n");
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn base64_rfc4648_vectors() {
        let cases = [
            ("", ""),
            ("f", "Zg=="),
            ("fo", "Zm8="),
            ("foo", "Zm9v"),
            ("foob", "Zm9vYg=="),
            ("fooba", "Zm9vYmE="),
            ("foobar", "Zm9vYmFy"),
        ];
        for (input, want) in cases {
            assert_eq!(base64_encode(input.as_bytes()), want);
        }
        assert_eq!(base64_encode(&[0xff, 0xfe, 0xfd]), "//79");
    }

    #[test]
    fn durations() {
        assert_eq!(fmt_duration(3723.0), "1 h 02 min 03 s (3723 s)");
        assert_eq!(fmt_duration(65.0), "1 min 05 s (65 s)");
        assert_eq!(fmt_duration(f64::NAN), "unknown");
    }
}
