//! Runs conformance fixtures on a device and judges them. Async, so that the browser can
//! await its readbacks; native callers block on it.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;

use crate::conformance::{max_mixed_err, rel_norm_err, Check, Fixture, Metric, Op, Report};
use crate::error::{Error, Result};
use crate::gpu::{Dispatch, GpuContext, GpuTensor};
use crate::kernels::classifier::{
    self, ClassifierInputParams, CrossEntropyBuffers, SoftmaxCrossEntropyParams, CROSS_ENTROPY_SUMS,
};
use crate::kernels::loss::{self, LossBuffers};
use crate::kernels::matmul::{self, padded, Epilogue, Matmul};
use crate::kernels::matmul::{MatmulChoice, MatmulKind, MatmulVariant};
use crate::kernels::optimizer::{self, AdamParams, NORM_PARTIALS, NORM_SLOTS};
use crate::kernels::transform;
use crate::model::backprop::Backprop;
use crate::model::layout::ParamLayout;
use crate::model::Flow;

/// Outputs of one run, by name, and the kernels it dispatched.
struct Run {
    outputs: BTreeMap<String, Vec<f32>>,
    kernels: BTreeSet<String>,
}

impl Run {
    fn new() -> Self {
        Self {
            outputs: BTreeMap::new(),
            kernels: BTreeSet::new(),
        }
    }

    fn saw(&mut self, dispatches: &[&Dispatch]) {
        for d in dispatches {
            for k in d.kernels() {
                self.kernels.insert(k);
            }
        }
    }
}

/// Whether this device can run a matmul variant for a kind, or why not.
pub fn variant_runs(
    ctx: &GpuContext,
    kind: MatmulKind,
    variant: MatmulVariant,
) -> std::result::Result<(), String> {
    if !variant.applies_to(kind) {
        return Err(format!(
            "{variant:?} is not a kernel of its own for {kind:?}"
        ));
    }
    if !variant.runs_on(ctx.features(), ctx.info()) {
        return Err(format!(
            "the adapter lacks SUBGROUP or 8-lane subgroups for {variant:?}"
        ));
    }
    if !variant.fits(ctx.limits()) {
        return Err(format!(
            "{variant:?} needs more workgroup memory than the adapter has"
        ));
    }
    Ok(())
}

/// The kernels of a variant for a kind ([`matmul::variant_choices`]), each with its block's
/// short name for test names (`64x4`, `32x4_a4`, `64x4_a4_k4`; `None` without blocks).
pub fn variant_kernels(v: MatmulVariant, kind: MatmulKind) -> Vec<(Option<String>, MatmulChoice)> {
    matmul::variant_choices(v, kind)
        .into_iter()
        .map(|c| {
            (
                matmul::choice_block(c, kind).map(|(_, b)| b.short_name()),
                c,
            )
        })
        .collect()
}

/// Runs one fixture once (a matmul with `choice`, a variant or a variant and subgroup
/// block, which must be given for a matmul) and judges it: one case of the kernel test
/// table (`tests/kernel_cases.rs`).
pub async fn run_case(ctx: &Arc<GpuContext>, f: &Fixture, choice: Option<MatmulChoice>) -> Report {
    match (&f.op, choice) {
        (Op::Matmul { kind, .. }, Some(c)) => {
            let run = scoped(ctx, run_matmul(ctx, f, c)).await;
            let label = matmul::choice_label(c, *kind);
            judge(f, format!("{} [{label}]", f.name), run)
        }
        (Op::Matmul { .. }, None) => judge(
            f,
            f.name.clone(),
            Err(crate::Error::Gpu("a matmul case needs a variant".into())),
        ),
        _ => judge(f, f.name.clone(), scoped(ctx, run_one(ctx, f)).await),
    }
}

/// Runs every fixture (a matmul once per kernel of every variant this device runs: each
/// generated subgroup block too) and judges it.
pub async fn run_all(ctx: &Arc<GpuContext>, fixtures: &[Fixture]) -> Vec<Report> {
    let mut out = Vec::new();
    for f in fixtures {
        match &f.op {
            Op::Matmul { kind, .. } => {
                for variant in MatmulVariant::ALL {
                    if variant_runs(ctx, *kind, variant).is_ok() {
                        for (_, choice) in variant_kernels(variant, *kind) {
                            out.push(run_case(ctx, f, Some(choice)).await);
                        }
                    }
                }
            }
            _ => out.push(run_case(ctx, f, None).await),
        }
    }
    out.extend(compile_the_rest(ctx, &out).await);
    out
}

/// Every kernel no fixture dispatched here (the benchmark probes; the subgroup matmuls on a
/// device whose subgroups are too narrow for them) is at least compiled by the device, and
/// one the device lacks a feature for is listed with the reason.
async fn compile_the_rest(ctx: &GpuContext, reports: &[Report]) -> Vec<Report> {
    let dispatched: BTreeSet<&str> = reports
        .iter()
        .filter(|r| r.check == Check::Ran)
        .flat_map(|r| r.kernels.iter())
        .map(|k| k.split(':').next().unwrap_or_default())
        .collect();
    let mut out = Vec::new();
    for kernel in crate::kernels::ALL {
        let info = kernel.info();
        if dispatched.contains(info.file()) {
            continue;
        }
        let label = info.label();
        if !ctx.features().contains(info.features) {
            out.push(Report {
                name: format!(
                    "not run: {label} (the device was opened without {})",
                    if info.features.contains(wgpu::Features::SUBGROUP) {
                        "SUBGROUP".to_string()
                    } else {
                        format!("{:?}", info.features)
                    }
                ),
                check: Check::NotRun,
                kernels: Vec::new(),
                outputs: Vec::new(),
                passed: true,
                failure: None,
            });
            continue;
        }
        let why = if info.features.contains(wgpu::Features::SUBGROUP) {
            format!(
                "needs subgroups of {} lanes, this device has {}",
                crate::kernels::matmul::SUBGROUP_LANES,
                ctx.info().subgroup_min_size
            )
        } else if info.file().starts_with("peak_") {
            "no fixture: a benchmark probe".to_string()
        } else {
            "used only by a matmul variant this device does not run".to_string()
        };
        let failure = scoped(ctx, async { ctx.build_pipeline(*kernel) })
            .await
            .err()
            .map(|e| e.to_string());
        out.push(Report {
            name: format!("compiles: {label} ({why})"),
            check: Check::CompiledOnly,
            kernels: vec![label],
            outputs: Vec::new(),
            passed: failure.is_none(),
            failure,
        });
    }
    out
}

/// Runs `work` inside a validation error scope, so that a shader the device rejects fails
/// its own case (or compile check) with the compiler's message, not the next case's readback.
async fn scoped<T>(
    ctx: &GpuContext,
    work: impl std::future::Future<Output = Result<T>>,
) -> Result<T> {
    let scope = ctx.device().push_error_scope(wgpu::ErrorFilter::Validation);
    let run = work.await;
    match scope.pop().await {
        Some(e) => Err(Error::Gpu(format!("the device rejected the work: {e}"))),
        None => run,
    }
}

fn judge(f: &Fixture, name: String, run: Result<Run>) -> Report {
    let run = match run {
        Ok(r) => r,
        Err(e) => {
            return Report {
                name,
                check: Check::Ran,
                kernels: Vec::new(),
                outputs: Vec::new(),
                passed: false,
                failure: Some(e.to_string()),
            }
        }
    };
    let mut outputs = Vec::new();
    for (key, want) in &f.expected {
        let bound = f.bounds.get(key).copied().unwrap_or(0.0);
        let err = match run.outputs.get(key) {
            None => f64::INFINITY,
            Some(got) => match f.metric {
                Metric::MixedMax => max_mixed_err(got, want),
                Metric::RelNormPerTensor => per_tensor_err(&f.op, got, want),
            },
        };
        outputs.push((key.clone(), err, bound));
    }
    Report {
        name,
        check: Check::Ran,
        kernels: run.kernels.into_iter().collect(),
        passed: outputs.iter().all(|(_, e, b)| e < b),
        outputs,
        failure: None,
    }
}

/// Largest relative error in norm over the tensors of the fixture's parameter layout.
fn per_tensor_err(op: &Op, got: &[f32], want: &[f32]) -> f64 {
    let config = match op {
        Op::Gradients { config, .. } | Op::Adam { config, .. } => config,
        _ => return rel_norm_err(got, want),
    };
    let layout = ParamLayout::new(config);
    if got.len() != layout.len || want.len() != layout.len {
        return f64::INFINITY;
    }
    let (g, w) = (layout.unpack(got), layout.unpack(want));
    g.named_tensors()
        .iter()
        .zip(w.named_tensors().iter())
        .map(|((_, _, a), (_, _, b))| rel_norm_err(a, b))
        .fold(0.0, f64::max)
}

fn input<'a>(f: &'a Fixture, key: &str) -> Result<&'a [f32]> {
    f.inputs
        .get(key)
        .map(Vec::as_slice)
        .ok_or_else(|| Error::Config(format!("fixture {} has no input '{key}'", f.name)))
}

fn upload(ctx: &GpuContext, f: &Fixture, key: &str) -> Result<GpuTensor> {
    let v = input(f, key)?;
    ctx.upload(v, &[v.len()], key)
}

async fn run_matmul(ctx: &Arc<GpuContext>, f: &Fixture, choice: MatmulChoice) -> Result<Run> {
    let Op::Matmul {
        kind,
        m,
        n,
        k,
        a_ones,
        epilogue,
    } = &f.op
    else {
        return Err(Error::Config("not a matmul fixture".into()));
    };
    let epilogue = match epilogue.as_str() {
        "none" => Epilogue::None,
        "relu" => Epilogue::Relu,
        "relu_grad" => Epilogue::ReluGrad,
        other => return Err(Error::Config(format!("unknown epilogue '{other}'"))),
    };
    let mm = Matmul {
        kind: *kind,
        m: *m,
        n: *n,
        k: *k,
        a_ones: *a_ones,
        epilogue,
    };
    let a = upload(ctx, f, "a")?;
    let b = upload(ctx, f, "b")?;
    let aux = match f.inputs.get("aux") {
        Some(_) => Some(upload(ctx, f, "aux")?),
        None => None,
    };
    let [_, _, (rows, cols)] = mm.stored_shapes();
    let c = ctx.zeros(&[rows, padded(cols)], "c")?;
    let d = matmul::matmul_with(ctx, choice, mm, &a, &b, &c, aux.as_ref())?;
    ctx.submit(&[&d]);
    let mut run = Run::new();
    run.saw(&[&d]);
    run.outputs.insert("c".into(), ctx.read_async(&c).await?);
    Ok(run)
}

async fn run_one(ctx: &Arc<GpuContext>, f: &Fixture) -> Result<Run> {
    let mut run = Run::new();
    match &f.op {
        Op::Matmul { .. } => {
            return Err(Error::Config(
                "a matmul fixture runs once per variant (run_matmul)".into(),
            ))
        }
        Op::Dequantize {
            pre,
            dim,
            seed,
            noise,
        } => {
            let bytes: Vec<u8> = input(f, "pixels")?.iter().map(|&p| p as u8).collect();
            let indices: Vec<u32> = input(f, "indices")?.iter().map(|&i| i as u32).collect();
            let batch = indices.len();
            let pixels = ctx.upload_bytes(&bytes, "pixels")?;
            let indices = ctx.upload_words(&indices, &[batch], "indices")?;
            let x = ctx.zeros(&[batch * dim], "x")?;
            let pre_logdet = ctx.zeros(&[batch], "pre_logdet")?;
            let back = ctx.zeros(&[batch * dim], "pixels_back")?;
            let params = transform::dequantize_params(*pre, batch, *dim, *seed, *noise);
            let d1 = transform::dequantize(ctx, params, &pixels, &indices, &x, &pre_logdet)?;
            let d2 = transform::to_pixels(ctx, *pre, batch * dim, &x, 0, &back)?;
            ctx.submit(&[&d1, &d2]);
            run.saw(&[&d1, &d2]);
            let mut got = ctx.read_many_async(&[&x, &pre_logdet, &back]).await?;
            run.outputs.insert("pixels_back".into(), got.remove(2));
            run.outputs.insert("pre_logdet".into(), got.remove(1));
            run.outputs.insert("x".into(), got.remove(0));
        }
        Op::Gaussian {
            count,
            seed,
            temperature,
        } => {
            let z = ctx.zeros(&[*count], "z")?;
            let d = transform::gaussian(ctx, *count, *seed, *temperature, &z, 0)?;
            ctx.submit(&[&d]);
            run.saw(&[&d]);
            run.outputs.insert("z".into(), ctx.read_async(&z).await?);
        }
        Op::Forward { config, batch } => {
            let flow = flow_of(ctx, f, config)?;
            let x = upload(ctx, f, "x")?;
            let (z, logdet) = flow.forward(&x)?;
            let ll = flow.log_likelihood(&x)?;
            run.saw(&flow.workspace(*batch)?.forward());
            let mut got = ctx.read_many_async(&[&z, &logdet, &ll]).await?;
            run.outputs.insert("log_likelihood".into(), got.remove(2));
            run.outputs.insert("logdet".into(), got.remove(1));
            run.outputs.insert("z".into(), got.remove(0));
        }
        Op::Inverse { config, batch } => {
            let flow = flow_of(ctx, f, config)?;
            let z = upload(ctx, f, "z")?;
            let stages = flow.inverse_with_stages(&z)?;
            run.saw(&flow.workspace(*batch)?.inverse());
            let refs: Vec<&GpuTensor> = stages.iter().collect();
            for (i, s) in ctx.read_many_async(&refs).await?.into_iter().enumerate() {
                run.outputs.insert(format!("stage_{i}"), s);
            }
        }
        Op::Gradients { config, batch } => {
            let batch = *batch;
            let flow = flow_of(ctx, f, config)?;
            let ws = flow.workspace(batch)?;
            let bp = Backprop::new(ctx, flow.layout(), flow.params_tensor(), &ws)?;
            let x = input(f, "x")?;
            ctx.write(&ws.states.view(0, &[batch * config.dim]), x);
            // The backward pass seeds itself with dL/dz = z / B: the flow's own loss.
            let mut list = ws.forward();
            list.extend(bp.dispatches());
            ctx.submit(&list);
            run.saw(&list);
            run.outputs
                .insert("grads".into(), ctx.read_async(&bp.grads).await?);
        }
        Op::Loss { dim, batch } => {
            let density = upload(ctx, f, "density")?;
            let pre_logdet = upload(ctx, f, "pre_logdet")?;
            let nll = ctx.zeros(&[*batch], "nll")?;
            let sums = ctx.zeros(&[2], "sums")?;
            let d = loss::loss_per_image(
                ctx,
                *batch,
                *dim,
                LossBuffers {
                    density: &density,
                    pre_logdet: &pre_logdet,
                    nll: &nll,
                    sums: &sums,
                },
            )?;
            ctx.submit(&[&d]);
            run.saw(&[&d]);
            let mut got = ctx.read_many_async(&[&nll, &sums]).await?;
            run.outputs.insert("sums".into(), got.remove(1));
            run.outputs.insert("nll".into(), got.remove(0));
        }
        Op::Ema { config, decay } => {
            let len = ParamLayout::new(config).len;
            let e = upload(ctx, f, "ema")?;
            let p = upload(ctx, f, "params")?;
            let g = upload(ctx, f, "grads")?;
            let sums = ctx.zeros(&[NORM_SLOTS], "norm")?;
            let [n1, n2] = optimizer::grad_norm(ctx, &g, &sums)?;
            let d = optimizer::ema(ctx, len, *decay, &e, &p, &sums)?;
            ctx.submit(&[&n1, &n2, &d]);
            run.saw(&[&n1, &n2, &d]);
            run.outputs.insert("ema".into(), ctx.read_async(&e).await?);
        }
        Op::ClassifierInput { side, seed, shift } => {
            let bytes: Vec<u8> = input(f, "pixels")?.iter().map(|&p| p as u8).collect();
            let rows: Vec<u32> = input(f, "indices")?.iter().map(|&i| i as u32).collect();
            let batch = rows.len();
            let pixels = ctx.upload_bytes(&bytes, "pixels")?;
            let indices = ctx.upload_words(&rows, &[batch], "indices")?;
            let ld = padded(side * side);
            let x = ctx.zeros(&[batch, ld], "x")?;
            let params = ClassifierInputParams {
                seed: *seed,
                ..ClassifierInputParams::new(batch, *side, ld, *shift)
            };
            let d = classifier::classifier_input(ctx, params, &pixels, &indices, &x)?;
            ctx.submit(&[&d]);
            run.saw(&[&d]);
            run.outputs.insert("x".into(), ctx.read_async(&x).await?);
        }
        Op::SoftmaxCrossEntropy { classes, batch } => {
            let words = |key| -> Result<Vec<u32>> {
                Ok(input(f, key)?.iter().map(|&v| v as u32).collect())
            };
            let logits = upload(ctx, f, "logits")?;
            let labels = words("labels")?;
            let labels = ctx.upload_words(&labels, &[labels.len()], "labels")?;
            let indices = ctx.upload_words(&words("indices")?, &[*batch], "indices")?;
            let ld = padded(*classes);
            let grad = ctx.zeros(&[*batch, ld], "grad")?;
            let sums = ctx.zeros(&[CROSS_ENTROPY_SUMS], "sums")?;
            let params = SoftmaxCrossEntropyParams {
                batch: *batch as u32,
                classes: *classes as u32,
                ld: ld as u32,
                index_offset: 0,
            };
            let bufs = CrossEntropyBuffers {
                logits: &logits,
                labels: &labels,
                indices: &indices,
                grad: &grad,
                sums: &sums,
            };
            let d = classifier::softmax_cross_entropy(ctx, params, bufs)?;
            ctx.submit(&[&d]);
            run.saw(&[&d]);
            let mut got = ctx.read_many_async(&[&grad, &sums]).await?;
            run.outputs.insert("sums".into(), got.remove(1));
            run.outputs.insert("grad".into(), got.remove(0));
        }
        Op::Adam {
            config,
            adam,
            step,
            lr,
        } => {
            let len = ParamLayout::new(config).len;
            let p = upload(ctx, f, "params")?;
            let g = upload(ctx, f, "grads")?;
            let m = upload(ctx, f, "m")?;
            let v = upload(ctx, f, "v")?;
            let sums = ctx.zeros(&[NORM_SLOTS], "norm")?;
            let [n1, n2] = optimizer::grad_norm(ctx, &g, &sums)?;
            let a = optimizer::adam(
                ctx,
                AdamParams::for_step(adam, len, *step, *lr),
                &p,
                &g,
                &m,
                &v,
                &sums,
            )?;
            ctx.submit(&[&n1, &n2, &a]);
            run.saw(&[&n1, &n2, &a]);
            let mut got = ctx.read_many_async(&[&sums, &p, &m, &v]).await?;
            run.outputs.insert("v".into(), got.remove(3));
            run.outputs.insert("m".into(), got.remove(2));
            run.outputs.insert("params".into(), got.remove(1));
            run.outputs
                .insert("norm".into(), vec![got[0][NORM_PARTIALS]]);
        }
    }
    Ok(run)
}

fn flow_of(ctx: &Arc<GpuContext>, f: &Fixture, config: &crate::FlowConfig) -> Result<Flow> {
    let layout = ParamLayout::new(config);
    let packed = input(f, "params")?;
    if packed.len() != layout.len {
        return Err(Error::Config(format!(
            "fixture {}: {} parameters, the layout holds {}",
            f.name,
            packed.len(),
            layout.len
        )));
    }
    Flow::new(ctx.clone(), &layout.unpack(packed))
}
