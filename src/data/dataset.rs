//! In-memory image sets, the dataset names, and the train / validation / test split.

use std::fmt;
use std::ops::Range;
use std::path::{Path, PathBuf};
use std::str::FromStr;

use serde::{Deserialize, Serialize};

use crate::data::idx;
use crate::data::sources::fetch_instructions;
use crate::error::{Error, Result};

/// Training images file name (without `.gz`).
pub const TRAIN_IMAGES: &str = "train-images-idx3-ubyte";
/// Training labels file name (without `.gz`).
pub const TRAIN_LABELS: &str = "train-labels-idx1-ubyte";
/// Test images file name (without `.gz`).
pub const TEST_IMAGES: &str = "t10k-images-idx3-ubyte";
/// Test labels file name (without `.gz`).
pub const TEST_LABELS: &str = "t10k-labels-idx1-ubyte";
/// The four standard file names, each accepted raw or with a `.gz` suffix.
pub const FILE_NAMES: [&str; 4] = [TRAIN_IMAGES, TRAIN_LABELS, TEST_IMAGES, TEST_LABELS];

/// Which dataset: both use the same IDX layout, 28x28 grey images and labels 0..9.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum DatasetName {
    Mnist,
    FashionMnist,
}

impl DatasetName {
    pub const ALL: [DatasetName; 2] = [DatasetName::Mnist, DatasetName::FashionMnist];

    /// The command-line spelling: `mnist` or `fashion-mnist`.
    pub fn as_str(self) -> &'static str {
        match self {
            DatasetName::Mnist => "mnist",
            DatasetName::FashionMnist => "fashion-mnist",
        }
    }

    /// The name as the dataset's authors write it, for messages and reports.
    pub fn title(self) -> &'static str {
        match self {
            DatasetName::Mnist => "MNIST",
            DatasetName::FashionMnist => "Fashion-MNIST",
        }
    }
}

impl fmt::Display for DatasetName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for DatasetName {
    type Err = Error;

    /// Accepts `mnist` and `fashion-mnist` (case-insensitive; `_` for `-` is fine too).
    fn from_str(s: &str) -> Result<Self> {
        match s.trim().to_ascii_lowercase().replace('_', "-").as_str() {
            "mnist" => Ok(DatasetName::Mnist),
            "fashion-mnist" | "fashionmnist" => Ok(DatasetName::FashionMnist),
            _ => Err(Error::Config(format!(
                "unknown dataset '{s}': expected 'mnist' or 'fashion-mnist'"
            ))),
        }
    }
}

/// Images (row-major bytes, one `dim()`-byte block per image) with one label each.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ImageSet {
    pub images: Vec<u8>,
    pub labels: Vec<u8>,
    pub rows: usize,
    pub cols: usize,
}

impl ImageSet {
    /// Number of images.
    pub fn len(&self) -> usize {
        self.labels.len()
    }

    pub fn is_empty(&self) -> bool {
        self.labels.is_empty()
    }

    /// Pixels per image (`rows * cols`, 784 for MNIST).
    pub fn dim(&self) -> usize {
        self.rows * self.cols
    }

    /// The pixels of image `i`. Panics when `i >= len()`, like slice indexing.
    pub fn image(&self, i: usize) -> &[u8] {
        let d = self.dim();
        &self.images[i * d..(i + 1) * d]
    }

    /// The label of image `i`. Panics when `i >= len()`, like slice indexing.
    pub fn label(&self, i: usize) -> u8 {
        self.labels[i]
    }

    /// A copy of images `range`. Panics when the range is out of bounds, like slice indexing.
    pub fn slice(&self, range: Range<usize>) -> ImageSet {
        let d = self.dim();
        ImageSet {
            images: self.images[range.start * d..range.end * d].to_vec(),
            labels: self.labels[range].to_vec(),
            rows: self.rows,
            cols: self.cols,
        }
    }

    /// A copy of the first `n` images, or all of them when there are fewer (like
    /// `Iterator::take`); handy for quick runs on a subset.
    pub fn take(&self, n: usize) -> ImageSet {
        self.slice(0..n.min(self.len()))
    }
}

/// The three sets a run uses.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Splits {
    pub train: ImageSet,
    pub valid: ImageSet,
    pub test: ImageSet,
}

/// How many images of an `n`-image training file go to validation: the last `n / 6`.
///
/// For the standard 60,000-image training file that is the usual split: the first 50,000
/// train, the last 10,000 validate (the MNIST pickle's train/valid split). Smaller files
/// (synthetic test data, subsets) keep the same 5:1 ratio, rounded down.
pub fn validation_count(n: usize) -> usize {
    n / 6
}

/// Splits a training file into (train, valid) by [`validation_count`]; the test file is kept
/// whole and never used for model selection.
pub fn split_training(full: &ImageSet) -> (ImageSet, ImageSet) {
    let n = full.len();
    let cut = n - validation_count(n);
    (full.slice(0..cut), full.slice(cut..n))
}

/// The path of standard file `base` in `data_dir`: the raw file if present, else `base.gz`.
pub fn find_file(data_dir: &Path, base: &str) -> Option<PathBuf> {
    let raw = data_dir.join(base);
    if raw.is_file() {
        return Some(raw);
    }
    let gz = data_dir.join(format!("{base}.gz"));
    gz.is_file().then_some(gz)
}

/// The standard file names with neither a raw nor a `.gz` file in `data_dir`.
pub fn missing_files(data_dir: &Path) -> Vec<&'static str> {
    FILE_NAMES
        .into_iter()
        .filter(|base| find_file(data_dir, base).is_none())
        .collect()
}

/// Loads the four IDX files from `data_dir` and splits them.
///
/// Train = the first 5/6 of the training file (50,000 of 60,000), valid = the last 1/6
/// (10,000), test = the whole t10k file. See [`validation_count`]. When files are missing
/// the error names them, where it looked, and the commands that fetch them.
pub fn load_splits(name: DatasetName, data_dir: &Path) -> Result<Splits> {
    let missing = missing_files(data_dir);
    if !missing.is_empty() {
        let list: Vec<String> = missing.iter().map(|m| format!("{m} (or {m}.gz)")).collect();
        return Err(Error::Data(format!(
            "{} files missing in {}: {}.\n{}",
            name.title(),
            data_dir.display(),
            list.join(", "),
            fetch_instructions(name, data_dir)
        )));
    }
    let full = load_pair(data_dir, TRAIN_IMAGES, TRAIN_LABELS)?;
    let test = load_pair(data_dir, TEST_IMAGES, TEST_LABELS)?;
    if full.is_empty() {
        return Err(Error::Data(format!(
            "{}: the training file has no images",
            data_dir.join(TRAIN_IMAGES).display()
        )));
    }
    if (test.rows, test.cols) != (full.rows, full.cols) {
        return Err(Error::Data(format!(
            "{}: test images are {}x{} but training images are {}x{}",
            data_dir.display(),
            test.rows,
            test.cols,
            full.rows,
            full.cols
        )));
    }
    let (train, valid) = split_training(&full);
    Ok(Splits { train, valid, test })
}

/// Reads one images file and its labels file and checks that they belong together.
fn load_pair(data_dir: &Path, images: &str, labels: &str) -> Result<ImageSet> {
    let img_path = find_file(data_dir, images)
        .ok_or_else(|| Error::Data(format!("{}: not found", data_dir.join(images).display())))?;
    let lab_path = find_file(data_dir, labels)
        .ok_or_else(|| Error::Data(format!("{}: not found", data_dir.join(labels).display())))?;
    let img = idx::read_images(&img_path)?;
    let lab = idx::read_labels(&lab_path)?;
    if lab.len() != img.count {
        return Err(Error::Data(format!(
            "{} has {} labels but {} has {} images",
            lab_path.display(),
            lab.len(),
            img_path.display(),
            img.count
        )));
    }
    if let Some(pos) = lab.iter().position(|&l| l > 9) {
        return Err(Error::Data(format!(
            "{}: label {} of image {pos} is outside 0..9",
            lab_path.display(),
            lab[pos]
        )));
    }
    Ok(ImageSet {
        images: img.pixels,
        labels: lab,
        rows: img.rows,
        cols: img.cols,
    })
}
