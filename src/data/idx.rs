//! IDX files (the MNIST container format): big-endian header, then unsigned bytes.
//!
//! Images: magic 0x00000803, dims (n, rows, cols), then n*rows*cols pixel bytes.
//! Labels: magic 0x00000801, dim (n), then n label bytes.
//!
//! Files may be raw or gzip-compressed; gzip is recognised by its magic bytes (1f 8b), not by
//! the file name, because renamed or half-decompressed downloads are common. Every check is
//! exact (magic, dims, payload length) so a damaged file fails loudly with the file's name
//! instead of training on garbage.

use std::fs::File;
use std::io::{BufWriter, Read, Write};
use std::path::Path;

use flate2::read::MultiGzDecoder;

use crate::error::{Error, Result};

/// Magic number of an IDX file of unsigned bytes with 3 dimensions (images).
pub const IMAGES_MAGIC: u32 = 0x0000_0803;
/// Magic number of an IDX file of unsigned bytes with 1 dimension (labels).
pub const LABELS_MAGIC: u32 = 0x0000_0801;

const GZIP_MAGIC: [u8; 2] = [0x1f, 0x8b];

/// The contents of an IDX image file: `count` images of `rows * cols` bytes, row-major.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IdxImages {
    pub count: usize,
    pub rows: usize,
    pub cols: usize,
    pub pixels: Vec<u8>,
}

/// True when `bytes` start with the gzip magic.
pub fn is_gzip(bytes: &[u8]) -> bool {
    bytes.starts_with(&GZIP_MAGIC)
}

/// Reads a whole file, decompressing it when it is gzip (detected by content).
pub fn read_maybe_gz(path: &Path) -> Result<Vec<u8>> {
    let mut bytes = Vec::new();
    File::open(path)
        .and_then(|mut f| f.read_to_end(&mut bytes))
        .map_err(|e| Error::io(path, e))?;
    if !is_gzip(&bytes) {
        return Ok(bytes);
    }
    let mut out = Vec::with_capacity(bytes.len() * 2);
    MultiGzDecoder::new(bytes.as_slice())
        .read_to_end(&mut out)
        .map_err(|e| {
            Error::Data(format!(
                "{}: gzip data is damaged ({e}); delete the file and fetch it again",
                path.display()
            ))
        })?;
    Ok(out)
}

/// Reads an IDX image file (raw or gzip).
pub fn read_images(path: &Path) -> Result<IdxImages> {
    parse_images(&path.display().to_string(), read_maybe_gz(path)?)
}

/// Reads an IDX label file (raw or gzip).
pub fn read_labels(path: &Path) -> Result<Vec<u8>> {
    parse_labels(&path.display().to_string(), read_maybe_gz(path)?)
}

/// Parses decompressed IDX image bytes; `name` is used in error messages.
pub fn parse_images(name: &str, mut bytes: Vec<u8>) -> Result<IdxImages> {
    let header = 16;
    check_header(name, &bytes, IMAGES_MAGIC, header)?;
    let count = be_u32(&bytes, 4);
    let rows = be_u32(&bytes, 8);
    let cols = be_u32(&bytes, 12);
    if rows == 0 || cols == 0 {
        return Err(Error::Data(format!(
            "{name}: image size {rows}x{cols} has a zero dimension"
        )));
    }
    let expected = count
        .checked_mul(rows)
        .and_then(|v| v.checked_mul(cols))
        .ok_or_else(|| {
            Error::Data(format!(
                "{name}: dims {count}x{rows}x{cols} are too large to be real"
            ))
        })?;
    check_payload(name, bytes.len() - header, expected, "pixel")?;
    bytes.drain(..header);
    Ok(IdxImages {
        count,
        rows,
        cols,
        pixels: bytes,
    })
}

/// Parses decompressed IDX label bytes; `name` is used in error messages.
pub fn parse_labels(name: &str, mut bytes: Vec<u8>) -> Result<Vec<u8>> {
    let header = 8;
    check_header(name, &bytes, LABELS_MAGIC, header)?;
    let count = be_u32(&bytes, 4);
    check_payload(name, bytes.len() - header, count, "label")?;
    bytes.drain(..header);
    Ok(bytes)
}

/// Writes a raw (uncompressed) IDX image file. `pixels.len()` must be a multiple of
/// `rows * cols`.
pub fn write_images(path: &Path, rows: usize, cols: usize, pixels: &[u8]) -> Result<()> {
    let dim = rows * cols;
    if dim == 0 || pixels.len() % dim != 0 {
        return Err(Error::Data(format!(
            "{}: cannot write {} pixel bytes as {rows}x{cols} images",
            path.display(),
            pixels.len()
        )));
    }
    let count = pixels.len() / dim;
    let mut header = Vec::with_capacity(16);
    for v in [IMAGES_MAGIC as usize, count, rows, cols] {
        header.extend_from_slice(&to_u32(path, v)?.to_be_bytes());
    }
    write_all(path, &header, pixels)
}

/// Writes a raw (uncompressed) IDX label file.
pub fn write_labels(path: &Path, labels: &[u8]) -> Result<()> {
    let mut header = Vec::with_capacity(8);
    header.extend_from_slice(&LABELS_MAGIC.to_be_bytes());
    header.extend_from_slice(&to_u32(path, labels.len())?.to_be_bytes());
    write_all(path, &header, labels)
}

fn write_all(path: &Path, header: &[u8], payload: &[u8]) -> Result<()> {
    let file = File::create(path).map_err(|e| Error::io(path, e))?;
    let mut w = BufWriter::new(file);
    w.write_all(header)
        .and_then(|_| w.write_all(payload))
        .and_then(|_| w.flush())
        .map_err(|e| Error::io(path, e))
}

fn to_u32(path: &Path, v: usize) -> Result<u32> {
    u32::try_from(v).map_err(|_| {
        Error::Data(format!(
            "{}: {v} does not fit an IDX dimension",
            path.display()
        ))
    })
}

fn be_u32(bytes: &[u8], at: usize) -> usize {
    u32::from_be_bytes([bytes[at], bytes[at + 1], bytes[at + 2], bytes[at + 3]]) as usize
}

fn kind(magic: u32) -> &'static str {
    if magic == IMAGES_MAGIC {
        "images"
    } else {
        "labels"
    }
}

/// Checks length against the header size and the magic number.
fn check_header(name: &str, bytes: &[u8], magic: u32, header: usize) -> Result<()> {
    if bytes.len() < header {
        return Err(Error::Data(format!(
            "{name}: file is {} bytes, too short for the {header}-byte IDX {} header",
            bytes.len(),
            kind(magic)
        )));
    }
    let found = be_u32(bytes, 0) as u32;
    if found == magic {
        return Ok(());
    }
    let what = match found {
        IMAGES_MAGIC => "is an image file".to_string(),
        LABELS_MAGIC => "is a label file".to_string(),
        _ if is_gzip(bytes) => "is gzip data inside gzip (compressed twice?)".to_string(),
        _ => "is not an IDX ubyte file".to_string(),
    };
    Err(Error::Data(format!(
        "{name}: magic 0x{found:08x} {what}, expected {} 0x{magic:08x}",
        kind(magic)
    )))
}

fn check_payload(name: &str, found: usize, expected: usize, unit: &str) -> Result<()> {
    if found < expected {
        Err(Error::Data(format!(
            "{name}: truncated: expected {expected} {unit} bytes, found {found}"
        )))
    } else if found > expected {
        Err(Error::Data(format!(
            "{name}: {} trailing bytes: expected {expected} {unit} bytes, found {found}",
            found - expected
        )))
    } else {
        Ok(())
    }
}
