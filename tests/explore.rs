//! What the browser page draws (`model::explore`), checked natively on a random flow: the
//! samples are `Flow::sample` in pixel space bit for bit, the layer view's last stage is the
//! sample for the same draw, interpolation ends reproduce the originals, and the bits/dim of
//! chosen images match the CPU reference through the same formula.

mod common;

use common::{context, max_mixed_err, uniform};
use flowgpu::config::{FlowConfig, Preprocess};
use flowgpu::model::explore;
use flowgpu::model::likelihood::bits_per_dim;
use flowgpu::reference::{self as r, preprocess as rp};
use flowgpu::{Flow, FlowParams};

const PRE: Preprocess = Preprocess {
    logit_alpha: Some(1e-6),
};

fn flow() -> (Flow, FlowParams) {
    let cfg = FlowConfig {
        hidden: 16,
        ..FlowConfig::default()
    };
    let p = FlowParams::random(&cfg, 4, 0.5);
    (Flow::new(context(), &p).expect("flow"), p)
}

fn images(n: usize, seed: u64) -> Vec<u8> {
    uniform(n * 784, 0.0, 256.0, seed)
        .iter()
        .map(|&v| v as u8)
        .collect()
}

#[test]
fn samples_and_layer_stages_are_the_flow_samples() {
    let (flow, _) = flow();
    let (n, t, seed) = (7, 0.8, 5);
    let got = pollster::block_on(explore::samples(&flow, PRE, n, t, seed)).expect("samples");
    let ctx = flow.context();
    let want = ctx
        .read(
            &flow
                .to_pixels(&flow.sample(n, t, seed).expect("sample"), PRE)
                .expect("px"),
        )
        .expect("read");
    assert_eq!(got, want, "samples are Flow::sample in pixel space");
    assert!(got.iter().all(|v| (0.0..=1.0).contains(v)));
    let stages = pollster::block_on(explore::layer_stages(&flow, PRE, n, t, seed)).expect("stages");
    let k = flow.config().layers + 1;
    assert_eq!(stages.len(), n * k * 784);
    for row in 0..n {
        let last = &stages[(row * k + k - 1) * 784..(row * k + k) * 784];
        assert_eq!(last, &want[row * 784..(row + 1) * 784], "row {row}'s x");
    }
}

#[test]
fn interpolation_ends_reproduce_the_originals() {
    let (flow, _) = flow();
    let px = images(2, 9);
    let steps = 10;
    let (originals, path) = pollster::block_on(explore::interpolation(
        &flow,
        PRE,
        &px[..784],
        &px[784..],
        steps,
    ))
    .expect("interpolation");
    assert_eq!(originals.len(), 2 * 784);
    assert_eq!(path.len(), steps * 784);
    let worst = |a: &[f32], b: &[f32]| {
        a.iter()
            .zip(b)
            .map(|(x, y)| (x - y).abs())
            .fold(0.0f32, f32::max)
    };
    let e1 = worst(&path[..784], &originals[..784]);
    let e2 = worst(&path[(steps - 1) * 784..], &originals[784..]);
    eprintln!("interpolation end errors {e1:e} {e2:e}");
    assert!(e1 < 1e-4 && e2 < 1e-4, "ends {e1} {e2}");
    // The originals are the midpoints of the pixels' bins.
    let mid: Vec<f64> = px.iter().map(|&p| (p as f64 + 0.5) / 256.0).collect();
    let err = max_mixed_err(&originals, &mid);
    assert!(err < 1e-5, "originals vs bin centres: {err:e}");
    let bad = pollster::block_on(explore::interpolation(
        &flow,
        PRE,
        &px[..784],
        &px[..10],
        10,
    ));
    assert!(bad.is_err(), "a short image is refused");
}

#[test]
fn bits_per_dim_of_images_match_reference() {
    let (flow, p) = flow();
    let n = 5;
    let px = images(n, 11);
    let got = pollster::block_on(explore::bits_per_dim(&flow, PRE, &px)).expect("bits/dim");
    let idx: Vec<u32> = (0..n as u32).collect();
    let (x, pre) = rp::dequantize(&px, 784, &idx, 0, false, Some(1e-6));
    let x32: Vec<f32> = x.iter().map(|&v| v as f32).collect();
    let log_p = r::log_likelihood(&p, &x32, n);
    for i in 0..n {
        let want = bits_per_dim(log_p[i], pre[i], 784);
        let rel = (got[i] - want).abs() / want.abs();
        assert!(rel < 1e-5, "image {i}: {} vs {want} bits/dim", got[i]);
    }
}
