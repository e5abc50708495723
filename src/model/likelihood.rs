//! From the flow's log-density to the numbers people compare: nats per image and bits per
//! dimension of the discrete 8-bit data.
//!
//! The flow models `y = T(v)`, where `v = (pixel + u) / 256` is the dequantized image and `T`
//! is the identity or the logit `y = logit(a + (1 - 2a) v)`. By change of variables
//! `log p(v) = log p(y) + log|dy/dv|`, and the density of `v` is `256^D` times the
//! probability of the pixels' bins (a lower bound on the discrete log-likelihood in
//! expectation over `u`). Hence, per image,
//!
//! ```text
//! nats = -(log p(y) + log|dy/dv| - D ln 256)
//! bits/dim = nats / (D ln 2)
//! log|dy/dv| = sum_d [ ln(1 - 2a) - ln q_d - ln(1 - q_d) ],  q_d = a + (1 - 2a) v_d
//! ```

/// Negative log-likelihood of the 8-bit image, in nats.
pub fn nats_per_image(log_p_flow: f64, pre_logdet: f64, dim: usize) -> f64 {
    -(log_p_flow + pre_logdet - dim as f64 * 256f64.ln())
}

/// Bits per dimension of the 8-bit image.
pub fn bits_per_dim(log_p_flow: f64, pre_logdet: f64, dim: usize) -> f64 {
    nats_per_image(log_p_flow, pre_logdet, dim) / (dim as f64 * std::f64::consts::LN_2)
}

/// Converts nats per image to bits per dimension.
pub fn nats_to_bpd(nats: f64, dim: usize) -> f64 {
    nats / (dim as f64 * std::f64::consts::LN_2)
}

/// Mean and standard error of the mean.
pub fn mean_and_se(values: &[f64]) -> (f64, f64) {
    let n = values.len() as f64;
    if values.is_empty() {
        return (f64::NAN, f64::NAN);
    }
    let mean = values.iter().sum::<f64>() / n;
    if values.len() < 2 {
        return (mean, f64::NAN);
    }
    let var = values.iter().map(|v| (v - mean).powi(2)).sum::<f64>() / (n - 1.0);
    (mean, (var / n).sqrt())
}
