//! Shared by the GPU tests: one device context per tile variant, seeded random data, and
//! helpers to move padded matrices between host and GPU.
#![allow(dead_code)]

pub mod strokes;

use std::sync::{Arc, OnceLock};

// The fixtures' seeded data helpers; each test binary uses some of them.
#[allow(unused_imports)]
pub use flowgpu::conformance::fixtures::{pad, uniform};
use flowgpu::gpu::{AdapterChoice, GpuContext};
use flowgpu::kernels::config::KernelConfig;
use flowgpu::kernels::matmul::padded;
use rand::{rngs::StdRng, Rng, SeedableRng};

/// Contexts for every configuration in `KernelConfig::TEST_CONFIGS`, made once per test binary.
pub fn contexts() -> &'static [Arc<GpuContext>] {
    static CTX: OnceLock<Vec<Arc<GpuContext>>> = OnceLock::new();
    CTX.get_or_init(|| {
        KernelConfig::TEST_CONFIGS
            .iter()
            .map(|&t| {
                Arc::new(
                    GpuContext::with_config(&AdapterChoice::from_env(), t)
                        .expect("a GPU adapter (install mesa-vulkan-drivers)"),
                )
            })
            .collect()
    })
}

/// The adapter's default context.
pub fn context() -> Arc<GpuContext> {
    static CTX: OnceLock<Arc<GpuContext>> = OnceLock::new();
    CTX.get_or_init(|| {
        Arc::new(GpuContext::from_env().expect("a GPU adapter (install mesa-vulkan-drivers)"))
    })
    .clone()
}

/// Inverse of [`pad`]; also asserts the padding is still zero.
pub fn unpad(x: &[f32], rows: usize, cols: usize) -> Vec<f32> {
    let ld = padded(cols);
    let mut out = Vec::with_capacity(rows * cols);
    for r in 0..rows {
        out.extend_from_slice(&x[r * ld..r * ld + cols]);
        assert!(
            x[r * ld + cols..(r + 1) * ld].iter().all(|&v| v == 0.0),
            "padding of row {r} was written"
        );
    }
    out
}

/// Largest `|a - b| / (1 + |b|)`: absolute near zero, relative for large values. A NaN
/// anywhere is an infinite error (`f64::max` alone would drop it).
pub fn max_mixed_err(a: &[f32], b: &[f64]) -> f64 {
    assert_eq!(a.len(), b.len(), "lengths differ");
    a.iter()
        .zip(b)
        .map(|(&x, &y)| {
            let e = (x as f64 - y).abs() / (1.0 + y.abs());
            if e.is_nan() {
                f64::INFINITY
            } else {
                e
            }
        })
        .fold(0.0, f64::max)
}

pub fn to_f64(v: &[f32]) -> Vec<f64> {
    v.iter().map(|&x| x as f64).collect()
}

/// Prints an observed error (run with `--nocapture` to collect the figures for the notes).
pub fn observe(file: &str, line: u32, err: impl Into<f64>) {
    eprintln!("observed {file}:{line} {:.3e}", err.into());
}

/// Seeded noise images with labels `i % 10` in the four IDX files under `dir`: enough for a
/// run's loss to be a number, without MNIST.
pub fn noise_dataset(dir: &std::path::Path, train: usize, test: usize, seed: u64) {
    use flowgpu::data;
    std::fs::create_dir_all(dir).expect("data dir");
    let mut rng = StdRng::seed_from_u64(seed);
    let mut write = |images: &str, labels: &str, n: usize| {
        let pixels: Vec<u8> = (0..n * 784).map(|_| rng.random()).collect();
        let l: Vec<u8> = (0..n).map(|i| (i % 10) as u8).collect();
        data::write_images(&dir.join(images), 28, 28, &pixels).expect("write images");
        data::write_labels(&dir.join(labels), &l).expect("write labels");
    };
    write(data::TRAIN_IMAGES, data::TRAIN_LABELS, train);
    write(data::TEST_IMAGES, data::TEST_LABELS, test);
}
