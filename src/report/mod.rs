//! Figures and the run report: PNG image grids, training curves, report.md / report.html.
//!
//! Everything here works on plain host data (f32 images, metric rows, key/value tables), so a
//! report can be tested, and rebuilt from a finished run directory, without a GPU.

pub mod document;
pub mod figures;
pub mod image_grid;
pub mod metrics;
pub mod plot;
pub mod run_report;

pub use document::{
    base64_encode, discuss, write_report, Figure, FigureSection, ReportInputs, TestResult,
};
pub use image_grid::{
    cell_origin, grid_pixel_size, pixels_to_unit, render, write_png, Grid, SEPARATOR_GRAY,
};
pub use metrics::{
    parse_metrics_csv, read_metrics_csv, MetricKind, MetricRow, MetricsWriter, METRICS_HEADER,
};
pub use plot::{ensure_font, plot_curves, PLOT_SIZE};
