//! Figures and the run report: PNG image grids, training curves, report.md / report.html.
//!
//! Everything here works on plain host data (f32 images, metric rows, key/value tables), so a
//! report can be tested, and rebuilt from a finished run directory, without a GPU.
//!
//! * [`image_grid`], [`plot`], [`figures`]: the PNG figures.
//! * [`metrics`]: the run's metrics CSV.
//! * [`document`]: the report's inputs and its list of blocks; [`write_report`].
//! * [`discussion`]: the discussion's sentences, each chosen by the run's numbers.
//! * [`judged`]: the sample judge's figures for a run's samples ([`crate::judge`]).
//! * [`markdown`], [`html`], [`notebook`]: the renderers of the same blocks (`report.md`,
//!   `report.html`, `report.ipynb` with code cells that rebuild the flow in NumPy).
//! * [`run_report`]: a finished run's figures and report from its checkpoint.

pub mod discussion;
pub mod document;
pub mod figures;
pub mod html;
pub mod image_grid;
pub mod judged;
pub mod markdown;
pub mod metrics;
pub mod notebook;
pub mod plot;
pub mod run_report;
mod text;

pub use discussion::{discuss, discuss_judge, discuss_temperature};
pub use document::{write_report, Figure, FigureSection, ReportInputs, SampleSaturation};
pub use html::base64_encode;
pub use image_grid::{
    cell_origin, grid_pixel_size, pixels_to_unit, render, write_png, Grid, SEPARATOR_GRAY,
};
pub use metrics::{
    parse_metrics_csv, read_metrics_csv, MetricKind, MetricRow, MetricsWriter, METRICS_HEADER,
};
pub use plot::{ensure_font, plot_curves, PLOT_SIZE};
