//! Matmul autotuning: choices are timed once, cached per adapter and reused; and the choice
//! never changes results beyond rounding (a few training steps with the tiled and with the
//! subgroup kernels give the same losses).

mod common;

use common::*;
use flowgpu::config::{AdamConfig, FlowConfig, Preprocess};
use flowgpu::data::ImageSet;
use flowgpu::gpu::{AdapterChoice, GpuContext};
use flowgpu::kernels::config::KernelConfig;
use flowgpu::kernels::matmul::{MatmulVariant, MatmulVariants};
use flowgpu::kernels::tune::{flow_shapes, tune, TuneMode, MIN_GAIN};
use flowgpu::train::gpu_data::GpuImages;
use flowgpu::train::step::TrainStep;
use flowgpu::{Flow, FlowParams};
use std::sync::Arc;

fn small_config() -> FlowConfig {
    FlowConfig {
        dim: 50,
        layers: 4,
        hidden: 24,
        ..FlowConfig::default()
    }
}

#[test]
fn tuning_is_cached_per_adapter_and_reused() {
    let ctx = context();
    let dir = std::env::temp_dir().join(format!("flowgpu-tune-test-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    let shapes = flow_shapes(&small_config(), 16);
    assert_eq!(shapes.len(), 9, "3 distinct layers x 3 products");
    let can_choose = MatmulVariant::ALL
        .iter()
        .filter(|v| v.runs_on(ctx.features(), ctx.info()))
        .count()
        > 1;

    // A budget no sweep reaches, even with every kernel compiled on first use: this test is
    // about the sweep and the cache, not the budget.
    let budget = 900.0;
    let off = tune(&ctx, &shapes, TuneMode::Off, Some(&dir), budget).unwrap();
    assert!(
        off.shapes.is_empty() && !dir.exists(),
        "off neither times nor caches"
    );

    let first = tune(&ctx, &shapes, TuneMode::Auto, Some(&dir), budget).unwrap();
    assert_eq!(first.shapes.len(), shapes.len());
    for s in &first.shapes {
        assert_eq!(
            ctx.matmul().choice(s.shape),
            s.choice(),
            "the choice is in force"
        );
    }
    if !can_choose {
        eprintln!("only one matmul variant runs here: nothing to time");
        return;
    }
    assert_eq!((first.timed, first.cached), (shapes.len(), 0));
    let file = first.cache.clone().expect("a cache file");
    assert!(file.exists());
    for s in &first.shapes {
        // The fastest kernel, unless it is within MIN_GAIN of the default (timed first).
        let (best, best_ms) = s.ms.iter().min_by(|a, b| a.1.total_cmp(&b.1)).unwrap();
        let (default, default_ms) = &s.ms[0];
        let expected = if *best_ms < default_ms * (1.0 - MIN_GAIN) {
            best
        } else {
            default
        };
        assert_eq!(
            *expected,
            s.label(),
            "the fastest kernel is chosen, or the default on a near tie"
        );
        let space = flowgpu::kernels::tune::candidates(&ctx, s.shape.kind);
        assert_eq!(s.ms.len(), space.len(), "the whole search space is timed");
    }

    let again = tune(&ctx, &shapes, TuneMode::Auto, Some(&dir), budget).unwrap();
    assert_eq!(
        (again.timed, again.cached),
        (0, shapes.len()),
        "all from the cache"
    );
    let forced = tune(&ctx, &shapes, TuneMode::Force, Some(&dir), budget).unwrap();
    assert_eq!((forced.timed, forced.cached), (shapes.len(), 0));

    // A corrupt cache file is only a miss.
    std::fs::write(&file, b"{ not json").unwrap();
    let after = tune(&ctx, &shapes, TuneMode::Auto, Some(&dir), budget).unwrap();
    assert_eq!(after.timed, shapes.len());
    let _ = std::fs::remove_dir_all(&dir);
}

/// Losses of `steps` training steps on a context whose matmuls all use `variants`.
fn losses(variants: MatmulVariants, steps: u32) -> Option<Vec<f64>> {
    let config = KernelConfig {
        matmul: variants,
        ..KernelConfig::SOFTWARE
    };
    let ctx = Arc::new(GpuContext::with_config(&AdapterChoice::from_env(), config).unwrap());
    if ctx.matmul().defaults() != variants {
        return None; // the device cannot run them
    }
    let cfg = small_config();
    let (batch, images) = (16, 48);
    let pixels: Vec<u8> = uniform(images * cfg.dim, 0.0, 256.0, 41)
        .iter()
        .map(|&v| v as u8)
        .collect();
    let set = ImageSet {
        images: pixels,
        labels: vec![0; images],
        rows: 5,
        cols: 10,
    };
    let gpu_images = GpuImages::upload(&ctx, &set, "train").unwrap();
    let flow = Flow::new(ctx.clone(), &FlowParams::random(&cfg, 42, 1.0)).unwrap();
    let pre = Preprocess {
        logit_alpha: Some(1e-6),
    };
    let step = TrainStep::new(&flow, &gpu_images, batch, pre, AdamConfig::default()).unwrap();
    step.set_order(&ctx, &(0..images as u32).collect::<Vec<_>>());
    let mut out = Vec::new();
    for t in 1..=steps {
        step.step(&ctx, ((t as usize - 1) % 3) * batch, 7, t, 1e-3);
        out.push(step.take_loss(&ctx).unwrap().0);
    }
    Some(out)
}

#[test]
fn the_variant_changes_losses_only_by_rounding() {
    let tiled = losses(MatmulVariants::TILED, 6).unwrap();
    let Some(subgroup) = losses(MatmulVariants::SUBGROUP, 6) else {
        eprintln!("this adapter cannot run the subgroup matmuls; nothing to compare");
        return;
    };
    // ~300 nats per image; f32 sums in another order differ by ~1e-7 relative per product,
    // and six Adam steps of lr 1e-3 keep that far below 1e-5 relative.
    for (t, (a, b)) in tiled.iter().zip(&subgroup).enumerate() {
        let err = (a - b).abs() / a.abs().max(1.0);
        observe(file!(), line!(), err);
        assert!(
            err < 1e-5,
            "step {}: tiled {a} vs subgroup {b} ({err:e})",
            t + 1
        );
    }
    assert!(tiled[5] < tiled[0], "the steps train");
}
