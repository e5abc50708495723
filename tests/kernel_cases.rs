//! The kernel test table: one test per kernel case x variant, named after the case, so a
//! kernel's tests are found by its name (`cargo test --release --test kernel_cases
//! coupling_inverse`). The cases are the conformance fixtures (`conformance::fixtures`:
//! shapes off every tile, the CPU reference's outputs, the bounds defined once there), run
//! through the same runner the browser uses. A matmul case runs once per variant of its
//! kind; every other case once per tile configuration of `KernelConfig::TEST_CONFIGS`. A
//! variant this adapter cannot run is reported as ignored, with the reason as its kind.

mod common;

use std::sync::Arc;

use flowgpu::conformance::{fixtures, runner, Fixture, Op};
use flowgpu::gpu::GpuContext;
use flowgpu::kernels::matmul::{MatmulChoice, MatmulVariant};
use libtest_mimic::{Arguments, Failed, Trial};

/// A test-name fragment: lower case, runs of anything but letters and digits as one `_`.
fn ident(s: &str) -> String {
    let mut out = String::new();
    for c in s.chars() {
        if c.is_ascii_alphanumeric() {
            out.push(c.to_ascii_lowercase());
        } else if !out.ends_with('_') {
            out.push('_');
        }
    }
    out.trim_matches('_').to_string()
}

/// The case's name, starting with the kernels it checks: a fixture named
/// `what (tag): k1, k2 (detail), ...` over a flow is named after the kernels it lists
/// (the matmul stages have cases of their own), then its tag and shape:
/// `coupling_inverse_affine_halves_b37_d50`. Other fixtures start with their kernel's name.
fn case_name(f: &Fixture) -> String {
    let Some((what, kernels)) = f.name.split_once(':') else {
        return ident(&f.name);
    };
    // Without the parenthesized details, which may hold commas themselves.
    let mut plain = String::new();
    let mut depth = 0;
    for c in kernels.chars() {
        match c {
            '(' => depth += 1,
            ')' => depth -= 1,
            _ if depth == 0 => plain.push(c),
            _ => {}
        }
    }
    let listed: Vec<String> = plain
        .split(',')
        .map(ident)
        .filter(|k| !k.is_empty() && !k.starts_with("gather") && !k.starts_with("matmul"))
        .collect();
    let tag = what
        .split_once('(')
        .map_or(String::new(), |(_, t)| ident(t));
    let shape = match &f.op {
        Op::Forward { config, batch }
        | Op::Inverse { config, batch }
        | Op::Gradients { config, batch } => format!("b{batch}_d{}", config.dim),
        _ => String::new(),
    };
    [listed.join("_"), tag, shape]
        .into_iter()
        .filter(|p| !p.is_empty())
        .collect::<Vec<_>>()
        .join("_")
}

fn variant_name(v: MatmulVariant) -> &'static str {
    match v {
        MatmulVariant::Tiled => "tiled",
        MatmulVariant::Subgroup => "subgroup",
        MatmulVariant::Shared => "shared",
        MatmulVariant::SplitK => "split_k",
        MatmulVariant::TransposedSubgroup => "transposed_subgroup",
    }
}

/// Names of the tile configurations of `KernelConfig::TEST_CONFIGS`, in order.
const CONFIGS: [&str; 5] = ["software", "hardware", "tiled_small", "split_k", "subgroup"];

fn run(ctx: &Arc<GpuContext>, f: &Fixture, choice: Option<MatmulChoice>) -> Result<(), Failed> {
    let report = pollster::block_on(runner::run_case(ctx, f, choice));
    if report.passed {
        Ok(())
    } else {
        Err(report.line().into())
    }
}

fn main() {
    let args = Arguments::from_args();
    let ctxs = common::contexts();
    assert_eq!(
        ctxs.len(),
        CONFIGS.len(),
        "a name for every test configuration"
    );
    let mut trials = Vec::new();
    for f in fixtures::fixtures() {
        let f = Arc::new(f);
        let case = case_name(&f);
        match &f.op {
            Op::Matmul { kind, .. } => {
                for v in MatmulVariant::ALL {
                    if !v.applies_to(*kind) {
                        continue;
                    }
                    // Every kernel of the variant with the software tiles; Tiled also
                    // with the odd small workgroup.
                    let mut on: Vec<(String, MatmulChoice, Arc<GpuContext>)> =
                        runner::variant_kernels(v, *kind)
                            .into_iter()
                            .map(|(block, c)| {
                                let suffix = match block {
                                    Some(b) => format!("{}_{b}", variant_name(v)),
                                    None => variant_name(v).to_string(),
                                };
                                (suffix, c, ctxs[0].clone())
                            })
                            .collect();
                    if v == MatmulVariant::Tiled {
                        on.push(("tiled_small".into(), v.into(), ctxs[2].clone()));
                    }
                    for (suffix, choice, ctx) in on {
                        let name = format!("{case}_{suffix}");
                        let trial = match runner::variant_runs(&ctx, *kind, v) {
                            Ok(()) => {
                                let f = f.clone();
                                Trial::test(name, move || run(&ctx, &f, Some(choice)))
                            }
                            Err(why) => Trial::test(name, || Ok(()))
                                .with_ignored_flag(true)
                                .with_kind(why),
                        };
                        trials.push(trial);
                    }
                }
            }
            _ => {
                for (config, ctx) in CONFIGS.iter().zip(ctxs) {
                    let (f, ctx) = (f.clone(), ctx.clone());
                    trials.push(Trial::test(format!("{case}_{config}"), move || {
                        run(&ctx, &f, None)
                    }));
                }
            }
        }
    }
    libtest_mimic::run(&args, trials).exit();
}
