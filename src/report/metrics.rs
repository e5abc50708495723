//! The run's metrics CSV: one row per logged measurement, append-only, so that a crashed or
//! interrupted run keeps everything logged so far and a resumed run can continue the file.
//!
//! Format (the header is exactly [`METRICS_HEADER`]):
//!
//! ```text
//! kind,step,epoch,bits_per_dim,learning_rate,elapsed_s
//! train_step,100,0.512,1.8734,0.001,12.5
//! train_epoch,195,1,1.9102,0.001,24.1
//! valid,195,1,1.8450,0.001,26.0
//! ```
//!
//! * `train_step`: running mean of the training bits/dim over the last logging interval;
//!   `epoch` is fractional (epochs completed so far).
//! * `train_epoch`: mean training bits/dim over one epoch; `epoch` is integer-valued.
//! * `valid`: bits/dim on the whole validation set after that epoch.
//!
//! Floats are written with Rust's shortest round-trip formatting, so reading a file back gives
//! bit-identical values (NaN and inf included, should a run diverge).

use std::fs::{File, OpenOptions};
use std::io::{Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};

use crate::error::{Error, Result};

/// The first line of every metrics file.
pub const METRICS_HEADER: &str = "kind,step,epoch,bits_per_dim,learning_rate,elapsed_s";

/// What a metrics row measures.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum MetricKind {
    /// Running mean of train bits/dim over the last logging interval.
    TrainStep,
    /// Mean train bits/dim over a whole epoch.
    TrainEpoch,
    /// Validation bits/dim on the whole validation set after an epoch.
    Valid,
}

impl MetricKind {
    /// The name used in the CSV `kind` column.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::TrainStep => "train_step",
            Self::TrainEpoch => "train_epoch",
            Self::Valid => "valid",
        }
    }

    /// Parses a CSV `kind` value.
    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "train_step" => Some(Self::TrainStep),
            "train_epoch" => Some(Self::TrainEpoch),
            "valid" => Some(Self::Valid),
            _ => None,
        }
    }
}

impl std::fmt::Display for MetricKind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// One line of the metrics CSV.
#[derive(Debug, Clone, Copy, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct MetricRow {
    pub kind: MetricKind,
    /// Global optimizer step at the time of the measurement.
    pub step: u64,
    /// Epochs completed (fractional for `train_step`).
    pub epoch: f64,
    pub bits_per_dim: f64,
    pub learning_rate: f64,
    /// Seconds of training wall time since the start of the run.
    pub elapsed_s: f64,
}

impl MetricRow {
    /// The CSV line for this row, without the trailing newline.
    pub fn to_csv_line(&self) -> String {
        format!(
            "{},{},{},{},{},{}",
            self.kind, self.step, self.epoch, self.bits_per_dim, self.learning_rate, self.elapsed_s
        )
    }
}

/// Reads a metrics CSV written by [`MetricsWriter`].
pub fn read_metrics_csv(path: &Path) -> Result<Vec<MetricRow>> {
    let text = std::fs::read_to_string(path).map_err(|e| Error::io(path, e))?;
    parse_metrics_csv(&text, &path.display().to_string())
}

/// Parses metrics CSV text; `source` names the file in error messages (`"<source>: line N: ..."`).
/// Blank lines are skipped; any other malformed line is an error.
pub fn parse_metrics_csv(text: &str, source: &str) -> Result<Vec<MetricRow>> {
    let mut lines = text.lines().enumerate();
    let header = loop {
        match lines.next() {
            Some((_, l)) if l.trim().is_empty() => continue,
            Some((i, l)) => break (i + 1, l.trim()),
            None => {
                return Err(Error::Report(format!(
                    "{source}: empty metrics file (expected header `{METRICS_HEADER}`)"
                )))
            }
        }
    };
    if header.1 != METRICS_HEADER {
        return Err(Error::Report(format!(
            "{source}: line {}: header is `{}`, expected `{METRICS_HEADER}`",
            header.0, header.1
        )));
    }
    let mut rows = Vec::new();
    for (i, line) in lines {
        let line = line.trim();
        if line.is_empty() {
            continue;
        }
        rows.push(
            parse_row(line).map_err(|msg| {
                Error::Report(format!("{source}: line {}: {msg}: `{line}`", i + 1))
            })?,
        );
    }
    Ok(rows)
}

fn parse_row(line: &str) -> std::result::Result<MetricRow, String> {
    let fields: Vec<&str> = line.split(',').map(str::trim).collect();
    if fields.len() != 6 {
        return Err(format!("expected 6 fields, found {}", fields.len()));
    }
    let kind = MetricKind::parse(fields[0]).ok_or_else(|| {
        format!(
            "unknown kind `{}` (expected train_step, train_epoch or valid)",
            fields[0]
        )
    })?;
    let step = fields[1]
        .parse::<u64>()
        .map_err(|_| format!("step `{}` is not a non-negative integer", fields[1]))?;
    let float = |idx: usize, name: &str| {
        fields[idx]
            .parse::<f64>()
            .map_err(|_| format!("{name} `{}` is not a number", fields[idx]))
    };
    Ok(MetricRow {
        kind,
        step,
        epoch: float(2, "epoch")?,
        bits_per_dim: float(3, "bits_per_dim")?,
        learning_rate: float(4, "learning_rate")?,
        elapsed_s: float(5, "elapsed_s")?,
    })
}

/// Appends rows to a metrics CSV, flushing after every row so that the file is current even if
/// the process is killed.
#[derive(Debug)]
pub struct MetricsWriter {
    file: File,
    path: PathBuf,
}

impl MetricsWriter {
    /// Creates (or truncates) `path` and writes the header.
    pub fn create(path: &Path) -> Result<Self> {
        if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
            std::fs::create_dir_all(dir).map_err(|e| Error::io(dir, e))?;
        }
        let file = File::create(path).map_err(|e| Error::io(path, e))?;
        let mut w = Self {
            file,
            path: path.to_path_buf(),
        };
        w.write_line(METRICS_HEADER)?;
        Ok(w)
    }

    /// Opens `path` for appending (resumed runs). A missing or empty file gets the header; an
    /// existing file must start with it. A torn last line (no trailing newline, left by a crash
    /// in mid-write) is cut off so that the file stays parseable.
    pub fn open_append(path: &Path) -> Result<Self> {
        let exists = path.try_exists().map_err(|e| Error::io(path, e))?;
        if !exists {
            return Self::create(path);
        }
        let mut file = OpenOptions::new()
            .read(true)
            .write(true)
            .open(path)
            .map_err(|e| Error::io(path, e))?;
        let mut text = String::new();
        file.read_to_string(&mut text)
            .map_err(|e| Error::io(path, e))?;
        if text.trim().is_empty() {
            drop(file);
            return Self::create(path);
        }
        let first = text.lines().next().unwrap_or("").trim();
        if first != METRICS_HEADER {
            return Err(Error::Report(format!(
                "{}: cannot append, header is `{first}`, expected `{METRICS_HEADER}`",
                path.display()
            )));
        }
        if !text.ends_with('\n') {
            // Our writer ends every line with '\n', so a line without one is torn: drop it.
            // With no newline at all the file is just the (checked) header: complete it.
            match text.rfind('\n') {
                Some(pos) => file
                    .set_len(pos as u64 + 1)
                    .map_err(|e| Error::io(path, e))?,
                None => file.write_all(b"\n").map_err(|e| Error::io(path, e))?,
            }
        }
        file.seek(SeekFrom::End(0))
            .map_err(|e| Error::io(path, e))?;
        Ok(Self {
            file,
            path: path.to_path_buf(),
        })
    }

    /// Resumes a run from a checkpoint taken at `last_step`: rows logged after that step by the
    /// interrupted run are dropped (the resumed run will log them again), then appends.
    pub fn resume_at(path: &Path, last_step: u64) -> Result<Self> {
        if !path.try_exists().map_err(|e| Error::io(path, e))? {
            return Self::create(path);
        }
        // Go through open_append first so that a torn last line is cut off before parsing.
        drop(Self::open_append(path)?);
        let rows = read_metrics_csv(path)?;
        let mut text = String::from(METRICS_HEADER);
        text.push('\n');
        for row in rows.iter().filter(|r| r.step <= last_step) {
            text.push_str(&row.to_csv_line());
            text.push('\n');
        }
        crate::atomic_write::write_atomic(path, text.as_bytes())?;
        Self::open_append(path)
    }

    /// Appends one row and flushes it to the OS.
    pub fn write(&mut self, row: &MetricRow) -> Result<()> {
        self.write_line(&row.to_csv_line())
    }

    /// The file being written.
    pub fn path(&self) -> &Path {
        &self.path
    }

    fn write_line(&mut self, line: &str) -> Result<()> {
        let mut buf = String::with_capacity(line.len() + 1);
        buf.push_str(line);
        buf.push('\n');
        // One write call per line keeps a crash from interleaving partial fields.
        self.file
            .write_all(buf.as_bytes())
            .and_then(|()| self.file.flush())
            .map_err(|e| Error::io(&self.path, e))
    }
}
