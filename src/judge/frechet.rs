//! The Fréchet distance between two sets of features, each summarised as a Gaussian (its
//! mean and covariance), as FID does with Inception features; here the features are the
//! judge classifier's last hidden layer, so the figure is an "MNIST FID":
//!   d² = |μ₁ - μ₂|² + tr(Σ₁) + tr(Σ₂) - 2 tr((Σ₁^½ Σ₂ Σ₁^½)^½).
//! The square roots come from symmetric eigendecompositions (cyclic Jacobi, in f64), which
//! need no external linear-algebra crate for matrices of a few hundred rows.

/// Mean and covariance (`[dim, dim]`, row-major, divided by `n - 1`) of a set of features.
#[derive(Clone, Debug, PartialEq)]
pub struct FeatureStats {
    pub n: usize,
    pub dim: usize,
    pub mean: Vec<f64>,
    pub cov: Vec<f64>,
}

impl FeatureStats {
    /// Of `features`, `[n, dim]` row-major; `n >= 2`.
    pub fn of(features: &[f32], dim: usize) -> Self {
        assert!(dim > 0 && features.len() % dim == 0, "whole rows of {dim}");
        let n = features.len() / dim;
        assert!(n >= 2, "a covariance needs two rows or more");
        let mut mean = vec![0.0; dim];
        for row in features.chunks(dim) {
            for (m, &v) in mean.iter_mut().zip(row) {
                *m += v as f64;
            }
        }
        mean.iter_mut().for_each(|m| *m /= n as f64);
        let mut cov = vec![0.0; dim * dim];
        let mut centred = vec![0.0; dim];
        for row in features.chunks(dim) {
            for ((c, &v), m) in centred.iter_mut().zip(row).zip(&mean) {
                *c = v as f64 - m;
            }
            for i in 0..dim {
                let ci = centred[i];
                if ci == 0.0 {
                    continue;
                }
                let out = &mut cov[i * dim..(i + 1) * dim];
                for (o, &cj) in out[i..].iter_mut().zip(&centred[i..]) {
                    *o += ci * cj;
                }
            }
        }
        for i in 0..dim {
            for j in i..dim {
                let v = cov[i * dim + j] / (n - 1) as f64;
                cov[i * dim + j] = v;
                cov[j * dim + i] = v;
            }
        }
        Self { n, dim, mean, cov }
    }
}

/// The Fréchet distance d² between the Gaussians of `a` and `b` (same `dim`).
pub fn frechet_distance(a: &FeatureStats, b: &FeatureStats) -> f64 {
    assert_eq!(a.dim, b.dim, "features of one width");
    let n = a.dim;
    let mean_term: f64 = a
        .mean
        .iter()
        .zip(&b.mean)
        .map(|(x, y)| (x - y).powi(2))
        .sum();
    let trace = |m: &[f64]| (0..n).map(|i| m[i * n + i]).sum::<f64>();
    let root_a = sqrt_psd(&a.cov, n);
    let mut inner = matmul(&matmul(&root_a, &b.cov, n), &root_a, n);
    symmetrize(&mut inner, n);
    let (values, _) = symmetric_eigen(&inner, n);
    let cross: f64 = values.iter().map(|&v| v.max(0.0).sqrt()).sum();
    (mean_term + trace(&a.cov) + trace(&b.cov) - 2.0 * cross).max(0.0)
}

/// The square root of a symmetric positive semi-definite matrix (negative eigenvalues from
/// rounding count as zero).
pub fn sqrt_psd(m: &[f64], n: usize) -> Vec<f64> {
    let (values, vectors) = symmetric_eigen(m, n);
    let mut out = vec![0.0; n * n];
    for (k, &lambda) in values.iter().enumerate() {
        let s = lambda.max(0.0).sqrt();
        if s == 0.0 {
            continue;
        }
        for i in 0..n {
            let vik = vectors[i * n + k] * s;
            for j in 0..n {
                out[i * n + j] += vik * vectors[j * n + k];
            }
        }
    }
    symmetrize(&mut out, n);
    out
}

fn matmul(a: &[f64], b: &[f64], n: usize) -> Vec<f64> {
    let mut out = vec![0.0; n * n];
    for i in 0..n {
        for k in 0..n {
            let aik = a[i * n + k];
            if aik == 0.0 {
                continue;
            }
            let (row, b_row) = (&mut out[i * n..(i + 1) * n], &b[k * n..(k + 1) * n]);
            for (o, &bkj) in row.iter_mut().zip(b_row) {
                *o += aik * bkj;
            }
        }
    }
    out
}

/// Averages `m` with its transpose (products of symmetric matrices drift by rounding).
fn symmetrize(m: &mut [f64], n: usize) {
    for i in 0..n {
        for j in i + 1..n {
            let v = 0.5 * (m[i * n + j] + m[j * n + i]);
            m[i * n + j] = v;
            m[j * n + i] = v;
        }
    }
}

/// Eigenvalues and eigenvectors (columns of the returned `[n, n]`) of a symmetric matrix,
/// by cyclic Jacobi rotations until the off-diagonal part is negligible.
pub fn symmetric_eigen(m: &[f64], n: usize) -> (Vec<f64>, Vec<f64>) {
    assert_eq!(m.len(), n * n, "a square matrix");
    let mut a = m.to_vec();
    let mut v = vec![0.0; n * n];
    for i in 0..n {
        v[i * n + i] = 1.0;
    }
    let total: f64 = a.iter().map(|x| x * x).sum();
    for _sweep in 0..100 {
        let off: f64 = (0..n)
            .flat_map(|i| (0..n).filter(move |&j| j != i).map(move |j| (i, j)))
            .map(|(i, j)| a[i * n + j].powi(2))
            .sum();
        if off <= 1e-30 * total.max(1e-300) {
            break;
        }
        for p in 0..n {
            for q in p + 1..n {
                let apq = a[p * n + q];
                if apq.abs() < 1e-300 {
                    continue;
                }
                let (app, aqq) = (a[p * n + p], a[q * n + q]);
                let theta = (aqq - app) / (2.0 * apq);
                let t = theta.signum() / (theta.abs() + (theta * theta + 1.0).sqrt());
                let t = if theta == 0.0 { 1.0 } else { t };
                let c = 1.0 / (t * t + 1.0).sqrt();
                let s = t * c;
                for k in 0..n {
                    let (akp, akq) = (a[k * n + p], a[k * n + q]);
                    a[k * n + p] = c * akp - s * akq;
                    a[k * n + q] = s * akp + c * akq;
                }
                for k in 0..n {
                    let (apk, aqk) = (a[p * n + k], a[q * n + k]);
                    a[p * n + k] = c * apk - s * aqk;
                    a[q * n + k] = s * apk + c * aqk;
                }
                for k in 0..n {
                    let (vkp, vkq) = (v[k * n + p], v[k * n + q]);
                    v[k * n + p] = c * vkp - s * vkq;
                    v[k * n + q] = s * vkp + c * vkq;
                }
            }
        }
    }
    ((0..n).map(|i| a[i * n + i]).collect(), v)
}
