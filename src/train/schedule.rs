//! Learning-rate schedules: linear warm-up, then constant, cosine or step decay.

use serde::{Deserialize, Serialize};

#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum DecayKind {
    Constant,
    /// Cosine from the base rate down to `final_fraction` of it at the last step.
    Cosine,
    /// Multiply by `final_fraction ^ (1 / epochs)` every epoch.
    Exponential,
}

impl std::str::FromStr for DecayKind {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        match s {
            "constant" | "none" => Ok(Self::Constant),
            "cosine" => Ok(Self::Cosine),
            "exponential" | "exp" => Ok(Self::Exponential),
            _ => Err(format!(
                "unknown learning-rate decay '{s}': expected constant, cosine or exponential"
            )),
        }
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
pub struct Schedule {
    pub base: f64,
    pub warmup_steps: u64,
    pub total_steps: u64,
    pub steps_per_epoch: u64,
    pub decay: DecayKind,
    /// The rate at the end of training, as a fraction of `base`.
    pub final_fraction: f64,
}

impl Schedule {
    /// The rate for step `t` (counted from 1).
    pub fn lr(&self, t: u64) -> f64 {
        let warm = if self.warmup_steps > 0 {
            (t as f64 / self.warmup_steps as f64).min(1.0)
        } else {
            1.0
        };
        let progress = (t.saturating_sub(1) as f64 / self.total_steps.max(1) as f64).min(1.0);
        let decay = match self.decay {
            DecayKind::Constant => 1.0,
            DecayKind::Cosine => {
                let f = self.final_fraction;
                f + (1.0 - f) * 0.5 * (1.0 + (std::f64::consts::PI * progress).cos())
            }
            DecayKind::Exponential => {
                let epochs =
                    (self.total_steps as f64 / self.steps_per_epoch.max(1) as f64).max(1.0);
                let epoch = (t.saturating_sub(1) / self.steps_per_epoch.max(1)) as f64;
                self.final_fraction.powf(epoch / epochs)
            }
        };
        self.base * warm * decay
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn warmup_then_cosine_reaches_the_final_fraction() {
        let s = Schedule {
            base: 1e-3,
            warmup_steps: 10,
            total_steps: 100,
            steps_per_epoch: 10,
            decay: DecayKind::Cosine,
            final_fraction: 0.1,
        };
        assert!((s.lr(1) - 1e-4).abs() < 1e-12);
        assert!(s.lr(10) < 1e-3 && s.lr(10) > 0.9e-3);
        assert!((s.lr(101) - 1e-4).abs() < 1e-9);
        let e = Schedule {
            decay: DecayKind::Exponential,
            warmup_steps: 0,
            ..s
        };
        assert!((e.lr(1) - 1e-3).abs() < 1e-12);
        assert!((e.lr(91) - 1e-3 * 0.1f64.powf(0.9)).abs() < 1e-12);
        let c = Schedule {
            decay: DecayKind::Constant,
            warmup_steps: 0,
            ..s
        };
        assert_eq!(c.lr(57), 1e-3);
    }
}
