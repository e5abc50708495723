//! Checks that make the CPU reference trustworthy as the oracle for the GPU kernels:
//! hand-computed examples pin the model math to the spec; finite differences check the
//! analytic log-det (full Jacobian) and every analytic gradient; round trips check the inverse.
//! All seeded and deterministic, on small shapes.

use flowgpu::reference::{self as r, FlowParamsF64, Half};
use flowgpu::{AdamConfig, CouplingKind, FlowConfig, FlowParams, Linear, MaskKind};
use rand::{rngs::StdRng, Rng, SeedableRng};

const KINDS: [(CouplingKind, MaskKind); 4] = [
    (CouplingKind::Additive, MaskKind::Halves),
    (CouplingKind::Additive, MaskKind::Interleaved),
    (CouplingKind::Affine, MaskKind::Halves),
    (CouplingKind::Affine, MaskKind::Interleaved),
];

fn config(
    dim: usize,
    layers: usize,
    hidden: usize,
    (coupling, mask): (CouplingKind, MaskKind),
    scale_bound: f32,
) -> FlowConfig {
    let cfg = FlowConfig {
        dim,
        layers,
        hidden,
        coupling,
        mask,
        scale_bound,
    };
    cfg.validate().expect("test config");
    cfg
}

fn data(seed: u64, n: usize, amp: f64) -> Vec<f64> {
    let mut rng = StdRng::seed_from_u64(seed);
    (0..n).map(|_| rng.random_range(-amp..amp)).collect()
}

fn data_f32(seed: u64, n: usize, amp: f64) -> Vec<f32> {
    data(seed, n, amp).iter().map(|&v| v as f32).collect()
}

fn max_abs_diff<A: Copy + Into<f64>, B: Copy + Into<f64>>(a: &[A], b: &[B]) -> f64 {
    assert_eq!(a.len(), b.len());
    a.iter()
        .zip(b)
        .map(|(&x, &y)| (x.into() - y.into()).abs())
        .fold(0.0, f64::max)
}

// ---------------------------------------------------------------------------------------------
// Hand-computed examples: the math is the spec's, not merely self-consistent.
// ---------------------------------------------------------------------------------------------

#[test]
fn linear_matches_hand_computation() {
    let lin = Linear {
        n_in: 2,
        n_out: 3,
        weight: vec![1.0, 2.0, 3.0, 4.0, 5.0, 6.0],
        bias: vec![0.5, -100.0, 0.0],
    };
    // x = [[1, 2], [0, -1]]: y = x W + b.
    let x = [1.0f32, 2.0, 0.0, -1.0];
    assert_eq!(
        r::linear(&x, 2, &lin, false),
        vec![9.5, -88.0, 15.0, -3.5, -105.0, -6.0]
    );
    assert_eq!(
        r::linear(&x, 2, &lin, true),
        vec![9.5, 0.0, 15.0, 0.0, 0.0, 0.0]
    );
    // Backward: dy = ones -> dx = row sums of W, dW = column sums of x, db = batch.
    let (dx, dw, db) = r::linear_backward(&x, &[1.0; 6], 2, &lin);
    assert_eq!(dx, vec![6.0, 15.0, 6.0, 15.0]);
    assert_eq!(dw, vec![1.0, 1.0, 1.0, 1.0, 1.0, 1.0]);
    assert_eq!(db, vec![2.0, 2.0, 2.0]);
}

/// D = 2, K = 1, H = 1: every number of the forward pass written out.
fn tiny_params(coupling: CouplingKind) -> FlowParams {
    let cfg = config(2, 1, 1, (coupling, MaskKind::Halves), 2.0);
    let mut p = FlowParams::zeros(&cfg);
    let mlp = &mut p.mlps[0];
    mlp[0].weight = vec![2.0];
    mlp[0].bias = vec![-0.5];
    for lin in &mut mlp[1..4] {
        lin.weight = vec![1.0];
    }
    match coupling {
        CouplingKind::Additive => {
            mlp[4].weight = vec![0.5];
            mlp[4].bias = vec![0.25];
        }
        CouplingKind::Affine => {
            mlp[4].weight = vec![0.5, 1.0];
            mlp[4].bias = vec![0.0, 0.25];
        }
    }
    p.scales[0] = vec![0.125, -0.25]; // exact in f32
    p
}

#[test]
fn tiny_flow_matches_hand_computation() {
    let ln2pi = (2.0 * std::f64::consts::PI).ln();
    for coupling in [CouplingKind::Additive, CouplingKind::Affine] {
        let p = tiny_params(coupling);
        // Sample 0: x_a = 0.8 -> h1..h4 = relu(2 * 0.8 - 0.5) = 1.1.
        // Sample 1: x_a = -0.8 -> h = relu(-2.1) = 0, so out = b5.
        let x = [0.8, -0.3, -0.8, 0.7];
        let (z, ld) = r::forward_f64(&p, &x, 2);
        let (e1, e2) = (0.125f64.exp(), (-0.25f64).exp());
        let (want_z, want_ld) = match coupling {
            CouplingKind::Additive => (
                // y_b = x_b + 0.5 * h4 + 0.25
                vec![
                    0.8 * e1,
                    (-0.3 + 0.55 + 0.25) * e2,
                    -0.8 * e1,
                    (0.7 + 0.25) * e2,
                ],
                vec![0.125 - 0.25, 0.125 - 0.25],
            ),
            CouplingKind::Affine => {
                // raw = 0.5 * 1.1 = 0.55, t = 1.1 + 0.25 = 1.35, s = 2 tanh(0.55 / 2).
                let s0 = 2.0 * (0.275f64).tanh();
                // raw = 0, t = 0.25, s = 0.
                (
                    vec![
                        0.8 * e1,
                        (-0.3 * s0.exp() + 1.35) * e2,
                        -0.8 * e1,
                        (0.7 + 0.25) * e2,
                    ],
                    vec![s0 + 0.125 - 0.25, 0.125 - 0.25],
                )
            }
        };
        assert!(
            max_abs_diff(&z, &want_z) < 1e-14,
            "{coupling:?}: z {z:?} vs {want_z:?}"
        );
        assert!(
            max_abs_diff(&ld, &want_ld) < 1e-14,
            "{coupling:?}: logdet {ld:?}"
        );
        let ll = r::log_likelihood_f64(&p, &x, 2);
        for b in 0..2 {
            let want =
                -0.5 * (want_z[2 * b].powi(2) + want_z[2 * b + 1].powi(2)) - ln2pi + want_ld[b];
            assert!(
                (ll[b] - want).abs() < 1e-14,
                "{coupling:?}: log p {}",
                ll[b]
            );
        }
        // The per-layer trace exposes the pieces the GPU kernels produce separately.
        let t = r::coupling_forward_layer_f64(&p, 0, &x, 2);
        assert_eq!(t.mlp.len(), 6);
        assert_eq!(t.mlp[0], vec![0.8, -0.8]);
        assert!(max_abs_diff(&t.mlp[4], &[1.1, 0.0]) < 1e-15);
        match coupling {
            CouplingKind::Additive => assert!(t.s.is_none()),
            CouplingKind::Affine => {
                let s = t.s.as_ref().expect("affine has s");
                assert!((s[0] - 2.0 * (0.275f64).tanh()).abs() < 1e-15 && s[1] == 0.0);
            }
        }
        assert!(max_abs_diff(&t.output, &z) == 0.0);
    }
}

#[test]
fn masks_and_layer_roles_follow_the_config() {
    // Layer 0 transforms part 1 given part 0; layer 1 the reverse. The conditioner of layer 0
    // is wired to out[0] = relu(x_a[0]); the one of layer 1 to out[0] = relu(x_a[0]) + 1.
    for mask in [MaskKind::Halves, MaskKind::Interleaved] {
        let cfg = config(6, 2, 3, (CouplingKind::Additive, mask), 2.0);
        let mut p = FlowParams::zeros(&cfg);
        for (l, mlp) in p.mlps.iter_mut().enumerate() {
            for lin in mlp.iter_mut() {
                lin.weight[0] = 1.0; // entry [0, 0]
            }
            if l == 1 {
                mlp[4].bias[0] = 1.0;
            }
        }
        let x = [0.5f64, -1.0, 2.0, 0.25, -0.75, 1.5];
        let (z, ld) = r::forward_f64(&p, &x, 1);
        assert_eq!(ld, vec![0.0]);
        let mut want = x.to_vec();
        let (a0, b0) = match mask {
            MaskKind::Halves => (0, 3),      // part 0 starts at 0, part 1 at D/2
            MaskKind::Interleaved => (0, 1), // even / odd
        };
        want[b0] += want[a0].max(0.0); // layer 0: x[b0] += relu(x[a0])
        want[a0] += want[b0].max(0.0) + 1.0; // layer 1: x[a0] += relu(y[b0]) + 1
        assert_eq!(z, want, "{mask:?}");
        // gather_half agrees with the roles.
        assert_eq!(r::half_part(&cfg, 0, Half::Transformed), 1);
        assert_eq!(r::half_part(&cfg, 1, Half::Transformed), 0);
        let xa = r::gather_half(&cfg, 0, Half::Conditioning, &x, 1);
        let xb = r::gather_half(&cfg, 0, Half::Transformed, &x, 1);
        let (want_a, want_b): (Vec<f64>, Vec<f64>) = match mask {
            MaskKind::Halves => (x[..3].to_vec(), x[3..].to_vec()),
            MaskKind::Interleaved => (
                x.iter().step_by(2).copied().collect(),
                x.iter().skip(1).step_by(2).copied().collect(),
            ),
        };
        assert_eq!((xa, xb), (want_a, want_b), "{mask:?}");
    }
}

#[test]
fn log_density_of_the_origin() {
    let ld = r::log_density(&[0.0f32; 6], &[0.0, 1.5]);
    let c = -1.5 * (2.0 * std::f64::consts::PI).ln();
    assert!((ld[0] - c).abs() < 1e-15 && (ld[1] - (c + 1.5)).abs() < 1e-15);
}

#[test]
fn untrained_init_is_the_identity() {
    for kind in KINDS {
        let cfg = config(6, 4, 5, kind, 2.0);
        let p = FlowParams::init(&cfg, 7);
        let x = data_f32(11, 4 * 6, 2.0);
        let (z, ld) = r::forward(&p, &x, 4);
        assert_eq!(z, x, "{kind:?}");
        assert_eq!(ld, vec![0.0; 4], "{kind:?}");
        assert_eq!(r::inverse(&p, &x, 4), x, "{kind:?}");
    }
}

// ---------------------------------------------------------------------------------------------
// The analytic log-det against the full finite-difference Jacobian.
// ---------------------------------------------------------------------------------------------

/// `|analytic - fd| <= LOGDET_TOL * max(1, |analytic|)`.
const LOGDET_TOL: f64 = 1e-6;

#[test]
fn logdet_matches_finite_difference_jacobian() {
    let mut worst = 0.0f64;
    for (ki, kind) in KINDS.into_iter().enumerate() {
        for (mi, &(magnitude, bound)) in [(1.0f32, 2.0f32), (3.0, 1.0)].iter().enumerate() {
            let cfg = config(6, 4, 5, kind, bound);
            let p = FlowParams::random(&cfg, 100 + ki as u64 * 10 + mi as u64, magnitude);
            let batch = 3;
            let x = data(200 + ki as u64, batch * 6, 1.5);
            let (_, ld) = r::forward_f64(&p, &x, batch);
            for b in 0..batch {
                let fd = r::jacobian_logdet_fd(&p, &x[b * 6..(b + 1) * 6]);
                let rel = (ld[b] - fd).abs() / ld[b].abs().max(1.0);
                worst = worst.max(rel);
                assert!(
                    rel <= LOGDET_TOL,
                    "{kind:?} magnitude {magnitude}: analytic {} vs fd {fd} (rel {rel:e})",
                    ld[b]
                );
            }
        }
    }
    eprintln!("logdet vs FD Jacobian: max relative error {worst:e}");
}

#[test]
fn log_abs_det_of_known_matrices() {
    // det = 2*3 - 1*4 = 2 (needs no pivoting) and a permuted triangular matrix (needs it).
    assert!((r::log_abs_det(&[2.0, 1.0, 4.0, 3.0], 2) - 2f64.ln()).abs() < 1e-15);
    let a = [0.0, 0.0, 5.0, 0.0, -2.0, 7.0, 3.0, 1.0, 1.0];
    assert!((r::log_abs_det(&a, 3) - 30f64.ln()).abs() < 1e-14);
    assert_eq!(r::log_abs_det(&[1.0, 2.0, 2.0, 4.0], 2), f64::NEG_INFINITY);
}

// ---------------------------------------------------------------------------------------------
// Inverse.
// ---------------------------------------------------------------------------------------------

#[test]
fn inverse_round_trips() {
    let (mut worst_x, mut worst_z, mut worst_64) = (0.0f64, 0.0f64, 0.0f64);
    for (ki, kind) in KINDS.into_iter().enumerate() {
        for dim in [6, 8] {
            let cfg = config(dim, 4, 5, kind, 2.0);
            let p = FlowParams::random(&cfg, 300 + ki as u64, 1.0);
            let batch = 5;
            let x = data_f32(400 + ki as u64, batch * dim, 2.0);
            let (z, _) = r::forward(&p, &x, batch);
            let e = max_abs_diff(&r::inverse(&p, &z, batch), &x);
            worst_x = worst_x.max(e);
            assert!(
                e <= 1e-5,
                "{kind:?} D={dim}: |inverse(forward(x)) - x| = {e:e}"
            );

            let zz = data_f32(500 + ki as u64, batch * dim, 2.0);
            let (z2, _) = r::forward(&p, &r::inverse(&p, &zz, batch), batch);
            let e = max_abs_diff(&z2, &zz);
            worst_z = worst_z.max(e);
            assert!(
                e <= 1e-5,
                "{kind:?} D={dim}: |forward(inverse(z)) - z| = {e:e}"
            );

            let x64 = data(600 + ki as u64, batch * dim, 2.0);
            let (z64, _) = r::forward_f64(&p, &x64, batch);
            let e = max_abs_diff(&r::inverse_f64(&p, &z64, batch), &x64);
            worst_64 = worst_64.max(e);
            assert!(e <= 1e-12, "{kind:?} D={dim}: f64 round trip {e:e}");
        }
    }
    eprintln!(
        "round trips: f32 x {worst_x:e}, f32 z {worst_z:e}, f64 x {worst_64:e} (max abs error)"
    );
}

#[test]
fn inverse_stages_run_from_z_to_x() {
    for (ki, kind) in KINDS.into_iter().enumerate() {
        let cfg = config(8, 3, 5, kind, 2.0);
        let p = FlowParams::random(&cfg, 700 + ki as u64, 1.0);
        let batch = 2;
        let z = data_f32(800 + ki as u64, batch * 8, 2.0);
        let stages = r::inverse_with_stages(&p, &z, batch);
        assert_eq!(stages.len(), cfg.layers + 1);
        assert_eq!(stages[0], z);
        assert_eq!(stages.last(), Some(&r::inverse(&p, &z, batch)));
        // Stage i < K is the output of layer K - 1 - i in the forward pass of the recovered
        // x; stage K is x itself.
        let z64: Vec<f64> = z.iter().map(|&v| v.into()).collect();
        let st64 = r::inverse_with_stages_f64(&p, &z64, batch);
        let traces = r::forward_trace_f64(&p, st64.last().expect("x"), batch);
        let k = cfg.layers;
        for (i, stage) in st64.iter().enumerate() {
            let fwd = if i < k {
                &traces[k - 1 - i].output
            } else {
                &traces[0].input
            };
            let e = max_abs_diff(stage, fwd);
            assert!(
                e < 1e-12,
                "{kind:?}: stage {i} differs from the forward pass by {e:e}"
            );
        }
    }
}

#[test]
fn f32_and_f64_entry_points_agree() {
    let cfg = config(8, 4, 6, KINDS[3], 2.0);
    let p = FlowParams::random(&cfg, 900, 1.0);
    let x = data_f32(901, 3 * 8, 1.5);
    let x64: Vec<f64> = x.iter().map(|&v| v.into()).collect();
    let (z, ld) = r::forward(&p, &x, 3);
    let (z64, ld64) = r::forward_f64(&p, &x64, 3);
    let (zw, ldw) = r::forward_f64(&FlowParamsF64::from_f32(&p), &x64, 3);
    assert_eq!(ld, ld64);
    assert_eq!((&z64, &ld64), (&zw, &ldw));
    assert_eq!(z, r::to_f32(&z64));
    assert_eq!(r::log_likelihood(&p, &x, 3), r::log_density(&z64, &ld64));
    let acts = r::mlp_forward(&p.mlps[0], &x[..4], 1);
    assert_eq!(acts.len(), 6);
    assert_eq!(acts[1], r::linear(&x[..4], 1, &p.mlps[0][0], true));
    let (loss, g) = r::loss_and_grad(&p, &x, 3);
    let (loss64, g64) = r::loss_and_grad_f64(&p, &x64, 3);
    assert_eq!(loss, loss64);
    assert_eq!(g, g64.to_f32());
    assert!((loss - r::loss_f64(&p, &x64, 3)).abs() < 1e-12);
}

// ---------------------------------------------------------------------------------------------
// Analytic gradients against central finite differences of the loss, in f64.
// ---------------------------------------------------------------------------------------------

/// Finite-difference step for parameters and inputs of order one.
const FD_STEP: f64 = 1e-5;
/// `|analytic - fd| / max(|analytic|, |fd|, GRAD_FLOOR) < GRAD_TOL`. The floor turns the test
/// into an absolute one (1e-9) for entries so small that f64 round-off in the loss
/// (`~1e-16 * |L| / h`) dominates the difference quotient.
const GRAD_TOL: f64 = 1e-5;
const GRAD_FLOOR: f64 = 1e-4;

fn rel_err(a: f64, n: f64) -> f64 {
    (a - n).abs() / a.abs().max(n.abs()).max(GRAD_FLOOR)
}

/// Checks `entries` of every tensor (`None`: all of them); returns the worst relative error.
fn check_grads(cfg: &FlowConfig, seed: u64, batch: usize, per_tensor: Option<usize>) -> f64 {
    let p = FlowParamsF64::from_f32(&FlowParams::random(cfg, seed, 1.5));
    let x = data(seed + 1, batch * cfg.dim, 1.5);
    let (loss, grads) = r::loss_and_grad_f64(&p, &x, batch);
    assert!((loss - r::loss_f64(&p, &x, batch)).abs() < 1e-12);
    let names: Vec<String> = p
        .to_f32()
        .named_tensors()
        .into_iter()
        .map(|(n, _, _)| n)
        .collect();
    let analytic: Vec<Vec<f64>> = grads.tensors().iter().map(|t| t.to_vec()).collect();
    let mut rng = StdRng::seed_from_u64(seed + 2);
    let mut worst = 0.0f64;
    let mut nonzero = 0;
    for (ti, name) in names.iter().enumerate() {
        let len = analytic[ti].len();
        let entries: Vec<usize> = match per_tensor {
            None => (0..len).collect(),
            Some(n) => (0..n.min(len)).map(|_| rng.random_range(0..len)).collect(),
        };
        for i in entries {
            let mut q = p.clone();
            let orig = q.tensors()[ti][i];
            q.tensors_mut()[ti][i] = orig + FD_STEP;
            let lp = r::loss_f64(&q, &x, batch);
            q.tensors_mut()[ti][i] = orig - FD_STEP;
            let lm = r::loss_f64(&q, &x, batch);
            let fd = (lp - lm) / (2.0 * FD_STEP);
            let a = analytic[ti][i];
            if a.abs() > GRAD_FLOOR {
                nonzero += 1;
            }
            let e = rel_err(a, fd);
            worst = worst.max(e);
            assert!(
                e < GRAD_TOL,
                "{:?}/{:?}: d loss / d {name}[{i}]: analytic {a:e} vs fd {fd:e} (rel {e:e})",
                cfg.coupling,
                cfg.mask
            );
        }
    }
    assert!(
        nonzero > 0,
        "every gradient checked was ~0: the test tests nothing"
    );
    worst
}

#[test]
fn parameter_gradients_match_finite_differences_all_entries() {
    let mut worst = 0.0f64;
    for (ki, kind) in KINDS.into_iter().enumerate() {
        // K = 3 so that both layer parities and an odd last layer are covered; a tight
        // scale bound so that the tanh is far from linear.
        let cfg = config(8, 3, 6, kind, 1.5);
        worst = worst.max(check_grads(&cfg, 1000 + 10 * ki as u64, 3, None));
    }
    eprintln!("parameter gradients (all entries, D=8 H=6 K=3 B=3): max rel error {worst:e}");
}

#[test]
fn parameter_gradients_match_finite_differences_sampled() {
    let mut worst = 0.0f64;
    for (ki, kind) in KINDS.into_iter().enumerate() {
        let cfg = config(16, 4, 12, kind, 2.0);
        worst = worst.max(check_grads(&cfg, 2000 + 10 * ki as u64, 4, Some(6)));
    }
    eprintln!("parameter gradients (6 per tensor, D=16 H=12 K=4 B=4): max rel error {worst:e}");
}

#[test]
fn input_gradient_matches_finite_differences() {
    let mut worst = 0.0f64;
    for (ki, kind) in KINDS.into_iter().enumerate() {
        let cfg = config(8, 3, 6, kind, 1.5);
        let p = FlowParams::random(&cfg, 3000 + ki as u64, 1.5);
        let batch = 3;
        let x = data(3100 + ki as u64, batch * 8, 1.5);
        let g = r::grad_input_f64(&p, &x, batch);
        for i in 0..x.len() {
            let mut xp = x.clone();
            xp[i] += FD_STEP;
            let lp = r::loss_f64(&p, &xp, batch);
            xp[i] -= 2.0 * FD_STEP;
            let lm = r::loss_f64(&p, &xp, batch);
            let fd = (lp - lm) / (2.0 * FD_STEP);
            let e = rel_err(g[i], fd);
            worst = worst.max(e);
            assert!(
                e < GRAD_TOL,
                "{kind:?}: dL/dx[{i}] {} vs fd {fd} ({e:e})",
                g[i]
            );
        }
    }
    eprintln!("input gradients: max rel error {worst:e}");
}

// ---------------------------------------------------------------------------------------------
// Adam.
// ---------------------------------------------------------------------------------------------

/// The smallest flow: 2 * 5 + 2 = 12 parameters.
fn adam_fixture() -> (FlowParams, FlowParams, FlowParams, FlowParams) {
    let cfg = config(2, 1, 1, (CouplingKind::Additive, MaskKind::Halves), 2.0);
    let mut p = FlowParams::zeros(&cfg);
    p.mlps[0][0].weight[0] = 1.0;
    p.scales[0][1] = -0.5;
    let z = FlowParams::zeros(&cfg);
    (p, z.clone(), z.clone(), z)
}

/// Betas and learning rate exactly representable in `f32`, so the hand arithmetic is exact
/// (the defaults 0.9 / 0.999 are not: `1 - 0.999f32` is off by 1.3e-5 relative).
fn exact_adam(clip_norm: Option<f32>) -> AdamConfig {
    AdamConfig {
        beta1: 0.75,
        beta2: 0.9375,
        eps: 1e-8,
        clip_norm,
    }
}

#[test]
fn adam_two_steps_match_hand_computation() {
    let (mut p, mut g, mut m, mut v) = adam_fixture();
    let cfg = exact_adam(None);
    let lr = 0.125;
    let close = |a: f32, b: f64| (f64::from(a) - b).abs() <= 1e-7 * b.abs();
    // Step 1, g = 0.5: m = 0.25 * 0.5 = 0.125; v = 0.0625 * 0.25 = 0.015625;
    // m^ = 0.125 / 0.25 = 0.5; v^ = 0.015625 / 0.0625 = 0.25;
    // p = 1 - 0.125 * 0.5 / (0.5 + 1e-8) = 0.8750000025.
    g.mlps[0][0].weight[0] = 0.5;
    r::adam_step(&mut p, &g, &mut m, &mut v, 1, lr, &cfg);
    assert!(close(p.mlps[0][0].weight[0], 0.8750000025));
    assert_eq!(m.mlps[0][0].weight[0], 0.125);
    assert_eq!(v.mlps[0][0].weight[0], 0.015625);
    // A zero gradient leaves its parameter where it is.
    assert_eq!(p.scales[0][1], -0.5);
    assert_eq!((m.scales[0][1], v.scales[0][1]), (0.0, 0.0));
    // Step 2, g = -0.25: m = 0.75 * 0.125 - 0.25 * 0.25 = 0.03125;
    // v = 0.9375 * 0.015625 + 0.0625 * 0.0625 = 0.0185546875 (= 19/1024);
    // m^ = 0.03125 / (1 - 0.75^2) = 1/14; v^ = (19/1024) / (1 - 0.9375^2) = 19/124;
    // p = 0.8750000025 - 0.125 * (1/14) / (sqrt(19/124) + 1e-8) = 0.85219049.
    g.mlps[0][0].weight[0] = -0.25;
    r::adam_step(&mut p, &g, &mut m, &mut v, 2, lr, &cfg);
    assert_eq!(m.mlps[0][0].weight[0], 0.03125);
    assert_eq!(v.mlps[0][0].weight[0], 19.0 / 1024.0);
    let got = p.mlps[0][0].weight[0];
    assert!(close(got, 0.8521904866), "{got}");
    // The defaults (0.9 / 0.999), to the precision of their f32 constants
    // (1 - 0.9f32 = 0.09999998, 1 - 0.999f32 = 9.9998713e-4): m = 0.1 g, v = 0.001 g^2.
    let (mut p, mut g, mut m, mut v) = adam_fixture();
    g.mlps[0][0].weight[0] = 0.5;
    r::adam_step(&mut p, &g, &mut m, &mut v, 1, 0.1, &AdamConfig::default());
    assert!((f64::from(m.mlps[0][0].weight[0]) - 0.05).abs() < 1e-7);
    assert!((f64::from(v.mlps[0][0].weight[0]) - 2.5e-4).abs() < 1e-8);
    assert!((f64::from(p.mlps[0][0].weight[0]) - 0.9).abs() < 1e-7);
}

#[test]
fn adam_clips_by_the_global_norm() {
    // g has a 3 in a weight and a 4 in a scale: global norm 5 over *all* tensors.
    let run = |clip: Option<f32>| {
        let (mut p, mut g, mut m, mut v) = adam_fixture();
        g.mlps[0][2].weight[0] = 3.0;
        g.scales[0][0] = 4.0;
        assert!((r::global_grad_norm(&g) - 5.0).abs() < 1e-12);
        r::adam_step(&mut p, &g, &mut m, &mut v, 1, 0.01, &exact_adam(clip));
        (m.mlps[0][2].weight[0], m.scales[0][0], v.scales[0][0])
    };
    let close = |a: f32, b: f64| (f64::from(a) - b).abs() <= 1e-6 * b.abs();
    // Clipped to norm 1: g = (0.6, 0.8), m = 0.25 g, v = 0.0625 g^2.
    let (m_w, m_s, v_s) = run(Some(1.0));
    assert!(close(m_w, 0.15) && close(m_s, 0.2) && close(v_s, 0.04));
    // Norm not above the limit (strictly greater is needed), or no clipping: g unchanged.
    for clip in [Some(5.0), Some(100.0), None] {
        let (m_w, m_s, v_s) = run(clip);
        assert!(
            close(m_w, 0.75) && close(m_s, 1.0) && close(v_s, 1.0),
            "{clip:?}: {m_w} {m_s} {v_s}"
        );
    }
    // A clipped first step: g = 4 clipped to 1, m = 0.25 g; the step itself is lr * sign(g).
    let (mut p, mut g, mut m, mut v) = adam_fixture();
    g.scales[0][0] = 4.0;
    r::adam_step(&mut p, &g, &mut m, &mut v, 1, 0.01, &exact_adam(Some(1.0)));
    assert!((f64::from(p.scales[0][0]) + 0.01).abs() < 1e-7);
    assert!(close(m.scales[0][0], 0.25) && close(v.scales[0][0], 0.0625));
}

/// The reference's Gaussian draws (the oracle of the `gaussian` kernel's cases) have the
/// mean and spread asked for.
#[test]
fn gaussian_draws_have_the_asked_moments() {
    let n = 5000;
    let want = flowgpu::reference::preprocess::gaussian(n, 77, 0.7);
    let mean = want.iter().sum::<f64>() / n as f64;
    let var = want.iter().map(|v| (v - mean).powi(2)).sum::<f64>() / n as f64;
    assert!(
        mean.abs() < 0.05 && (var.sqrt() - 0.7).abs() < 0.03,
        "mean {mean}, std {}",
        var.sqrt()
    );
}
