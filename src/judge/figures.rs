//! What the judge says of a set of images, as figures a reader can compare across runs:
//! the share the classifier is sure of ("digit-like"), which classes they fall in and how
//! evenly (mode coverage), and the Fréchet distance of their features to the test set's.

use serde::{Deserialize, Serialize};

use crate::judge::classifier::{Verdicts, DIGITS, FEATURES};
use crate::judge::frechet::{frechet_distance, FeatureStats};

/// Top class probability from which an image counts as digit-like.
pub const CONFIDENT: f64 = 0.9;

/// The judge's figures for one set of images.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct JudgeFigures {
    pub images: usize,
    /// Share of the images whose most probable class is a digit with probability >=
    /// [`CONFIDENT`].
    pub digit_like: f64,
    /// Images per most probable class, digits 0 to 9 (those whose most probable class is
    /// "not a digit" are in `not_digit`).
    pub histogram: [usize; DIGITS],
    /// Images whose most probable class is "not a digit".
    pub not_digit: usize,
    /// Entropy of the digit histogram in bits: log2(10) = 3.32 when every digit is as
    /// frequent.
    pub class_entropy_bits: f64,
    /// Fréchet distance between the images' classifier features and the test set's.
    pub frechet: f64,
}

impl JudgeFigures {
    /// Of `verdicts`, against the test set's feature statistics (`reference`).
    pub fn of(verdicts: &Verdicts, reference: &FeatureStats) -> Self {
        let n = verdicts.len();
        let mut histogram = [0usize; DIGITS];
        let mut not_digit = 0;
        for c in verdicts.labels() {
            match histogram.get_mut(c) {
                Some(h) => *h += 1,
                None => not_digit += 1,
            }
        }
        let frechet = if n >= 2 {
            frechet_distance(&FeatureStats::of(&verdicts.features, FEATURES), reference)
        } else {
            f64::NAN
        };
        Self {
            images: n,
            digit_like: verdicts.digit_like(),
            histogram,
            not_digit,
            class_entropy_bits: entropy_bits(&histogram),
            frechet,
        }
    }
}

/// Entropy in bits of the distribution the counts give.
pub fn entropy_bits(counts: &[usize]) -> f64 {
    let total: usize = counts.iter().sum();
    if total == 0 {
        return 0.0;
    }
    counts
        .iter()
        .filter(|&&c| c > 0)
        .map(|&c| {
            let p = c as f64 / total as f64;
            -p * p.log2()
        })
        .sum::<f64>()
        .max(0.0)
}

/// One line of a judge table: what was judged, and the figures.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct JudgedSet {
    /// `samples T = 0.7`, `real test images`, `untrained flow, T = 1.0`, a file name.
    pub label: String,
    /// The sampling temperature, for the flow's samples.
    pub temperature: Option<f32>,
    pub figures: JudgeFigures,
}

/// The judge's table as Markdown (also readable as plain text).
pub fn markdown_table(sets: &[JudgedSet]) -> String {
    let mut s = String::from(
        "| images | n | digit-like | not a digit | class entropy (bits) | MNIST FID | images per class 0-9 |\n\
         |---|---:|---:|---:|---:|---:|---|\n",
    );
    for set in sets {
        let f = &set.figures;
        let hist: Vec<String> = f.histogram.iter().map(|c| c.to_string()).collect();
        s.push_str(&format!(
            "| {} | {} | {:.1}% | {:.1}% | {:.2} | {:.2} | {} |\n",
            set.label,
            f.images,
            100.0 * f.digit_like,
            100.0 * f.not_digit as f64 / f.images.max(1) as f64,
            f.class_entropy_bits,
            f.frechet,
            hist.join(" ")
        ));
    }
    s
}
