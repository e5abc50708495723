//! A diverging run is a training error (`Error::Diverged`), and the checkpoint its message
//! names exists: none before the first epoch's checkpoint, the resumed one after a resume.

mod common;

use std::path::{Path, PathBuf};
use std::sync::atomic::AtomicBool;

use common::context;
use flowgpu::checkpoint;
use flowgpu::config::{AdamConfig, FlowConfig};
use flowgpu::data::{self, DatasetName};
use flowgpu::error::Error;
use flowgpu::train::options::NanPolicy;
use flowgpu::train::run::{checkpoint_run_info, train, TrainOptions, LAST};
use flowgpu::train::schedule::DecayKind;
use rand::{rngs::StdRng, Rng, SeedableRng};

fn scratch(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("flowgpu-div-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).expect("temp dir");
    dir
}

/// Seeded noise images in the four IDX files (the loss only has to be a number).
fn noise_dataset(dir: &Path) {
    let mut rng = StdRng::seed_from_u64(5);
    let mut write = |images: &str, labels: &str, n: usize| {
        let pixels: Vec<u8> = (0..n * 784).map(|_| rng.random()).collect();
        data::write_images(&dir.join(images), 28, 28, &pixels).expect("write images");
        data::write_labels(&dir.join(labels), &vec![0u8; n]).expect("write labels");
    };
    write(data::TRAIN_IMAGES, data::TRAIN_LABELS, 600);
    write(data::TEST_IMAGES, data::TEST_LABELS, 60);
}

fn options(dir: &Path, name: &str, lr: f64) -> TrainOptions {
    TrainOptions {
        run_name: name.into(),
        runs_dir: dir.to_path_buf(),
        dataset: DatasetName::Mnist,
        data_dir: Some(dir.join("data")),
        flow: FlowConfig {
            hidden: 16,
            ..FlowConfig::default()
        },
        logit_alpha: Some(0.05),
        epochs: 2,
        batch: 32,
        lr,
        decay: DecayKind::Constant,
        final_lr_fraction: 1.0,
        warmup_steps: 0,
        adam: AdamConfig {
            clip_norm: None,
            ..AdamConfig::default()
        },
        seed: 1,
        log_every: 1,
        test_draws: 1,
        train_limit: Some(256),
        valid_limit: Some(64),
        test_limit: Some(60),
        max_steps: None,
        progress: false,
        data_init: false,
        checkpoint_every_s: 0.0,
        on_nan: NanPolicy::Stop,
        ema: None,
    }
}

/// A rate that sends every parameter to about 1e30 in one step: the next loss overflows.
const EXPLODING_LR: f64 = 1e30;

#[test]
fn divergence_before_any_checkpoint_names_none() {
    let dir = scratch("fresh");
    std::fs::create_dir_all(dir.join("data")).expect("dir");
    noise_dataset(&dir.join("data"));
    let stop = AtomicBool::new(false);
    let err = train(
        context(),
        &options(&dir, "fresh", EXPLODING_LR),
        None,
        &stop,
        &mut |_| {},
    )
    .expect_err("a rate of 1e30 diverges");
    let Error::Diverged {
        step, last_good, ..
    } = &err
    else {
        panic!("divergence is a training error, got: {err}");
    };
    assert!(
        *step <= 8,
        "diverged at step {step}, within the first epoch"
    );
    assert_eq!(last_good, &None, "no checkpoint was written: {err}");
    assert!(!dir.join("fresh").join(LAST).exists());
    assert!(
        err.to_string().contains("no checkpoint was written yet"),
        "{err}"
    );
}

#[test]
fn divergence_after_a_resume_names_the_resumed_checkpoint() {
    let dir = scratch("resumed");
    std::fs::create_dir_all(dir.join("data")).expect("dir");
    noise_dataset(&dir.join("data"));
    let stop = AtomicBool::new(false);
    let mut good = options(&dir, "good", 1e-3);
    good.max_steps = Some(3);
    let out = train(context(), &good, None, &stop, &mut |_| {}).expect("a short good run");
    assert!(out.interrupted);

    // The same checkpoint, but its options now carry an exploding rate and another run name.
    let ck = checkpoint::load(&dir.join("good").join(LAST), true).expect("checkpoint");
    let (mut opts, _) = checkpoint_run_info(&ck.meta).expect("run info");
    opts.lr = EXPLODING_LR;
    opts.run_name = "exploding".into();
    let mut meta = ck.meta.clone();
    meta.insert(
        "train_options".into(),
        serde_json::to_string(&opts).expect("json"),
    );
    let from = dir.join("exploding").join(LAST);
    let adam = ck.adam.as_ref().map(|(m, v)| (m, v));
    checkpoint::save(&from, ck.params.as_ref().expect("params"), adam, &meta).expect("save");

    let mut rest = good.clone();
    rest.max_steps = None;
    let err = train(context(), &rest, Some(&from), &stop, &mut |_| {})
        .expect_err("a rate of 1e30 diverges");
    let Error::Diverged { last_good, .. } = &err else {
        panic!("divergence is a training error, got: {err}");
    };
    assert_eq!(last_good.as_deref(), Some(from.as_path()), "{err}");
    assert!(from.is_file());
    assert!(
        err.to_string().contains(&from.display().to_string()),
        "{err}"
    );
}
