//! Microbenchmarks, in one run: the adapter's measured FMA peak and copy bandwidth; every
//! matmul of the quick (H = 256) and spec (H = 1024) models at batch 128 and 256 for each
//! matmul variant the device can run (GFLOP/s and % of that peak); the elementwise and
//! reduction kernels of a step (GB/s against the copy bandwidth); whole training steps
//! (samples/s); sampling and evaluation (images/s).
//! `cargo bench` (or `cargo bench -- --quick`: H = 256, batch 256, fewer repetitions).
//!
//! Every kernel figure times its repetitions in ONE compute pass, as a training step runs:
//! on lavapipe a pass of its own per repetition adds 10-20 ms each and hides the kernel.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Instant;

use flowgpu::config::{AdamConfig, FlowConfig, Preprocess};
use flowgpu::data::ImageSet;
use flowgpu::gpu::profile::profile;
use flowgpu::gpu::timing;
use flowgpu::gpu::{Dispatch, GpuContext};
use flowgpu::kernels::coupling::{self, AddPart, GradIn, NextInput};
use flowgpu::kernels::loss::{self, LossBuffers};
use flowgpu::kernels::matmul::{padded, Matmul};
use flowgpu::kernels::optimizer::{self, AdamParams, NORM_SLOTS};
use flowgpu::kernels::tune::{self, TuneMode};
use flowgpu::kernels::{density, peak, transform};
use flowgpu::train::evaluate::evaluate;
use flowgpu::train::gpu_data::GpuImages;
use flowgpu::train::step::TrainStep;
use flowgpu::{Flow, FlowParams};

#[path = "kernels/native_fma.rs"]
mod native_fma;

/// Seconds per repetition, with about `target` seconds of repetitions.
fn time_for(ctx: &GpuContext, list: &[&Dispatch], target: f64) -> f64 {
    let budget = timing::Budget {
        target_s: target,
        max_reps: 2000,
        give_up_s: f64::INFINITY,
    };
    timing::time_for(ctx, list, budget).expect("device")
}

/// (stolen, total) CPU jiffies of the whole machine so far (`/proc/stat`): time the
/// hypervisor gave this machine's CPUs to others, which slows every figure of a run.
fn cpu_jiffies() -> Option<(u64, u64)> {
    let text = std::fs::read_to_string("/proc/stat").ok()?;
    let fields: Vec<u64> = text
        .lines()
        .next()?
        .split_whitespace()
        .skip(1)
        .filter_map(|v| v.parse().ok())
        .collect();
    Some((*fields.get(7)?, fields.iter().take(8).sum()))
}

fn load_average() -> String {
    std::fs::read_to_string("/proc/loadavg")
        .map(|s| s.split_whitespace().take(3).collect::<Vec<_>>().join(" "))
        .unwrap_or_else(|_| "unknown".into())
}

/// FLOP/s of the best FMA probe: every probe kernel at several workgroup and dispatch
/// sizes, the fastest kept (the reference peak every % below is of). Prints the sweep when
/// `verbose`.
fn fma_peak(ctx: &GpuContext, verbose: bool) -> f64 {
    let mut best: (f64, String) = (0.0, String::new());
    let counts = [1usize << 12, 1 << 14, 1 << 16];
    let out = ctx.zeros(&[counts[2]], "peak").expect("alloc");
    if verbose {
        println!("FMA probe (GFLOP/s)                 WG   invocations:  4096   16384   65536");
    }
    for probe in &peak::FMA_PROBES {
        for wg in [8u32, 64, 256] {
            let mut row = Vec::new();
            for &count in &counts {
                // About the same FLOPs per dispatch whatever the shape.
                let iterations = (((1u64 << 30)
                    / (count as u64 * 8 * (probe.chains * probe.unroll) as u64))
                    .max(16)) as u32;
                let (d, flops) =
                    peak::peak_fma(ctx, probe, wg, count, iterations, &out).expect("peak kernel");
                let rate = flops / time_for(ctx, &[&d], 0.15);
                if rate > best.0 {
                    best = (
                        rate,
                        format!("{}, WG {wg}, {count} invocations", probe.label()),
                    );
                }
                row.push(format!("{:>7.1}", rate / 1e9));
            }
            if verbose {
                println!(
                    "{:<34} {wg:>4}              {}",
                    probe.label(),
                    row.join(" ")
                );
            }
        }
    }
    if verbose {
        println!("best probe: {}", best.1);
    }
    best.0
}

/// Copy bandwidths in bytes/s of `floats` f32: a buffer-to-buffer copy, a copy kernel
/// with one f32 per invocation and one with a vec4 per invocation.
fn copy_bandwidth(ctx: &GpuContext, floats: usize, target: f64) -> [f64; 3] {
    let src = ctx.zeros(&[floats], "copy src").expect("alloc");
    let dst = ctx.zeros(&[floats], "copy dst").expect("alloc");
    let bytes = 2.0 * 4.0 * floats as f64;
    let buffer_copy = |n: usize| {
        let mut encoder = ctx.device().create_command_encoder(&Default::default());
        for _ in 0..n {
            encoder.copy_buffer_to_buffer(
                src.buffer(),
                src.byte_offset(),
                dst.buffer(),
                dst.byte_offset(),
                src.byte_len(),
            );
        }
        ctx.queue().submit(Some(encoder.finish()));
        ctx.wait().expect("device");
    };
    buffer_copy(1);
    let t = Instant::now();
    buffer_copy(1);
    let reps = ((target / t.elapsed().as_secs_f64().max(1e-6)) as usize).clamp(1, 2000);
    let t = Instant::now();
    buffer_copy(reps);
    let by_buffer = bytes * reps as f64 / t.elapsed().as_secs_f64();
    let by_kernel = |vec4: bool| {
        let (d, b) = peak::peak_copy(ctx, floats, vec4, &src, &dst).expect("copy kernel");
        b / time_for(ctx, &[&d], target)
    };
    [by_buffer, by_kernel(false), by_kernel(true)]
}

/// The three products of a linear layer `n_in -> n_out` at `batch`, as the step runs them.
fn layer_matmuls(batch: usize, n_in: usize, n_out: usize) -> [Matmul; 3] {
    [
        Matmul::linear_forward(batch, n_in, n_out, true),
        Matmul::weight_grad(batch, n_in, n_out),
        Matmul::input_grad(batch, n_in, n_out, true),
    ]
}

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(|a, b| a.total_cmp(b));
    let n = v.len();
    if n == 0 {
        f64::NAN
    } else if n % 2 == 1 {
        v[n / 2]
    } else {
        0.5 * (v[n / 2 - 1] + v[n / 2])
    }
}

/// Every matmul shape of the models: the tuner's whole search space timed on each (as a
/// `--tune force` run does, no cache), the choices recorded in `ctx` (the training steps
/// below run them), and the chosen kernel timed again (the fastest of 3 timings of
/// `target / 3` seconds: what repeats on a shared machine). Returns the
/// chosen kernel's % of peak for each spec-model (H = 1024) shape, per batch.
fn matmuls(
    ctx: &GpuContext,
    hidden: &[usize],
    batches: &[usize],
    peak: f64,
    target: f64,
) -> BTreeMap<usize, Vec<f64>> {
    println!(
        "{:<40} {:<26} {:>9} {:>9} {:>7}",
        "matmul (* = chosen, then the 3 next)", "kernel", "ms", "GFLOP/s", "% peak"
    );
    let mut spec = BTreeMap::new();
    let mut seconds = 0.0;
    let mut points = 0;
    for &batch in batches {
        for &h in hidden {
            let mut shapes = Vec::new();
            let mut labels = Vec::new();
            for (n_in, n_out, what) in [(392usize, h, "in"), (h, h, "hidden"), (h, 784, "out")] {
                for mm in layer_matmuls(batch, n_in, n_out) {
                    labels.push(format!(
                        "B={batch} H={h} {what:<6} {:?} {}x{}x{}",
                        mm.kind, mm.m, mm.n, mm.k
                    ));
                    shapes.push(mm);
                }
            }
            let report =
                tune::tune(ctx, &shapes, TuneMode::Force, None, f64::INFINITY).expect("tuning");
            seconds += report.seconds;
            for ((mm, label), tuned) in shapes.iter().zip(&labels).zip(&report.shapes) {
                points += tuned.ms.len();
                let chosen = tuned.choice();
                let s = tune::time_choice(ctx, chosen, *mm, 3, target / 3.0, f64::INFINITY)
                    .expect("matmul kernel");
                let pct = 100.0 * mm.flops() / s / peak;
                if h == 1024 {
                    spec.entry(batch).or_insert_with(Vec::new).push(pct);
                }
                let row = |kernel: String, ms: f64| {
                    let gflops = mm.flops() / (ms * 1e-3) / 1e9;
                    println!(
                        "{label:<40} {kernel:<26} {ms:>9.3} {gflops:>9.2} {:>6.1}%",
                        100.0 * gflops * 1e9 / peak
                    );
                };
                row(format!("{}*", tuned.label()), s * 1e3);
                let mut others = tuned.ms.clone();
                others.sort_by(|a, b| a.1.total_cmp(&b.1));
                for (kernel, ms) in others.into_iter().filter(|o| o.0 != tuned.label()).take(3) {
                    row(kernel, ms);
                }
            }
        }
    }
    println!("tuner: {points} kernel x shape points timed in {seconds:.1} s");
    spec
}

/// One elementwise or reduction kernel: its dispatches and the bytes they read and write
/// (each distinct element once: a lower bound on the memory traffic).
struct Elementwise {
    name: &'static str,
    list: Vec<Dispatch>,
    bytes: f64,
}

/// The elementwise and reduction kernels of a training step of `cfg` at `batch`, on the
/// flow's own buffers (layer 1: a middle layer, whose backward merges layer 2's gradient).
fn elementwise_kernels(flow: &Flow, batch: usize) -> Vec<Elementwise> {
    let ctx = flow.context().as_ref();
    let layout = flow.layout();
    let cfg = &layout.config;
    let ws = flow.workspace(batch).expect("workspace");
    let params = flow.params_tensor();
    let (b, d, h) = (batch as f64, cfg.dim as f64, cfg.half() as f64);
    let k = cfg.layers as f64;
    let n = layout.len as f64;
    let l = 1.min(cfg.layers - 1);
    let site = ws.site(layout, l);
    let zeros = |len: usize, label: &str| ctx.zeros(&[len], label).expect("alloc");
    let gy = zeros(batch * cfg.dim, "gy");
    let gh = zeros(batch * padded(cfg.mlp_out()), "gh");
    let gxa = zeros(batch * padded(cfg.half()), "gxa");
    let grads = zeros(layout.len, "grads");
    let m = zeros(layout.len, "m");
    let v = zeros(layout.len, "v");
    let norm = zeros(NORM_SLOTS, "norm");
    let pre_logdet = zeros(batch, "pre");
    let nll = zeros(batch, "nll");
    let sums = zeros(2, "sums");
    let order = zeros(batch, "order");
    let pixels = zeros((batch * cfg.dim).div_ceil(4), "pixels");
    let h_out = &ws.mlps[l].output;
    let z_offset = ws.state_offset(cfg, cfg.layers);
    let affine = cfg.coupling == flowgpu::config::CouplingKind::Affine;
    let h_read = if affine { 2.0 * b * h } else { b * h };
    let gh_write = if affine { 2.0 * b * h } else { b * h };
    let loss_reduce = loss::loss_per_image(
        ctx,
        batch,
        cfg.dim,
        LossBuffers {
            density: &ws.density,
            pre_logdet: &pre_logdet,
            nll: &nll,
            sums: &sums,
        },
    )
    .expect("loss");
    let dq = transform::dequantize_params(
        Preprocess {
            logit_alpha: Some(1e-6),
        },
        batch,
        cfg.dim,
        0,
        true,
    );
    vec![
        Elementwise {
            // with layer 0's split, as in a step
            name: "dequantize",
            list: vec![transform::dequantize_and_split(
                ctx,
                dq.with_split(cfg.mask, 1 - cfg.transformed_part(0)),
                &pixels,
                &order,
                &ws.states,
                &pre_logdet,
                Some(&ws.mlps[0].input),
            )
            .expect("dequantize")],
            bytes: b * d + 4.0 * (b * d + b * h + 2.0 * b),
        },
        Elementwise {
            name: "gather",
            list: vec![coupling::gather(
                ctx,
                cfg,
                batch,
                &ws.states,
                site.in_offset,
                1 - cfg.transformed_part(l),
                None,
                params,
                &ws.mlps[l].input,
            )
            .expect("gather")],
            bytes: 4.0 * 2.0 * b * h,
        },
        Elementwise {
            name: "coupling_forward",
            list: vec![coupling::coupling_forward(
                ctx,
                cfg,
                site,
                &ws.states,
                h_out,
                params,
                &ws.log_scales,
                l * batch * cfg.half(),
                Some(NextInput {
                    part: cfg.transformed_part(l),
                    dst: &ws.mlps[l].input,
                }),
            )
            .expect("coupling_forward")],
            // and the next layer's half of the output, as in a step
            bytes: 4.0 * (2.5 * b * d + h_read + d + if affine { b * h } else { 0.0 }),
        },
        Elementwise {
            name: "log_density",
            list: vec![density::log_density(
                ctx,
                cfg,
                batch,
                &ws.states,
                z_offset,
                &ws.log_scales,
                batch,
                params,
                layout.scales_offset,
                &ws.density,
            )
            .expect("log_density")],
            bytes: 4.0 * (b * d + if affine { k * b * h } else { 0.0 } + k * d + 2.0 * b),
        },
        Elementwise {
            name: "loss reduce",
            list: vec![loss_reduce],
            bytes: 4.0 * (4.0 * b + 2.0),
        },
        Elementwise {
            // with the scale gradient and the next layer's conditioning-half merge, as in a step
            name: "coupling_backward",
            list: vec![coupling::coupling_backward(
                ctx,
                cfg,
                site,
                &gy,
                GradIn::State(Some(AddPart {
                    part: 1 - cfg.transformed_part(l + 1),
                    src: &gxa,
                })),
                &ws.states,
                h_out,
                params,
                &gh,
                &grads,
                layout.scale_offset(l),
            )
            .expect("coupling_backward")],
            bytes: 4.0
                * (3.0 * b * d
                    + b * h
                    + 2.0 * d
                    + h_read
                    + gh_write
                    + if affine { b * h } else { 0.0 }),
        },
        Elementwise {
            name: "grad_norm (2 passes)",
            list: optimizer::grad_norm(ctx, &grads, &norm)
                .expect("grad_norm")
                .into(),
            bytes: 4.0 * n,
        },
        Elementwise {
            name: "adam",
            list: vec![optimizer::adam(
                ctx,
                AdamParams::for_step(&AdamConfig::default(), layout.len, 1, 1e-4),
                params,
                &grads,
                &m,
                &v,
                &norm,
            )
            .expect("adam")],
            bytes: 4.0 * 7.0 * n,
        },
    ]
}

/// A training step at `batch` for `cfg` on synthetic images; prints ms, GFLOP/s, % peak,
/// samples/s and the step's dispatches by kernel.
fn training_step(
    ctx: &Arc<GpuContext>,
    what: &str,
    cfg: &FlowConfig,
    batch: usize,
    peak: f64,
    steps: usize,
) {
    let flow = Flow::new(ctx.clone(), &FlowParams::init(cfg, 1)).expect("flow");
    let n = 4 * batch;
    let set = synthetic_images(n, cfg.dim);
    let images = GpuImages::upload(ctx, &set, "bench").expect("upload");
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
    step.set_order(ctx, &(0..n as u32).collect::<Vec<_>>());
    step.step(ctx, 0, 1, 1, 1e-4);
    ctx.wait().expect("device");
    let t = Instant::now();
    for s in 0..steps {
        step.step(ctx, (s % 4) * batch, 1, s as u32 + 2, 1e-4);
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
        "{:<40} {:>10.1} {:>9.2} {:>7.1}% {:>9.0}",
        format!("H={} batch {batch}, {what}", cfg.hidden),
        per * 1e3,
        flops / per / 1e9,
        100.0 * flops / per / peak,
        batch as f64 / per
    );
    let list = step.dispatches();
    let mut by_kernel: BTreeMap<String, usize> = BTreeMap::new();
    for d in &list {
        let name = d.describe();
        let kernel = name.split(' ').next().unwrap_or_default().to_string();
        *by_kernel.entry(kernel).or_default() += 1;
    }
    let counts: Vec<String> = by_kernel
        .iter()
        .map(|(k, n)| format!("{} {n}", k.trim_end_matches(".wgsl:main")))
        .collect();
    println!(
        "  {} dispatches in one pass: {}",
        list.len(),
        counts.join(", ")
    );
    // Per-kernel GPU time of the same step, with the variant each matmul shape uses.
    match profile(ctx, &list, 2) {
        Ok(p) => println!(
            "{}",
            p.table(&format!("  profile (H={}, batch {batch})", cfg.hidden))
        ),
        Err(e) => println!("  profile failed: {e}"),
    }
}

fn synthetic_images(n: usize, dim: usize) -> ImageSet {
    ImageSet {
        images: (0..n * dim).map(|i| (i * 37 % 256) as u8).collect(),
        labels: vec![0; n],
        rows: 28,
        cols: 28,
    }
}

/// Images per second of `Flow::sample` (n samples, waited for) and of `evaluate` (one
/// dequantization draw per image).
fn sampling_and_evaluation(ctx: &Arc<GpuContext>, cfg: &FlowConfig, n: usize) {
    let flow = Flow::new(ctx.clone(), &FlowParams::init(cfg, 1)).expect("flow");
    let _ = flow.sample(64, 1.0, 0).expect("sample");
    ctx.wait().expect("device");
    let t = Instant::now();
    let x = flow.sample(n, 1.0, 1).expect("sample");
    ctx.wait().expect("device");
    let sample = n as f64 / t.elapsed().as_secs_f64();
    drop(x);
    let images = GpuImages::upload(ctx, &synthetic_images(n, cfg.dim), "eval").expect("upload");
    let pre = Preprocess {
        logit_alpha: Some(1e-6),
    };
    let _ = evaluate(&flow, &images, pre, 1, 0).expect("evaluate");
    let t = Instant::now();
    let _ = evaluate(&flow, &images, pre, 1, 1).expect("evaluate");
    let eval = n as f64 / t.elapsed().as_secs_f64();
    println!(
        "{:<34} {:>12.0} {:>12.0}",
        format!("H={} ({n} images)", cfg.hidden),
        sample,
        eval
    );
}

fn main() {
    let quick = std::env::args().any(|a| a == "--quick");
    let ctx = GpuContext::from_env().expect("a GPU adapter (install mesa-vulkan-drivers)");
    println!("adapter: {}", ctx.describe());
    println!("tiles: {:?}", ctx.tiles());
    println!("matmul kernels: {}", ctx.matmul().defaults().describe());
    println!("load average at start: {}", load_average());
    let jiffies_at_start = cpu_jiffies();
    let target = if quick { 0.25 } else { 0.5 };
    println!(
        "CPU: {} ({} cores; the figures below are of this CPU)",
        native_fma::cpu_model(),
        std::thread::available_parallelism()
            .map(|n| n.get())
            .unwrap_or(1)
    );
    let peak = fma_peak(&ctx, true);
    println!("measured peak (best FMA probe): {:.1} GFLOP/s", peak / 1e9);
    if ctx.is_software() {
        for (width, rate) in native_fma::native_fma_peaks() {
            println!(
                "native FMA loop on the host's cores, {width}: {:.1} GFLOP/s (the adapter's best probe is {:.1}% of it)",
                rate / 1e9,
                100.0 * peak / rate
            );
        }
    }

    // The step's buffers (batch 256 x 784 floats, 0.8 MB) and a 64 MiB one.
    let step_floats = 256 * 784;
    let small = copy_bandwidth(&ctx, step_floats, target);
    let large = copy_bandwidth(&ctx, 16 << 20, target);
    for (what, bw) in [("0.8 MB (step-sized)", small), ("64 MiB", large)] {
        println!(
            "copy bandwidth, {what}: buffer copy {:.1} GB/s, kernel f32 {:.1} GB/s, kernel vec4 {:.1} GB/s",
            bw[0] / 1e9,
            bw[1] / 1e9,
            bw[2] / 1e9
        );
    }
    // A kernel's loads and stores go through the shader; on a CPU adapter that is far
    // slower than the driver's memcpy, so kernels are compared with the best copy KERNEL.
    let copy_small = small[1].max(small[2]);
    let copy_large = large[1].max(large[2]);
    println!(
        "reference copy bandwidth (best copy kernel): {:.2} GB/s step-sized, {:.2} GB/s 64 MiB\n",
        copy_small / 1e9,
        copy_large / 1e9
    );

    let hidden: &[usize] = if quick { &[256] } else { &[256, 1024] };
    let batches: &[usize] = if quick { &[256] } else { &[128, 256] };
    let spec = matmuls(&ctx, hidden, batches, peak, target);
    for (batch, pcts) in &spec {
        println!(
            "median % of peak over the spec model's 9 matmul shapes, chosen variants, batch {batch}: {:.1}%",
            median(pcts.clone())
        );
    }
    let ctx = Arc::new(ctx);
    let untuned = Arc::new(GpuContext::from_env().expect("a second context"));

    let spec_cfg = FlowConfig::default();
    let flow = Flow::new(ctx.clone(), &FlowParams::init(&spec_cfg, 1)).expect("flow");
    println!(
        "\n{:<44} {:>9} {:>9} {:>9} {:>14}",
        "elementwise / reduction (H=1024, batch 256)", "ms", "MB", "GB/s", "% copy kernel"
    );
    for k in elementwise_kernels(&flow, 256) {
        let list: Vec<&Dispatch> = k.list.iter().collect();
        let s = time_for(&ctx, &list, target);
        // Against the copy of a similar working set: the step-sized one unless the kernel
        // streams more than a few MB (the optimiser over every parameter).
        let (reference, which) = if k.bytes > 8e6 {
            (copy_large, "64 MiB")
        } else {
            (copy_small, "step")
        };
        println!(
            "{:<44} {:>9.3} {:>9.2} {:>9.2} {:>6.1}% ({which})",
            k.name,
            s * 1e3,
            k.bytes / 1e6,
            k.bytes / s / 1e9,
            100.0 * k.bytes / s / reference
        );
    }
    drop(flow);

    println!(
        "\n{:<40} {:>10} {:>9} {:>8} {:>9}",
        "training step", "ms", "GFLOP/s", "% peak", "samples/s"
    );
    for &h in hidden {
        let cfg = FlowConfig {
            hidden: h,
            ..FlowConfig::default()
        };
        let steps = if quick || h > 512 { 3 } else { 8 };
        // Before and after tuning in one run: a context with the default kernels beside the
        // tuned one.
        training_step(&untuned, "default kernels", &cfg, 256, peak, steps);
        training_step(&ctx, "tuned kernels", &cfg, 256, peak, steps);
    }
    drop(untuned);

    println!(
        "\n{:<34} {:>12} {:>12}",
        "sampling / evaluation", "sample img/s", "eval img/s"
    );
    for &h in hidden {
        let cfg = FlowConfig {
            hidden: h,
            ..FlowConfig::default()
        };
        sampling_and_evaluation(&ctx, &cfg, if quick || h > 512 { 512 } else { 1024 });
    }
    // The same probe again: how much the adapter's rate drifted during the run (figures
    // above are against the first).
    println!(
        "\nmeasured peak (best FMA probe) at end: {:.1} GFLOP/s",
        fma_peak(&ctx, false) / 1e9
    );
    println!("load average at end: {}", load_average());
    if let (Some((s0, t0)), Some((s1, t1))) = (jiffies_at_start, cpu_jiffies()) {
        println!(
            "CPU time stolen by the hypervisor during the run: {:.1}%",
            100.0 * (s1 - s0) as f64 / (t1 - t0).max(1) as f64
        );
    }
}
