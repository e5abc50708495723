//! The IDX and checkpoint (safetensors) readers on random and mutated bytes: every input
//! gives `Ok` or an error, never a panic, and a header that claims more data than the file
//! holds is refused before anything that size is allocated (a huge allocation would abort
//! this test). Seeded, so every run feeds the same inputs.

use std::collections::HashMap;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::path::{Path, PathBuf};

use flowgpu::checkpoint;
use flowgpu::config::FlowConfig;
use flowgpu::data::idx;
use flowgpu::FlowParams;
use rand::{rngs::StdRng, Rng, SeedableRng};

fn scratch_dir(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("flowgpu-fuzz-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).expect("temp dir");
    dir
}

/// A mutation of `valid`: flipped bytes, a truncation, appended bytes, a header word set to
/// an extreme value, or pure noise.
fn mutate(valid: &[u8], rng: &mut StdRng, header_words: usize) -> Vec<u8> {
    let mut b = valid.to_vec();
    match rng.random_range(0..6) {
        0 => {
            for _ in 0..rng.random_range(1..16) {
                let i = rng.random_range(0..b.len());
                b[i] = rng.random();
            }
        }
        1 => b.truncate(rng.random_range(0..b.len())),
        2 => {
            let extra: Vec<u8> = (0..rng.random_range(1..64)).map(|_| rng.random()).collect();
            b.extend(extra);
        }
        3 => {
            let word = rng.random_range(0..header_words);
            let v: u32 = [u32::MAX, 0, 1 << 31, rng.random()][rng.random_range(0..4)];
            if b.len() >= 4 * word + 4 {
                b[4 * word..4 * word + 4].copy_from_slice(&v.to_be_bytes());
                if rng.random() {
                    b[4 * word..4 * word + 4].copy_from_slice(&v.to_le_bytes());
                }
            }
        }
        4 => {
            b = (0..rng.random_range(0..256))
                .map(|_| rng.random())
                .collect()
        }
        _ => {
            // gzip of a mutation: the readers detect gzip by content.
            use std::io::Write;
            let mut enc = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
            enc.write_all(&b[..b.len() / 2]).expect("gzip");
            b = enc.finish().expect("gzip");
            if rng.random() {
                let i = rng.random_range(0..b.len());
                b[i] ^= 0x5a;
            }
        }
    }
    b
}

fn no_panic<T>(what: &str, case: usize, f: impl FnOnce() -> T) -> T {
    catch_unwind(AssertUnwindSafe(f))
        .unwrap_or_else(|_| panic!("{what}: case {case} panicked instead of returning an error"))
}

#[test]
fn idx_readers_survive_random_and_mutated_bytes() {
    let dir = scratch_dir("idx");
    let images = dir.join("valid-images");
    let labels = dir.join("valid-labels");
    let pixels: Vec<u8> = (0..5 * 28 * 28).map(|i| (i * 7 % 256) as u8).collect();
    idx::write_images(&images, 28, 28, &pixels).expect("write");
    idx::write_labels(&labels, &[1, 2, 3, 4, 5]).expect("write");
    let valid_images = std::fs::read(&images).expect("read");
    let valid_labels = std::fs::read(&labels).expect("read");
    let mut rng = StdRng::seed_from_u64(2026);
    let path = dir.join("case");
    let (mut ok, mut err) = (0, 0);
    for case in 0..400 {
        let (valid, header_words) = if case % 2 == 0 {
            (&valid_images, 4)
        } else {
            (&valid_labels, 2)
        };
        std::fs::write(&path, mutate(valid, &mut rng, header_words)).expect("write case");
        let result = no_panic("idx", case, || {
            if case % 2 == 0 {
                idx::read_images(&path).map(|_| ())
            } else {
                idx::read_labels(&path).map(|_| ())
            }
        });
        match result {
            Ok(()) => ok += 1,
            Err(_) => err += 1,
        }
    }
    eprintln!("idx: {ok} accepted, {err} refused");
    assert!(err > 0, "no mutation was refused");
    let _ = std::fs::remove_dir_all(&dir);
}

fn read_checkpoint(path: &Path) -> Result<(), String> {
    checkpoint::read_metadata(path).map_err(|e| e.to_string())?;
    checkpoint::load(path, true)
        .map(|_| ())
        .map_err(|e| e.to_string())
}

#[test]
fn checkpoint_reader_survives_random_and_mutated_bytes() {
    let dir = scratch_dir("ckpt");
    let cfg = FlowConfig {
        dim: 12,
        layers: 2,
        hidden: 8,
        ..FlowConfig::default()
    };
    let params = FlowParams::random(&cfg, 3, 0.5);
    let valid_path = dir.join("valid.safetensors");
    checkpoint::save(
        &valid_path,
        &params,
        Some((&params, &params)),
        &HashMap::new(),
    )
    .expect("save");
    assert!(read_checkpoint(&valid_path).is_ok(), "the valid file loads");
    let valid = std::fs::read(&valid_path).expect("read");
    let mut rng = StdRng::seed_from_u64(7);
    let path = dir.join("case.safetensors");
    let (mut ok, mut err) = (0, 0);
    for case in 0..300 {
        // Header words: the first 8 bytes are the JSON header's length.
        std::fs::write(&path, mutate(&valid, &mut rng, 2)).expect("write case");
        match no_panic("checkpoint", case, || read_checkpoint(&path)) {
            Ok(()) => ok += 1,
            Err(_) => err += 1,
        }
    }
    eprintln!("checkpoint: {ok} accepted, {err} refused");
    assert!(err > 0, "no mutation was refused");
    let _ = std::fs::remove_dir_all(&dir);
}
