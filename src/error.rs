//! One error type for the crate: every failure a user can meet carries a message that says
//! what went wrong and, where possible, what to do about it. Messages speak of values ("the
//! learning rate must be ..."); an error about a value a user sets names it as a
//! [`Setting`], which the command line (`cli::flags`) shows as its flag instead.

use std::path::{Path, PathBuf};

#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("GPU: {0}")]
    Gpu(String),
    #[error("data: {0}")]
    Data(String),
    #[error("configuration: {0}")]
    Config(String),
    /// A value out of its range, or one that does not fit the data or the device. `message`
    /// names the value as [`Setting::name`] says.
    #[error("{}: {message}", setting.area())]
    InvalidSetting { setting: Setting, message: String },
    #[error("checkpoint: {0}")]
    Checkpoint(String),
    #[error("report: {0}")]
    Report(String),
    /// The training loss or the validation likelihood stopped being a finite number: a
    /// training failure, not a wrong option (though a lower rate or clipping may avoid it).
    #[error(
        "{}. {}",
        diverged_summary(*.step, .what, *.value, .last_good.as_deref()),
        DIVERGED_ADVICE
    )]
    Diverged {
        step: u64,
        /// What went non-finite: "train loss" (nats) or "validation bits/dim".
        what: &'static str,
        value: f64,
        /// The newest checkpoint this run wrote or resumed from; `None` before the first.
        last_good: Option<PathBuf>,
    },
    /// The device failed (lost, out of memory) during training: nothing is saved from it, so
    /// the message says at which step and which checkpoint is still good.
    #[error(
        "GPU: {message}; training stopped at step {step}: {}",
        kept_sentence(.last_good.as_deref(), "resume from it to continue")
    )]
    TrainingDeviceFault {
        message: String,
        step: u64,
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

/// The values of a run or a figure that an error can be about: the library calls each by
/// [`Setting::name`], the command line by its flag.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Setting {
    Hidden,
    Epochs,
    Batch,
    LearningRate,
    FinalLrFraction,
    ClipNorm,
    LogitAlpha,
    CheckpointEvery,
    LogEvery,
    TestDraws,
    Subset,
    RunName,
    OnNan,
    /// The decay of the weights' moving average.
    Ema,
    /// The integer upscaling of a figure's pixels.
    Scale,
}

impl Setting {
    /// How library messages call the setting ("the learning rate").
    pub fn name(self) -> &'static str {
        match self {
            Self::Hidden => "the hidden width",
            Self::Epochs => "the number of epochs",
            Self::Batch => "the batch size",
            Self::LearningRate => "the learning rate",
            Self::FinalLrFraction => "the final learning-rate fraction",
            Self::ClipNorm => "the gradient clipping norm",
            Self::LogitAlpha => "the logit alpha",
            Self::CheckpointEvery => "the checkpoint interval",
            Self::LogEvery => "the logging interval",
            Self::TestDraws => "the number of test draws",
            Self::Subset => "the subset size",
            Self::RunName => "the run name",
            Self::OnNan => "the non-finite step policy",
            Self::Ema => "the weight average's decay",
            Self::Scale => "the figure scale",
        }
    }

    /// The kind of error a bad value of this setting is.
    fn area(self) -> &'static str {
        match self {
            Self::Scale => "report",
            _ => "configuration",
        }
    }
}

/// What [`Error::Diverged`] suggests, in the settings' names.
pub(crate) const DIVERGED_ADVICE: &str = "Lower the learning rate or set the gradient clipping norm (or set the non-finite step policy to skip, to step over rare bad batches)";

impl Error {
    /// An [`Error::InvalidSetting`] whose message `message` writes around the setting's name.
    pub fn invalid(setting: Setting, message: impl FnOnce(&str) -> String) -> Self {
        Self::InvalidSetting {
            setting,
            message: message(setting.name()),
        }
    }

    /// Wraps an I/O error with the path it happened on.
    pub fn io(path: impl Into<PathBuf>, source: std::io::Error) -> Self {
        Self::Io {
            path: path.into(),
            source,
        }
    }
}

/// "training diverged at step 12 (train loss NaN); the last good checkpoint is ...".
pub(crate) fn diverged_summary(
    step: u64,
    what: &str,
    value: f64,
    last_good: Option<&Path>,
) -> String {
    let last_good = match last_good {
        Some(p) => format!("the last good checkpoint is {}", p.display()),
        None => "no checkpoint was written yet".into(),
    };
    format!("training diverged at step {step} ({what} {value}); {last_good}")
}

/// "the last checkpoint, P, is kept (`how`)", where `how` says how to resume from P.
pub(crate) fn kept_sentence(last_good: Option<&Path>, how: &str) -> String {
    match last_good {
        Some(p) => format!("the last checkpoint, {}, is kept ({how})", p.display()),
        None => "no checkpoint was written yet".into(),
    }
}
