//! `flowgpu train --resume` as a user meets it: a run started with relative paths, its
//! folder moved, resumed from an unrelated working directory. The options not given come
//! from the checkpoint (not from a preset), the ones given are reported as changed, data
//! and outputs are found from the checkpoint's location, a finished run is evaluated and
//! not trained further, and `eval` works from anywhere too.

mod common;

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use flowgpu::checkpoint;
use flowgpu::train::run::{checkpoint_run_info, BEST, LAST};

fn scratch(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("flowgpu-resume-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).expect("temp dir");
    dir
}

fn flowgpu(cwd: &Path, args: &[&str]) -> Output {
    let out = Command::new(env!("CARGO_BIN_EXE_flowgpu"))
        .args(args)
        .current_dir(cwd)
        .output()
        .expect("flowgpu runs");
    let stderr = String::from_utf8_lossy(&out.stderr);
    eprintln!("$ flowgpu {}\n{stderr}", args.join(" "));
    assert!(!stderr.contains("panicked"), "{stderr}");
    out
}

fn stderr(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

#[test]
fn a_moved_run_resumes_from_another_directory_with_its_own_options() {
    let root = scratch("root");
    common::noise_dataset(&root.join("data"), 600, 60, 3);
    // A fresh run with relative paths, 2 epochs of 8 steps, stopped after 3 steps.
    let out = flowgpu(
        &root,
        &[
            "train",
            "--name",
            "tiny",
            "--runs-dir",
            "runs",
            "--data-dir",
            "data",
            "--hidden",
            "8",
            "--batch",
            "32",
            "--epochs",
            "2",
            "--subset",
            "256",
            "--lr",
            "1e-3",
            "--log-every",
            "1",
            "--test-draws",
            "1",
            "--no-progress",
            "--no-report",
            "--max-steps",
            "3",
        ],
    );
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(
        stderr(&out).contains("no --preset given"),
        "the run says which preset it chose by adapter: {}",
        stderr(&out)
    );

    // The whole folder moves; the run resumes from an unrelated, empty working directory.
    let moved = scratch("moved");
    std::fs::remove_dir_all(&moved).expect("clear");
    std::fs::rename(&root, &moved).expect("move the folder");
    let elsewhere = scratch("elsewhere");
    let last = moved.join("runs").join("tiny").join(LAST);
    let last_arg = last.display().to_string();

    let out = flowgpu(
        &elsewhere,
        &[
            "train",
            "--resume",
            &last_arg,
            "--hidden",
            "16",
            "--no-progress",
        ],
    );
    assert!(!out.status.success(), "a conflicting --hidden is refused");
    assert!(
        stderr(&out).contains("--hidden 16 conflicts with the checkpoint's hidden 8"),
        "{}",
        stderr(&out)
    );

    let out = flowgpu(
        &elsewhere,
        &[
            "train",
            "--resume",
            &last_arg,
            "--lr",
            "5e-4",
            "--no-progress",
            "--no-report",
        ],
    );
    let err = stderr(&out);
    assert!(out.status.success(), "{err}");
    assert!(
        err.contains("options changed from the checkpoint's: lr 0.001 -> 0.0005"),
        "{err}"
    );
    assert!(String::from_utf8_lossy(&out.stdout).contains("test:"));
    // It ran the checkpoint's 2 epochs (not the spec preset's 40) in the moved folder.
    let ck = checkpoint::load(&last, true).expect("last checkpoint");
    let (opts, state) = checkpoint_run_info(&ck.meta).expect("run info");
    assert_eq!((state.epoch, state.step), (2, 16));
    assert_eq!(opts.epochs, 2);
    assert_eq!(opts.lr, 5e-4);
    assert!(moved.join("runs/tiny/summary.json").is_file());
    assert!(moved.join("runs/tiny").join(BEST).is_file());
    assert_eq!(
        std::fs::read_dir(&elsewhere).expect("dir").count(),
        0,
        "nothing is written into the working directory"
    );

    // Resuming the finished run evaluates it and trains no further.
    let out = flowgpu(
        &elsewhere,
        &[
            "train",
            "--resume",
            &last_arg,
            "--no-progress",
            "--no-report",
        ],
    );
    let err = stderr(&out);
    assert!(out.status.success(), "{err}");
    assert!(err.contains("the run is finished (2 of 2 epochs)"), "{err}");
    let ck = checkpoint::load(&last, true).expect("last checkpoint");
    assert_eq!(checkpoint_run_info(&ck.meta).expect("info").1.step, 16);

    // eval finds the moved run's data from the checkpoint too.
    let best = moved.join("runs").join("tiny").join(BEST);
    let out = flowgpu(
        &elsewhere,
        &[
            "eval",
            "--checkpoint",
            &best.display().to_string(),
            "--draws",
            "1",
        ],
    );
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(String::from_utf8_lossy(&out.stdout).contains("bits/dim"));
    let _ = std::fs::remove_dir_all(&moved);
}
