//! The whole flow on the GPU against the CPU reference: forward, inverse, log-likelihood,
//! the stages of the sampling direction and sampling; invertibility on real-scale inputs;
//! chunked evaluation equal to one batch.

mod common;

use common::*;
use flowgpu::config::{CouplingKind, FlowConfig, MaskKind};
use flowgpu::reference as r;
use flowgpu::{Flow, FlowParams};

fn kinds() -> Vec<(CouplingKind, MaskKind)> {
    let mut v = Vec::new();
    for c in [CouplingKind::Additive, CouplingKind::Affine] {
        for m in [MaskKind::Halves, MaskKind::Interleaved] {
            v.push((c, m));
        }
    }
    v
}

/// Real-scale inputs: logit-space pixels with a = 1e-6 reach about +-14.
fn logit_like(n: usize, seed: u64) -> Vec<f32> {
    uniform(n, -14.0, 14.0, seed)
}

#[test]
fn forward_inverse_and_likelihood_match_reference() {
    let batch = 37;
    for ctx in contexts() {
        for (coupling, mask) in kinds() {
            let cfg = FlowConfig {
                dim: 50,
                layers: 4,
                hidden: 100,
                coupling,
                mask,
                scale_bound: 2.0,
            };
            let p = FlowParams::random(&cfg, 5, 1.0);
            let flow = Flow::new(ctx.clone(), &p).unwrap();
            let x = uniform(batch * cfg.dim, -3.0, 3.0, 6);
            let tx = ctx.upload(&x, &[batch, cfg.dim], "x").unwrap();
            let (tz, tld) = flow.forward(&tx).unwrap();
            let ll = flow.log_likelihood(&tx).unwrap();
            let got = ctx.read_many(&[&tz, &tld, &ll]).unwrap();
            let (z, ld) = r::forward_f64(&p, &to_f64(&x), batch);
            let want_ll = r::log_density(&z, &ld);
            let tag = format!("{coupling:?} {mask:?} {:?}", ctx.tiles());
            let e = max_mixed_err(&got[0], &z);
            observe(file!(), line!(), e);
            assert!(e < 2e-5, "z {tag}: {e:e}");
            let e = max_mixed_err(&got[1], &ld);
            observe(file!(), line!(), e);
            assert!(e < 2e-5, "logdet {tag}: {e:e}");
            let e = max_mixed_err(&got[2], &want_ll);
            observe(file!(), line!(), e);
            assert!(e < 2e-5, "log-likelihood {tag}: {e:e}");

            let zs = uniform(batch * cfg.dim, -2.0, 2.0, 7);
            let tzs = ctx.upload(&zs, &[batch, cfg.dim], "z").unwrap();
            let stages = flow.inverse_with_stages(&tzs).unwrap();
            let inv = flow.inverse(&tzs).unwrap();
            let want = r::inverse_with_stages_f64(&p, &to_f64(&zs), batch);
            assert_eq!(stages.len(), cfg.layers + 1);
            for (i, (s, w)) in stages.iter().zip(&want).enumerate() {
                let e = max_mixed_err(&ctx.read(s).unwrap(), w);
                observe(file!(), line!(), e);
                assert!(e < 2e-5, "inverse stage {i} {tag}: {e:e}");
            }
            assert_eq!(
                ctx.read(&inv).unwrap(),
                ctx.read(stages.last().unwrap()).unwrap()
            );
            assert_eq!(ctx.read(&stages[0]).unwrap(), zs, "stage 0 is z itself");
        }
    }
}

#[test]
fn spec_shapes_match_reference() {
    let ctx = context();
    let cfg = FlowConfig::default();
    let p = FlowParams::random(&cfg, 8, 1.0);
    let flow = Flow::new(ctx.clone(), &p).unwrap();
    let batch = 3;
    let x = logit_like(batch * cfg.dim, 9);
    let tx = ctx.upload(&x, &[batch, cfg.dim], "x").unwrap();
    let (tz, tld) = flow.forward(&tx).unwrap();
    let got = ctx.read_many(&[&tz, &tld]).unwrap();
    let (z, ld) = r::forward_f64(&p, &to_f64(&x), batch);
    let e = max_mixed_err(&got[0], &z);
    observe(file!(), line!(), e);
    assert!(e < 1e-4, "spec z: {e:e}");
    let e = max_mixed_err(&got[1], &ld);
    observe(file!(), line!(), e);
    assert!(e < 1e-4, "spec logdet: {e:e}");
}

#[test]
fn the_flow_is_invertible_on_real_scale_inputs() {
    let ctx = context();
    for (coupling, mask) in kinds() {
        let cfg = FlowConfig {
            dim: 784,
            layers: 4,
            hidden: 64,
            coupling,
            mask,
            scale_bound: 2.0,
        };
        let p = FlowParams::random(&cfg, 10, 1.0);
        let flow = Flow::new(ctx.clone(), &p).unwrap();
        let n = 20;
        let x = logit_like(n * cfg.dim, 11);
        let tx = ctx.upload(&x, &[n, cfg.dim], "x").unwrap();
        let (tz, _) = flow.forward(&tx).unwrap();
        let back = ctx.read(&flow.inverse(&tz).unwrap()).unwrap();
        let err = back
            .iter()
            .zip(&x)
            .map(|(a, b)| (a - b).abs())
            .fold(0.0f32, f32::max);
        assert!(
            err < 1e-4,
            "max |f^-1(f(x)) - x| = {err:e} ({coupling:?} {mask:?})"
        );

        let tz = flow.sample_latent(n, 1.0, 12).unwrap();
        let z = ctx.read(&tz).unwrap();
        let (z2, _) = flow.forward(&flow.inverse(&tz).unwrap()).unwrap();
        let err = ctx
            .read(&z2)
            .unwrap()
            .iter()
            .zip(&z)
            .map(|(a, b)| (a - b).abs())
            .fold(0.0f32, f32::max);
        assert!(
            err < 1e-4,
            "max |f(f^-1(z)) - z| = {err:e} ({coupling:?} {mask:?})"
        );
    }
}

#[test]
fn chunked_calls_equal_one_batch_and_sampling_is_reproducible() {
    let ctx = context();
    let cfg = FlowConfig {
        dim: 50,
        layers: 4,
        hidden: 40,
        ..FlowConfig::default()
    };
    let p = FlowParams::random(&cfg, 13, 1.0);
    let mut flow = Flow::new(ctx.clone(), &p).unwrap();
    let n = 37;
    let x = uniform(n * cfg.dim, -3.0, 3.0, 14);
    let tx = ctx.upload(&x, &[n, cfg.dim], "x").unwrap();
    let whole = ctx.read(&flow.log_likelihood(&tx).unwrap()).unwrap();
    flow.set_chunk(8);
    let chunked = ctx.read(&flow.log_likelihood(&tx).unwrap()).unwrap();
    assert_eq!(
        whole, chunked,
        "chunks of 8 give the same numbers as one batch of 37"
    );

    let s1 = ctx.read(&flow.sample(n, 0.7, 3).unwrap()).unwrap();
    let s2 = ctx.read(&flow.sample(n, 0.7, 3).unwrap()).unwrap();
    assert_eq!(s1, s2, "same seed, same samples");
    let z = ctx.read(&flow.sample_latent(n, 0.7, 3).unwrap()).unwrap();
    let want = r::inverse_f64(&p, &to_f64(&z), n);
    let e = max_mixed_err(&s1, &want);
    observe(file!(), line!(), e);
    assert!(
        e < 2e-5,
        "samples vs reference inverse of the same z: {e:e}"
    );
}

#[test]
fn wrong_input_sizes_are_errors_not_panics() {
    let ctx = context();
    let cfg = FlowConfig {
        dim: 50,
        layers: 2,
        hidden: 8,
        ..FlowConfig::default()
    };
    let flow = Flow::new(ctx.clone(), &FlowParams::init(&cfg, 1)).unwrap();
    let bad = ctx.upload(&[0.0; 49], &[49], "bad").unwrap();
    let err = flow
        .forward(&bad)
        .expect_err("49 values are not 50-vectors");
    assert!(err.to_string().contains("50-vectors"), "{err}");
    let p = FlowParams::init(&cfg, 1);
    assert_eq!(
        cfg.num_params(),
        p.named_tensors()
            .iter()
            .map(|(_, _, t)| t.len())
            .sum::<usize>()
    );
    let other = FlowParams::init(&FlowConfig { hidden: 9, ..cfg }, 1);
    assert!(flow.write_params(&other).is_err());
    // A batch whose state stack passes the adapter's storage-binding limit is refused up front.
    let err = flow.workspace(60_000_000).err().expect("too large a batch");
    assert!(err.to_string().contains("does not fit"), "{err}");
}

/// `Flow` and `GpuContext` can be shared between threads (issue: one flow serving several
/// threads, e.g. a server drawing samples).
#[test]
fn flow_and_context_are_send_and_sync() {
    fn send_sync<T: Send + Sync>() {}
    send_sync::<flowgpu::Flow>();
    send_sync::<flowgpu::gpu::GpuContext>();
    send_sync::<flowgpu::gpu::Dispatch>();
}
