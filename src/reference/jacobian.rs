//! The full Jacobian of the forward map by central finite differences, and `log|det|` by LU:
//! an independent check of the analytic log-det.

use super::flow::forward_f64;
use super::view::ParamView;

/// `J[i * D + j] = dz_i / dx_j` at the single sample `x` (length `D`), by central differences
/// with step `h`, in `f64`. All `2D` perturbed inputs go through one batched forward pass.
pub fn jacobian_fd<P: ParamView>(p: &P, x: &[f64], h: f64) -> Vec<f64> {
    let d = p.config().dim;
    assert_eq!(
        x.len(),
        d,
        "jacobian_fd: x must be one sample of length dim {d}"
    );
    assert!(h > 0.0, "jacobian_fd: step must be > 0");
    let mut xs = Vec::with_capacity(2 * d * d);
    for j in 0..d {
        for sign in [1.0, -1.0] {
            let mut xp = x.to_vec();
            xp[j] += sign * h;
            xs.extend_from_slice(&xp);
        }
    }
    let (zs, _) = forward_f64(p, &xs, 2 * d);
    let mut jac = vec![0.0f64; d * d];
    for j in 0..d {
        let zp = &zs[(2 * j) * d..(2 * j + 1) * d];
        let zm = &zs[(2 * j + 1) * d..(2 * j + 2) * d];
        for i in 0..d {
            jac[i * d + j] = (zp[i] - zm[i]) / (2.0 * h);
        }
    }
    jac
}

/// `log|det A|` of a row-major `n x n` matrix by LU with partial pivoting; `-inf` if singular.
pub fn log_abs_det(a: &[f64], n: usize) -> f64 {
    assert_eq!(a.len(), n * n, "log_abs_det: matrix is not {n} x {n}");
    let mut m = a.to_vec();
    let mut acc = 0.0f64;
    for k in 0..n {
        let piv = (k..n)
            .max_by(|&i, &j| m[i * n + k].abs().total_cmp(&m[j * n + k].abs()))
            .expect("non-empty");
        let pv = m[piv * n + k];
        if pv == 0.0 {
            return f64::NEG_INFINITY;
        }
        if piv != k {
            for c in 0..n {
                m.swap(k * n + c, piv * n + c);
            }
        }
        acc += pv.abs().ln();
        for i in k + 1..n {
            let f = m[i * n + k] / pv;
            if f != 0.0 {
                for c in k..n {
                    m[i * n + c] -= f * m[k * n + c];
                }
            }
        }
    }
    acc
}

/// Step used by [`jacobian_logdet_fd`]: balances truncation (`~h^2`) against round-off
/// (`~1e-16 / h`) for inputs and activations of order one.
pub const JACOBIAN_FD_STEP: f64 = 1e-5;

/// `log|det dz/dx|` at one sample from the finite-difference Jacobian.
pub fn jacobian_logdet_fd<P: ParamView>(p: &P, x: &[f64]) -> f64 {
    let d = p.config().dim;
    log_abs_det(&jacobian_fd(p, x, JACOBIAN_FD_STEP), d)
}
