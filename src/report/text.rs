//! How the report writes numbers and sentences, shared by the document builder, the
//! discussion and both renderers so that an epoch or a duration reads the same everywhere.

/// An epoch number: whole epochs without decimals, fractional ones with two.
pub(crate) fn fmt_epoch(e: f64) -> String {
    if (e - e.round()).abs() < 1e-9 {
        format!("{e:.0}")
    } else {
        format!("{e:.2}")
    }
}

/// A wall time in hours, minutes and seconds, with the plain seconds in brackets.
pub(crate) fn fmt_duration(s: f64) -> String {
    if !s.is_finite() || s < 0.0 {
        return "unknown".into();
    }
    let total = s.round() as u64;
    let (h, m, sec) = (total / 3600, (total / 60) % 60, total % 60);
    if h > 0 {
        format!("{h} h {m:02} min {sec:02} s ({s:.0} s)")
    } else if m > 0 {
        format!("{m} min {sec:02} s ({s:.0} s)")
    } else {
        format!("{s:.1} s")
    }
}

/// Ends a sentence with a period unless it already has terminal punctuation.
pub(crate) fn sentence(s: &str) -> String {
    let t = s.trim();
    if t.ends_with(['.', '!', '?']) {
        t.to_string()
    } else {
        format!("{t}.")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations() {
        assert_eq!(fmt_duration(3723.0), "1 h 02 min 03 s (3723 s)");
        assert_eq!(fmt_duration(65.0), "1 min 05 s (65 s)");
        assert_eq!(fmt_duration(f64::NAN), "unknown");
    }

    #[test]
    fn sentences_and_epochs() {
        assert_eq!(sentence(" T = 0.7 "), "T = 0.7.");
        assert_eq!(sentence("Done?"), "Done?");
        assert_eq!(fmt_epoch(4.0), "4");
        assert_eq!(fmt_epoch(0.512), "0.51");
    }
}
