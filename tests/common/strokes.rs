//! Training data for end-to-end tests: real MNIST when it is on disk, else generated images
//! of strokes (so the tests need no network).

use std::path::{Path, PathBuf};

use flowgpu::data::{self, DatasetName};
use rand::{rngs::StdRng, Rng, SeedableRng};

/// 28x28 images of one or two thick bright strokes on black, as IDX files.
pub fn generated_dataset(dir: &Path, train: usize, test: usize) {
    let mut rng = StdRng::seed_from_u64(99);
    let mut make = |n: usize| {
        let mut pixels = vec![0u8; n * 784];
        let mut labels = vec![0u8; n];
        for i in 0..n {
            let strokes = rng.random_range(1..=2);
            labels[i] = strokes as u8;
            for _ in 0..strokes {
                let (x0, y0) = (
                    rng.random_range(6.0..22.0f32),
                    rng.random_range(4.0..10.0f32),
                );
                let (x1, y1) = (
                    rng.random_range(6.0..22.0f32),
                    rng.random_range(18.0..24.0f32),
                );
                for s in 0..60 {
                    let t = s as f32 / 59.0;
                    let (cx, cy) = (x0 + t * (x1 - x0), y0 + t * (y1 - y0));
                    for dy in -1i32..=1 {
                        for dx in -1i32..=1 {
                            let (px, py) = (cx as i32 + dx, cy as i32 + dy);
                            if (0..28).contains(&px) && (0..28).contains(&py) {
                                let v = if dx == 0 && dy == 0 { 255 } else { 170 };
                                let p = &mut pixels[i * 784 + py as usize * 28 + px as usize];
                                *p = (*p).max(v);
                            }
                        }
                    }
                }
            }
        }
        (pixels, labels)
    };
    let (p, l) = make(train);
    data::write_images(&dir.join(data::TRAIN_IMAGES), 28, 28, &p).expect("write");
    data::write_labels(&dir.join(data::TRAIN_LABELS), &l).expect("write");
    let (p, l) = make(test);
    data::write_images(&dir.join(data::TEST_IMAGES), 28, 28, &p).expect("write");
    data::write_labels(&dir.join(data::TEST_LABELS), &l).expect("write");
}

/// Real MNIST when present, else generated images; says which.
pub fn data_dir(scratch: &Path) -> PathBuf {
    let real = data::default_data_dir(DatasetName::Mnist);
    if data::missing_files(&real).is_empty() {
        eprintln!(
            "end-to-end test on a subset of real MNIST ({})",
            real.display()
        );
        real
    } else {
        eprintln!(
            "end-to-end test on generated stroke images (no MNIST in {})",
            real.display()
        );
        let dir = scratch.join("data");
        std::fs::create_dir_all(&dir).expect("dir");
        generated_dataset(&dir, 1500, 300);
        dir
    }
}
