//! What the kernel test table (`tests/kernel_cases.rs`, one test per fixture of
//! `conformance::fixtures`) cannot say, for every test configuration: spec-sized matmuls
//! and padding that stays exactly zero; split-K and the scale-gradient reduction giving the
//! same bits twice; gather of every part and unscale; the coupling backward per element on
//! spec-sized batches; each coupling layer fed the reference's conditioner output, with
//! bounds 10x tighter than the whole flow's; the split fused into dequantize equal to the
//! plain kernel and gather; grad_norm over more than one stride and clips that do and do
//! not trigger. Shapes are off the tiles (batch 37, D 50 so D/2 = 25, H 100) or spec-sized.
//! Bounds are on the mixed error `|gpu - ref| / (1 + |ref|)` unless stated.

mod common;

use common::*;
use flowgpu::config::{AdamConfig, CouplingKind, FlowConfig, MaskKind, Preprocess};
use flowgpu::conformance::fixtures::{linear, weight_block};
use flowgpu::gpu::GpuContext;
use flowgpu::kernels::coupling::{self, AddPart, CouplingSite, GradIn, NextInput};
use flowgpu::kernels::matmul::shared;
use flowgpu::kernels::matmul::MatmulVariant;
use flowgpu::kernels::matmul::{self, padded, Epilogue, Matmul, MatmulKind};
use flowgpu::kernels::optimizer::{self, AdamParams, NORM_PARTIALS, NORM_SLOTS};
use flowgpu::kernels::{density, transform};
use flowgpu::model::layout::ParamLayout;
use flowgpu::reference as r;
use flowgpu::FlowParams;

/// f32 products summed over k <= ~1000 terms of size ~1: well inside 2e-5.
const MATMUL_TOL: f64 = 2e-5;

/// The matmul tests below cover every variant of every kind: each (variant, kind) the
/// adapter can run is chosen by one of the test contexts. (Shapes are not multiples of any
/// tile, and several are large enough to give `SplitK` more than one slice.)
#[test]
fn every_matmul_variant_is_tested() {
    let ctxs = contexts();
    let chosen = |c: &GpuContext| {
        let v = c.matmul().defaults();
        [
            (MatmulKind::NN, v.nn),
            (MatmulKind::TN, v.tn),
            (MatmulKind::NT, v.nt),
        ]
    };
    for variant in MatmulVariant::ALL {
        if !(variant.runs_on(ctxs[0].features(), ctxs[0].info()) && variant.fits(ctxs[0].limits()))
        {
            eprintln!("this adapter cannot run the {variant:?} matmuls; they are not tested");
            continue;
        }
        for kind in [MatmulKind::NN, MatmulKind::TN, MatmulKind::NT] {
            if !variant.applies_to(kind) {
                continue;
            }
            assert!(
                ctxs.iter().any(|c| chosen(c).contains(&(kind, variant))),
                "no test context runs {kind:?} with {variant:?}"
            );
        }
    }
}

/// The table's off-tile shapes again (the smallest) for padding that stays exactly zero,
/// and a spec-sized one: K = 393 is 25 K tiles, 9 split-K slices.
#[test]
fn matmul_nn_at_spec_size_leaves_padding_zero() {
    for ctx in contexts() {
        for &(batch, n_in, n_out) in &[(5, 3, 7), (64, 392, 256)] {
            let lin = linear(n_in, n_out, 1);
            let x = uniform(batch * n_in, -1.0, 1.0, 2);
            let ta = ctx
                .upload(&pad(&x, batch, n_in), &[batch, padded(n_in)], "x")
                .unwrap();
            let tw = ctx
                .upload(&weight_block(&lin), &[(n_in + 1) * padded(n_out)], "w")
                .unwrap();
            for relu in [false, true] {
                let tc = ctx.zeros(&[batch, padded(n_out)], "y").unwrap();
                let mm = Matmul {
                    kind: MatmulKind::NN,
                    m: batch,
                    n: n_out,
                    k: n_in + 1,
                    a_ones: true,
                    epilogue: if relu { Epilogue::Relu } else { Epilogue::None },
                };
                ctx.submit(&[&matmul::matmul(ctx, mm, &ta, &tw, &tc, None).unwrap()]);
                let got = unpad(&ctx.read(&tc).unwrap(), batch, n_out);
                let want = r::mlp::linear_f64(&to_f64(&x), batch, &lin, relu);
                let err = max_mixed_err(&got, &want);
                observe(file!(), line!(), err);
                assert!(
                    err < MATMUL_TOL,
                    "NN {batch}x{n_in}->{n_out} relu={relu} {:?}: err {err:e}",
                    ctx.tiles()
                );
            }
        }
    }
}

/// As for NN: the weight gradient on a 5 x 7 grid with M = 257, the input gradient with
/// K = 392.
#[test]
fn matmul_tn_and_nt_at_spec_size_leave_padding_zero() {
    for ctx in contexts() {
        for &(batch, n_in, n_out) in &[(5, 3, 7), (64, 256, 392)] {
            let lin = linear(n_in, n_out, 3);
            let x = uniform(batch * n_in, -1.0, 1.0, 4);
            let dy = uniform(batch * n_out, -1.0, 1.0, 5);
            let g = r::mlp::linear_backward_f64(&to_f64(&x), &to_f64(&dy), batch, &lin);
            let tx = ctx
                .upload(&pad(&x, batch, n_in), &[batch, padded(n_in)], "x")
                .unwrap();
            let tdy = ctx
                .upload(&pad(&dy, batch, n_out), &[batch, padded(n_out)], "dy")
                .unwrap();
            let tw = ctx
                .upload(&weight_block(&lin), &[(n_in + 1) * padded(n_out)], "w")
                .unwrap();

            // [dW; db] = [x | 1]^T dy
            let tdw = ctx.zeros(&[(n_in + 1) * padded(n_out)], "dw").unwrap();
            let mm = Matmul {
                kind: MatmulKind::TN,
                m: n_in + 1,
                n: n_out,
                k: batch,
                a_ones: true,
                epilogue: Epilogue::None,
            };
            ctx.submit(&[&matmul::matmul(ctx, mm, &tx, &tdy, &tdw, None).unwrap()]);
            let dwb = unpad(&ctx.read(&tdw).unwrap(), n_in + 1, n_out);
            let mut want = g.dw.clone();
            want.extend_from_slice(&g.db);
            let err = max_mixed_err(&dwb, &want);
            observe(file!(), line!(), err);
            assert!(
                err < MATMUL_TOL,
                "TN {batch}x{n_in}->{n_out} {:?}: err {err:e}",
                ctx.tiles()
            );

            // dx = dy W^T, plain and through the ReLU derivative of x (as if x were a ReLU output).
            for masked in [false, true] {
                let tdx = ctx.zeros(&[batch, padded(n_in)], "dx").unwrap();
                let mm = Matmul {
                    kind: MatmulKind::NT,
                    m: batch,
                    n: n_in,
                    k: n_out,
                    a_ones: false,
                    epilogue: if masked {
                        Epilogue::ReluGrad
                    } else {
                        Epilogue::None
                    },
                };
                ctx.submit(&[
                    &matmul::matmul(ctx, mm, &tdy, &tw, &tdx, masked.then_some(&tx)).unwrap(),
                ]);
                let dx = unpad(&ctx.read(&tdx).unwrap(), batch, n_in);
                let want: Vec<f64> =
                    g.dx.iter()
                        .zip(&x)
                        .map(|(&d, &xv)| if masked && xv <= 0.0 { 0.0 } else { d })
                        .collect();
                let err = max_mixed_err(&dx, &want);
                observe(file!(), line!(), err);
                assert!(
                    err < MATMUL_TOL,
                    "NT {batch}x{n_out}->{n_in} masked={masked} {:?}: err {err:e}",
                    ctx.tiles()
                );
            }
        }
    }
}

/// Split-K adds its slices in a fixed order: the weight gradient of a 256 -> 256 layer at
/// batch 256 (8 slices of two K tiles) comes out bit for bit the same twice, and matches the
/// reference like every other variant.
#[test]
fn split_k_is_deterministic() {
    let Some(ctx) = contexts()
        .iter()
        .find(|c| c.matmul().defaults().tn == MatmulVariant::SplitK)
    else {
        panic!("no test context runs TN with SplitK");
    };
    let (batch, n_in, n_out) = (256, 256, 256);
    // 5 x 4 blocks of 64 x 64 and 16 K tiles: 8 slices.
    assert_eq!(shared::split_k_slices(5 * 4, batch, usize::MAX), 8);
    let x = uniform(batch * n_in, -1.0, 1.0, 31);
    let dy = uniform(batch * n_out, -1.0, 1.0, 32);
    let tx = ctx.upload(&x, &[batch, n_in], "x").unwrap();
    let tdy = ctx.upload(&dy, &[batch, n_out], "dy").unwrap();
    let mm = Matmul {
        kind: MatmulKind::TN,
        m: n_in + 1,
        n: n_out,
        k: batch,
        a_ones: true,
        epilogue: Epilogue::None,
    };
    let run = || {
        let tdw = ctx.zeros(&[(n_in + 1) * n_out], "dw").unwrap();
        ctx.submit(&[&matmul::matmul(ctx, mm, &tx, &tdy, &tdw, None).unwrap()]);
        ctx.read(&tdw).unwrap()
    };
    let first = run();
    assert!(
        first
            .iter()
            .zip(run())
            .all(|(a, b)| a.to_bits() == b.to_bits()),
        "two split-K runs differ"
    );
    let lin = linear(n_in, n_out, 33);
    let g = r::mlp::linear_backward_f64(&to_f64(&x), &to_f64(&dy), batch, &lin);
    let mut want = g.dw.clone();
    want.extend_from_slice(&g.db);
    let err = max_mixed_err(&first, &want);
    observe(file!(), line!(), err);
    assert!(err < MATMUL_TOL, "split-K TN 256x256->256: err {err:e}");
}

fn small_config(coupling: CouplingKind, mask: MaskKind) -> FlowConfig {
    FlowConfig {
        dim: 50,
        layers: 4,
        hidden: 100,
        coupling,
        mask,
        scale_bound: 2.0,
    }
}

fn all_kinds() -> Vec<(CouplingKind, MaskKind)> {
    let mut v = Vec::new();
    for c in [CouplingKind::Additive, CouplingKind::Affine] {
        for m in [MaskKind::Halves, MaskKind::Interleaved] {
            v.push((c, m));
        }
    }
    v
}

#[test]
fn gather_matches_reference() {
    let batch = 37;
    for ctx in contexts() {
        for (coupling, mask) in all_kinds() {
            let cfg = small_config(coupling, mask);
            let x = uniform(3 * batch * cfg.dim, -2.0, 2.0, 6);
            let scales = uniform(cfg.dim, -0.5, 0.5, 7);
            let states = ctx.upload(&x, &[x.len()], "states").unwrap();
            let params = ctx.upload(&scales, &[cfg.dim], "scales").unwrap();
            let block = 2 * batch * cfg.dim;
            let xb = &x[block..block + batch * cfg.dim];
            for part in 0..2 {
                for unscale in [false, true] {
                    let dst = ctx.zeros(&[batch, padded(cfg.half())], "half").unwrap();
                    let d = coupling::gather(
                        ctx,
                        &cfg,
                        batch,
                        &states,
                        block,
                        part,
                        unscale.then_some(0),
                        &params,
                        &dst,
                    )
                    .unwrap();
                    ctx.submit(&[&d]);
                    let got = unpad(&ctx.read(&dst).unwrap(), batch, cfg.half());
                    let src: Vec<f64> = if unscale {
                        xb.iter()
                            .enumerate()
                            .map(|(i, &v)| v as f64 * (-(scales[i % cfg.dim] as f64)).exp())
                            .collect()
                    } else {
                        to_f64(xb)
                    };
                    let want = r::gather_part(&cfg, part, &src, batch);
                    let err = max_mixed_err(&got, &want);
                    observe(file!(), line!(), err);
                    assert!(
                        err < 1e-6,
                        "gather part {part} unscale {unscale} {mask:?}: err {err:e}"
                    );
                }
            }
        }
    }
}

/// The fused backward of one coupling layer (state and conditioner output gradients, the
/// scale gradient as a parallel reduction over the batch, the merge of the next layer's
/// conditioning-half gradient, and for the last layer the loss's seed dL/dz = z / B) against `reference::coupling_backward_layer` in f64, for every
/// coupling and mask, on batches that leave partial slices and columns that leave a partial
/// workgroup; two runs agree bit for bit (fixed summation order) and nothing outside the
/// layer's scale gradient is written.
#[test]
fn coupling_backward_matches_reference() {
    for ctx in contexts() {
        for &(batch, dim) in &[(37, 50), (1, 50), (300, 14), (256, 784)] {
            for (coupling, mask) in all_kinds() {
                let cfg = FlowConfig {
                    dim,
                    ..small_config(coupling, mask)
                };
                let p = FlowParams::random(&cfg, 42, 1.0);
                let layout = ParamLayout::new(&cfg);
                let params = ctx
                    .upload(&layout.pack(&p), &[layout.len], "params")
                    .unwrap();
                let n = batch * dim;
                // A middle layer with and without the merge of layer l + 1's gradient; the
                // last layer seeds itself from z.
                let last = cfg.layers - 1;
                for (l, merge) in [(1, true), (2, false), (last, false)] {
                    let seed = l == last;
                    let x = uniform(n, -2.0, 2.0, 43 + l as u64);
                    let mut trace = r::coupling_forward_layer(&p, l, &x, batch);
                    // The GPU reads x_{l+1} as f32: the reference uses the same values.
                    trace.output = to_f64(&r::view::to_f32(&trace.output));
                    let mut states_host = x.clone();
                    states_host.extend(r::view::to_f32(&trace.output));
                    let states = ctx.upload(&states_host, &[2 * n], "states").unwrap();
                    let h = r::view::to_f32(&trace.mlp[5]);
                    let th = ctx
                        .upload(
                            &pad(&h, batch, cfg.mlp_out()),
                            &[batch, padded(cfg.mlp_out())],
                            "h",
                        )
                        .unwrap();
                    let gy = uniform(n, -1.0, 1.0, 44);
                    let add_host = uniform(batch * cfg.half(), -1.0, 1.0, 45);
                    let add = ctx
                        .upload(
                            &pad(&add_host, batch, cfg.half()),
                            &[batch, padded(cfg.half())],
                            "add",
                        )
                        .unwrap();
                    let add_part = 1 - cfg.transformed_part(l + 1);
                    let g = ctx.upload(&gy, &[n], "g").unwrap();
                    let gh = ctx.zeros(&[batch, padded(cfg.mlp_out())], "gh").unwrap();
                    let grads = ctx.zeros(&[layout.len], "grads").unwrap();
                    let site = CouplingSite {
                        layer: l,
                        batch,
                        in_offset: 0,
                        out_offset: n,
                        scale_offset: layout.scale_offset(l),
                    };
                    let d = coupling::coupling_backward(
                        ctx,
                        &cfg,
                        site,
                        &g,
                        if seed {
                            GradIn::LossSeed
                        } else {
                            GradIn::State(merge.then_some(AddPart {
                                part: add_part,
                                src: &add,
                            }))
                        },
                        &states,
                        &th,
                        &params,
                        &gh,
                        &grads,
                        layout.scale_offset(l),
                    )
                    .unwrap();
                    ctx.submit(&[&d]);
                    let got = ctx.read_many(&[&g, &gh, &grads]).unwrap();

                    let mut gy_ref = if seed {
                        trace.output.iter().map(|&z| z / batch as f64).collect()
                    } else {
                        to_f64(&gy)
                    };
                    if merge {
                        let mut added = vec![0.0f64; n];
                        r::scatter_part(&cfg, add_part, &to_f64(&add_host), &mut added, batch);
                        for (g, a) in gy_ref.iter_mut().zip(&added) {
                            *g += a;
                        }
                    }
                    let want = r::coupling_backward_layer(&p, l, &trace, &gy_ref, batch);
                    let what = format!(
                        "layer {l} merge {merge} seed {seed} batch {batch} dim {dim} {coupling:?} {mask:?} {:?}",
                        ctx.tiles()
                    );
                    let err = max_mixed_err(&got[0], &want.gx);
                    observe(file!(), line!(), err);
                    assert!(err < 1e-5, "state gradient, {what}: err {err:e}");
                    let err = max_mixed_err(&unpad(&got[1], batch, cfg.mlp_out()), &want.dout);
                    observe(file!(), line!(), err);
                    assert!(
                        err < 1e-5,
                        "conditioner output gradient, {what}: err {err:e}"
                    );
                    let at = layout.scale_offset(l);
                    let err = max_mixed_err(&got[2][at..at + dim], &want.dscale);
                    observe(file!(), line!(), err);
                    assert!(err < MATMUL_TOL, "scale gradient, {what}: err {err:e}");
                    assert!(
                        got[2][..at]
                            .iter()
                            .chain(&got[2][at + dim..])
                            .all(|&v| v == 0.0),
                        "wrote outside the scale gradient, {what}"
                    );
                    // Again from the same inputs: the same bits.
                    ctx.write(&g, &gy);
                    ctx.submit(&[&d]);
                    assert_eq!(
                        got[2],
                        ctx.read(&grads).unwrap(),
                        "scale gradient is not deterministic, {what}"
                    );
                }
            }
        }
    }
}

#[test]
fn coupling_forward_inverse_and_log_density_per_layer() {
    let batch = 37;
    for ctx in contexts() {
        for (coupling, mask) in all_kinds() {
            let cfg = small_config(coupling, mask);
            let p = FlowParams::random(&cfg, 11, 1.0);
            let layout = ParamLayout::new(&cfg);
            let params = ctx
                .upload(&layout.pack(&p), &[layout.len], "params")
                .unwrap();
            let x = uniform(batch * cfg.dim, -3.0, 3.0, 12);
            let n = batch * cfg.dim;
            let mut states_host = vec![0.0f32; (cfg.layers + 1) * n];
            states_host[..n].copy_from_slice(&x);
            let states = ctx
                .upload(&states_host, &[states_host.len()], "states")
                .unwrap();
            let log_scales = ctx
                .zeros(&[cfg.layers * batch * cfg.half()], "log scales")
                .unwrap();
            // Each layer from the GPU state the previous layer left, with the reference's own
            // conditioner output as h, compared with the reference layer on that same input.
            let mut logdet = vec![0.0f64; batch];
            for l in 0..cfg.layers {
                let site = CouplingSite {
                    layer: l,
                    batch,
                    in_offset: l * n,
                    out_offset: (l + 1) * n,
                    scale_offset: layout.scale_offset(l),
                };
                let input = ctx.read(&states).unwrap()[l * n..(l + 1) * n].to_vec();
                let trace = r::coupling_forward_layer(&p, l, &input, batch);
                let h = r::view::to_f32(&trace.mlp[5]);
                let th = ctx
                    .upload(
                        &pad(&h, batch, cfg.mlp_out()),
                        &[batch, padded(cfg.mlp_out())],
                        "h",
                    )
                    .unwrap();
                // Every layer but the last also writes the next layer's conditioner input.
                let next_part = (l + 1 < cfg.layers).then(|| 1 - cfg.transformed_part(l + 1));
                let next_t = ctx.zeros(&[batch, padded(cfg.half())], "next").unwrap();
                let d = coupling::coupling_forward(
                    ctx,
                    &cfg,
                    site,
                    &states,
                    &th,
                    &params,
                    &log_scales,
                    l * batch * cfg.half(),
                    next_part.map(|part| NextInput { part, dst: &next_t }),
                )
                .unwrap();
                ctx.submit(&[&d]);
                let all = ctx.read(&states).unwrap();
                let err = max_mixed_err(&all[(l + 1) * n..(l + 2) * n], &trace.output);
                observe(file!(), line!(), err);
                assert!(
                    err < 2e-6,
                    "coupling forward layer {l} {coupling:?} {mask:?}: err {err:e}"
                );
                if let Some(part) = next_part {
                    // Exactly the split of the output (the values gather would copy).
                    let got = unpad(&ctx.read(&next_t).unwrap(), batch, cfg.half());
                    let want = r::gather_part(&cfg, part, &all[(l + 1) * n..(l + 2) * n], batch);
                    assert_eq!(got, want, "next input of layer {l} {coupling:?} {mask:?}");
                }
                if let Some(s) = &trace.s {
                    let got = ctx.read(&log_scales).unwrap();
                    let at = l * batch * cfg.half();
                    let err = max_mixed_err(&got[at..at + batch * cfg.half()], s);
                    observe(file!(), line!(), err);
                    assert!(err < 1e-6, "log-scales layer {l}: err {err:e}");
                }
                for (acc, v) in logdet.iter_mut().zip(&trace.logdet) {
                    *acc += v;
                }
                // The inverse kernel undoes the layer: from the output back into a spare block.
                let inv = CouplingSite {
                    in_offset: (l + 1) * n,
                    out_offset: 0,
                    ..site
                };
                let saved = all[..n].to_vec();
                ctx.submit(&[
                    &coupling::coupling_inverse(ctx, &cfg, inv, &states, &th, &params).unwrap(),
                ]);
                let back = ctx.read(&states).unwrap();
                let err = max_mixed_err(&back[..n], &to_f64(&input));
                observe(file!(), line!(), err);
                assert!(
                    err < 1e-5,
                    "coupling inverse layer {l} {coupling:?} {mask:?}: err {err:e}"
                );
                ctx.write(&states.view(0, &[n]), &saved);
            }
            // Fused reduction on the final state and the stored log-scales.
            let density = ctx.zeros(&[2 * batch], "density").unwrap();
            let d = density::log_density(
                ctx,
                &cfg,
                batch,
                &states,
                cfg.layers * n,
                &log_scales,
                batch,
                &params,
                layout.scales_offset,
                &density,
            )
            .unwrap();
            ctx.submit(&[&d]);
            let got = ctx.read(&density).unwrap();
            let z = &ctx.read(&states).unwrap()[cfg.layers * n..];
            let want = r::log_density(z, &logdet);
            let ld_err = got[..batch]
                .iter()
                .zip(&logdet)
                .map(|(&g, &w)| (g as f64 - w).abs() / (1.0 + w.abs()))
                .fold(0.0, f64::max);
            assert!(
                ld_err < 1e-5,
                "log-det reduction {coupling:?} {mask:?}: err {ld_err:e}"
            );
            let lp_err = max_mixed_err(&got[batch..], &want);
            observe(file!(), line!(), lp_err);
            assert!(
                lp_err < 1e-5,
                "log-density reduction {coupling:?} {mask:?}: err {lp_err:e}"
            );
        }
    }
}

/// The split fused into dequantize (the training step's first dispatch) against the plain
/// kernel and gather: the same states to the bit, and exactly the part gather would copy
/// (dim 50: half 25, off the workgroup sizes). The plain kernel's values against the
/// reference are the table's `dequantize_to_pixels_*` cases, on the same data.
#[test]
fn dequantize_split_matches_plain_dequantize_and_gather() {
    let (batch, dim, images) = (37, 50, 61);
    let pixels: Vec<u8> = uniform(images * dim, 0.0, 256.0, 13)
        .iter()
        .map(|&v| v as u8)
        .collect();
    let mut packed = pixels.clone();
    packed.resize(pixels.len().div_ceil(4) * 4, 0);
    let words: Vec<u32> = bytemuck::cast_slice::<u8, u32>(&packed).to_vec();
    let indices: Vec<u32> = (0..batch as u32)
        .map(|i| (i * 7 + 3) % images as u32)
        .collect();
    for ctx in contexts() {
        let tpix = ctx.upload_words(&words, &[words.len()], "pixels").unwrap();
        let tidx = ctx.upload_words(&indices, &[batch], "indices").unwrap();
        for alpha in [None, Some(1e-6f32), Some(0.05)] {
            for noise in [false, true] {
                let pre = Preprocess { logit_alpha: alpha };
                let states = ctx.zeros(&[batch * dim], "x").unwrap();
                let pre_ld = ctx.zeros(&[batch], "pre").unwrap();
                let d = transform::dequantize(
                    ctx,
                    transform::dequantize_params(pre, batch, dim, 1234, noise),
                    &tpix,
                    &tidx,
                    &states,
                    &pre_ld,
                )
                .unwrap();
                ctx.submit(&[&d]);
                let plain = ctx.read(&states).unwrap();
                for (mask, part) in [(MaskKind::Halves, 1), (MaskKind::Interleaved, 0)] {
                    let cfg = FlowConfig {
                        dim,
                        ..small_config(CouplingKind::Affine, mask)
                    };
                    let states2 = ctx.zeros(&[batch * dim], "x").unwrap();
                    let split = ctx.zeros(&[batch, padded(cfg.half())], "split").unwrap();
                    let d = transform::dequantize_and_split(
                        ctx,
                        transform::dequantize_params(pre, batch, dim, 1234, noise)
                            .with_split(mask, part),
                        &tpix,
                        &tidx,
                        &states2,
                        &pre_ld,
                        Some(&split),
                    )
                    .unwrap();
                    ctx.submit(&[&d]);
                    let again = ctx.read_many(&[&states2, &split]).unwrap();
                    assert_eq!(again[0], plain, "dequantize with split {mask:?}");
                    let want_split = r::gather_part(&cfg, part, &plain, batch);
                    assert_eq!(
                        unpad(&again[1], batch, cfg.half()),
                        want_split,
                        "split of dequantize {mask:?} part {part} alpha {alpha:?} noise {noise}"
                    );
                }
            }
        }
    }
}

#[test]
fn grad_norm_and_adam_match_reference() {
    let cfg = small_config(CouplingKind::Affine, MaskKind::Halves);
    let layout = ParamLayout::new(&cfg);
    let p0 = FlowParams::random(&cfg, 21, 1.0);
    let grads = FlowParams::random(&cfg, 22, 3.0);
    let m0 = FlowParams::random(&cfg, 23, 0.1);
    let mut v0 = FlowParams::random(&cfg, 24, 0.1);
    for t in v0.tensors_mut() {
        t.iter_mut().for_each(|x| *x = x.abs());
    }
    let norm = r::global_grad_norm(&grads);
    for ctx in contexts() {
        for clip in [None, Some((norm * 0.5) as f32), Some((norm * 2.0) as f32)] {
            let adam_cfg = AdamConfig {
                clip_norm: clip,
                ..AdamConfig::default()
            };
            let tp = ctx.upload(&layout.pack(&p0), &[layout.len], "p").unwrap();
            let tg = ctx
                .upload(&layout.pack(&grads), &[layout.len], "g")
                .unwrap();
            let tm = ctx.upload(&layout.pack(&m0), &[layout.len], "m").unwrap();
            let tv = ctx.upload(&layout.pack(&v0), &[layout.len], "v").unwrap();
            let sums = ctx.zeros(&[NORM_SLOTS], "norm").unwrap();
            let [n1, n2] = optimizer::grad_norm(ctx, &tg, &sums).unwrap();
            let step = 3;
            let adam = optimizer::adam(
                ctx,
                AdamParams::for_step(&adam_cfg, layout.len, step, 1e-3),
                &tp,
                &tg,
                &tm,
                &tv,
                &sums,
            )
            .unwrap();
            ctx.submit(&[&n1, &n2, &adam]);
            let got = ctx.read_many(&[&sums, &tp, &tm, &tv]).unwrap();
            let gpu_norm = got[0][NORM_PARTIALS] as f64;
            assert!(
                (gpu_norm - norm).abs() / norm < 1e-5,
                "grad norm {gpu_norm} vs {norm}"
            );
            let (mut p, mut m, mut v) = (p0.clone(), m0.clone(), v0.clone());
            r::adam_step(&mut p, &grads, &mut m, &mut v, step, 1e-3, &adam_cfg);
            for (name, gpu, want) in [
                ("params", &got[1], &p),
                ("m", &got[2], &m),
                ("v", &got[3], &v),
            ] {
                let want_flat: Vec<f64> = to_f64(&layout.pack(want));
                let err = max_mixed_err(gpu, &want_flat);
                observe(file!(), line!(), err);
                assert!(err < 1e-6, "adam {name} clip {clip:?}: err {err:e}");
            }
        }
    }
}

/// The norm kernel walks its grid four strides at a time, then one at a time: a gradient of
/// several grid strides and a remainder (5 x 256 x 256 vec4s and 77 more) takes both loops
/// at every workgroup size the test contexts use.
#[test]
fn grad_norm_over_several_grid_strides_matches_f64() {
    use rand::{rngs::StdRng, Rng, SeedableRng};
    let len = 4 * (5 * 256 * 256 + 77);
    let mut rng = StdRng::seed_from_u64(31);
    let g: Vec<f32> = (0..len).map(|_| rng.random_range(-2.0f32..2.0)).collect();
    let want = g.iter().map(|&x| x as f64 * x as f64).sum::<f64>().sqrt();
    for ctx in contexts() {
        let tg = ctx.upload(&g, &[len], "g").unwrap();
        let sums = ctx.zeros(&[NORM_SLOTS], "norm").unwrap();
        let [n1, n2] = optimizer::grad_norm(ctx, &tg, &sums).unwrap();
        ctx.submit(&[&n1, &n2]);
        let got = ctx.read(&sums).unwrap()[NORM_PARTIALS] as f64;
        let err = (got - want).abs() / want;
        observe(file!(), line!(), err);
        assert!(err < 1e-5, "grad norm {got} vs {want}: rel err {err:e}");
    }
}
