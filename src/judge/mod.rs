//! The sample judge: a number that says how many samples look like digits.
//!
//! A digit classifier ([`classifier`], an MLP trained on the GPU by the flow's own matmul,
//! ReLU and Adam kernels plus a softmax cross-entropy kernel, [`train`]) is trained once per
//! data set and cached beside it ([`cache`]). For any set of images it gives
//! ([`figures::JudgeFigures`]) the share it labels as a digit with top probability >= 0.9
//! ("digit-like"; an eleventh class, "not a digit", [`negatives`], keeps it from being
//! sure of noise), the class histogram and its entropy (mode coverage), and the Fréchet
//! distance between its feature-layer activations for the images and for the test set
//! ([`frechet`], an "MNIST FID"). Real test images and noise pushed through an untrained
//! flow are the two reference lines every table prints.

pub mod cache;
pub mod classifier;
pub mod figures;
pub mod frechet;
pub mod image_files;
pub mod negatives;
pub mod table;
pub mod train;

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Instant;

use rand::seq::SliceRandom;
use rand::{rngs::StdRng, SeedableRng};

use crate::config::Preprocess;
use crate::data::{load_splits, DatasetName, ImageSet};
use crate::error::{Error, Result};
use crate::gpu::GpuContext;
use crate::model::Flow;
use crate::report::image_grid::unit_to_pixel;
use crate::FlowParams;
pub use cache::{JudgeInfo, JUDGE_VERSION};
use classifier::{Classifier, FEATURES, WIDTHS};
pub use figures::{markdown_table, JudgeFigures, JudgedSet, CONFIDENT};
use frechet::FeatureStats;
pub use table::JudgeTable;

/// Images per set a judge table uses unless told otherwise.
pub const DEFAULT_IMAGES: usize = 1000;
/// The temperatures `flowgpu judge` samples at unless told otherwise.
pub const DEFAULT_TEMPERATURES: [f32; 4] = [1.0, 0.8, 0.7, 0.5];

/// A trained judge and the test set's statistics it compares against.
pub struct Judge {
    classifier: Classifier,
    test: ImageSet,
    reference: FeatureStats,
    pub info: JudgeInfo,
    /// The cache file it was read from or written to.
    pub path: PathBuf,
}

impl Judge {
    /// The judge of `dataset` cached in `data_dir`, trained there first if there is none
    /// of this version (8 epochs over the 60,000 training images and [`NOT_DIGITS`]
    /// others; see docs/judge.md for the time it takes). `log` gets progress lines.
    pub fn open(
        ctx: &Arc<GpuContext>,
        dataset: DatasetName,
        data_dir: &Path,
        log: &mut dyn FnMut(&str),
    ) -> Result<Self> {
        let splits = load_splits(dataset, data_dir)?;
        let path = cache::cache_path(data_dir);
        let (classifier, info, test_verdicts) = match cache::load(&path, dataset)? {
            Some((layers, info)) => (Classifier::new(ctx.clone(), &layers)?, info, None),
            None => {
                log(&format!(
                    "training the sample judge on the {} training images and {NOT_DIGITS} \
                     that are no digit (once; cached in {})",
                    splits.train.len() + splits.valid.len(),
                    path.display()
                ));
                let all = training_set(&splits.train, &splits.valid);
                let opts = train::TrainOptions::default();
                let start = Instant::now();
                let (c, _) = train::train(ctx, &all, &opts, log)?;
                let train_seconds = start.elapsed().as_secs_f64();
                let test = c.classify(&splits.test.images)?;
                let info = JudgeInfo {
                    dataset,
                    version: JUDGE_VERSION,
                    widths: WIDTHS.to_vec(),
                    test_accuracy: test.accuracy(&splits.test.labels),
                    test_digit_like: test.digit_like(),
                    epochs: opts.epochs,
                    train_seconds,
                    adapter: ctx.describe(),
                };
                log(&format!(
                    "sample judge: {:.2}% of the test set right, {:.1}% of it digit-like, trained in {:.0} s",
                    100.0 * info.test_accuracy,
                    100.0 * info.test_digit_like,
                    train_seconds
                ));
                if let Err(e) = cache::save(&path, &c.read_layers()?, &info) {
                    log(&format!("warning: the judge was not cached ({e}); it will be trained again next time"));
                }
                (c, info, Some(test))
            }
        };
        // The test set's features, once: the reference every Fréchet distance is taken to.
        let test_verdicts = match test_verdicts {
            Some(v) => v,
            None => classifier.classify(&splits.test.images)?,
        };
        let reference = FeatureStats::of(&test_verdicts.features, FEATURES);
        Ok(Self {
            classifier,
            test: splits.test,
            reference,
            info,
            path,
        })
    }

    /// The figures for `pixels` (whole 28 x 28 images, one byte per pixel).
    pub fn figures(&self, pixels: &[u8]) -> Result<JudgeFigures> {
        let verdicts = self.classifier.classify(pixels)?;
        Ok(JudgeFigures::of(&verdicts, &self.reference))
    }

    /// A labelled line of a table.
    pub fn judge(&self, label: &str, temperature: Option<f32>, pixels: &[u8]) -> Result<JudgedSet> {
        Ok(JudgedSet {
            label: label.to_string(),
            temperature,
            figures: self.figures(pixels)?,
        })
    }

    /// The ceiling line: `n` test images (a seeded choice), against the whole test set (so
    /// its Fréchet distance is the floor that `n` images can reach).
    pub fn real_images(&self, n: usize, seed: u64) -> Result<JudgedSet> {
        let mut ids: Vec<usize> = (0..self.test.len()).collect();
        ids.shuffle(&mut StdRng::seed_from_u64(seed));
        let mut pixels = Vec::with_capacity(n.min(ids.len()) * self.test.dim());
        for &i in ids.iter().take(n) {
            pixels.extend_from_slice(self.test.image(i));
        }
        self.judge(
            &format!("real test images ({})", ids.len().min(n)),
            None,
            &pixels,
        )
    }

    /// `n` samples of `flow` at `temperature` (seeded), judged as the PNGs show them.
    pub fn flow_samples(
        &self,
        label: &str,
        flow: &Flow,
        pre: Preprocess,
        n: usize,
        temperature: f32,
        seed: u32,
    ) -> Result<JudgedSet> {
        let pixels = sample_pixels(flow, pre, n, temperature, seed)?;
        self.judge(label, Some(temperature), &pixels)
    }

    /// The floor line: N(0, I) noise pushed through an untrained flow of `flow`'s shape
    /// (its initialisation with `seed`).
    pub fn untrained_flow(
        &self,
        flow: &Flow,
        pre: Preprocess,
        n: usize,
        seed: u64,
    ) -> Result<JudgedSet> {
        let fresh = Flow::new(
            flow.context().clone(),
            &FlowParams::init(flow.config(), seed),
        )?;
        self.flow_samples("untrained flow, T = 1.0", &fresh, pre, n, 1.0, seed as u32)
    }

    /// The table for `flow`: the two reference lines, then `n` samples at each of
    /// `temperatures`, all drawn with `seed` (a figure drawn with the same seed shows the
    /// first of them).
    pub fn flow_table(
        &self,
        flow: &Flow,
        pre: Preprocess,
        n: usize,
        temperatures: &[f32],
        seed: u32,
        log: &mut dyn FnMut(&str),
    ) -> Result<JudgeTable> {
        let mut table = self.table(vec![
            self.real_images(n, seed as u64)?,
            self.untrained_flow(flow, pre, n, seed as u64)?,
        ]);
        for &t in temperatures {
            log(&format!("judging {n} samples at T = {t:?} ..."));
            let label = format!("samples, T = {t:?}");
            table
                .sets
                .push(self.flow_samples(&label, flow, pre, n, t, seed)?);
        }
        Ok(table)
    }

    /// A table of `sets` by this judge.
    pub fn table(&self, sets: Vec<JudgedSet>) -> JudgeTable {
        JudgeTable {
            judge: self.info.clone(),
            cache: self.path.display().to_string(),
            sets,
        }
    }

    pub fn classifier(&self) -> &Classifier {
        &self.classifier
    }
}

/// Images of the "not a digit" class added to the training images.
pub const NOT_DIGITS: usize = 6000;

/// What the judge is trained on: every training image (the flow's training and
/// validation splits) and [`NOT_DIGITS`] images of no digit ([`negatives`]).
pub fn training_set(train: &ImageSet, valid: &ImageSet) -> ImageSet {
    let mut all = train.clone();
    let none = negatives::not_digits(NOT_DIGITS, 0x5eed);
    for set in [valid, &none] {
        all.images.extend_from_slice(&set.images);
        all.labels.extend_from_slice(&set.labels);
    }
    all
}

/// `n` samples at `temperature` as 8-bit images (as the sample PNGs are written).
pub fn sample_pixels(
    flow: &Flow,
    pre: Preprocess,
    n: usize,
    temperature: f32,
    seed: u32,
) -> Result<Vec<u8>> {
    if n == 0 {
        return Err(Error::Config("the judge needs at least one sample".into()));
    }
    let x = flow.sample(n, temperature, seed)?;
    let unit = flow.context().read(&flow.to_pixels(&x, pre)?)?;
    Ok(unit.iter().map(|&v| unit_to_pixel(v)).collect())
}
