//! The report's discussion: sentences computed from the run's own numbers. Every direction a
//! sentence states (higher or lower, improving or flat, overfitting or not, above or below)
//! is chosen by comparing those numbers, with an "about the same" wording when they differ by
//! less than a stated tolerance, so the text cannot contradict the figures it sits beside.
//!
//! Inputs are the metrics rows (train epoch means and validation values, one per epoch), the
//! test [`Likelihood`] and the sample saturation per temperature.

use std::collections::BTreeMap;
use std::fmt::Write as _;

use super::document::SampleSaturation;
use super::metrics::{MetricKind, MetricRow};
use super::text::fmt_epoch;
use crate::judge::JudgeTable;
use crate::judge::JudgedSet;
use crate::train::evaluate::Likelihood;

/// Validation improvement per epoch below which the curve counts as flat.
pub const FLAT_THRESHOLD_BITS: f64 = 0.01;
/// Two bits/dim values closer than this are called "about the same" (the report prints four
/// decimals, and validation is measured with fixed noise, so smaller moves are not news).
pub const SAME_BITS: f64 = 0.001;
/// A train/validation gap smaller than this counts as close agreement.
pub const CLOSE_GAP_BITS: f64 = 0.02;
/// Two pixel shares closer than this (half a percentage point) are called "about the same".
pub const SAME_SHARE: f64 = 0.005;

/// The direction of a change from one value to another, with its size.
#[derive(Debug, Clone, Copy, PartialEq)]
enum Change {
    Up(f64),
    Down(f64),
    Same,
}

impl Change {
    fn between(from: f64, to: f64, tolerance: f64) -> Self {
        let d = to - from;
        if d.abs() < tolerance {
            Self::Same
        } else if d > 0.0 {
            Self::Up(d)
        } else {
            Self::Down(-d)
        }
    }
}

fn same_epoch(a: f64, b: f64) -> bool {
    (a - b).abs() < 1e-6
}

/// One value per epoch for `kind` (the last row wins, as in a resumed run), finite values
/// only, sorted by epoch.
pub(crate) fn per_epoch(metrics: &[MetricRow], kind: MetricKind) -> Vec<(f64, f64)> {
    let mut map: BTreeMap<i64, (f64, f64)> = BTreeMap::new();
    for r in metrics.iter().filter(|r| r.kind == kind) {
        if r.epoch.is_finite() && r.bits_per_dim.is_finite() {
            map.insert((r.epoch * 1000.0).round() as i64, (r.epoch, r.bits_per_dim));
        }
    }
    map.into_values().collect()
}

/// The lowest (epoch, value); the earliest one on ties. `None` for an empty series.
fn best(series: &[(f64, f64)]) -> Option<(f64, f64)> {
    series
        .iter()
        .copied()
        .fold(None, |acc: Option<(f64, f64)>, p| match acc {
            Some(a) if a.1 <= p.1 => Some(a),
            _ => Some(p),
        })
}

/// Sentences about the run computed from its own numbers: best validation epoch, where the
/// validation curve flattens, the final train/validation gap and whether validation shows
/// overfitting, and test against validation.
pub fn discuss(metrics: &[MetricRow], test: Option<&Likelihood>) -> Vec<String> {
    let valid = per_epoch(metrics, MetricKind::Valid);
    let train = per_epoch(metrics, MetricKind::TrainEpoch);
    let mut out = validation_sentences(&valid);
    out.extend(gap_sentence(&train, &valid));
    out.push(test_sentence(test, valid.last().copied()));
    out
}

fn validation_sentences(valid: &[(f64, f64)]) -> Vec<String> {
    match valid {
        [] => vec![
            "No validation bits/dim were recorded, so the curves cannot be judged \
                    against held-out data."
                .to_string(),
        ],
        [(e, v)] => vec![format!(
            "Validation was measured once, after epoch {}: {v:.4} bits/dim.",
            fmt_epoch(*e)
        )],
        _ => vec![best_sentence(valid), flattening_sentence(valid)],
    }
}

/// Which epoch's model is best, and whether the final one is as good. `valid` has at least
/// two entries.
fn best_sentence(valid: &[(f64, f64)]) -> String {
    let Some((best_e, best_v)) = best(valid) else {
        return String::new();
    };
    let (last_e, last_v) = valid[valid.len() - 1];
    let mut s = format!(
        "The best validation result is {best_v:.4} bits/dim after epoch {}",
        fmt_epoch(best_e)
    );
    if same_epoch(best_e, last_e) {
        s.push_str(", the last epoch measured, so the final model is also the best one.");
        return s;
    }
    let _ = match Change::between(best_v, last_v, SAME_BITS) {
        Change::Up(d) => write!(
            s,
            "; the last epoch ({}) reached {last_v:.4}, {d:.4} bits/dim higher, so the \
             checkpoint from epoch {} is the better model.",
            fmt_epoch(last_e),
            fmt_epoch(best_e)
        ),
        Change::Same | Change::Down(_) => write!(
            s,
            "; the last epoch ({}) reached {last_v:.4}, within {SAME_BITS} bits/dim of it, so \
             the final model is as good as the best one.",
            fmt_epoch(last_e)
        ),
    };
    s
}

/// Where the validation curve stops improving by [`FLAT_THRESHOLD_BITS`] per epoch, what
/// that step did, and where the curve went afterwards. `valid` has at least two entries.
fn flattening_sentence(valid: &[(f64, f64)]) -> String {
    let (last_e, last_v) = valid[valid.len() - 1];
    let rate = |(e0, v0): (f64, f64), (e1, v1): (f64, f64)| (v0 - v1) / (e1 - e0).max(1e-9);
    let flat = valid
        .windows(2)
        .find(|w| rate(w[0], w[1]) < FLAT_THRESHOLD_BITS);
    let Some(w) = flat else {
        let w = &valid[valid.len() - 2..];
        return format!(
            "The validation curve has not flattened: every epoch improved it by at least \
             {FLAT_THRESHOLD_BITS} bits/dim (the last by {:.4}), so longer training should \
             still help.",
            rate(w[0], w[1])
        );
    };
    let ((e, v), (next_e, next_v)) = (w[0], w[1]);
    let one_epoch = same_epoch(next_e - e, 1.0);
    let step = match Change::between(v, next_v, SAME_BITS) {
        Change::Down(d) if one_epoch => format!(
            "improved it by only {d:.4} bits/dim, below the {FLAT_THRESHOLD_BITS} bits/dim per \
             epoch that counts as progress"
        ),
        Change::Down(d) => format!(
            "improved it by only {d:.4} bits/dim, {:.4} per epoch, below the \
             {FLAT_THRESHOLD_BITS} bits/dim per epoch that counts as progress",
            rate(w[0], w[1])
        ),
        Change::Same => format!("left it about the same ({:+.4} bits/dim)", next_v - v),
        Change::Up(d) => format!("made it worse by {d:.4} bits/dim"),
    };
    let mut s = format!(
        "The validation curve flattens after epoch {}: the next measurement (epoch {}) {step}",
        fmt_epoch(e),
        fmt_epoch(next_e)
    );
    if !same_epoch(next_e, last_e) {
        let _ = match Change::between(v, last_v, SAME_BITS) {
            Change::Down(d) => write!(
                s,
                ", and from there to the end it improved by {d:.4} bits/dim in total"
            ),
            Change::Same => write!(
                s,
                ", and from there to the end it stayed within {SAME_BITS} bits/dim of {v:.4}"
            ),
            Change::Up(d) => write!(
                s,
                ", and from there to the end it rose by {d:.4} bits/dim in total"
            ),
        };
    }
    s.push('.');
    s
}

/// The final train/validation gap, what the train trend says about it, and whether the
/// validation curve shows overfitting. `None` without both series.
fn gap_sentence(train: &[(f64, f64)], valid: &[(f64, f64)]) -> Option<String> {
    let &(ve, vv) = valid.last()?;
    let &last_train = train.last()?;
    let (te, tv) = train
        .iter()
        .copied()
        .find(|&(e, _)| same_epoch(e, ve))
        .unwrap_or(last_train);
    let gap = vv - tv;
    let when = if same_epoch(te, ve) {
        format!("At epoch {}", fmt_epoch(ve))
    } else {
        format!(
            "At the end (train epoch {}, validation epoch {})",
            fmt_epoch(te),
            fmt_epoch(ve)
        )
    };
    // How the train mean moved into this epoch: while it still falls, the model improved
    // during the epoch, and a mean over the epoch lags the model at its end.
    let train_trend = train
        .iter()
        .rev()
        .find(|&&(e, _)| e < te - 1e-6)
        .map(|&(_, prev)| Change::between(prev, tv, SAME_BITS));
    let mut s = format!(
        "{when} the train epoch mean is {tv:.4} and validation {vv:.4} bits/dim, a gap of \
         {gap:+.4}: "
    );
    if gap.abs() < CLOSE_GAP_BITS {
        s.push_str("train and validation agree closely");
    } else if gap > 0.0 {
        s.push_str("validation is worse than train");
        if let Some(Change::Down(d)) = train_trend {
            let _ = write!(
                s,
                ", and since the train mean averages over an epoch in which the model was \
                 still improving (it fell {d:.4} bits/dim from the epoch before), the gap at the \
                 end of the epoch is, if anything, larger"
            );
        }
    } else {
        s.push_str("validation is better than the train epoch mean");
        match train_trend {
            Some(Change::Down(d)) => {
                let _ = write!(
                    s,
                    ", as expected while the model still improves (the train mean fell {d:.4} \
                     bits/dim from the epoch before): the train figure averages over the whole \
                     epoch, the validation figure is measured at its end"
                );
            }
            Some(_) => s.push_str(
                " although the train mean has stopped falling, so the difference lies in the \
                 two image sets and their dequantization noise rather than in training progress",
            ),
            None => {}
        }
    }
    s.push_str("; ");
    s.push_str(&overfitting_clause(train, valid, tv));
    s.push('.');
    Some(s)
}

/// Overfitting means validation rising from its best while the train mean keeps falling;
/// says which of that the numbers show.
fn overfitting_clause(train: &[(f64, f64)], valid: &[(f64, f64)], final_train: f64) -> String {
    let (Some((best_e, best_v)), Some(&(_, last_v))) = (best(valid), valid.last()) else {
        return String::new();
    };
    if valid.len() < 2 {
        return "one validation measurement cannot show overfitting".into();
    }
    let Change::Up(rise) = Change::between(best_v, last_v, SAME_BITS) else {
        return format!(
            "validation has not risen from its best (within {SAME_BITS} bits/dim), so there is \
             no sign of overfitting"
        );
    };
    let since = format!(
        "validation has risen {rise:.4} bits/dim since its best (epoch {})",
        fmt_epoch(best_e)
    );
    let train_at_best = train
        .iter()
        .find(|&&(e, _)| same_epoch(e, best_e))
        .map(|&(_, v)| Change::between(v, final_train, SAME_BITS));
    match train_at_best {
        Some(Change::Down(fall)) => format!(
            "{since} while the train mean fell {fall:.4} bits/dim over the same epochs: the \
             pattern of overfitting"
        ),
        Some(_) => format!(
            "{since}, but the train mean did not fall over the same epochs either, so this is \
             not overfitting (train improving while validation worsens)"
        ),
        None => format!(
            "{since}, a possible sign of overfitting (no train mean from that epoch to compare)"
        ),
    }
}

/// The test likelihood and how it compares with the final validation value.
fn test_sentence(test: Option<&Likelihood>, last_valid: Option<(f64, f64)>) -> String {
    let Some(t) = test else {
        return "The test set was not evaluated in this run.".to_string();
    };
    let mut s = format!(
        "On the test set ({} images, {} dequantization draw{} each) the model reaches \
         {:.4} ± {:.4} bits/dim ({:.2} ± {:.2} nats/image)",
        t.images,
        t.draws,
        if t.draws == 1 { "" } else { "s" },
        t.bits_per_dim,
        t.bits_per_dim_se,
        t.nats,
        t.nats_se
    );
    if let Some((ve, vv)) = last_valid {
        let relation = match Change::between(vv, t.bits_per_dim, SAME_BITS) {
            Change::Up(d) => format!("{d:.4} bits/dim above"),
            Change::Down(d) => format!("{d:.4} bits/dim below"),
            Change::Same => "about the same as".to_string(),
        };
        let _ = write!(
            s,
            ", {relation} the final validation value ({vv:.4}, epoch {})",
            fmt_epoch(ve)
        );
        let diff = (t.bits_per_dim - vv).abs();
        if !t.bits_per_dim_se.is_finite() {
            s.push_str(
                "; the test estimate has no standard error (fewer than two images), so the \
                 difference cannot be judged",
            );
        } else if diff <= 2.0 * t.bits_per_dim_se {
            s.push_str(
                "; the difference is within two standard errors, so test and validation agree",
            );
        } else {
            s.push_str(
                "; the difference is beyond two standard errors, so the two sets differ by more \
                 than sampling noise of the test estimate explains (validation noise and the \
                 model used may also differ)",
            );
        }
    }
    s.push('.');
    s
}

/// How lowering the temperature changes the share of nearly black or white sample pixels,
/// comparing the warmest and the coldest temperature measured; `None` without two distinct
/// temperatures.
pub fn discuss_temperature(samples: &[SampleSaturation]) -> Option<String> {
    let finite = samples
        .iter()
        .filter(|s| s.temperature.is_finite() && s.share.is_finite());
    let warm = finite
        .clone()
        .max_by(|a, b| a.temperature.total_cmp(&b.temperature))?;
    let cold = finite.min_by(|a, b| a.temperature.total_cmp(&b.temperature))?;
    if cold.temperature >= warm.temperature {
        return None;
    }
    let (w, c) = (100.0 * warm.share, 100.0 * cold.share);
    let lowering = format!(
        "Lowering the temperature from {:.1} to {:.1}",
        warm.temperature, cold.temperature
    );
    let what = "the share of nearly black or white sample pixels";
    Some(match Change::between(warm.share, cold.share, SAME_SHARE) {
        Change::Up(_) => format!(
            "{lowering} raises {what} from {w:.1}% to {c:.1}%: by this measure the colder \
             samples are cleaner."
        ),
        Change::Down(_) => format!(
            "{lowering} lowers {what} from {w:.1}% to {c:.1}%: by this measure the colder \
             samples are less clean, not cleaner."
        ),
        Change::Same => format!(
            "{lowering} leaves {what} about the same ({w:.1}% and {c:.1}%): by this measure \
             the temperature does not change how clean the samples look."
        ),
    })
}

/// Two digit-like shares closer than this are "about the same": with 1,000 samples a share
/// near one half has a standard error of 1.6 points.
pub const SAME_DIGIT_LIKE: f64 = 0.02;

/// What the sample judge says of the samples: the digit-like share at the warmest
/// temperature against the two reference lines, how the coldest compares, and the class
/// spread and FID; `None` without a samples line.
pub fn discuss_judge(j: &JudgeTable) -> Option<String> {
    let mut lines: Vec<&JudgedSet> = j.sets.iter().filter(|s| j.at_line(s)).collect();
    let temp = |s: &JudgedSet| s.temperature.unwrap_or(f32::NAN);
    lines.sort_by(|a, b| temp(b).total_cmp(&temp(a)));
    let warm = lines.first()?;
    let pct = |s: &JudgedSet| 100.0 * s.figures.digit_like;
    let t = |s: &JudgedSet| s.temperature.unwrap_or(f32::NAN);
    let mut out = format!(
        "The sample judge calls {:.1}% of {} samples at T = {:.1} digit-like",
        pct(warm),
        warm.figures.images,
        t(warm)
    );
    let refs: Vec<String> = [
        j.real()
            .map(|r| format!("real test images: {:.1}%", pct(r))),
        j.untrained()
            .map(|u| format!("an untrained flow's samples: {:.1}%", pct(u))),
    ]
    .into_iter()
    .flatten()
    .collect();
    if !refs.is_empty() {
        let _ = write!(out, " ({})", refs.join("; "));
    }
    out.push('.');
    if let Some(cold) = lines.last().filter(|c| t(c) < t(warm)) {
        let how = match Change::between(
            warm.figures.digit_like,
            cold.figures.digit_like,
            SAME_DIGIT_LIKE,
        ) {
            Change::Up(_) => "more of them are digit-like, so colder is better here",
            Change::Down(_) => "fewer of them are digit-like, so colder is worse here",
            Change::Same => "about as many are digit-like: the temperature barely matters here",
        };
        let _ = write!(
            out,
            " At T = {:.1} it is {:.1}%: {how}.",
            t(cold),
            pct(cold)
        );
    }
    let _ = write!(
        out,
        " At T = {:.1} the samples' classes have {:.2} bits of entropy and an MNIST FID of {:.1}",
        t(warm),
        warm.figures.class_entropy_bits,
        warm.figures.frechet
    );
    if let Some(r) = j.real() {
        let _ = write!(
            out,
            " (real images: {:.2} bits, {:.1})",
            r.figures.class_entropy_bits, r.figures.frechet
        );
    }
    out.push('.');
    Some(out)
}
