//! Figures and the run report: PNG image grids, training curves, report.md / report.html.
