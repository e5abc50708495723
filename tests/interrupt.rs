//! No lost work: a training process killed with SIGKILL at seeded random moments (some
//! while it is writing a checkpoint) always leaves a checkpoint that loads and resumes, and
//! SIGTERM stops a run cleanly with a saved checkpoint and a line saying how to resume.
#![cfg(unix)]

mod common;

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc::{channel, Receiver};
use std::time::{Duration, Instant};

use flowgpu::checkpoint;
use flowgpu::train::run::{checkpoint_run_info, LAST};
use rand::{rngs::StdRng, Rng, SeedableRng};

fn scratch(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("flowgpu-int-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).expect("temp dir");
    dir
}

/// A training child whose stderr lines arrive on a channel (and are echoed for the log).
struct Trainer {
    child: Child,
    lines: Receiver<String>,
}

fn spawn(cwd: &Path, args: &[String]) -> Trainer {
    let mut child = Command::new(env!("CARGO_BIN_EXE_flowgpu"))
        .args(args)
        .current_dir(cwd)
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("flowgpu starts");
    let stderr = child.stderr.take().expect("piped stderr");
    let (tx, lines) = channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stderr).lines().map_while(Result::ok) {
            eprintln!("  | {line}");
            if tx.send(line).is_err() {
                break;
            }
        }
    });
    Trainer { child, lines }
}

impl Trainer {
    /// Waits for a stderr line containing `text`; panics after a minute.
    fn wait_for(&self, text: &str) -> String {
        let deadline = Instant::now() + Duration::from_secs(60);
        while let Some(left) = deadline.checked_duration_since(Instant::now()) {
            match self.lines.recv_timeout(left) {
                Ok(line) if line.contains(text) => return line,
                Ok(_) => {}
                Err(_) => break,
            }
        }
        panic!("no line containing '{text}' within a minute");
    }

    /// Every line until the process closes stderr.
    fn rest(&self) -> Vec<String> {
        self.lines.iter().collect()
    }
}

fn train_args(root: &Path, extra: &[&str]) -> Vec<String> {
    let mut args: Vec<String> = [
        "train",
        "--name",
        "run",
        "--runs-dir",
        "runs",
        "--data-dir",
        "data",
        "--hidden",
        "64",
        "--batch",
        "32",
        "--subset",
        "256",
        "--epochs",
        "1000",
        "--log-every",
        "1",
        "--test-draws",
        "1",
        "--no-progress",
        "--no-report",
    ]
    .iter()
    .map(|s| s.to_string())
    .collect();
    let _ = root;
    args.extend(extra.iter().map(|s| s.to_string()));
    args
}

fn resume_args(last: &Path, extra: &[&str]) -> Vec<String> {
    let mut args = vec![
        "train".to_string(),
        "--resume".into(),
        last.display().to_string(),
        "--no-progress".into(),
        "--no-report".into(),
    ];
    args.extend(extra.iter().map(|s| s.to_string()));
    args
}

/// The step a checkpoint was saved at; panics unless it loads with Adam's moments.
fn saved_step(last: &Path) -> u64 {
    let ck = checkpoint::load(last, true)
        .unwrap_or_else(|e| panic!("the checkpoint left behind does not load: {e}"));
    checkpoint_run_info(&ck.meta).expect("run info").1.step
}

#[test]
fn sigkill_at_random_moments_always_leaves_a_checkpoint_that_resumes() {
    let root = scratch("kill");
    common::noise_dataset(&root.join("data"), 600, 60, 8);
    let last = root.join("runs").join("run").join(LAST);
    // A save in progress: `last.safetensors.<pid>.<n>.tmp` beside the checkpoint.
    let dir = last.parent().expect("a run folder").to_path_buf();
    let saving = move || {
        std::fs::read_dir(&dir).is_ok_and(|entries| {
            entries.flatten().any(|e| {
                let name = e.file_name().to_string_lossy().into_owned();
                name.starts_with("last.safetensors.") && name.ends_with(".tmp")
            })
        })
    };
    let mut rng = StdRng::seed_from_u64(2024);
    let (mut step, mut during_save) = (0, 0);
    for round in 0..8 {
        // A checkpoint after every logged step, so that kills often land in a save.
        let args = if last.exists() {
            resume_args(&last, &["--checkpoint-every", "1ms"])
        } else {
            train_args(&root, &["--checkpoint-every", "1ms"])
        };
        let mut t = spawn(&root, &args);
        t.wait_for("checkpoints:");
        let deadline = Instant::now() + Duration::from_secs(60);
        while !last.exists() && Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(5));
        }
        if round % 2 == 0 {
            std::thread::sleep(Duration::from_millis(rng.random_range(0..800)));
        } else {
            // Aim at a save: kill as soon as the temporary file shows up.
            let deadline = Instant::now() + Duration::from_secs(10);
            while !saving() && Instant::now() < deadline {
                std::thread::sleep(Duration::from_micros(200));
            }
        }
        t.child.kill().expect("SIGKILL");
        t.child.wait().expect("reaped");
        let hit = saving();
        during_save += hit as u32;
        let now = saved_step(&last);
        eprintln!(
            "round {round}: killed at checkpoint step {now}{}",
            if hit { " while saving" } else { "" }
        );
        assert!(
            now >= step,
            "the checkpoint went back from step {step} to {now}"
        );
        step = now;
    }
    eprintln!("{during_save} of 8 kills landed while a checkpoint was being written");
    assert!(
        during_save > 0,
        "no kill landed during a save; the test did not exercise the atomic write"
    );
    // The last checkpoint resumes and runs to a clean stop.
    let mut t = spawn(
        &root,
        &resume_args(&last, &["--max-steps", &(step + 3).to_string()]),
    );
    let status = t.child.wait().expect("exits");
    let lines = t.rest();
    assert!(status.success(), "the resumed run failed: {lines:?}");
    assert_eq!(saved_step(&last), step + 3);
    let _ = std::fs::remove_dir_all(&root);
}

#[test]
fn sigterm_stops_cleanly_with_a_checkpoint_and_a_clear_line() {
    let root = scratch("term");
    common::noise_dataset(&root.join("data"), 600, 60, 9);
    let last = root.join("runs").join("run").join(LAST);
    let mut t = spawn(&root, &train_args(&root, &["--checkpoint-every", "0"]));
    t.wait_for("checkpoints:");
    std::thread::sleep(Duration::from_millis(700));
    let status = Command::new("kill")
        .args(["-TERM", &t.child.id().to_string()])
        .status()
        .expect("kill runs");
    assert!(status.success());
    let exit = t.child.wait().expect("exits");
    let lines = t.rest();
    assert!(
        exit.success(),
        "a SIGTERM'd run exits cleanly: {exit:?} {lines:?}"
    );
    assert!(
        lines.iter().any(|l| l.contains("SIGTERM")),
        "it says why it stops: {lines:?}"
    );
    let stopped = lines
        .iter()
        .find(|l| l.starts_with("stopped at step"))
        .unwrap_or_else(|| panic!("no 'stopped at step' line: {lines:?}"));
    assert!(stopped.contains("continue with --resume"), "{stopped}");
    let step: u64 = stopped
        .trim_start_matches("stopped at step ")
        .split(';')
        .next()
        .and_then(|s| s.parse().ok())
        .expect("a step number");
    assert!(step > 0);
    assert_eq!(
        saved_step(&last),
        step,
        "the checkpoint is the stopping step's"
    );
    let _ = std::fs::remove_dir_all(&root);
}
