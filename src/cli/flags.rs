//! The library's errors for command-line users: where a message names a [`Setting`] ("the
//! learning rate must be ..."), the command line names its flag instead ("--lr must be
//! ..."), and its advice points to the flags and commands that act on it.

use std::path::Path;

use crate::error::{diverged_summary, kept_sentence, Error, Setting};

/// The settings that the advice of a diverged run names, in its order.
const DIVERGED_SETTINGS: [Setting; 3] = [Setting::LearningRate, Setting::ClipNorm, Setting::OnNan];

impl Setting {
    /// The command-line flag that sets it.
    pub fn flag(self) -> &'static str {
        match self {
            Self::Hidden => "--hidden",
            Self::Epochs => "--epochs",
            Self::Batch => "--batch",
            Self::LearningRate => "--lr",
            Self::FinalLrFraction => "--final-lr",
            Self::ClipNorm => "--clip",
            Self::LogitAlpha => "--logit-alpha",
            Self::CheckpointEvery => "--checkpoint-every",
            Self::LogEvery => "--log-every",
            Self::TestDraws => "--test-draws",
            Self::Subset => "--subset",
            Self::RunName => "--name",
            Self::OnNan => "--on-nan",
            Self::Ema => "--ema",
            Self::Scale => "--scale",
        }
    }
}

/// `e` as the command line shows it (after "error: ").
pub fn command_line_message(e: &Error) -> String {
    match e {
        Error::InvalidSetting { setting, .. } => with_flags(&e.to_string(), &[*setting]),
        Error::Diverged {
            step,
            what,
            value,
            last_good,
        } => format!(
            "{}. Lower {} or set {} (or {} skip to step over rare bad batches)",
            diverged_summary(*step, what, *value, last_good.as_deref()),
            DIVERGED_SETTINGS[0].flag(),
            DIVERGED_SETTINGS[1].flag(),
            DIVERGED_SETTINGS[2].flag(),
        ),
        Error::TrainingDeviceFault {
            message,
            step,
            last_good,
        } => format!(
            "GPU: {message}; training stopped at step {step}: {}",
            kept_sentence(
                last_good.as_deref(),
                &last_good.as_deref().map_or(String::new(), continue_with)
            )
        ),
        other => other.to_string(),
    }
}

/// "continue with --resume P": how the command line goes on from checkpoint `p`.
pub(crate) fn continue_with(p: &Path) -> String {
    format!("continue with --resume {}", p.display())
}

/// `text` with each of `settings`' names replaced by its flag; a setting the text does not
/// name gets its flag appended, so the flag is always there.
fn with_flags(text: &str, settings: &[Setting]) -> String {
    let mut out = text.to_string();
    for s in settings {
        if out.contains(s.name()) {
            out = out.replace(s.name(), s.flag());
        } else {
            out = format!("{out} ({})", s.flag());
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn settings_become_flags() {
        let e = Error::invalid(Setting::LearningRate, |lr| format!("{lr} must be positive"));
        assert_eq!(
            e.to_string(),
            "configuration: the learning rate must be positive"
        );
        assert_eq!(
            command_line_message(&e),
            "configuration: --lr must be positive"
        );
        let e = Error::InvalidSetting {
            setting: Setting::Batch,
            message: "too large".into(),
        };
        assert_eq!(
            command_line_message(&e),
            "configuration: too large (--batch)"
        );
    }

    #[test]
    fn divergence_advice_names_the_flags() {
        let e = Error::Diverged {
            step: 3,
            what: "train loss",
            value: f64::NAN,
            last_good: None,
        };
        assert!(e.to_string().contains("Lower the learning rate"), "{e}");
        let m = command_line_message(&e);
        assert!(
            m.ends_with("no checkpoint was written yet. Lower --lr or set --clip (or --on-nan skip to step over rare bad batches)"),
            "{m}"
        );
    }
}
