//! The conformance fixtures natively: every fixture passes on this machine's adapter through
//! the same runner the browser uses (so a browser failure is the browser's), the fixtures
//! reach every model kernel, and they survive their JSON round trip bit for bit.

mod common;

use std::collections::BTreeSet;

use common::contexts;
use flowgpu::conformance::{fixtures, runner, Check, Fixture};
use flowgpu::kernels;

#[test]
fn every_fixture_passes_natively() {
    let all = fixtures::fixtures();
    for ctx in contexts() {
        let reports = pollster::block_on(runner::run_all(ctx, &all));
        for r in &reports {
            eprintln!("{:?}: {}", ctx.matmul().defaults(), r.line());
        }
        let failed: Vec<String> = reports
            .iter()
            .filter(|r| !r.passed)
            .map(|r| r.line())
            .collect();
        assert!(failed.is_empty(), "failed natively: {failed:#?}");
    }
}

#[test]
fn fixtures_reach_every_model_kernel() {
    let all = fixtures::fixtures();
    let mut seen = BTreeSet::new();
    for ctx in contexts() {
        for r in pollster::block_on(runner::run_all(ctx, &all)) {
            if r.check != Check::Ran {
                continue;
            }
            for k in r.kernels {
                seen.insert(k.split(':').next().unwrap_or_default().to_string());
            }
        }
    }
    let claimed: BTreeSet<String> = fixtures::kernels_covered()
        .into_iter()
        .map(String::from)
        .collect();
    for k in kernels::ALL {
        let file = k.info().file();
        if file.starts_with("peak_") {
            continue;
        }
        assert!(
            claimed.contains(file),
            "{file} is not listed in conformance::fixtures::kernels_covered"
        );
    }
    // What this adapter can run must actually be dispatched (a device without SUBGROUP, or
    // with subgroups narrower than 8 lanes, only compiles the subgroup kernels).
    let missing: Vec<&String> = claimed.iter().filter(|k| !seen.contains(*k)).collect();
    eprintln!("dispatched: {seen:?}");
    let runnable_missing: Vec<&&String> = missing
        .iter()
        .filter(|k| {
            kernels::ALL.iter().any(|d| {
                d.info().file() == k.as_str()
                    && contexts()
                        .iter()
                        .any(|c| c.features().contains(d.info().features))
            })
        })
        .collect();
    assert!(
        runnable_missing.is_empty(),
        "runnable kernels no fixture dispatched: {runnable_missing:?}"
    );
}

#[test]
fn fixtures_round_trip_through_json() {
    let all = fixtures::fixtures();
    let json = serde_json::to_string(&all).expect("serialize");
    let back: Vec<Fixture> = serde_json::from_str(&json).expect("parse");
    assert_eq!(all.len(), back.len());
    for (a, b) in all.iter().zip(&back) {
        assert_eq!(a.name, b.name);
        assert_eq!(a.inputs, b.inputs, "{}", a.name);
        assert_eq!(a.expected, b.expected, "{}", a.name);
    }
    eprintln!("{} fixtures, {} KiB of JSON", all.len(), json.len() / 1024);
}
