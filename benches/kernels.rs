//! Microbenchmarks: the adapter's measured FMA peak, every matmul of the quick and spec
//! models (GFLOP/s and % of that peak), the elementwise kernels, and whole training steps
//! (samples/s). `cargo bench` (or `cargo bench -- --quick` for fewer shapes).

use std::sync::Arc;
use std::time::Instant;

use flowgpu::config::Preprocess;
use flowgpu::config::{AdamConfig, FlowConfig};
use flowgpu::data::ImageSet;
use flowgpu::gpu::{Dispatch, GpuContext};
use flowgpu::kernels::matmul::{self, padded, Epilogue, Matmul, MatmulKind};
use flowgpu::kernels::peak;
use flowgpu::train::gpu_data::GpuImages;
use flowgpu::train::step::TrainStep;
use flowgpu::{Flow, FlowParams};

/// Seconds per repetition of `list`, recorded `reps` times into one submit.
fn time(ctx: &GpuContext, list: &[&Dispatch], reps: usize) -> f64 {
    let run = |n: usize| {
        let mut encoder = ctx.device().create_command_encoder(&Default::default());
        for _ in 0..n {
            ctx.record(&mut encoder, list);
        }
        ctx.queue().submit(Some(encoder.finish()));
        ctx.wait().expect("device");
    };
    run(1);
    let t = Instant::now();
    run(reps);
    t.elapsed().as_secs_f64() / reps as f64
}

/// Repetitions that take about `target` seconds, given one measured run.
fn reps_for(ctx: &GpuContext, list: &[&Dispatch], target: f64) -> usize {
    let once = time(ctx, list, 1);
    ((target / once.max(1e-6)) as usize).clamp(1, 1000)
}

fn peak(ctx: &GpuContext) -> f64 {
    let count = 1 << 16;
    let out = ctx.zeros(&[count], "peak").expect("alloc");
    let (d, flops) = peak::peak_fma(ctx, count, 2048, &out).expect("peak kernel");
    let reps = reps_for(ctx, &[&d], 1.0);
    flops / time(ctx, &[&d], reps)
}

fn main() {
    let quick = std::env::args().any(|a| a == "--quick");
    let ctx =
        Arc::new(GpuContext::from_env().expect("a GPU adapter (install mesa-vulkan-drivers)"));
    println!("adapter: {}", ctx.describe());
    println!("tiles: {:?}", ctx.tiles());
    let peak = peak(&ctx);
    println!("measured peak (FMA chains): {:.1} GFLOP/s\n", peak / 1e9);

    let batch = 256;
    let hidden: &[usize] = if quick { &[256] } else { &[256, 1024] };
    println!(
        "{:<34} {:>10} {:>9} {:>8}",
        "matmul (batch 256)", "ms", "GFLOP/s", "% peak"
    );
    for &h in hidden {
        for &(n_in, n_out, what) in &[(392usize, h, "in"), (h, h, "hidden"), (h, 784usize, "out")] {
            for kind in [MatmulKind::NN, MatmulKind::TN, MatmulKind::NT] {
                let mm = match kind {
                    MatmulKind::NN => Matmul {
                        kind,
                        m: batch,
                        n: n_out,
                        k: n_in + 1,
                        a_ones: true,
                        epilogue: Epilogue::Relu,
                    },
                    MatmulKind::TN => Matmul {
                        kind,
                        m: n_in + 1,
                        n: n_out,
                        k: batch,
                        a_ones: true,
                        epilogue: Epilogue::None,
                    },
                    MatmulKind::NT => Matmul {
                        kind,
                        m: batch,
                        n: n_in,
                        k: n_out,
                        a_ones: false,
                        epilogue: Epilogue::ReluGrad,
                    },
                };
                let [sa, sb, sc] = mm.stored_shapes();
                let z = |(r, c): (usize, usize)| {
                    ctx.upload(&vec![0.01; r * padded(c)], &[r * padded(c)], "m")
                        .expect("alloc")
                };
                let (a, b, c, aux) = (z(sa), z(sb), z(sc), z(sc));
                let d = matmul::matmul(
                    &ctx,
                    mm,
                    &a,
                    &b,
                    &c,
                    (mm.epilogue == Epilogue::ReluGrad).then_some(&aux),
                )
                .expect("matmul kernel");
                let reps = reps_for(&ctx, &[&d], 0.5);
                let s = time(&ctx, &[&d], reps);
                let label = format!("H={h} {what:<6} {kind:?} {}x{}x{}", mm.m, mm.n, mm.k);
                println!(
                    "{label:<34} {:>10.3} {:>9.2} {:>7.1}%",
                    s * 1e3,
                    mm.flops() / s / 1e9,
                    100.0 * mm.flops() / s / peak
                );
            }
        }
    }

    println!(
        "\n{:<34} {:>10} {:>9} {:>8} {:>9}",
        "training step (batch 256)", "ms", "GFLOP/s", "% peak", "samples/s"
    );
    for &h in hidden {
        let cfg = FlowConfig {
            hidden: h,
            ..FlowConfig::default()
        };
        let flow = Flow::new(ctx.clone(), &FlowParams::init(&cfg, 1)).expect("flow");
        let n = 4 * batch;
        let pixels: Vec<u8> = (0..n * cfg.dim).map(|i| (i * 37 % 256) as u8).collect();
        let set = ImageSet {
            images: pixels,
            labels: vec![0; n],
            rows: 28,
            cols: 28,
        };
        let images = GpuImages::upload(&ctx, &set, "bench").expect("upload");
        let step = TrainStep::new(
            &flow,
            &images,
            batch,
            Preprocess {
                logit_alpha: Some(1e-6),
            },
            AdamConfig::default(),
        )
        .expect("step");
        step.set_order(&ctx, &(0..n as u32).collect::<Vec<_>>());
        let steps = if quick || h > 512 { 3 } else { 8 };
        step.step(&ctx, 0, 1, 1, 1e-4);
        ctx.wait().expect("device");
        let t = Instant::now();
        for s in 0..steps {
            step.step(&ctx, (s % 4) * batch, 1, s as u32 + 2, 1e-4);
        }
        ctx.wait().expect("device");
        let per = t.elapsed().as_secs_f64() / steps as f64;
        // forward + backward = 3 forward passes' multiply-adds, 2 flops each
        let macs: usize = cfg
            .linear_shapes()
            .iter()
            .map(|(i, o)| i * o)
            .sum::<usize>()
            * cfg.layers;
        let flops = 6.0 * macs as f64 * batch as f64;
        println!(
            "{:<34} {:>10.1} {:>9.2} {:>7.1}% {:>9.0}",
            format!("H={h}"),
            per * 1e3,
            flops / per / 1e9,
            100.0 * flops / per / peak,
            batch as f64 / per
        );
    }
}
