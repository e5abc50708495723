//! The kernel test table: one test per kernel case x variant, named after the case, so a
//! kernel's tests are found by its name (`cargo test --release --test kernel_cases
//! coupling_inverse`). The cases are the conformance fixtures (`conformance::fixtures`:
//! shapes off every tile, the CPU reference's outputs, the bounds defined once there), run
//! through the same runner the browser uses. A matmul case runs once per variant of its
//! kind; every other case once per tile configuration of `TileConfig::TEST_VARIANTS`. A
//! variant this adapter cannot run is reported as ignored, with the reason as its kind.

mod common;

use std::sync::Arc;

use flowgpu::conformance::{fixtures, runner, Fixture, Op};
use flowgpu::gpu::{GpuContext, MatmulVariant};
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

/// The case's name: the fixture's name up to its list of kernels.
fn case_name(f: &Fixture) -> String {
    ident(f.name.split(':').next().unwrap_or(&f.name))
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

/// Names of the tile configurations of `TileConfig::TEST_VARIANTS`, in order.
const CONFIGS: [&str; 5] = ["software", "hardware", "tiled_small", "split_k", "subgroup"];

fn run(ctx: &Arc<GpuContext>, f: &Fixture, variant: Option<MatmulVariant>) -> Result<(), Failed> {
    let report = pollster::block_on(runner::run_case(ctx, f, variant));
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
                    // The variant's kernel with the software tiles; Tiled also with the odd
                    // small workgroup.
                    let mut on = vec![(variant_name(v).to_string(), ctxs[0].clone())];
                    if v == MatmulVariant::Tiled {
                        on.push(("tiled_small".into(), ctxs[2].clone()));
                    }
                    for (suffix, ctx) in on {
                        let name = format!("{case}_{suffix}");
                        let trial = match runner::variant_runs(&ctx, *kind, v) {
                            Ok(()) => {
                                let f = f.clone();
                                Trial::test(name, move || run(&ctx, &f, Some(v)))
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
