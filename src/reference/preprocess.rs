//! The data transform and the counter-based random numbers, on the CPU: dequantization
//! `v = (pixel + u) / 256`, the optional logit `y = logit(a + (1 - 2a) v)` with its
//! log-Jacobian, its inverse for figures, and the hash-based
//! uniform and Gaussian draws the kernels use (bit-for-bit the same integers).

/// PCG hash (O'Neill; "Hash Functions for GPU Rendering", Jarzynski & Olano 2020).
pub fn pcg_hash(v: u32) -> u32 {
    let state = v.wrapping_mul(747796405).wrapping_add(2891336453);
    let word = ((state >> ((state >> 28) + 4)) ^ state).wrapping_mul(277803737);
    (word >> 22) ^ word
}

/// A uniform draw in [0, 1) with 24 bits, from (seed, stream, index).
pub fn uniform01(seed: u32, stream: u32, index: u32) -> f64 {
    let h = pcg_hash(index ^ pcg_hash(stream ^ pcg_hash(seed)));
    (h >> 8) as f64 / 16777216.0
}

/// Flow inputs for a batch of images and each sample's log|dy/dv| (0 without the logit).
/// `pixels` holds whole images of `dim` bytes; `indices` picks the batch's images.
/// `noise = false` uses u = 0.5 (the centre of each bin).
pub fn dequantize(
    pixels: &[u8],
    dim: usize,
    indices: &[u32],
    seed: u32,
    noise: bool,
    logit_alpha: Option<f64>,
) -> (Vec<f64>, Vec<f64>) {
    let mut x = Vec::with_capacity(indices.len() * dim);
    let mut pre = Vec::with_capacity(indices.len());
    for &image in indices {
        let mut acc = 0.0;
        for d in 0..dim {
            let pixel = pixels[image as usize * dim + d] as f64;
            let u = if noise {
                uniform01(seed, image, d as u32)
            } else {
                0.5
            };
            let v = (pixel + u) / 256.0;
            match logit_alpha {
                Some(a) => {
                    let q = a + (1.0 - 2.0 * a) * v;
                    x.push(q.ln() - (1.0 - q).ln());
                    acc += (1.0 - 2.0 * a).ln() - q.ln() - (1.0 - q).ln();
                }
                None => x.push(v),
            }
        }
        pre.push(acc);
    }
    (x, pre)
}

/// Back to pixel intensities in [0, 1]: `v = (sigmoid(y) - a) / (1 - 2a)`, clamped.
pub fn to_pixels(x: &[f64], logit_alpha: Option<f64>) -> Vec<f64> {
    x.iter()
        .map(|&y| {
            let v = match logit_alpha {
                Some(a) => (1.0 / (1.0 + (-y).exp()) - a) / (1.0 - 2.0 * a),
                None => y,
            };
            v.clamp(0.0, 1.0)
        })
        .collect()
}

/// `temperature * N(0, 1)` draws by Box-Muller, as `shaders/gaussian.wgsl`.
pub fn gaussian(count: usize, seed: u32, temperature: f64) -> Vec<f64> {
    (0..count as u32)
        .map(|i| {
            let u1 = 1.0 - uniform01(seed, 0x9e3779b9, i);
            let u2 = uniform01(seed, 0x7f4a7c15, i);
            temperature * (-2.0 * u1.ln()).sqrt() * (std::f64::consts::TAU * u2).cos()
        })
        .collect()
}
