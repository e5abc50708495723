//! The exercise's figures, drawn from a trained flow: sample grids, the layer-by-layer grid
//! and latent interpolations. The views themselves are [`crate::model::explore`]'s (which
//! the browser page draws too); this module lays them out in grids and writes the PNGs.
//! Every image goes through the same map to pixel space (the inverse of the data transform,
//! clamped to [0, 1]), so columns and figures are comparable.

use std::path::Path;

use crate::config::Preprocess;
use crate::data::ImageSet;
use crate::error::{Error, Result};
use crate::model::explore;
use crate::model::Flow;
use crate::report::image_grid::{write_png, Grid};

/// Side of the (square) images.
fn side(flow: &Flow) -> Result<usize> {
    let d = flow.config().dim;
    let s = (d as f64).sqrt().round() as usize;
    if s * s != d {
        return Err(Error::Report(format!(
            "figures need square images; dim {d} is not a square"
        )));
    }
    Ok(s)
}

/// `[n, D]` values back to back as `n` images.
fn split_images(values: &[f32], d: usize) -> Vec<Vec<f32>> {
    values.chunks_exact(d).map(<[f32]>::to_vec).collect()
}

/// A `rows x cols` grid of samples at `temperature`; returns the images in [0, 1].
pub fn sample_grid(
    flow: &Flow,
    pre: Preprocess,
    rows: usize,
    cols: usize,
    temperature: f32,
    seed: u32,
    scale: usize,
    path: &Path,
) -> Result<Vec<Vec<f32>>> {
    let s = side(flow)?;
    Grid::new(rows, cols, s, s, scale).check_size()?;
    let pixels = pollster::block_on(explore::samples(flow, pre, rows * cols, temperature, seed))?;
    let images = split_images(&pixels, flow.config().dim);
    write_png(path, &Grid::from_images(rows, cols, s, s, scale, &images)?)?;
    Ok(images)
}

/// What the layer-by-layer figure shows.
pub struct LayerStages {
    /// `cells[row][column]`: the grid's images in pixel space.
    pub cells: Vec<Vec<Vec<f32>>>,
    /// `stages[column]`: `[rows, D]` in flow space (column 0 is z, the last is x).
    pub stages: Vec<Vec<f32>>,
}

/// The layer-by-layer figure: row i follows z_i ~ N(0, I) through the inverse, column 0 is
/// z, column j the output of undoing layer K - j, the last column the sample x.
pub fn layers_grid(
    flow: &Flow,
    pre: Preprocess,
    rows: usize,
    seed: u32,
    scale: usize,
    path: &Path,
) -> Result<LayerStages> {
    let s = side(flow)?;
    Grid::new(rows, flow.config().layers + 1, s, s, scale).check_size()?;
    let stages = pollster::block_on(explore::stages(flow, pre, rows, 1.0, seed))?;
    let d = flow.config().dim;
    let mut grid = Grid::new(rows, stages.pixels.len(), s, s, scale);
    let mut cells = vec![Vec::new(); rows];
    for (c, stage) in stages.pixels.iter().enumerate() {
        for (r, img) in split_images(stage, d).into_iter().enumerate() {
            grid.set(r, c, img.clone())?;
            cells[r].push(img);
        }
    }
    write_png(path, &grid)?;
    Ok(LayerStages {
        cells,
        stages: stages.flow_space,
    })
}

/// The default interpolation pairs, by label: (3, 8), (1, 7), (4, 9).
pub(crate) const DEFAULT_PAIR_LABELS: [(u8, u8); 3] = [(3, 8), (1, 7), (4, 9)];

/// The first test image of each label in `labels` pairs.
pub fn pairs_by_label(test: &ImageSet, labels: &[(u8, u8)]) -> Result<Vec<(usize, usize)>> {
    let first = |l: u8| {
        (0..test.len())
            .find(|&i| test.label(i) == l)
            .ok_or_else(|| Error::Report(format!("no test image has label {l}")))
    };
    labels
        .iter()
        .map(|&(a, b)| Ok((first(a)?, first(b)?)))
        .collect()
}

/// Interpolations in latent space: for each pair, z1 = f(x1), z2 = f(x2) and `steps` points
/// on the segment (ends included), decoded. Each row: x1 | the path | x2.
/// Returns, per pair, the decoded path in flow space and the two originals in flow space.
pub struct Interpolation {
    pub pairs: Vec<(usize, usize)>,
    pub labels: Vec<(u8, u8)>,
    /// `[pair][step]` decoded images, flow space.
    pub decoded: Vec<Vec<Vec<f32>>>,
    /// `[pair]` (x1, x2), flow space.
    pub originals: Vec<(Vec<f32>, Vec<f32>)>,
}

/// The empty interpolation grid: originals in the first and last column, set apart by gaps.
fn interpolation_layout(pairs: usize, steps: usize, side: usize, scale: usize) -> Grid {
    Grid::new(pairs, steps + 2, side, side, scale)
        .with_gap_after(0)
        .with_gap_after(steps)
}

pub fn interpolation_grid(
    flow: &Flow,
    pre: Preprocess,
    test: &ImageSet,
    pairs: &[(usize, usize)],
    steps: usize,
    scale: usize,
    path: &Path,
) -> Result<Interpolation> {
    let s = side(flow)?;
    let d = flow.config().dim;
    if steps < 2 {
        return Err(Error::Report("interpolation needs at least 2 steps".into()));
    }
    if pairs.is_empty() {
        return Err(Error::Report(
            "interpolation needs at least one pair".into(),
        ));
    }
    interpolation_layout(pairs.len(), steps, s, scale).check_size()?;
    let mut picked = Vec::new();
    for &(i, j) in pairs {
        for k in [i, j] {
            if k >= test.len() {
                return Err(Error::Report(format!(
                    "test image {k} does not exist ({} test images)",
                    test.len()
                )));
            }
            picked.extend_from_slice(test.image(k));
        }
    }
    let lines = pollster::block_on(explore::latent_lines(flow, pre, &picked, steps))?;
    let decoded = split_images(&lines.path, d);
    let decoded_px = split_images(&lines.path_pixels, d);
    let originals = split_images(&lines.originals, d);
    let originals_px = split_images(&lines.originals_pixels, d);
    let mut grid = interpolation_layout(pairs.len(), steps, s, scale);
    let mut out = Interpolation {
        pairs: pairs.to_vec(),
        labels: Vec::new(),
        decoded: Vec::new(),
        originals: Vec::new(),
    };
    for (p, &(i, j)) in pairs.iter().enumerate() {
        grid.set(p, 0, originals_px[2 * p].clone())?;
        grid.set(p, steps + 1, originals_px[2 * p + 1].clone())?;
        for k in 0..steps {
            grid.set(p, k + 1, decoded_px[p * steps + k].clone())?;
        }
        out.labels.push((test.label(i), test.label(j)));
        out.decoded
            .push(decoded[p * steps..(p + 1) * steps].to_vec());
        out.originals
            .push((originals[2 * p].clone(), originals[2 * p + 1].clone()));
    }
    write_png(path, &grid)?;
    Ok(out)
}
