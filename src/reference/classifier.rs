//! The sample judge's classifier on the CPU: the twin of `classifier_input.wgsl` (8-bit
//! images to input rows, randomly translated for training), of `softmax_cross_entropy.wgsl`
//! (the loss and its gradient), and the whole MLP forward for tests. `f64` throughout.

use crate::reference::preprocess::pcg_hash;

/// The translation `(dx, dy)`, each in `[-shift, shift]`, of `image` under `seed`.
pub fn shift_of(seed: u32, image: u32, shift: u32) -> (i64, i64) {
    let span = 2 * shift + 1;
    let h = pcg_hash(image ^ pcg_hash(seed ^ 0x5bd1e995));
    (
        (h % span) as i64 - shift as i64,
        ((h / span) % span) as i64 - shift as i64,
    )
}

/// Rows `[indices.len(), side * side]`: image `indices[r]` of `pixels` (whole images of
/// `side * side` bytes) as `pixel / 255`, translated by [`shift_of`] when `shift > 0` (a
/// pixel moved in from outside the image is 0).
pub fn classifier_input(
    pixels: &[u8],
    side: usize,
    indices: &[u32],
    seed: u32,
    shift: u32,
) -> Vec<f64> {
    let dim = side * side;
    let mut out = Vec::with_capacity(indices.len() * dim);
    for &image in indices {
        let (dx, dy) = if shift > 0 {
            shift_of(seed, image, shift)
        } else {
            (0, 0)
        };
        let base = image as usize * dim;
        for r in 0..side as i64 {
            for c in 0..side as i64 {
                let (sr, sc) = (r - dy, c - dx);
                let inside = (0..side as i64).contains(&sr) && (0..side as i64).contains(&sc);
                out.push(if inside {
                    pixels[base + (sr as usize) * side + sc as usize] as f64 / 255.0
                } else {
                    0.0
                });
            }
        }
    }
    out
}

/// What the loss kernel computes for one batch.
#[derive(Clone, Debug, PartialEq)]
pub struct CrossEntropy {
    /// Mean over the batch of `logsumexp(l) - l[y]`, in nats.
    pub mean_loss: f64,
    /// Share of rows whose first largest logit is the label's.
    pub accuracy: f64,
    /// `[batch, classes]`: `(softmax(l) - onehot(y)) / batch`.
    pub grad: Vec<f64>,
}

/// Softmax cross-entropy of `logits` (`[batch, classes]`, row-major) against `labels`.
pub fn softmax_cross_entropy(logits: &[f64], classes: usize, labels: &[u32]) -> CrossEntropy {
    assert_eq!(logits.len(), labels.len() * classes, "one row per label");
    let batch = labels.len();
    let (mut loss, mut correct) = (0.0, 0usize);
    let mut grad = Vec::with_capacity(logits.len());
    for (row, &y) in logits.chunks(classes).zip(labels) {
        let y = y as usize;
        assert!(y < classes, "label {y} outside {classes} classes");
        let arg = argmax(row);
        let top = row[arg];
        let lse = top + row.iter().map(|&l| (l - top).exp()).sum::<f64>().ln();
        loss += lse - row[y];
        correct += (arg == y) as usize;
        for (j, &l) in row.iter().enumerate() {
            grad.push(((l - lse).exp() - (j == y) as u8 as f64) / batch as f64);
        }
    }
    CrossEntropy {
        mean_loss: loss / batch as f64,
        accuracy: correct as f64 / batch as f64,
        grad,
    }
}

/// Index of the first largest value.
pub fn argmax(row: &[f64]) -> usize {
    let mut arg = 0;
    for (j, &v) in row.iter().enumerate() {
        if v > row[arg] {
            arg = j;
        }
    }
    arg
}

/// `softmax(row)`.
pub fn softmax(row: &[f64]) -> Vec<f64> {
    let top = row.iter().cloned().fold(f64::NEG_INFINITY, f64::max);
    let e: Vec<f64> = row.iter().map(|&l| (l - top).exp()).collect();
    let s: f64 = e.iter().sum();
    e.into_iter().map(|v| v / s).collect()
}
