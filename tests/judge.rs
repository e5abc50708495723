//! The sample judge (`flowgpu::judge`): its classifier's forward pass and gradient against
//! the CPU reference (and the reference's gradient against finite differences), training
//! on a synthetic task, the Fréchet distance and entropy on cases with known answers, the
//! cache, and reading images from PNG grids and .npy files.

mod common;

use flowgpu::data::{DatasetName, ImageSet};
use flowgpu::judge::cache::{self, JudgeInfo, JUDGE_VERSION};
use flowgpu::judge::classifier::{
    init_layers, Classifier, ClassifierLayout, CLASSES, FEATURES, WIDTHS,
};
use flowgpu::judge::figures::entropy_bits;
use flowgpu::judge::frechet::{frechet_distance, sqrt_psd, symmetric_eigen, FeatureStats};
use flowgpu::judge::image_files::read_images;
use flowgpu::judge::negatives::{not_digits, NOT_A_DIGIT};
use flowgpu::judge::train::{batch_gradient, train, TrainOptions};
use flowgpu::reference::classifier::{classifier_input, softmax, softmax_cross_entropy};
use flowgpu::reference::{mlp_backward_f64, mlp_forward_f64};
use flowgpu::report::image_grid::{write_png, Grid};
use flowgpu::Linear;
use rand::{rngs::StdRng, Rng, SeedableRng};

/// `n` random 28 x 28 images (bytes) with random labels 0..9.
fn random_set(n: usize, seed: u64) -> ImageSet {
    let mut rng = StdRng::seed_from_u64(seed);
    ImageSet {
        images: (0..n * 784).map(|_| rng.random_range(0..=255u8)).collect(),
        labels: (0..n).map(|_| rng.random_range(0..10u8)).collect(),
        rows: 28,
        cols: 28,
    }
}

fn rel_norm_err(got: &[f32], want: &[f64]) -> f64 {
    let num: f64 = got
        .iter()
        .zip(want)
        .map(|(&g, &w)| (g as f64 - w).powi(2))
        .sum();
    let den: f64 = want.iter().map(|w| w * w).sum();
    (num / den.max(1e-300)).sqrt()
}

#[test]
fn classifier_layout_packs_and_unpacks_every_layer() {
    let layout = ClassifierLayout::new();
    let layers = init_layers(1);
    assert_eq!(layout.slots.len(), WIDTHS.len() - 1);
    assert_eq!(layout.len % 4, 0, "Adam works on vec4s");
    assert_eq!(layout.unpack(&layout.pack(&layers)), layers);
}

#[test]
fn classifier_forward_matches_reference_on_37_images() {
    let ctx = common::context();
    let set = random_set(37, 2);
    let layers = init_layers(3);
    let got = Classifier::new(ctx, &layers)
        .expect("classifier")
        .classify(&set.images)
        .expect("classify");
    let x = classifier_input(&set.images, 28, &(0..37).collect::<Vec<u32>>(), 0, 0);
    let acts = mlp_forward_f64(&layers, &x, 37);
    let probs: Vec<f64> = acts[3].chunks(CLASSES).flat_map(softmax).collect();
    let features = &acts[2];
    assert_eq!(got.len(), 37);
    assert!(common::max_mixed_err(&got.features, features) < 1e-5);
    let worst = got
        .probs
        .iter()
        .zip(&probs)
        .map(|(a, b)| (a - b).abs())
        .fold(0.0, f64::max);
    assert!(worst < 1e-5, "probabilities differ by {worst:.2e}");
    assert_eq!(got.features.len(), 37 * FEATURES);
}

#[test]
fn classifier_gradient_matches_reference_with_translations() {
    let ctx = common::context();
    let set = random_set(61, 4);
    // Mostly dark images with bright strokes keep the ReLUs away from ties.
    let layers = init_layers(5);
    let indices: Vec<u32> = (0..37u32).map(|i| (i * 5 + 2) % 61).collect();
    let (grads, sums) = batch_gradient(&ctx, &layers, &set, &indices, 2, 9).expect("gradient");
    let x = classifier_input(&set.images, 28, &indices, 9, 2);
    let acts = mlp_forward_f64(&layers, &x, 37);
    let labels: Vec<u32> = indices
        .iter()
        .map(|&i| set.labels[i as usize] as u32)
        .collect();
    let ce = softmax_cross_entropy(&acts[3], CLASSES, &labels);
    let (_, want) = mlp_backward_f64(&layers, &acts, &ce.grad, 37);
    for (k, (g, w)) in grads.iter().zip(&want).enumerate() {
        let ew = rel_norm_err(&g.weight, &w.dw);
        let eb = rel_norm_err(&g.bias, &w.db);
        assert!(
            ew < 1e-4 && eb < 1e-4,
            "layer {k}: weight {ew:.2e}, bias {eb:.2e}"
        );
    }
    assert!((sums[0] as f64 - ce.mean_loss).abs() < 1e-5 * (1.0 + ce.mean_loss));
    assert!((sums[1] as f64 - ce.accuracy).abs() < 1e-6);
    assert_eq!(sums[2], 1.0);
}

/// The loss of a small MLP on fixed inputs, for finite differences.
fn small_loss(layers: &[Linear], x: &[f64], labels: &[u32]) -> f64 {
    let acts = mlp_forward_f64(layers, x, labels.len());
    softmax_cross_entropy(&acts[layers.len()], 10, labels).mean_loss
}

#[test]
fn reference_cross_entropy_gradient_matches_finite_differences() {
    let mut rng = StdRng::seed_from_u64(11);
    let widths = [6, 5, 10];
    let mut layers: Vec<Linear> = widths
        .windows(2)
        .map(|w| Linear {
            n_in: w[0],
            n_out: w[1],
            weight: (0..w[0] * w[1])
                .map(|_| rng.random_range(-1.0..1.0))
                .collect(),
            bias: (0..w[1]).map(|_| rng.random_range(-1.0..1.0)).collect(),
        })
        .collect();
    let x: Vec<f64> = (0..4 * 6).map(|_| rng.random_range(-1.0..1.0)).collect();
    let labels = [3u32, 0, 9, 3];
    let acts = mlp_forward_f64(&layers, &x, 4);
    let ce = softmax_cross_entropy(&acts[2], 10, &labels);
    let (_, grads) = mlp_backward_f64(&layers, &acts, &ce.grad, 4);
    let h = 1e-3f32;
    for (k, i) in [(0, 0), (0, 17), (1, 4), (1, 49)] {
        let w0 = layers[k].weight[i];
        layers[k].weight[i] = w0 + h;
        let up = small_loss(&layers, &x, &labels);
        layers[k].weight[i] = w0 - h;
        let down = small_loss(&layers, &x, &labels);
        layers[k].weight[i] = w0;
        let fd = (up - down) / (2.0 * h as f64);
        let an = grads[k].dw[i];
        assert!(
            (fd - an).abs() < 1e-4 * (1.0 + an.abs()),
            "layer {k} weight {i}: finite differences {fd:.6}, analytic {an:.6}"
        );
    }
}

/// 28 x 28 images of class c: a bright 6 x 6 square at a place of its own, on faint noise.
fn squares(n: usize, seed: u64) -> ImageSet {
    let mut rng = StdRng::seed_from_u64(seed);
    let mut images = Vec::with_capacity(n * 784);
    let mut labels = Vec::with_capacity(n);
    for _ in 0..n {
        let c = rng.random_range(0..10usize);
        let (r0, c0) = (3 + (c / 5) * 13, 1 + (c % 5) * 5);
        for r in 0..28 {
            for col in 0..28 {
                let inside = (r0..r0 + 6).contains(&r) && (c0..c0 + 6).contains(&col);
                images.push(if inside {
                    255
                } else {
                    rng.random_range(0..40u8)
                });
            }
        }
        labels.push(c as u8);
    }
    ImageSet {
        images,
        labels,
        rows: 28,
        cols: 28,
    }
}

#[test]
fn training_learns_a_synthetic_ten_class_task() {
    let ctx = common::context();
    let opts = TrainOptions {
        epochs: 2,
        batch: 50,
        shift: 1,
        ..TrainOptions::default()
    };
    let mut lines = Vec::new();
    let (c, stats) = train(&ctx, &squares(2000, 21), &opts, &mut |l| {
        lines.push(l.to_string())
    })
    .expect("training");
    assert_eq!((stats.len(), lines.len()), (2, 2));
    assert!(stats[1].loss < stats[0].loss, "{stats:?}");
    let test = squares(500, 22);
    let acc = c.accuracy(&test.images, &test.labels).expect("accuracy");
    assert!(acc > 0.95, "accuracy {acc}");
}

#[test]
fn training_refuses_labels_outside_ten_classes() {
    let ctx = common::context();
    let mut set = random_set(20, 3);
    set.labels[4] = 12;
    let opts = TrainOptions {
        batch: 10,
        ..TrainOptions::default()
    };
    let e = train(&ctx, &set, &opts, &mut |_| {})
        .err()
        .expect("an error");
    assert!(e.to_string().contains("label is 12"), "{e}");
}

fn stats(mean: Vec<f64>, diag: Vec<f64>) -> FeatureStats {
    let n = mean.len();
    let mut cov = vec![0.0; n * n];
    for (i, d) in diag.iter().enumerate() {
        cov[i * n + i] = *d;
    }
    FeatureStats {
        n: 100,
        dim: n,
        mean,
        cov,
    }
}

#[test]
fn frechet_distance_has_the_closed_form_of_diagonal_gaussians() {
    let a = stats(vec![0.0, 1.0, 2.0], vec![1.0, 4.0, 9.0]);
    let b = stats(vec![1.0, 1.0, 0.0], vec![4.0, 1.0, 9.0]);
    // |mu_a - mu_b|^2 + sum (sqrt(s_a) - sqrt(s_b))^2 = 5 + (1 + 1 + 0).
    assert!((frechet_distance(&a, &b) - 7.0).abs() < 1e-9);
    assert!(frechet_distance(&a, &a).abs() < 1e-9);
}

#[test]
fn frechet_distance_is_zero_for_one_set_and_symmetric() {
    let mut rng = StdRng::seed_from_u64(5);
    let f: Vec<f32> = (0..300 * 8).map(|_| rng.random_range(-1.0..1.0)).collect();
    let g: Vec<f32> = (0..300 * 8).map(|_| rng.random_range(-1.0..2.0)).collect();
    let (a, b) = (FeatureStats::of(&f, 8), FeatureStats::of(&g, 8));
    assert!(frechet_distance(&a, &a) < 1e-9);
    let (ab, ba) = (frechet_distance(&a, &b), frechet_distance(&b, &a));
    assert!(ab > 0.1 && (ab - ba).abs() < 1e-9 * ab, "{ab} {ba}");
}

#[test]
fn jacobi_eigendecomposition_rebuilds_the_matrix_and_its_root() {
    let mut rng = StdRng::seed_from_u64(6);
    let n = 12;
    let m: Vec<f64> = (0..n * n).map(|_| rng.random_range(-1.0..1.0)).collect();
    // S = M M^T: symmetric positive semi-definite.
    let mut s = vec![0.0; n * n];
    for i in 0..n {
        for j in 0..n {
            s[i * n + j] = (0..n).map(|k| m[i * n + k] * m[j * n + k]).sum();
        }
    }
    let (values, vectors) = symmetric_eigen(&s, n);
    for i in 0..n {
        for j in 0..n {
            let r: f64 = (0..n)
                .map(|k| vectors[i * n + k] * values[k] * vectors[j * n + k])
                .sum();
            assert!((r - s[i * n + j]).abs() < 1e-9, "({i}, {j})");
        }
    }
    let root = sqrt_psd(&s, n);
    for i in 0..n {
        for j in 0..n {
            let sq: f64 = (0..n).map(|k| root[i * n + k] * root[k * n + j]).sum();
            assert!(
                (sq - s[i * n + j]).abs() < 1e-8,
                "root squared at ({i}, {j})"
            );
        }
    }
}

#[test]
fn class_entropy_is_log2_of_ten_when_even_and_zero_for_one_class() {
    assert!((entropy_bits(&[7; 10]) - 10f64.log2()).abs() < 1e-12);
    assert_eq!(entropy_bits(&[0, 0, 9, 0]), 0.0);
    assert_eq!(entropy_bits(&[0; 10]), 0.0);
}

fn info(dataset: DatasetName) -> JudgeInfo {
    JudgeInfo {
        dataset,
        version: JUDGE_VERSION,
        widths: WIDTHS.to_vec(),
        test_accuracy: 0.99,
        test_digit_like: 0.96,
        epochs: 10,
        train_seconds: 1.0,
        adapter: "test".into(),
    }
}

#[test]
fn cached_judge_round_trips_and_another_data_set_is_not_used() {
    let dir = std::env::temp_dir().join(format!("flowgpu-judge-cache-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("temp dir");
    let path = cache::cache_path(&dir);
    let layers = init_layers(8);
    cache::save(&path, &layers, &info(DatasetName::Mnist)).expect("save");
    let (got, got_info) = cache::load(&path, DatasetName::Mnist)
        .expect("load")
        .expect("a cached judge");
    assert_eq!((got, got_info), (layers, info(DatasetName::Mnist)));
    assert!(cache::load(&path, DatasetName::FashionMnist)
        .expect("load")
        .is_none());
    std::fs::write(&path, b"not a judge").expect("write");
    let e = cache::load(&path, DatasetName::Mnist).expect_err("damaged");
    assert!(e.to_string().contains("delete it to retrain"), "{e}");
    assert!(
        cache::load(&dir.join("none.safetensors"), DatasetName::Mnist)
            .expect("missing is fine")
            .is_none()
    );
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn images_come_back_from_a_png_grid_and_npy_files() {
    let dir = std::env::temp_dir().join(format!("flowgpu-judge-files-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("temp dir");
    let set = random_set(5, 12);
    let unit: Vec<Vec<f32>> = (0..5)
        .map(|i| set.image(i).iter().map(|&p| p as f32 / 255.0).collect())
        .collect();
    // 2 x 3 cells at scale 2: the sixth stays empty and is skipped.
    let grid = Grid::from_images(2, 3, 28, 28, 2, &unit).expect("grid");
    let png = dir.join("grid.png");
    write_png(&png, &grid).expect("png");
    assert_eq!(read_images(&png).expect("read png"), set.images);

    let npy = |descr: &str, shape: &str, data: &[u8]| -> Vec<u8> {
        let mut header =
            format!("{{'descr': '{descr}', 'fortran_order': False, 'shape': {shape}, }}");
        while (10 + header.len() + 1) % 64 != 0 {
            header.push(' ');
        }
        header.push('\n');
        let mut out = b"\x93NUMPY\x01\x00".to_vec();
        out.extend((header.len() as u16).to_le_bytes());
        out.extend(header.as_bytes());
        out.extend(data);
        out
    };
    let u8_path = dir.join("u8.npy");
    std::fs::write(&u8_path, npy("|u1", "(5, 28, 28)", &set.images)).expect("write");
    assert_eq!(read_images(&u8_path).expect("u8"), set.images);
    let f32s: Vec<u8> = unit.concat().iter().flat_map(|v| v.to_le_bytes()).collect();
    let f32_path = dir.join("f32.npy");
    std::fs::write(&f32_path, npy("<f4", "(5, 784)", &f32s)).expect("write");
    assert_eq!(read_images(&f32_path).expect("f32"), set.images);

    let bad = dir.join("bad.npy");
    std::fs::write(&bad, npy("|u1", "(5, 27, 28)", &set.images)).expect("write");
    let e = read_images(&bad).expect_err("bad shape");
    assert!(e.to_string().contains("[n, 28, 28] or [n, 784]"), "{e}");
    let txt = dir.join("images.txt");
    std::fs::write(&txt, "x").expect("write");
    assert!(read_images(&txt).is_err());
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
#[ignore = "needs MNIST in data/mnist and about 2 minutes: cargo test --release --test judge -- --ignored"]
fn judge_trained_on_mnist_gets_98_percent_of_the_test_set() {
    let ctx = common::context();
    let dir = std::path::Path::new("data/mnist");
    let splits = flowgpu::data::load_splits(DatasetName::Mnist, dir).expect("MNIST in data/mnist");
    let all = flowgpu::judge::training_set(&splits.train, &splits.valid);
    let (c, _) = train(&ctx, &all, &TrainOptions::default(), &mut |l| {
        eprintln!("{l}")
    })
    .expect("training");
    let acc = c
        .accuracy(&splits.test.images, &splits.test.labels)
        .expect("accuracy");
    assert!(acc >= 0.98, "test accuracy {acc}");
    // Noise it has not seen is put in the eleventh class.
    let noise = not_digits(1000, 99);
    let rejected = c.accuracy(&noise.images, &noise.labels).expect("noise");
    assert!(rejected >= 0.95, "noise called not a digit: {rejected}");
}

#[test]
fn not_digit_images_are_seeded_and_labelled_as_the_eleventh_class() {
    let a = not_digits(50, 1);
    assert_eq!(a, not_digits(50, 1));
    assert_ne!(a.images, not_digits(50, 2).images);
    assert_eq!((a.len(), a.dim()), (50, 784));
    assert!(a
        .labels
        .iter()
        .all(|&l| l == NOT_A_DIGIT && (l as usize) < CLASSES));
}
