//! One error type for the crate: every failure a user can meet carries a message that says
//! what went wrong and, where possible, what to do about it.

use std::path::{Path, PathBuf};

#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("GPU: {0}")]
    Gpu(String),
    #[error("data: {0}")]
    Data(String),
    #[error("configuration: {0}")]
    Config(String),
    #[error("checkpoint: {0}")]
    Checkpoint(String),
    #[error("report: {0}")]
    Report(String),
    /// The training loss or the validation likelihood stopped being a finite number: a
    /// training failure, not a wrong option (though a lower rate or clipping may avoid it).
    #[error(
        "training diverged at step {step} ({what} {value}); {}. Lower --lr or set --clip (or --on-nan skip to step over rare bad batches)",
        last_good_sentence(.last_good.as_deref())
    )]
    Diverged {
        step: u64,
        /// What went non-finite: "train loss" (nats) or "validation bits/dim".
        what: &'static str,
        value: f64,
        /// The newest checkpoint this run wrote or resumed from; `None` before the first.
        last_good: Option<PathBuf>,
    },
    #[error("{}: {source}", path.display())]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
}

pub type Result<T> = std::result::Result<T, Error>;

impl Error {
    /// Wraps an I/O error with the path it happened on.
    pub fn io(path: impl Into<PathBuf>, source: std::io::Error) -> Self {
        Self::Io {
            path: path.into(),
            source,
        }
    }
}

fn last_good_sentence(path: Option<&Path>) -> String {
    match path {
        Some(p) => format!("the last good checkpoint is {}", p.display()),
        None => "no checkpoint was written yet".into(),
    }
}
