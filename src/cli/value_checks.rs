//! Parsers for the numeric command-line options: every number a user types is checked here,
//! at the edge, so that a NaN, an infinity or an out-of-range value is refused by clap with
//! a message naming the option and its range, before a device is opened or memory allocated.
//!
//! The ranges are generous: they keep values in the domain where the code means something
//! (a finite positive learning rate, a fraction in [0, 1]) and bound sizes so that a figure
//! or a model cannot ask for more memory than a machine has; the device limits are checked
//! again where buffers are made.

use std::time::Duration;

use clap::builder::{RangedU64ValueParser, TypedValueParser};

/// Largest upscaling factor of a figure's pixels.
pub const MAX_SCALE: u64 = 64;
/// Most images of one figure (samples, layer rows, interpolation steps).
pub const MAX_FIGURE_IMAGES: u64 = 10_000;
/// Most dequantization draws averaged per test image.
pub const MAX_DRAWS: u64 = 1_000;
/// Widest conditioner MLP; the parameters must still fit the device (checked at start).
pub const MAX_HIDDEN: u64 = crate::config::MAX_HIDDEN as u64;
/// Largest batch (one dispatch dimension); its activations must still fit the device
/// (checked when they are allocated).
pub const MAX_BATCH: u64 = 65_535;

/// An integer option in `lo..=hi`; clap names the option and the range when refusing one.
pub fn usize_in(lo: u64, hi: u64) -> impl TypedValueParser<Value = usize> {
    RangedU64ValueParser::<usize>::new().range(lo..=hi)
}

/// An integer option in `lo..=hi`.
pub fn u32_in(lo: u64, hi: u64) -> impl TypedValueParser<Value = u32> {
    RangedU64ValueParser::<u32>::new().range(lo..=hi)
}

fn finite(s: &str) -> Result<f64, String> {
    let v: f64 = s
        .trim()
        .parse()
        .map_err(|_| format!("'{s}' is not a number"))?;
    if !v.is_finite() {
        return Err(format!("{v} is not a finite number"));
    }
    Ok(v)
}

fn in_range(s: &str, lo: f64, hi: f64, lo_open: bool, hi_open: bool) -> Result<f64, String> {
    let v = finite(s)?;
    let above = if lo_open { v > lo } else { v >= lo };
    let below = if hi_open { v < hi } else { v <= hi };
    if above && below {
        return Ok(v);
    }
    Err(format!(
        "{v} is outside {}{lo}, {hi}{}",
        if lo_open { "(" } else { "[" },
        if hi_open { ")" } else { "]" }
    ))
}

/// `--temperature`: the prior's standard deviation, finite, in [0, 10].
pub fn temperature(s: &str) -> Result<f32, String> {
    in_range(s, 0.0, 10.0, false, false).map(|v| v as f32)
}

/// `--lr`: a finite rate in (0, 10].
pub fn learning_rate(s: &str) -> Result<f64, String> {
    in_range(s, 0.0, 10.0, true, false)
}

/// `--final-lr`: a fraction of the peak rate, in [0, 1].
pub fn fraction(s: &str) -> Result<f64, String> {
    in_range(s, 0.0, 1.0, false, false)
}

/// `--clip`: a finite norm >= 0 (0 turns clipping off).
pub fn clip_norm(s: &str) -> Result<f32, String> {
    in_range(s, 0.0, f32::MAX as f64, false, false).map(|v| v as f32)
}

/// `--ema`: a decay in [0, 1) (0 turns the average off).
pub fn ema_decay(s: &str) -> Result<f32, String> {
    in_range(s, 0.0, 1.0, false, true).map(|v| v as f32)
}

/// `--logit-alpha`: in [0, 0.5) (0 turns the logit off).
pub fn logit_alpha(s: &str) -> Result<f32, String> {
    in_range(s, 0.0, 0.5, false, true).map(|v| v as f32)
}

/// A duration such as `10m`, `30s`, `1.5h` or `250ms`; a bare number is minutes. `0` is
/// allowed (it turns the thing off) and so is anything up to 100 days.
pub fn duration(s: &str) -> Result<Duration, String> {
    let t = s.trim();
    let (number, unit_s) = [("ms", 1e-3), ("s", 1.0), ("m", 60.0), ("h", 3600.0)]
        .iter()
        .find_map(|&(suffix, secs)| t.strip_suffix(suffix).map(|n| (n, secs)))
        .unwrap_or((t, 60.0));
    let v = finite(number).map_err(|_| {
        format!("'{s}' is not a duration (a number with ms, s, m or h; a bare number is minutes)")
    })?;
    let secs = v * unit_s;
    if !(0.0..=100.0 * 86_400.0).contains(&secs) {
        return Err(format!("{s} is outside [0, 100 days]"));
    }
    Ok(Duration::from_secs_f64(secs))
}

/// `i:j,k:l,...`: pairs of test image indices (checked against the test set where it is
/// loaded). A newtype so that clap takes the whole list as one value.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ImagePairs(pub Vec<(usize, usize)>);

/// Parses `i:j,k:l,...`.
pub fn image_pairs(s: &str) -> Result<ImagePairs, String> {
    s.split(',')
        .map(|p| {
            let (a, b) = p
                .split_once(':')
                .ok_or_else(|| format!("'{p}' is not i:j"))?;
            let n = |v: &str| {
                v.trim()
                    .parse::<usize>()
                    .map_err(|_| format!("'{v}' is not an image index"))
            };
            Ok((n(a)?, n(b)?))
        })
        .collect::<Result<Vec<_>, String>>()
        .map(ImagePairs)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers_must_be_finite_and_in_range() {
        assert!(temperature("NaN").is_err());
        assert!(temperature("inf").is_err());
        assert!(temperature("-1").is_err());
        assert_eq!(temperature("0.7"), Ok(0.7));
        assert!(learning_rate("0").is_err());
        assert!(learning_rate("1e-3").is_ok());
        assert!(fraction("1.5").is_err());
        assert!(logit_alpha("0.5").is_err());
        assert!(clip_norm("-inf").is_err());
    }

    #[test]
    fn durations_take_units_and_default_to_minutes() {
        assert_eq!(duration("10"), Ok(Duration::from_secs(600)));
        assert_eq!(duration("30s"), Ok(Duration::from_secs(30)));
        assert_eq!(duration("250ms"), Ok(Duration::from_millis(250)));
        assert_eq!(duration("1.5h"), Ok(Duration::from_secs(5400)));
        assert!(duration("-1s").is_err());
        assert!(duration("soon").is_err());
        assert!(duration("NaNs").is_err());
    }

    #[test]
    fn pairs_parse_as_one_list() {
        assert_eq!(image_pairs("1:2,3:4"), Ok(ImagePairs(vec![(1, 2), (3, 4)])));
        assert!(image_pairs("1-2").is_err());
        assert!(image_pairs("1:x").is_err());
    }
}
