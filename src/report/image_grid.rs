//! PNG grids of grayscale images (samples, layer-by-layer views, interpolations).
//!
//! Layout, left to right: a 1-pixel border, then per column a cell of `img_w * scale` pixels
//! followed by a 1-pixel separator (the last one is the right border). After each column
//! listed in [`Grid::gaps`] a band of [`Grid::gap_px`] extra separator-grey pixels is inserted,
//! so that e.g. the two original images of an interpolation row stand apart from the
//! interpolated ones. Rows are laid out the same way, without gaps. Empty cells are filled
//! with the separator grey, so that they read as "nothing here" rather than as a black image.
//!
//! Pixel values: `0.0` is black background, `1.0` is a white digit (MNIST-like); values are
//! clamped to [0, 1] and NaN is drawn black. The output is an 8-bit grayscale PNG, written with
//! [`crate::atomic_write::write_atomic`] so that a reader never sees half a file.

use std::path::Path;

use crate::error::{Error, Result, Setting};

/// Largest figure, in pixels (256 MiB of 8-bit gray): a bigger one is refused before any
/// memory is allocated, with a message that says to lower the scale or the image count.
pub(crate) const MAX_GRID_PIXELS: usize = 1 << 28;

/// Grey of the border, the separators between cells, gap bands and empty cells.
pub const SEPARATOR_GRAY: u8 = 128;

/// A `rows x cols` grid of `img_h x img_w` grayscale images, upscaled by `scale`.
#[derive(Debug, Clone, PartialEq)]
pub struct Grid {
    pub rows: usize,
    pub cols: usize,
    pub img_h: usize,
    pub img_w: usize,
    /// Integer upscaling factor (nearest neighbour), at least 1.
    pub scale: usize,
    /// Row-major, `rows * cols` entries; `None` is an empty cell.
    pub cells: Vec<Option<Vec<f32>>>,
    /// Column indices (each `< cols - 1`) after which a gap band is inserted.
    pub gaps: Vec<usize>,
    /// Width in pixels of each gap band (on top of the usual 1-pixel separator).
    pub gap_px: usize,
}

impl Grid {
    /// An all-empty grid without gaps; the gap width defaults to `4 * scale` pixels.
    pub fn new(rows: usize, cols: usize, img_h: usize, img_w: usize, scale: usize) -> Self {
        Self {
            rows,
            cols,
            img_h,
            img_w,
            scale,
            cells: vec![None; rows * cols],
            gaps: Vec::new(),
            gap_px: 4 * scale.max(1),
        }
    }

    /// Fills the grid row-major from `images` (fewer images than cells leave the rest empty).
    pub fn from_images(
        rows: usize,
        cols: usize,
        img_h: usize,
        img_w: usize,
        scale: usize,
        images: &[Vec<f32>],
    ) -> Result<Self> {
        if images.len() > rows * cols {
            return Err(Error::Report(format!(
                "{} images do not fit in a {rows}x{cols} grid",
                images.len()
            )));
        }
        let mut grid = Self::new(rows, cols, img_h, img_w, scale);
        for (cell, img) in grid.cells.iter_mut().zip(images) {
            *cell = Some(img.clone());
        }
        grid.validate()?;
        Ok(grid)
    }

    /// Inserts a gap band after column `col` (builder style).
    pub fn with_gap_after(mut self, col: usize) -> Self {
        self.gaps.push(col);
        self
    }

    /// Puts `image` (row-major, `img_h * img_w` values) into cell (`row`, `col`).
    pub fn set(&mut self, row: usize, col: usize, image: Vec<f32>) -> Result<()> {
        if row >= self.rows || col >= self.cols {
            return Err(Error::Report(format!(
                "cell ({row}, {col}) is outside the {}x{} grid",
                self.rows, self.cols
            )));
        }
        if image.len() != self.img_h * self.img_w {
            return Err(Error::Report(format!(
                "image for cell ({row}, {col}) has {} values, expected {}x{} = {}",
                image.len(),
                self.img_h,
                self.img_w,
                self.img_h * self.img_w
            )));
        }
        self.cells[row * self.cols + col] = Some(image);
        Ok(())
    }

    /// Checks the shape invariants; every public entry point calls this before drawing.
    pub fn validate(&self) -> Result<()> {
        if self.rows == 0 || self.cols == 0 || self.img_h == 0 || self.img_w == 0 {
            return Err(Error::Report(format!(
                "empty grid: {}x{} cells of {}x{} pixels",
                self.rows, self.cols, self.img_h, self.img_w
            )));
        }
        if self.scale == 0 {
            return Err(Error::Report("grid scale must be at least 1".into()));
        }
        if self.cells.len() != self.rows * self.cols {
            return Err(Error::Report(format!(
                "grid has {} cells, expected {}x{} = {}",
                self.cells.len(),
                self.rows,
                self.cols,
                self.rows * self.cols
            )));
        }
        for (i, cell) in self.cells.iter().enumerate() {
            if let Some(img) = cell {
                if img.len() != self.img_h * self.img_w {
                    return Err(Error::Report(format!(
                        "image in cell ({}, {}) has {} values, expected {}x{} = {}",
                        i / self.cols,
                        i % self.cols,
                        img.len(),
                        self.img_h,
                        self.img_w,
                        self.img_h * self.img_w
                    )));
                }
            }
        }
        self.check_size()?;
        if let Some(&g) = self.gaps.iter().find(|&&g| g + 1 >= self.cols) {
            return Err(Error::Report(format!(
                "gap after column {g} is not between two of the {} columns",
                self.cols
            )));
        }
        Ok(())
    }

    /// Refuses a grid whose image would pass `MAX_GRID_PIXELS` (or overflow), before
    /// anything is drawn; callers check this before they compute the images themselves.
    pub fn check_size(&self) -> Result<()> {
        let size = || -> Option<(usize, usize)> {
            let cw = self.img_w.checked_mul(self.scale)?.checked_add(1)?;
            let ch = self.img_h.checked_mul(self.scale)?.checked_add(1)?;
            let gaps = self.gaps.len().checked_mul(self.gap_px)?;
            let w = self.cols.checked_mul(cw)?.checked_add(1 + gaps)?;
            let h = self.rows.checked_mul(ch)?.checked_add(1)?;
            w.checked_mul(h).filter(|&n| n <= MAX_GRID_PIXELS)?;
            Some((w, h))
        };
        size().map(|_| ()).ok_or_else(|| {
            Error::invalid(Setting::Scale, |scale| {
                format!(
                    "a figure of {}x{} images of {}x{} pixels at {scale} {} is larger than {} megapixels; lower {scale} or the number of images",
                    self.rows,
                    self.cols,
                    self.img_h,
                    self.img_w,
                    self.scale,
                    MAX_GRID_PIXELS >> 20
                )
            })
        })
    }

    /// Number of gap bands left of column `col`.
    fn gaps_before(&self, col: usize) -> usize {
        self.gaps.iter().filter(|&&g| g < col).count()
    }
}

/// Output size `(width, height)` in pixels of `grid`.
pub fn grid_pixel_size(grid: &Grid) -> (usize, usize) {
    let cw = grid.img_w * grid.scale;
    let ch = grid.img_h * grid.scale;
    (
        1 + grid.cols * (cw + 1) + grid.gaps.len() * grid.gap_px,
        1 + grid.rows * (ch + 1),
    )
}

/// Pixel position `(x, y)` of the top-left image pixel of cell (`row`, `col`).
pub fn cell_origin(grid: &Grid, row: usize, col: usize) -> (usize, usize) {
    let cw = grid.img_w * grid.scale;
    let ch = grid.img_h * grid.scale;
    (
        1 + col * (cw + 1) + grid.gaps_before(col) * grid.gap_px,
        1 + row * (ch + 1),
    )
}

/// Maps a [0, 1] intensity to a gray byte: clamped, rounded, NaN as black.
pub(crate) fn unit_to_pixel(v: f32) -> u8 {
    if v.is_nan() {
        0
    } else {
        (v.clamp(0.0, 1.0) * 255.0).round() as u8
    }
}

/// Inverse of the PNG encoding: gray bytes back to [0, 1] intensities.
pub fn pixels_to_unit(pixels: &[u8]) -> Vec<f32> {
    pixels.iter().map(|&p| f32::from(p) / 255.0).collect()
}

/// Renders `grid` to row-major gray bytes of size [`grid_pixel_size`].
pub fn render(grid: &Grid) -> Result<Vec<u8>> {
    grid.validate()?;
    let (width, height) = grid_pixel_size(grid);
    let mut out = vec![SEPARATOR_GRAY; width * height];
    let s = grid.scale;
    for r in 0..grid.rows {
        for c in 0..grid.cols {
            let Some(img) = &grid.cells[r * grid.cols + c] else {
                continue;
            };
            let (x0, y0) = cell_origin(grid, r, c);
            for iy in 0..grid.img_h {
                for ix in 0..grid.img_w {
                    let p = unit_to_pixel(img[iy * grid.img_w + ix]);
                    for dy in 0..s {
                        let row = (y0 + iy * s + dy) * width;
                        let start = row + x0 + ix * s;
                        out[start..start + s].fill(p);
                    }
                }
            }
        }
    }
    Ok(out)
}

/// Renders `grid` and writes it as an 8-bit grayscale PNG.
pub fn write_png(path: &Path, grid: &Grid) -> Result<()> {
    let pixels = render(grid)?;
    let (width, height) = grid_pixel_size(grid);
    write_png_bytes(path, width, height, png::ColorType::Grayscale, &pixels)
}

/// Encodes 8-bit `pixels` (gray or RGB per `color`) as PNG and writes them atomically,
/// creating the parent directory if needed.
pub(crate) fn write_png_bytes(
    path: &Path,
    width: usize,
    height: usize,
    color: png::ColorType,
    pixels: &[u8],
) -> Result<()> {
    let channels = match color {
        png::ColorType::Grayscale => 1,
        png::ColorType::Rgb => 3,
        png::ColorType::Rgba => 4,
        png::ColorType::GrayscaleAlpha => 2,
        png::ColorType::Indexed => {
            return Err(Error::Report("indexed PNG output is not supported".into()))
        }
    };
    if pixels.len() != width * height * channels {
        return Err(Error::Report(format!(
            "{}: {} bytes for a {width}x{height} image with {channels} channel(s)",
            path.display(),
            pixels.len()
        )));
    }
    let w = u32::try_from(width)
        .map_err(|_| Error::Report(format!("{}: image too wide", path.display())))?;
    let h = u32::try_from(height)
        .map_err(|_| Error::Report(format!("{}: image too tall", path.display())))?;
    let mut encoded = Vec::new();
    {
        let mut enc = png::Encoder::new(&mut encoded, w, h);
        enc.set_color(color);
        enc.set_depth(png::BitDepth::Eight);
        // Figures are written once and embedded in the HTML: favour size over speed.
        enc.set_compression(png::Compression::Best);
        enc.set_adaptive_filter(png::AdaptiveFilterType::Adaptive);
        let png_err = |e: png::EncodingError| {
            Error::Report(format!("{}: PNG encoding failed: {e}", path.display()))
        };
        let mut writer = enc.write_header().map_err(png_err)?;
        writer.write_image_data(pixels).map_err(png_err)?;
        writer.finish().map_err(png_err)?;
    }
    crate::atomic_write::write_atomic(path, &encoded)
}
