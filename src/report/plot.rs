//! Training curves (bits/dim against epoch) drawn with plotters into an RGB PNG.
//!
//! plotters' `ab_glyph` text backend has no built-in font, so the first plot registers a
//! system TrueType font as `"sans-serif"` (see [`ensure_font`]).
//!
//! Y range: the early `train_step` points of a flow are often several bits/dim above the rest
//! and would squash the interesting part of the curves into a thin band. The range therefore
//! covers every epoch-level point (`train_epoch`, `valid`) in full, but of the `train_step`
//! points only those logged at or after the first epoch-level point (the first epoch's
//! transient is summarised by its epoch mean), and of those only the 2nd to 98th percentile,
//! plus a 5% margin on each side. Without epoch-level points all `train_step` points count.
//! Lines that leave the range are cut at its edge (plotters does not clip by itself).
use std::path::{Path, PathBuf};
use std::sync::OnceLock;

use plotters::prelude::*;
use plotters::style::FontStyle;

use super::metrics::{MetricKind, MetricRow};
use crate::error::{Error, Result};

/// Size `(width, height)` in pixels of the curves PNG.
pub const PLOT_SIZE: (u32, u32) = (900, 540);

/// Environment variable naming a `.ttf`/`.otf` file to use instead of the system search.
pub const FONT_ENV: &str = "FLOWGPU_FONT";

/// Well-known locations of a plain sans-serif TrueType font on common systems.
const FONT_CANDIDATES: &[&str] = &[
    "/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf", // Debian/Ubuntu: fonts-dejavu-core
    "/usr/share/fonts/dejavu/DejaVuSans.ttf",          // older Fedora/RHEL
    "/usr/share/fonts/dejavu-sans-fonts/DejaVuSans.ttf", // Fedora
    "/usr/share/fonts/TTF/DejaVuSans.ttf",             // Arch: ttf-dejavu
    "/usr/share/fonts/truetype/liberation/LiberationSans-Regular.ttf",
    "/usr/share/fonts/truetype/liberation2/LiberationSans-Regular.ttf",
    "/usr/share/fonts/liberation-sans/LiberationSans-Regular.ttf",
    "/usr/share/fonts/liberation/LiberationSans-Regular.ttf",
    "/usr/share/fonts/truetype/noto/NotoSans-Regular.ttf",
    "/usr/share/fonts/noto/NotoSans-Regular.ttf",
    "/usr/share/fonts/truetype/freefont/FreeSans.ttf",
    "/usr/local/share/fonts/DejaVuSans.ttf",
    "/System/Library/Fonts/Supplemental/Arial.ttf", // macOS
    "/Library/Fonts/Arial.ttf",
    "C:\\Windows\\Fonts\\arial.ttf",
];

static FONT: OnceLock<std::result::Result<PathBuf, String>> = OnceLock::new();

/// Registers a sans-serif font with plotters once per process and returns its path.
///
/// Looks at `$FLOWGPU_FONT` first, then `FONT_CANDIDATES`; the font bytes are leaked once
/// because plotters wants `&'static [u8]`.
pub fn ensure_font() -> Result<PathBuf> {
    FONT.get_or_init(find_and_register_font)
        .clone()
        .map_err(Error::Report)
}

fn find_and_register_font() -> std::result::Result<PathBuf, String> {
    let mut candidates: Vec<PathBuf> = Vec::new();
    if let Some(p) = std::env::var_os(FONT_ENV) {
        candidates.push(PathBuf::from(p));
    }
    candidates.extend(FONT_CANDIDATES.iter().map(PathBuf::from));
    let mut rejected = Vec::new();
    for path in candidates {
        let Ok(bytes) = std::fs::read(&path) else {
            continue;
        };
        // Check the magic first so that an obviously wrong file is not leaked.
        if looks_like_font(&bytes) {
            let bytes: &'static [u8] = Box::leak(bytes.into_boxed_slice());
            if plotters::style::register_font("sans-serif", FontStyle::Normal, bytes).is_ok() {
                return Ok(path);
            }
        }
        rejected.push(path.display().to_string());
    }
    let mut msg = format!(
        "no usable TrueType font for the plots; install the `fonts-dejavu-core` package \
         (Debian/Ubuntu; `dejavu-sans-fonts` on Fedora, `ttf-dejavu` on Arch) or set \
         {FONT_ENV}=/path/to/font.ttf"
    );
    if !rejected.is_empty() {
        msg.push_str(&format!(" (could not parse: {})", rejected.join(", ")));
    }
    Err(msg)
}

/// Cheap sanity check before leaking the bytes: an sfnt / OpenType / collection magic number.
fn looks_like_font(bytes: &[u8]) -> bool {
    matches!(
        bytes.get(..4),
        Some([0, 1, 0, 0]) | Some(b"OTTO") | Some(b"true") | Some(b"ttcf")
    )
}

fn plot_err(e: impl std::fmt::Display) -> Error {
    Error::Report(format!("drawing the curves failed: {e}"))
}

/// Linear-interpolated percentile (`q` in [0, 1]) of `sorted` (ascending, non-empty).
fn percentile(sorted: &[f64], q: f64) -> f64 {
    let pos = q * (sorted.len() - 1) as f64;
    let lo = pos.floor() as usize;
    let hi = pos.ceil() as usize;
    sorted[lo] + (sorted[hi] - sorted[lo]) * (pos - lo as f64)
}

/// The y range of the plot (see the module docs); `None` without finite data.
pub fn y_range(rows: &[MetricRow]) -> Option<(f64, f64)> {
    let first_epoch_point = rows
        .iter()
        .filter(|r| r.kind != MetricKind::TrainStep && r.bits_per_dim.is_finite())
        .map(|r| r.epoch)
        .fold(f64::INFINITY, f64::min);
    let after_transient =
        |r: &&MetricRow| !first_epoch_point.is_finite() || r.epoch >= first_epoch_point;
    let mut steps: Vec<f64> = rows
        .iter()
        .filter(|r| r.kind == MetricKind::TrainStep && r.bits_per_dim.is_finite())
        .filter(after_transient)
        .map(|r| r.bits_per_dim)
        .collect();
    steps.sort_by(f64::total_cmp);
    let mut lo = f64::INFINITY;
    let mut hi = f64::NEG_INFINITY;
    if !steps.is_empty() {
        lo = percentile(&steps, 0.02);
        hi = percentile(&steps, 0.98);
    }
    for r in rows
        .iter()
        .filter(|r| r.kind != MetricKind::TrainStep && r.bits_per_dim.is_finite())
    {
        lo = lo.min(r.bits_per_dim);
        hi = hi.max(r.bits_per_dim);
    }
    if !lo.is_finite() || !hi.is_finite() {
        return None;
    }
    let span = (hi - lo).max(1e-3 * hi.abs().max(1.0));
    Some((lo - 0.05 * span, hi + 0.05 * span))
}

/// Splits a polyline into the pieces that lie inside `lo..=hi` in y, with the crossing points
/// interpolated onto the boundary.
fn clip_y(points: &[(f64, f64)], lo: f64, hi: f64) -> Vec<Vec<(f64, f64)>> {
    let inside = |y: f64| (lo..=hi).contains(&y);
    let cross = |a: (f64, f64), b: (f64, f64), y: f64| {
        let t = (y - a.1) / (b.1 - a.1);
        (a.0 + t * (b.0 - a.0), y)
    };
    let mut pieces = Vec::new();
    let mut cur: Vec<(f64, f64)> = Vec::new();
    for (i, &p) in points.iter().enumerate() {
        if i > 0 {
            let a = points[i - 1];
            // Boundary crossings between a and p, in order along the segment.
            let mut xs: Vec<(f64, f64)> = [lo, hi]
                .into_iter()
                .filter(|&y| (a.1 - y) * (p.1 - y) < 0.0)
                .map(|y| cross(a, p, y))
                .collect();
            if a.1 > p.1 {
                xs.reverse();
            }
            for c in xs {
                if cur.is_empty() {
                    cur.push(c);
                } else {
                    cur.push(c);
                    pieces.push(std::mem::take(&mut cur));
                }
            }
        }
        if inside(p.1) {
            cur.push(p);
        } else if !cur.is_empty() {
            pieces.push(std::mem::take(&mut cur));
        }
    }
    if !cur.is_empty() {
        pieces.push(cur);
    }
    pieces
}

/// Points of one kind, finite only, sorted by epoch. Rows repeated for the same step (a run
/// resumed from an earlier checkpoint re-logs them) keep only the last one.
fn series(rows: &[MetricRow], kind: MetricKind) -> Vec<(f64, f64)> {
    let mut by_step = std::collections::BTreeMap::new();
    for r in rows
        .iter()
        .filter(|r| r.kind == kind && r.bits_per_dim.is_finite() && r.epoch.is_finite())
    {
        by_step.insert(r.step, (r.epoch, r.bits_per_dim));
    }
    let mut v: Vec<(f64, f64)> = by_step.into_values().collect();
    v.sort_by(|a, b| a.0.total_cmp(&b.0));
    v
}

fn tick_label(v: f64, span: f64) -> String {
    let decimals = if span < 0.05 {
        4
    } else if span < 0.5 {
        3
    } else {
        2
    };
    format!("{v:.decimals$}")
}

/// Draws train (per step and per epoch) and validation bits/dim against epoch into a
/// [`PLOT_SIZE`] RGB PNG at `path`.
pub fn plot_curves(rows: &[MetricRow], path: &Path, title: &str) -> Result<()> {
    ensure_font()?;
    let steps = series(rows, MetricKind::TrainStep);
    let epochs = series(rows, MetricKind::TrainEpoch);
    let valid = series(rows, MetricKind::Valid);
    let (y0, y1) = y_range(rows).ok_or_else(|| {
        Error::Report(format!(
            "{}: no finite bits/dim values to plot",
            path.display()
        ))
    })?;
    let xs = steps.iter().chain(&epochs).chain(&valid).map(|p| p.0);
    let (mut x0, mut x1) = xs.fold((f64::INFINITY, f64::NEG_INFINITY), |(a, b), x| {
        (a.min(x), b.max(x))
    });
    // Start the axis at epoch 0 unless the data says otherwise.
    x0 = x0.min(0.0);
    if x1 - x0 < 1e-9 {
        x1 = x0 + 1.0;
    }
    let x_pad = 0.02 * (x1 - x0);

    let (w, h) = PLOT_SIZE;
    let mut buf = vec![255u8; w as usize * h as usize * 3];
    {
        let root = BitMapBackend::with_buffer(&mut buf, (w, h)).into_drawing_area();
        root.fill(&WHITE).map_err(plot_err)?;
        let mut chart = ChartBuilder::on(&root)
            .caption(title, ("sans-serif", 22))
            .margin(18)
            .x_label_area_size(48)
            .y_label_area_size(70)
            .build_cartesian_2d((x0 - x_pad)..(x1 + x_pad), y0..y1)
            .map_err(plot_err)?;
        let y_span = y1 - y0;
        let x_fmt = |v: &f64| {
            if (v - v.round()).abs() < 1e-9 {
                format!("{v:.0}")
            } else {
                format!("{v:.1}")
            }
        };
        let y_fmt = |v: &f64| tick_label(*v, y_span);
        chart
            .configure_mesh()
            .x_desc("epoch")
            .y_desc("bits/dim")
            .x_label_formatter(&x_fmt)
            .y_label_formatter(&y_fmt)
            .axis_desc_style(("sans-serif", 17))
            .label_style(("sans-serif", 14))
            .light_line_style(RGBColor(245, 245, 245))
            .bold_line_style(RGBColor(210, 210, 210))
            .draw()
            .map_err(plot_err)?;

        let step_color = RGBColor(150, 180, 225);
        let epoch_color = RGBColor(31, 90, 180);
        let valid_color = RGBColor(220, 90, 20);

        if !steps.is_empty() {
            for (i, piece) in clip_y(&steps, y0, y1).into_iter().enumerate() {
                let s = chart
                    .draw_series(LineSeries::new(piece, step_color.stroke_width(1)))
                    .map_err(plot_err)?;
                if i == 0 {
                    s.label("train, per step (running mean)")
                        .legend(move |(x, y)| {
                            PathElement::new(vec![(x, y), (x + 24, y)], step_color.stroke_width(1))
                        });
                }
            }
        }
        for (pts, color, label, triangle) in [
            (&epochs, epoch_color, "train, epoch mean", false),
            (&valid, valid_color, "validation", true),
        ] {
            if pts.is_empty() {
                continue;
            }
            for piece in clip_y(pts, y0, y1) {
                chart
                    .draw_series(LineSeries::new(piece, color.stroke_width(2)))
                    .map_err(plot_err)?;
            }
            let marks = pts.iter().filter(|p| (y0..=y1).contains(&p.1)).copied();
            // Legend entries are composed relative to the legend anchor.
            let line = move |(x, y): (i32, i32)| {
                EmptyElement::at((x, y))
                    + PathElement::new(vec![(0, 0), (24, 0)], color.stroke_width(2))
            };
            if triangle {
                chart
                    .draw_series(marks.map(|p| TriangleMarker::new(p, 6, color.filled())))
                    .map_err(plot_err)?
                    .label(label)
                    .legend(move |(x, y)| {
                        line((x, y)) + TriangleMarker::new((12, 0), 6, color.filled())
                    });
            } else {
                chart
                    .draw_series(marks.map(|p| Circle::new(p, 4, color.filled())))
                    .map_err(plot_err)?
                    .label(label)
                    .legend(move |(x, y)| line((x, y)) + Circle::new((12, 0), 4, color.filled()));
            }
        }

        chart
            .configure_series_labels()
            .position(SeriesLabelPosition::UpperRight)
            .background_style(WHITE.mix(0.9))
            .border_style(RGBColor(160, 160, 160))
            .label_font(("sans-serif", 15))
            .draw()
            .map_err(plot_err)?;
        root.present().map_err(plot_err)?;
    }
    super::image_grid::write_png_bytes(path, w as usize, h as usize, png::ColorType::Rgb, &buf)
}
