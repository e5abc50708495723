//! The judge's eleventh class, "not a digit": seeded images that are no digit at all, so
//! that the classifier has somewhere to put noise. Without them an MLP is sure of itself
//! far from the data: trained on digits alone it called 99.9% of an untrained flow's
//! samples (grey noise) a confident "8". The kinds are the failure modes of a flow's
//! samples short of digits: per-pixel noise of several spreads, noise through a sigmoid (an
//! untrained flow in logit space), blotches (coarse noise, some thresholded) and flat
//! images. Speckled or broken digits are not among them: whether those are digits is what
//! the judge is asked.

use rand::{rngs::StdRng, Rng, SeedableRng};

use crate::data::ImageSet;
use crate::judge::classifier::SIDE;

/// The label of the "not a digit" class.
pub const NOT_A_DIGIT: u8 = 10;

/// `n` seeded images of [`NOT_A_DIGIT`], the kinds in turn.
pub fn not_digits(n: usize, seed: u64) -> ImageSet {
    let dim = SIDE * SIDE;
    let mut rng = StdRng::seed_from_u64(seed);
    let mut images = Vec::with_capacity(n * dim);
    for i in 0..n {
        let image: Vec<u8> = match i % 5 {
            // Uniform noise between two random levels.
            0 => {
                let (a, b) = (rng.random_range(0.0..0.5), rng.random_range(0.5..1.0));
                (0..dim).map(|_| to_byte(rng.random_range(a..b))).collect()
            }
            // Gaussian noise around a random level.
            1 => {
                let (mu, sigma) = (rng.random_range(0.0..1.0), rng.random_range(0.05..0.6));
                (0..dim)
                    .map(|_| to_byte(mu + sigma * normal(&mut rng)))
                    .collect()
            }
            // N(0, s^2) noise through a sigmoid: an untrained flow's samples in logit space.
            2 => {
                let s = rng.random_range(0.3..3.0);
                let shift = rng.random_range(-2.0..1.0);
                (0..dim)
                    .map(|_| to_byte(1.0 / (1.0 + (-(shift + s * normal(&mut rng))).exp())))
                    .collect()
            }
            // Blotches: 4 x 4 to 14 x 14 coarse noise upsampled, thresholded half the time.
            3 => {
                let cells = rng.random_range(2..=7usize);
                let coarse: Vec<f64> = (0..cells * cells)
                    .map(|_| rng.random_range(0.0..1.0))
                    .collect();
                let cut = rng.random_bool(0.5).then(|| rng.random_range(0.4..0.8));
                (0..dim)
                    .map(|p| {
                        let (r, c) = (p / SIDE * cells / SIDE, p % SIDE * cells / SIDE);
                        let v = coarse[r * cells + c];
                        to_byte(match cut {
                            Some(t) => (v > t) as u8 as f64,
                            None => v,
                        })
                    })
                    .collect()
            }
            // Flat images, black to white, with faint noise.
            _ => {
                let level = rng.random_range(0.0..1.0);
                (0..dim)
                    .map(|_| to_byte(level + 0.02 * normal(&mut rng)))
                    .collect()
            }
        };
        images.extend(image);
    }
    ImageSet {
        images,
        labels: vec![NOT_A_DIGIT; n],
        rows: SIDE,
        cols: SIDE,
    }
}

fn to_byte(v: f64) -> u8 {
    (v.clamp(0.0, 1.0) * 255.0).round() as u8
}

/// A standard normal draw (Box-Muller).
fn normal(rng: &mut impl Rng) -> f64 {
    let u1: f64 = 1.0 - rng.random_range(0.0..1.0);
    let u2: f64 = rng.random_range(0.0..1.0);
    (-2.0 * u1.ln()).sqrt() * (std::f64::consts::TAU * u2).cos()
}
