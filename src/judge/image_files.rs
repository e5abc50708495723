//! Images to judge from files: a PNG grid as `flowgpu sample` and the report write it
//! (1-pixel separators, any integer scale; empty cells skipped), a PNG of plain 28 x 28
//! tiles, or a NumPy `.npy` array of shape `[n, 28, 28]` or `[n, 784]` (`uint8` 0-255, or
//! `float32` / `float64` intensities in [0, 1]).

use std::path::Path;

use crate::error::{Error, Result};
use crate::judge::classifier::SIDE;
use crate::report::image_grid::{unit_to_pixel, SEPARATOR_GRAY};

/// Largest integer upscaling a grid is searched for.
const MAX_GRID_SCALE: usize = 16;

/// Whole 28 x 28 images, one byte per pixel, from a `.png` or `.npy` file.
pub fn read_images(path: &Path) -> Result<Vec<u8>> {
    let bytes = std::fs::read(path)
        .map_err(|e| Error::Data(format!("cannot read {}: {e}", path.display())))?;
    let at = |e: String| Error::Data(format!("{}: {e}", path.display()));
    let images = match path.extension().and_then(|e| e.to_str()) {
        Some(e) if e.eq_ignore_ascii_case("png") => png_images(&bytes).map_err(at)?,
        Some(e) if e.eq_ignore_ascii_case("npy") => npy_images(&bytes).map_err(at)?,
        _ => {
            return Err(at(
                "the judge reads .png grids and .npy arrays of 28 x 28 images".into(),
            ))
        }
    };
    if images.is_empty() {
        return Err(at("no 28 x 28 images in it".into()));
    }
    Ok(images)
}

/// The gray bytes of a PNG (RGB and RGBA averaged to gray, 16-bit reduced to 8).
fn png_gray(bytes: &[u8]) -> std::result::Result<(usize, usize, Vec<u8>), String> {
    let mut decoder = png::Decoder::new(std::io::Cursor::new(bytes));
    decoder.set_transformations(png::Transformations::normalize_to_color8());
    let mut reader = decoder
        .read_info()
        .map_err(|e| format!("not a PNG ({e})"))?;
    let mut buf = vec![0; reader.output_buffer_size()];
    let info = reader
        .next_frame(&mut buf)
        .map_err(|e| format!("a damaged PNG ({e})"))?;
    let (w, h) = (info.width as usize, info.height as usize);
    let channels = info.color_type.samples();
    let gray = buf[..w * h * channels]
        .chunks(channels)
        .map(|px| match channels {
            1 | 2 => px[0],
            _ => ((px[0] as u32 + px[1] as u32 + px[2] as u32) / 3) as u8,
        })
        .collect();
    Ok((w, h, gray))
}

fn png_images(bytes: &[u8]) -> std::result::Result<Vec<u8>, String> {
    let (w, h, gray) = png_gray(bytes)?;
    // A flowgpu grid: 1 + cols (28 s + 1) by 1 + rows (28 s + 1) pixels.
    for scale in 1..=MAX_GRID_SCALE {
        let cell = SIDE * scale + 1;
        if w > 1 && h > 1 && (w - 1) % cell == 0 && (h - 1) % cell == 0 {
            let (cols, rows) = ((w - 1) / cell, (h - 1) / cell);
            return Ok(tiles(&gray, w, rows, cols, scale, 1, cell));
        }
    }
    if w % SIDE == 0 && h % SIDE == 0 {
        return Ok(tiles(&gray, w, h / SIDE, w / SIDE, 1, 0, SIDE));
    }
    Err(format!(
        "a {w} x {h} PNG is neither a flowgpu grid of 28 x 28 images nor plain 28 x 28 tiles"
    ))
}

/// Cells of `side * scale` pixels at `offset + i * pitch`, sampled once per `scale` block;
/// a cell of separator grey only (an empty grid cell) is skipped.
fn tiles(
    gray: &[u8],
    width: usize,
    rows: usize,
    cols: usize,
    scale: usize,
    offset: usize,
    pitch: usize,
) -> Vec<u8> {
    let mut out = Vec::new();
    for r in 0..rows {
        for c in 0..cols {
            let (x0, y0) = (offset + c * pitch, offset + r * pitch);
            let cell: Vec<u8> = (0..SIDE * SIDE)
                .map(|i| gray[(y0 + (i / SIDE) * scale) * width + x0 + (i % SIDE) * scale])
                .collect();
            if offset > 0 && cell.iter().all(|&p| p == SEPARATOR_GRAY) {
                continue;
            }
            out.extend(cell);
        }
    }
    out
}

/// A `.npy` array (format 1.0-3.0, C order, little-endian `u1`, `f4` or `f8`).
fn npy_images(bytes: &[u8]) -> std::result::Result<Vec<u8>, String> {
    if bytes.len() < 10 || &bytes[..6] != b"\x93NUMPY" {
        return Err("not a .npy file".into());
    }
    let (header_len, start) = match bytes[6] {
        1 => (u16::from_le_bytes([bytes[8], bytes[9]]) as usize, 10),
        2 | 3 if bytes.len() >= 12 => (
            u32::from_le_bytes([bytes[8], bytes[9], bytes[10], bytes[11]]) as usize,
            12,
        ),
        v => {
            return Err(format!(
                "a .npy format version {v} this reader does not know"
            ))
        }
    };
    let header = bytes
        .get(start..start + header_len)
        .and_then(|h| std::str::from_utf8(h).ok())
        .ok_or("a damaged .npy header")?;
    let field = |key: &str| -> Option<&str> {
        let at = header.find(&format!("'{key}'"))? + key.len() + 2;
        let rest = header[at..].trim_start().strip_prefix(':')?.trim_start();
        Some(rest)
    };
    let descr = field("descr")
        .and_then(|r| r.strip_prefix('\''))
        .and_then(|r| r.split('\'').next())
        .ok_or("no dtype in the .npy header")?;
    if field("fortran_order").is_some_and(|r| r.starts_with("True")) {
        return Err("a Fortran-order array; save it with np.ascontiguousarray".into());
    }
    let shape: Vec<usize> = field("shape")
        .and_then(|r| r.strip_prefix('('))
        .and_then(|r| r.split(')').next())
        .ok_or("no shape in the .npy header")?
        .split(',')
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(|s| {
            s.parse::<usize>()
                .map_err(|_| format!("a shape entry '{s}'"))
        })
        .collect::<std::result::Result<_, _>>()?;
    let images = match shape[..] {
        [n, r, c] if r == SIDE && c == SIDE => n,
        [n, d] if d == SIDE * SIDE => n,
        _ => {
            return Err(format!(
                "an array of shape {shape:?}; the judge wants [n, 28, 28] or [n, 784]"
            ))
        }
    };
    let count = images * SIDE * SIDE;
    let data = &bytes[start + header_len..];
    let width = match descr {
        "|u1" | "<u1" | "u1" => 1,
        "<f4" => 4,
        "<f8" => 8,
        other => {
            return Err(format!(
                "dtype '{other}'; the judge reads uint8, float32 and float64 (little-endian)"
            ))
        }
    };
    if data.len() < count * width {
        return Err(format!(
            "{} bytes of data for {count} values of {width} bytes",
            data.len()
        ));
    }
    let data = &data[..count * width];
    Ok(match width {
        1 => data.to_vec(),
        4 => data
            .chunks_exact(4)
            .map(|c| unit_to_pixel(f32::from_le_bytes([c[0], c[1], c[2], c[3]])))
            .collect(),
        _ => data
            .chunks_exact(8)
            .map(|c| {
                let v = f64::from_le_bytes(c.try_into().expect("8 bytes"));
                unit_to_pixel(v as f32)
            })
            .collect(),
    })
}
