//! The host's own FMA rate, for a software adapter: independent FMA chains in registers on
//! every core at once, in 256-bit vectors (AVX2 + FMA, the width lavapipe compiles for by
//! default). Beside the adapter's probe it shows how much of the machine the adapter itself
//! leaves unused. (A CPU with AVX-512 has twice this in 512-bit vectors; their intrinsics
//! need a newer Rust than the crate's MSRV, and lavapipe does not use them by default.)

use std::time::Instant;

/// Iterations per timed call: 12 chains x 2 flops x lanes each.
const ITERS: u64 = 4_000_000;

/// FLOP/s of `threads` threads each running `kernel` (which returns its flop count).
fn on_all_cores(threads: usize, kernel: fn(u64) -> (f32, f64)) -> f64 {
    let run = || {
        let t = Instant::now();
        let handles: Vec<_> = (0..threads)
            .map(|_| std::thread::spawn(move || kernel(ITERS)))
            .collect();
        let flops: f64 = handles
            .into_iter()
            .map(|h| {
                let (sink, flops) = h.join().unwrap_or((0.0, 0.0));
                std::hint::black_box(sink);
                flops
            })
            .sum();
        flops / t.elapsed().as_secs_f64()
    };
    run(); // warm-up: clocks, thread start
    (0..3).map(|_| run()).fold(0.0, f64::max)
}

#[cfg(target_arch = "x86_64")]
#[allow(unsafe_code)] // intrinsics, each call behind runtime feature detection
mod x86 {
    use std::arch::x86_64::*;

    #[target_feature(enable = "avx2,fma")]
    unsafe fn chains256(iters: u64) -> (f32, f64) {
        let m = _mm256_set1_ps(0.999_999);
        let e = _mm256_set1_ps(1e-6);
        let mut acc = [_mm256_set1_ps(0.5); 12];
        for (i, a) in acc.iter_mut().enumerate() {
            *a = _mm256_set1_ps(0.5 + i as f32 * 1e-3);
        }
        for _ in 0..iters {
            for a in acc.iter_mut() {
                *a = _mm256_fmadd_ps(*a, m, e);
            }
        }
        let mut sum = _mm256_setzero_ps();
        for a in acc {
            sum = _mm256_add_ps(sum, a);
        }
        let mut out = [0f32; 8];
        _mm256_storeu_ps(out.as_mut_ptr(), sum);
        (out.iter().sum(), iters as f64 * 12.0 * 8.0 * 2.0)
    }

    pub fn available() -> bool {
        is_x86_feature_detected!("avx2") && is_x86_feature_detected!("fma")
    }

    pub fn run256(iters: u64) -> (f32, f64) {
        if !available() {
            return (0.0, 0.0);
        }
        // SAFETY: the CPU has AVX2 and FMA (checked just above).
        unsafe { chains256(iters) }
    }
}

/// `(what, FLOP/s)` for each vector width this CPU has, on all its cores.
pub fn native_fma_peaks() -> Vec<(&'static str, f64)> {
    let threads = std::thread::available_parallelism()
        .map(|n| n.get())
        .unwrap_or(1);
    #[allow(unused_mut)]
    let mut out = Vec::new();
    #[cfg(target_arch = "x86_64")]
    {
        if x86::available() {
            out.push(("256-bit", on_all_cores(threads, x86::run256)));
        }
    }
    let _ = threads;
    out
}

/// The CPU as `lscpu` names it, with its family and model numbers and vector extensions
/// (`/proc/cpuinfo`): several CPUs share one model name.
pub fn cpu_model() -> String {
    let Ok(text) = std::fs::read_to_string("/proc/cpuinfo") else {
        return "unknown CPU".into();
    };
    let field = |name: &str| {
        text.lines()
            .find(|l| l.split(':').next().map(str::trim) == Some(name))
            .and_then(|l| l.split(':').nth(1))
            .map(|s| s.trim().to_string())
            .unwrap_or_default()
    };
    let flags = field("flags");
    let has = |f: &str| flags.split_whitespace().any(|x| x == f);
    let vector = if has("avx512f") {
        "AVX-512"
    } else if has("avx2") {
        "AVX2"
    } else {
        "no AVX2"
    };
    format!(
        "{}, family {} model {}, {vector}",
        field("model name"),
        field("cpu family"),
        field("model")
    )
}
