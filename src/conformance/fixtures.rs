//! The conformance fixtures: small shapes that are not multiples of any tile (batch 37,
//! D = 50 so D/2 = 25, H = 30; matmuls up to 130 x 100 x 257), inputs from a seeded generator, expected outputs from the
//! CPU reference, bounds from the native kernel tests.

use std::collections::BTreeMap;

use rand::{rngs::StdRng, Rng, SeedableRng};

use crate::config::{AdamConfig, CouplingKind, FlowConfig, MaskKind, Preprocess};
use crate::conformance::{Fixture, Metric, Op};
use crate::kernels::matmul::padded;
use crate::kernels::matmul::MatmulKind;
use crate::model::layout::ParamLayout;
use crate::reference::{self as r, preprocess as rp};
use crate::{FlowParams, Linear};

/// f32 products summed over k <= ~1000 terms of size ~1.
const MATMUL_BOUND: f64 = 2e-5;
/// As tests/flow.rs for whole passes through a small flow.
const FLOW_BOUND: f64 = 2e-5;
/// As tests/gradients.rs: relative error in norm per tensor.
const GRADIENT_BOUND: f64 = 1e-4;

/// The shaders the fixtures must reach, for the coverage check: every module of the shader
/// index except the benchmark probes (`kernels::peak`, which have no reference).
pub fn kernels_covered() -> Vec<&'static str> {
    crate::kernels::shaders::SHADERS
        .iter()
        .filter(|s| !s.kernels.iter().all(|k| k.starts_with("peak::")))
        .map(|s| s.file)
        .collect()
}

/// `n` seeded draws from `U[lo, hi)` (the tests' data too).
pub fn uniform(n: usize, lo: f32, hi: f32, seed: u64) -> Vec<f32> {
    let mut rng = StdRng::seed_from_u64(seed);
    (0..n).map(|_| rng.random_range(lo..hi)).collect()
}

fn f32s(v: &[f64]) -> Vec<f32> {
    v.iter().map(|&x| x as f32).collect()
}

fn f64s(v: &[f32]) -> Vec<f64> {
    v.iter().map(|&x| x as f64).collect()
}

/// Row-major `[rows, cols]` to `[rows, padded(cols)]`, zero padding (as the kernels store
/// matrices).
pub fn pad(x: &[f32], rows: usize, cols: usize) -> Vec<f32> {
    let ld = padded(cols);
    let mut out = vec![0.0; rows * ld];
    for r in 0..rows {
        out[r * ld..r * ld + cols].copy_from_slice(&x[r * cols..(r + 1) * cols]);
    }
    out
}

fn map<const N: usize>(items: [(&str, Vec<f32>); N]) -> BTreeMap<String, Vec<f32>> {
    items.into_iter().map(|(k, v)| (k.to_string(), v)).collect()
}

fn bounds(names: &[&str], bound: f64) -> BTreeMap<String, f64> {
    names.iter().map(|n| (n.to_string(), bound)).collect()
}

/// A linear layer with PyTorch's default initialisation range (also used by tests/kernels.rs).
pub fn linear(n_in: usize, n_out: usize, seed: u64) -> Linear {
    let bound = 1.0 / (n_in as f32).sqrt();
    Linear {
        n_in,
        n_out,
        weight: uniform(n_in * n_out, -bound, bound, seed),
        bias: uniform(n_out, -bound, bound, seed + 1),
    }
}

/// `[W; b]` with padded rows, as the parameter layout stores a linear layer.
pub fn weight_block(lin: &Linear) -> Vec<f32> {
    let mut wb = lin.weight.clone();
    wb.extend_from_slice(&lin.bias);
    pad(&wb, lin.n_in + 1, lin.n_out)
}

/// H = 30: no tile's multiple, and small enough to keep fixtures.json a few MB.
fn small_config(coupling: CouplingKind, mask: MaskKind) -> FlowConfig {
    FlowConfig {
        dim: 50,
        layers: 4,
        hidden: 30,
        coupling,
        mask,
        scale_bound: 2.0,
    }
}

/// Every fixture, in a fixed order.
pub fn fixtures() -> Vec<Fixture> {
    let mut out = Vec::new();
    out.extend(matmul_fixtures());
    out.extend(transform_fixtures());
    for (coupling, mask) in [
        (CouplingKind::Affine, MaskKind::Halves),
        (CouplingKind::Additive, MaskKind::Interleaved),
        (CouplingKind::Additive, MaskKind::Halves),
        (CouplingKind::Affine, MaskKind::Interleaved),
    ] {
        out.extend(flow_fixtures(small_config(coupling, mask)));
    }
    out.push(loss_fixture());
    out.push(adam_fixture());
    out.extend(classifier_fixtures());
    out.push(ema_fixture());
    out
}

/// The moving average over the flat layout (a narrow MLP keeps the file small).
fn ema_fixture() -> Fixture {
    let cfg = FlowConfig {
        hidden: 20,
        ..small_config(CouplingKind::Affine, MaskKind::Halves)
    };
    let layout = ParamLayout::new(&cfg);
    let p = FlowParams::random(&cfg, 41, 1.0);
    let e0 = FlowParams::random(&cfg, 42, 1.0);
    let grads = FlowParams::random(&cfg, 43, 1.0);
    let mut e = e0.clone();
    r::ema_step(&mut e, &p, 0.99);
    Fixture {
        name: "ema decay 0.99".into(),
        op: Op::Ema {
            config: cfg,
            decay: 0.99,
        },
        inputs: map([
            ("ema", layout.pack(&e0)),
            ("params", layout.pack(&p)),
            ("grads", layout.pack(&grads)),
        ]),
        expected: map([("ema", layout.pack(&e))]),
        metric: Metric::MixedMax,
        bounds: bounds(&["ema"], 1e-6),
    }
}

/// The judge's kernels: 13 x 13 images (169 pixels, no workgroup's multiple), batch 37 of
/// 61 images; the loss over more rows than its workgroup, junk in the logits' padding.
fn classifier_fixtures() -> Vec<Fixture> {
    let (side, images, batch) = (13, 61, 37);
    let pixels: Vec<u8> = uniform(images * side * side, 0.0, 256.0, 61)
        .iter()
        .map(|&v| v as u8)
        .collect();
    let indices: Vec<u32> = (0..batch as u32)
        .map(|i| (i * 5 + 2) % images as u32)
        .collect();
    let as_f32 = |v: &[u32]| v.iter().map(|&i| i as f32).collect::<Vec<f32>>();
    let mut out = Vec::new();
    for shift in [0, 2] {
        let x = r::classifier::classifier_input(&pixels, side, &indices, 99, shift);
        out.push(Fixture {
            name: format!(
                "classifier_input shift {shift}, {batch} of {images} images {side}x{side}"
            ),
            op: Op::ClassifierInput {
                side,
                seed: 99,
                shift,
            },
            inputs: map([
                ("pixels", pixels.iter().map(|&p| p as f32).collect()),
                ("indices", as_f32(&indices)),
            ]),
            expected: map([("x", pad(&f32s(&x), batch, side * side))]),
            metric: Metric::MixedMax,
            bounds: bounds(&["x"], 1e-7),
        });
    }
    let (classes, batch) = (10, 137);
    let logits = uniform(batch * classes, -8.0, 8.0, 62);
    let labels: Vec<u32> = uniform(images, 0.0, classes as f32, 63)
        .iter()
        .map(|&v| v as u32)
        .collect();
    let rows: Vec<u32> = (0..batch as u32)
        .map(|i| (i * 3 + 1) % images as u32)
        .collect();
    let row_labels: Vec<u32> = rows.iter().map(|&i| labels[i as usize]).collect();
    let ce = r::classifier::softmax_cross_entropy(&f64s(&logits), classes, &row_labels);
    let ld = padded(classes);
    let mut padded_logits = pad(&logits, batch, classes);
    for row in padded_logits.chunks_mut(ld) {
        row[classes..].fill(1e3);
    }
    let mut b = bounds(&["grad"], 1e-6);
    b.insert("sums".into(), 1e-5);
    out.push(Fixture {
        name: format!("softmax_cross_entropy batch {batch}, {classes} classes"),
        op: Op::SoftmaxCrossEntropy { classes, batch },
        inputs: map([
            ("logits", padded_logits),
            ("labels", as_f32(&labels)),
            ("indices", as_f32(&rows)),
        ]),
        expected: map([
            ("grad", pad(&f32s(&ce.grad), batch, classes)),
            ("sums", vec![ce.mean_loss as f32, ce.accuracy as f32, 1.0]),
        ]),
        metric: Metric::MixedMax,
        bounds: b,
    });
    out
}

/// More images than the kernel's workgroup, so its loop and tree both count.
fn loss_fixture() -> Fixture {
    let (dim, batch) = (50, 137);
    let density: Vec<f32> = uniform(2 * batch, -120.0, -20.0, 51);
    let pre_logdet = uniform(batch, -80.0, 40.0, 52);
    let nll: Vec<f64> = (0..batch)
        .map(|b| {
            crate::model::likelihood::nats_per_image(
                density[batch + b] as f64,
                pre_logdet[b] as f64,
                dim,
            )
        })
        .collect();
    let mean = nll.iter().sum::<f64>() / batch as f64;
    Fixture {
        name: format!("loss per image, batch {batch}"),
        op: Op::Loss { dim, batch },
        inputs: map([("density", density), ("pre_logdet", pre_logdet)]),
        expected: map([("nll", f32s(&nll)), ("sums", vec![mean as f32, 1.0])]),
        metric: Metric::MixedMax,
        // As tests/gradients.rs's per-image loss.
        bounds: bounds(&["nll", "sums"], 2e-5),
    }
}

fn matmul_fixtures() -> Vec<Fixture> {
    let mut out = Vec::new();
    // Seeds follow the position, so new shapes go at the end. (37, 100, 50): K > N.
    for (i, &(batch, n_in, n_out)) in [
        (37, 25, 100),
        (5, 3, 7),
        (130, 50, 100),
        (64, 100, 257),
        (37, 100, 50),
    ]
    .iter()
    .enumerate()
    {
        let seed = 100 + 10 * i as u64;
        let lin = linear(n_in, n_out, seed);
        let x = uniform(batch * n_in, -1.0, 1.0, seed + 2);
        let dy = uniform(batch * n_out, -1.0, 1.0, seed + 3);
        let xp = pad(&x, batch, n_in);
        let w = weight_block(&lin);
        for relu in [false, true] {
            let y = r::mlp::linear_f64(&f64s(&x), batch, &lin, relu);
            out.push(Fixture {
                name: format!(
                    "matmul NN {batch}x{n_in}->{n_out}{}",
                    if relu { " relu" } else { "" }
                ),
                op: Op::Matmul {
                    kind: MatmulKind::NN,
                    m: batch,
                    n: n_out,
                    k: n_in + 1,
                    a_ones: true,
                    epilogue: if relu { "relu" } else { "none" }.into(),
                },
                inputs: map([("a", xp.clone()), ("b", w.clone())]),
                expected: map([("c", pad(&f32s(&y), batch, n_out))]),
                metric: Metric::MixedMax,
                bounds: bounds(&["c"], MATMUL_BOUND),
            });
        }
        let g = r::mlp::linear_backward_f64(&f64s(&x), &f64s(&dy), batch, &lin);
        let mut dwb = g.dw.clone();
        dwb.extend_from_slice(&g.db);
        let dyp = pad(&dy, batch, n_out);
        out.push(Fixture {
            name: format!("matmul TN {batch}x{n_in}->{n_out}"),
            op: Op::Matmul {
                kind: MatmulKind::TN,
                m: n_in + 1,
                n: n_out,
                k: batch,
                a_ones: true,
                epilogue: "none".into(),
            },
            inputs: map([("a", xp.clone()), ("b", dyp.clone())]),
            expected: map([("c", pad(&f32s(&dwb), n_in + 1, n_out))]),
            metric: Metric::MixedMax,
            bounds: bounds(&["c"], MATMUL_BOUND),
        });
        for masked in [false, true] {
            let dx: Vec<f64> =
                g.dx.iter()
                    .zip(&x)
                    .map(|(&d, &xv)| if masked && xv <= 0.0 { 0.0 } else { d })
                    .collect();
            let mut inputs = map([("a", dyp.clone()), ("b", w.clone())]);
            if masked {
                inputs.insert("aux".into(), xp.clone());
            }
            out.push(Fixture {
                name: format!(
                    "matmul NT {batch}x{n_out}->{n_in}{}",
                    if masked { " relu_grad" } else { "" }
                ),
                op: Op::Matmul {
                    kind: MatmulKind::NT,
                    m: batch,
                    n: n_in,
                    k: n_out,
                    a_ones: false,
                    epilogue: if masked { "relu_grad" } else { "none" }.into(),
                },
                inputs,
                expected: map([("c", pad(&f32s(&dx), batch, n_in))]),
                metric: Metric::MixedMax,
                bounds: bounds(&["c"], MATMUL_BOUND),
            });
        }
    }
    out
}

fn transform_fixtures() -> Vec<Fixture> {
    let (batch, dim, images) = (37, 50, 61);
    let pixels: Vec<u8> = uniform(images * dim, 0.0, 256.0, 13)
        .iter()
        .map(|&v| v as u8)
        .collect();
    let indices: Vec<u32> = (0..batch as u32)
        .map(|i| (i * 7 + 3) % images as u32)
        .collect();
    let mut out = Vec::new();
    for alpha in [None, Some(1e-6f32), Some(0.05)] {
        for noise in [false, true] {
            let pre = Preprocess { logit_alpha: alpha };
            let alpha64 = alpha.map(|a| a as f64);
            let (x, pre_logdet) = rp::dequantize(&pixels, dim, &indices, 1234, noise, alpha64);
            let back = rp::to_pixels(&x, alpha64);
            let mut b = bounds(&["x"], 2e-6);
            b.insert("pre_logdet".into(), 1e-5);
            b.insert("pixels_back".into(), 1e-5);
            out.push(Fixture {
                name: format!("dequantize + to_pixels alpha {alpha:?} noise {noise}"),
                op: Op::Dequantize {
                    pre,
                    dim,
                    seed: 1234,
                    noise,
                },
                inputs: map([
                    ("pixels", pixels.iter().map(|&p| p as f32).collect()),
                    ("indices", indices.iter().map(|&i| i as f32).collect()),
                ]),
                expected: map([
                    ("x", f32s(&x)),
                    ("pre_logdet", f32s(&pre_logdet)),
                    ("pixels_back", f32s(&back)),
                ]),
                metric: Metric::MixedMax,
                bounds: b,
            });
        }
    }
    for n in [1001, 5000] {
        out.push(Fixture {
            name: format!("gaussian {n} draws"),
            op: Op::Gaussian {
                count: n,
                seed: 77,
                temperature: 0.7,
            },
            inputs: BTreeMap::new(),
            expected: map([("z", f32s(&rp::gaussian(n, 77, 0.7)))]),
            metric: Metric::MixedMax,
            bounds: bounds(&["z"], 1e-5),
        });
    }
    out
}

fn flow_fixtures(cfg: FlowConfig) -> Vec<Fixture> {
    let batch = 37;
    let tag = format!("{:?} {:?}", cfg.coupling, cfg.mask).to_lowercase();
    let p = FlowParams::random(&cfg, 11, 1.0);
    let packed = ParamLayout::new(&cfg).pack(&p);
    let x = uniform(batch * cfg.dim, -3.0, 3.0, 12);
    let (z, logdet) = r::forward(&p, &x, batch);
    let ll = r::log_likelihood(&p, &x, batch);
    let mut out = vec![Fixture {
        name: format!("flow forward ({tag}): gather, matmul NN, coupling_forward, log_density"),
        op: Op::Forward {
            config: cfg.clone(),
            batch,
        },
        inputs: map([("params", packed.clone()), ("x", x.clone())]),
        expected: map([
            ("z", z.clone()),
            ("logdet", f32s(&logdet)),
            ("log_likelihood", f32s(&ll)),
        ]),
        metric: Metric::MixedMax,
        bounds: bounds(&["z", "logdet", "log_likelihood"], FLOW_BOUND),
    }];
    let zin = uniform(batch * cfg.dim, -2.0, 2.0, 13);
    let stages = r::inverse_with_stages(&p, &zin, batch);
    let names: Vec<String> = (0..stages.len()).map(|i| format!("stage_{i}")).collect();
    let name_refs: Vec<&str> = names.iter().map(String::as_str).collect();
    out.push(Fixture {
        name: format!("flow inverse ({tag}): gather, matmul NN, coupling_inverse"),
        op: Op::Inverse {
            config: cfg.clone(),
            batch,
        },
        inputs: map([("params", packed.clone()), ("z", zin)]),
        expected: names.iter().cloned().zip(stages).collect(),
        metric: Metric::MixedMax,
        bounds: bounds(&name_refs, FLOW_BOUND),
    });
    let gp = FlowParams::random(&cfg, 31, 1.0);
    let gx = uniform(batch * cfg.dim, -3.0, 3.0, 32);
    let (_, grads) = r::loss_and_grad(&gp, &gx, batch);
    out.push(Fixture {
        name: format!(
            "gradients ({tag}): coupling_backward (seed, dL/ds, merge), matmul TN and NT"
        ),
        op: Op::Gradients {
            config: cfg.clone(),
            batch,
        },
        inputs: map([("params", ParamLayout::new(&cfg).pack(&gp)), ("x", gx)]),
        expected: map([("grads", ParamLayout::new(&cfg).pack(&grads))]),
        metric: Metric::RelNormPerTensor,
        bounds: bounds(&["grads"], GRADIENT_BOUND),
    });
    out
}

fn adam_fixture() -> Fixture {
    // Adam and the norm are elementwise over the flat layout: a narrow MLP keeps the file small.
    let cfg = FlowConfig {
        hidden: 20,
        ..small_config(CouplingKind::Affine, MaskKind::Halves)
    };
    let layout = ParamLayout::new(&cfg);
    let p0 = FlowParams::random(&cfg, 21, 1.0);
    let grads = FlowParams::random(&cfg, 22, 3.0);
    let m0 = FlowParams::random(&cfg, 23, 0.1);
    let mut v0 = FlowParams::random(&cfg, 24, 0.1);
    for t in v0.tensors_mut() {
        t.iter_mut().for_each(|x| *x = x.abs());
    }
    let norm = r::global_grad_norm(&grads);
    let adam = AdamConfig {
        clip_norm: Some((norm * 0.5) as f32),
        ..AdamConfig::default()
    };
    let (step, lr) = (3, 1e-3);
    let (mut p, mut m, mut v) = (p0.clone(), m0.clone(), v0.clone());
    r::adam_step(&mut p, &grads, &mut m, &mut v, step, lr, &adam);
    let mut b = bounds(&["params", "m", "v"], 1e-6);
    b.insert("norm".into(), 1e-5);
    Fixture {
        name: "grad_norm + adam (clipped)".into(),
        op: Op::Adam {
            config: cfg,
            adam,
            step,
            lr,
        },
        inputs: map([
            ("params", layout.pack(&p0)),
            ("grads", layout.pack(&grads)),
            ("m", layout.pack(&m0)),
            ("v", layout.pack(&v0)),
        ]),
        expected: map([
            ("norm", vec![norm as f32]),
            ("params", layout.pack(&p)),
            ("m", layout.pack(&m)),
            ("v", layout.pack(&v)),
        ]),
        metric: Metric::MixedMax,
        bounds: b,
    }
}
