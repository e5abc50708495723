//! A NaN injected into one batch is caught on the GPU at the step it appears: the gradient
//! norm's fault counters (read with the loss, no extra readback) name that step, Adam leaves
//! the parameters and moments exactly as the last good step left them, and the steps after
//! it train normally.

mod common;

use common::context;
use flowgpu::config::{AdamConfig, FlowConfig, Preprocess};
use flowgpu::data::ImageSet;
use flowgpu::train::gpu_data::GpuImages;
use flowgpu::train::step::TrainStep;
use flowgpu::{Flow, FlowParams};
use rand::{rngs::StdRng, Rng, SeedableRng};

#[test]
fn a_nan_in_a_batch_is_caught_at_its_step_and_skipped() {
    let ctx = context();
    let cfg = FlowConfig {
        hidden: 16,
        ..FlowConfig::default()
    };
    let flow = Flow::new(ctx.clone(), &FlowParams::random(&cfg, 5, 0.05)).expect("flow");
    let mut rng = StdRng::seed_from_u64(6);
    let n = 256;
    let images = ImageSet {
        images: (0..n * 784).map(|_| rng.random()).collect(),
        labels: vec![0; n],
        rows: 28,
        cols: 28,
    };
    let gpu = GpuImages::upload(&ctx, &images, "images").expect("upload");
    let batch = 16;
    let pre = Preprocess {
        logit_alpha: Some(0.05),
    };
    let step = TrainStep::new(&flow, &gpu, batch, pre, AdamConfig::default()).expect("step");
    step.set_order(&ctx, &(0..n as u32).collect::<Vec<_>>());
    let run = |t: u32| step.step(&ctx, (t as usize - 1) * batch, 1, t, 1e-3);

    for t in 1..=4 {
        run(t);
    }
    let r = step.take_readback(&ctx).expect("readback");
    assert_eq!(r.faults.non_finite, 0, "clean steps: {:?}", r.faults);
    assert!(r.nats.is_finite());
    assert_eq!(r.faults.first_step(4), None);
    let before = ctx.read(flow.params_tensor()).expect("params");
    let (m_before, v_before) = step.read_moments(&ctx).expect("moments");

    // Step 5: one NaN in the first image of the dequantized batch.
    step.step_with_batch_edit(&ctx, 4 * batch, 1, 5, 1e-3, |x| {
        ctx.write(&x.view(0, &[1]), &[f32::NAN]);
    });
    let after = ctx.read(flow.params_tensor()).expect("params");
    let (m_after, v_after) = step.read_moments(&ctx).expect("moments");
    let same = |a: &[f32], b: &[f32]| a.iter().zip(b).all(|(x, y)| x.to_bits() == y.to_bits());
    assert!(
        same(&before, &after),
        "the poisoned step changed the parameters"
    );
    assert!(
        same(&m_before, &m_after) && same(&v_before, &v_after),
        "nor the moments"
    );

    for t in 6..=8 {
        run(t);
    }
    let r = step.take_readback(&ctx).expect("readback");
    assert_eq!(r.steps, 4);
    assert_eq!(
        (
            r.faults.steps,
            r.faults.non_finite,
            r.faults.first_non_finite
        ),
        (4, 1, 1),
        "{:?}",
        r.faults
    );
    assert_eq!(
        r.faults.first_step(8),
        Some(5),
        "caught at the step it appeared"
    );
    assert!(!r.nats.is_finite(), "the interval's loss carries the NaN");
    let trained = ctx.read(flow.params_tensor()).expect("params");
    assert!(trained.iter().all(|v| v.is_finite()));
    assert!(!same(&after, &trained), "the steps after it train");

    // The counters were cleared by the readback: clean steps read clean again.
    run(9);
    let r = step.take_readback(&ctx).expect("readback");
    assert_eq!((r.faults.steps, r.faults.non_finite), (1, 0));
    assert!(r.nats.is_finite());
}
