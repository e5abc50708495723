//! Bad input on the command line, table-driven: every subcommand of `flowgpu` and the train
//! example, given a wrong number, index, size, file or option, must exit non-zero with a
//! message that names what was wrong (the option, the file, the range), never panic, and
//! print no false errors from display backends it does not use.
//! The checkpoint and the data the cases need are made here: a tiny flow trained for two
//! steps on generated noise images.

mod common;

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::atomic::AtomicBool;
use std::sync::OnceLock;

use common::context;
use flowgpu::checkpoint;
use flowgpu::config::{AdamConfig, FlowConfig};
use flowgpu::data::DatasetName;
use flowgpu::train::options::NanPolicy;
use flowgpu::train::run::{train, TrainOptions, LAST};
use flowgpu::train::schedule::DecayKind;

/// The scratch folder, its generated data set and a tiny checkpoint, made once.
struct Fixture {
    dir: PathBuf,
    data: PathBuf,
    checkpoint: PathBuf,
}

fn fixture() -> &'static Fixture {
    static F: OnceLock<Fixture> = OnceLock::new();
    F.get_or_init(|| {
        let dir = std::env::temp_dir().join(format!("flowgpu-cli-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        let data = dir.join("data");
        common::noise_dataset(&data, 600, 60, 11);
        let opts = TrainOptions {
            run_name: "tiny".into(),
            runs_dir: dir.join("runs"),
            dataset: DatasetName::Mnist,
            data_dir: Some(data.clone()),
            flow: FlowConfig {
                hidden: 8,
                ..FlowConfig::default()
            },
            logit_alpha: Some(0.05),
            epochs: 1,
            batch: 32,
            lr: 1e-3,
            decay: DecayKind::Constant,
            final_lr_fraction: 1.0,
            warmup_steps: 0,
            adam: AdamConfig::default(),
            seed: 1,
            log_every: 1,
            test_draws: 1,
            train_limit: Some(256),
            valid_limit: Some(64),
            test_limit: Some(60),
            max_steps: Some(2),
            progress: false,
            data_init: false,
            checkpoint_every_s: 0.0,
            on_nan: NanPolicy::Stop,
            ema: None,
        };
        train(context(), &opts, None, &AtomicBool::new(false), &mut |_| {})
            .expect("a two-step run");
        let checkpoint = dir.join("runs").join("tiny").join(LAST);
        std::fs::write(dir.join("junk.safetensors"), b"not a checkpoint").expect("junk");
        // The same checkpoint with three NaN weights, in a run folder of its own.
        let ck = checkpoint::load(&checkpoint, true).expect("the tiny checkpoint");
        let mut params = ck.params.clone().expect("params");
        params.mlps[1][2].weight[..3].fill(f32::NAN);
        let adam = ck.adam.as_ref().map(|(m, v)| (m, v));
        let nan = dir.join("runs").join("nan").join(LAST);
        checkpoint::save(&nan, &params, adam, &ck.meta).expect("save");
        Fixture {
            dir,
            data,
            checkpoint,
        }
    })
}

/// The train example next to this test's binary, when cargo built it (`cargo test` does;
/// `cargo test --test cli_errors` alone does not).
fn train_example() -> Option<PathBuf> {
    let deps = std::env::current_exe().ok()?.parent()?.to_path_buf();
    let exe = deps.parent()?.join("examples").join("train");
    exe.is_file().then_some(exe)
}

/// Which program a case runs.
#[derive(Clone, Copy, Debug)]
enum Program {
    Flowgpu,
    TrainExample,
}

/// One bad input: the program, its arguments (`{ck}`, `{data}`, `{dir}` and `{junk}` are
/// filled in) and a text the error must contain.
struct Case {
    program: Program,
    args: &'static str,
    expect: &'static str,
}

const fn flowgpu(args: &'static str, expect: &'static str) -> Case {
    Case {
        program: Program::Flowgpu,
        args,
        expect,
    }
}

const fn example(args: &'static str, expect: &'static str) -> Case {
    Case {
        program: Program::TrainExample,
        args,
        expect,
    }
}

/// Train options that would start a real (tiny) run if the bad one were accepted.
const RUN: &str = "--data-dir {data} --runs-dir {dir}/runs --no-report --no-progress --max-steps 1";

const CASES: &[Case] = &[
    // sample
    flowgpu(
        "sample --checkpoint {ck} --temperature NaN",
        "--temperature",
    ),
    flowgpu(
        "sample --checkpoint {ck} --temperature inf",
        "--temperature",
    ),
    flowgpu("sample --checkpoint {ck} --temperature -1", "--temperature"),
    flowgpu("sample --checkpoint {ck} --n 0", "--n"),
    flowgpu("sample --checkpoint {ck} --scale 0", "--scale"),
    flowgpu("sample --checkpoint {ck} --scale 100000", "--scale"),
    flowgpu(
        "sample --checkpoint {ck} --n 10000 --scale 64 --out {dir}/big.png",
        "lower --scale",
    ),
    flowgpu(
        "sample --checkpoint {dir}/missing.safetensors",
        "missing.safetensors",
    ),
    flowgpu("sample --checkpoint {junk}", "not a safetensors file"),
    flowgpu("sample --checkpoint {ck} --seed -1", "--seed"),
    // judge
    flowgpu("judge", "nothing to judge"),
    flowgpu("judge --checkpoint {ck} --samples 1", "--samples"),
    flowgpu(
        "judge --checkpoint {ck} --temperatures 1,-1",
        "--temperatures",
    ),
    flowgpu("judge --images {dir}/missing.png", "missing.png"),
    flowgpu("judge --images {junk}", "reads .png grids and .npy arrays"),
    flowgpu("judge --images {ck} --dataset cifar", "--dataset"),
    // eval
    flowgpu("eval --checkpoint {ck} --draws 0", "--draws"),
    flowgpu("eval --checkpoint {ck} --draws many", "--draws"),
    flowgpu("eval --checkpoint {dir}", "flowgpu-cli-"),
    flowgpu("eval", "--checkpoint"),
    // layers
    flowgpu("layers --checkpoint {ck} --rows 0", "--rows"),
    flowgpu("layers --checkpoint {ck} --scale 65", "--scale"),
    // interpolate
    flowgpu(
        "interpolate --checkpoint {ck} --pairs 0:99999 --out {dir}/i.png",
        "test image 99999 does not exist",
    ),
    flowgpu("interpolate --checkpoint {ck} --pairs 1-2", "--pairs"),
    flowgpu("interpolate --checkpoint {ck} --pairs 1:x", "--pairs"),
    flowgpu("interpolate --checkpoint {ck} --steps 1", "--steps"),
    // export-web
    flowgpu(
        "export-web --checkpoint {dir}/missing.safetensors --out {dir}/site",
        "missing.safetensors",
    ),
    flowgpu(
        "export-web --checkpoint {junk} --out {dir}/site",
        "not a safetensors file",
    ),
    flowgpu(
        "export-web --checkpoint {ck} --out {dir}/site --bundle {dir}/nowhere",
        "scripts/build-web.sh",
    ),
    flowgpu(
        "export-web --checkpoint {ck} --out {dir}/site --images 0",
        "--images",
    ),
    // report
    flowgpu(
        "report --checkpoint {ck} --pairs 0:5000",
        "test image 5000 does not exist",
    ),
    flowgpu("report --checkpoint {ck} --scale 0", "--scale"),
    // train
    flowgpu("train --lr NaN", "--lr"),
    flowgpu("train --lr 0", "--lr"),
    flowgpu("train --lr -1e-3", "--lr"),
    flowgpu("train --epochs 0", "--epochs"),
    flowgpu("train --batch 0", "--batch"),
    flowgpu("train --hidden 0", "--hidden"),
    flowgpu("train --hidden 100000", "--hidden"),
    flowgpu("train --logit-alpha 0.5", "--logit-alpha"),
    flowgpu("train --final-lr 2", "--final-lr"),
    flowgpu("train --clip inf", "--clip"),
    flowgpu("train --log-every 0", "--log-every"),
    flowgpu("train --test-draws 0", "--test-draws"),
    flowgpu("train --subset 0", "--subset"),
    flowgpu("train --dataset cifar", "--dataset"),
    flowgpu("train --name a/b", "--name"),
    flowgpu("train --on-nan ignore", "--on-nan"),
    flowgpu("train --checkpoint-every soon", "--checkpoint-every"),
    flowgpu("train --checkpoint-every -5m", "--checkpoint-every"),
    flowgpu(
        "train --batch 5000 {RUN}",
        "--batch 5000 is larger than the",
    ),
    flowgpu("train --hidden 60000 {RUN}", "--hidden"),
    flowgpu(
        "train --resume {dir}/missing.safetensors {RUN}",
        "missing.safetensors",
    ),
    flowgpu("train --resume {junk} {RUN}", "not a safetensors file"),
    // checkpoints are checked before they are trusted
    flowgpu(
        "eval --checkpoint {dir}/runs/nan/last.safetensors",
        "3 non-finite values (NaN or infinity), the first in tensor 'coupling.1.linear.2.weight'",
    ),
    flowgpu(
        "sample --checkpoint {dir}/runs/nan/last.safetensors --out {dir}/nan.png",
        "non-finite",
    ),
    flowgpu(
        "train --resume {dir}/runs/nan/last.safetensors {RUN}",
        "non-finite",
    ),
    // a resumed run keeps its checkpoint's model
    flowgpu(
        "train --resume {ck} --hidden 9 {RUN}",
        "--hidden 9 conflicts with the checkpoint's hidden 8",
    ),
    flowgpu(
        "train --resume {ck} --coupling additive --batch 16 {RUN}",
        "--coupling additive conflicts with the checkpoint's coupling affine; --batch 16 conflicts",
    ),
    flowgpu(
        "train --resume {ck} --preset quick {RUN}",
        "--preset quick with --resume",
    ),
    // the adapter and the command line itself
    flowgpu(
        "--adapter no-such-adapter eval --checkpoint {ck}",
        "no adapter matches",
    ),
    flowgpu("evaluate --checkpoint {ck}", "unrecognized subcommand"),
    // the train example shares the train options and checks them the same way
    example("--lr NaN", "--lr"),
    example("--epochs 0", "--epochs"),
    example("--hidden 0", "--hidden"),
    example("--temperature 0.7", "--temperature"),
    example("--batch 5000 {RUN}", "--batch 5000 is larger than the"),
    example("--ema 1 {RUN}", "--ema"),
    example("--ema -0.5 {RUN}", "--ema"),
];

fn fill(args: &str, f: &Fixture) -> Vec<String> {
    let junk = f.dir.join("junk.safetensors");
    args.replace("{RUN}", RUN)
        .split_whitespace()
        .map(|a| {
            a.replace("{ck}", &f.checkpoint.display().to_string())
                .replace("{data}", &f.data.display().to_string())
                .replace("{dir}", &f.dir.display().to_string())
                .replace("{junk}", &junk.display().to_string())
        })
        .collect()
}

/// Runs one case; returns a description of what was wrong with its outcome, if anything.
fn check(case: &Case, exe: &Path, f: &Fixture) -> Option<String> {
    let args = fill(case.args, f);
    let out = Command::new(exe)
        .args(&args)
        .current_dir(&f.dir)
        .output()
        .expect("the program runs");
    let stderr = String::from_utf8_lossy(&out.stderr);
    let shown = format!("{:?} {}:\n{stderr}", case.program, args.join(" "));
    if out.status.success() {
        return Some(format!("exited 0: {shown}"));
    }
    if stderr.contains("panicked") || out.status.code().is_none() {
        return Some(format!("crashed ({:?}): {shown}", out.status));
    }
    if stderr.contains("XDG_RUNTIME_DIR") {
        return Some(format!(
            "a backend it does not use printed a false error: {shown}"
        ));
    }
    if !stderr.contains(case.expect) {
        return Some(format!("the message lacks '{}': {shown}", case.expect));
    }
    eprintln!(
        "ok {:?} {}\n   -> {}",
        case.program,
        case.args,
        stderr
            .lines()
            .rev()
            .find(|l| l.contains("error"))
            .unwrap_or("")
    );
    None
}

#[test]
fn bad_inputs_get_clear_errors_and_never_a_panic() {
    let f = fixture();
    let example = train_example();
    if example.is_none() {
        eprintln!(
            "the train example is not built (cargo test --test cli_errors does not build it): \
             its cases are skipped; `cargo test` runs them"
        );
    }
    let mut failures = Vec::new();
    let mut ran = 0;
    for case in CASES {
        let exe = match case.program {
            Program::Flowgpu => PathBuf::from(env!("CARGO_BIN_EXE_flowgpu")),
            Program::TrainExample => match &example {
                Some(e) => e.clone(),
                None => continue,
            },
        };
        ran += 1;
        failures.extend(check(case, &exe, f));
    }
    let _ = std::fs::remove_dir_all(&f.dir);
    assert!(ran >= 30, "only {ran} cases ran");
    assert!(
        failures.is_empty(),
        "{} of {ran} bad inputs were mishandled:\n{}",
        failures.len(),
        failures.join("\n\n")
    );
}
