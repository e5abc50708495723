//! The judge's digit classifier: an MLP `784 -> 512 -> 256 -> 11` with ReLUs (ten digits
//! and "not a digit"), stored in one
//! flat buffer like the flow's parameters (each linear layer a `[W; b]` block, rows padded
//! for vec4 loads), run by the flow's own matmul kernels. Its last hidden layer (256 ReLU
//! features) is what the Fréchet distance compares.

use std::sync::Arc;

use rand::{rngs::StdRng, Rng, SeedableRng};

use crate::error::{Error, Result};
use crate::gpu::tensor::align_up;
use crate::gpu::{Dispatch, GpuContext, GpuTensor};
use crate::kernels::classifier::{self as kernels, ClassifierInputParams};
use crate::kernels::matmul::{self, padded, Matmul};
use crate::model::images::GpuImages;
use crate::model::layout::LinearSlot;
use crate::Linear;

/// Images are `SIDE x SIDE` pixels (MNIST and Fashion-MNIST).
pub const SIDE: usize = 28;
/// Classes of both data sets.
pub const DIGITS: usize = 10;
/// The classifier's outputs: the ten classes and "not a digit" ([`super::negatives`]).
pub const CLASSES: usize = DIGITS + 1;
/// Widths of the layers, input to logits.
pub const WIDTHS: [usize; 4] = [SIDE * SIDE, 512, 256, CLASSES];
/// Width of the feature layer (the last hidden one).
pub const FEATURES: usize = WIDTHS[WIDTHS.len() - 2];

/// Where each linear layer lives in the flat parameter buffer.
#[derive(Clone, Debug, PartialEq)]
pub struct ClassifierLayout {
    pub slots: Vec<LinearSlot>,
    /// Total elements, padding included (a multiple of 4, as Adam needs).
    pub len: usize,
}

impl ClassifierLayout {
    pub fn new() -> Self {
        let mut at = 0;
        let slots = WIDTHS
            .windows(2)
            .map(|w| {
                let slot = LinearSlot {
                    offset: at,
                    n_in: w[0],
                    n_out: w[1],
                };
                at = align_up(at + slot.block_len());
                slot
            })
            .collect();
        Self { slots, len: at }
    }

    /// The flat buffer for `layers` (zero padding).
    pub fn pack(&self, layers: &[Linear]) -> Vec<f32> {
        let mut flat = vec![0.0; self.len];
        for (slot, lin) in self.slots.iter().zip(layers) {
            slot.pack_into(lin, &mut flat);
        }
        flat
    }

    /// Inverse of [`ClassifierLayout::pack`].
    pub fn unpack(&self, flat: &[f32]) -> Vec<Linear> {
        self.slots.iter().map(|s| s.unpack_from(flat)).collect()
    }
}

impl Default for ClassifierLayout {
    fn default() -> Self {
        Self::new()
    }
}

/// PyTorch's default initialisation of each layer (uniform in `±1/sqrt(n_in)`), seeded.
pub fn init_layers(seed: u64) -> Vec<Linear> {
    let mut rng = StdRng::seed_from_u64(seed);
    WIDTHS
        .windows(2)
        .map(|w| {
            let bound = 1.0 / (w[0] as f32).sqrt();
            let mut draw = |n: usize| -> Vec<f32> {
                (0..n).map(|_| rng.random_range(-bound..bound)).collect()
            };
            Linear {
                n_in: w[0],
                n_out: w[1],
                weight: draw(w[0] * w[1]),
                bias: draw(w[1]),
            }
        })
        .collect()
}

/// The activations of one batch size and the recorded forward pass over them: the input
/// rows of images `indices[index_offset..][..batch]`, then the three linear layers.
pub struct ClassifierPass {
    pub batch: usize,
    /// `[batch, 784]`.
    pub x: GpuTensor,
    /// The hidden layers' ReLU outputs, `[batch, padded(width)]`; the last are the features.
    pub hidden: Vec<GpuTensor>,
    /// `[batch, padded(CLASSES)]`.
    pub logits: GpuTensor,
    pub input: Dispatch,
    pub layers: Vec<Dispatch>,
    input_params: ClassifierInputParams,
}

impl ClassifierPass {
    /// `shift`: the training augmentation's largest translation (0 to judge).
    pub fn new(
        ctx: &GpuContext,
        layout: &ClassifierLayout,
        params: &GpuTensor,
        images: &GpuImages,
        indices: &GpuTensor,
        batch: usize,
        shift: u32,
    ) -> Result<Self> {
        if images.dim != WIDTHS[0] {
            return Err(Error::Data(format!(
                "the judge reads {SIDE} x {SIDE} images, these have {} pixels",
                images.dim
            )));
        }
        let x = ctx.zeros(&[batch, padded(WIDTHS[0])], "judge input")?;
        let hidden = WIDTHS[1..WIDTHS.len() - 1]
            .iter()
            .map(|&w| ctx.zeros(&[batch, padded(w)], "judge hidden"))
            .collect::<Result<Vec<_>>>()?;
        let logits = ctx.zeros(&[batch, padded(CLASSES)], "judge logits")?;
        let input_params = ClassifierInputParams::new(batch, SIDE, padded(WIDTHS[0]), shift);
        let input = kernels::classifier_input(ctx, input_params, &images.pixels, indices, &x)?;
        let mut layers = Vec::new();
        for (i, slot) in layout.slots.iter().enumerate() {
            let src = if i == 0 { &x } else { &hidden[i - 1] };
            let last = i + 1 == layout.slots.len();
            let dst = if last { &logits } else { &hidden[i] };
            let mm = Matmul::linear_forward(batch, slot.n_in, slot.n_out, !last);
            let w = params.view(slot.offset, &[slot.block_len()]);
            layers.push(matmul::matmul(ctx, mm, src, &w, dst, None)?);
        }
        Ok(Self {
            batch,
            x,
            hidden,
            logits,
            input,
            layers,
            input_params,
        })
    }

    /// Points the input at `indices[index_offset..]` with augmentation seed `seed`.
    pub fn set_input(&self, ctx: &GpuContext, index_offset: usize, seed: u32) {
        let p = ClassifierInputParams {
            index_offset: index_offset as u32,
            seed,
            ..self.input_params
        };
        self.input.set_params(ctx, &p);
    }

    /// The input dispatch, then the layers.
    pub fn dispatches(&self) -> Vec<&Dispatch> {
        std::iter::once(&self.input).chain(&self.layers).collect()
    }

    /// The feature layer's activations.
    pub fn features(&self) -> &GpuTensor {
        self.hidden
            .last()
            .expect("the classifier has hidden layers")
    }
}

/// What the classifier says of a set of images.
#[derive(Clone, Debug, PartialEq)]
pub struct Verdicts {
    /// `[n, CLASSES]`: class probabilities (softmax of the logits, in f64).
    pub probs: Vec<f64>,
    /// `[n, FEATURES]`: the feature layer.
    pub features: Vec<f32>,
}

impl Verdicts {
    pub fn len(&self) -> usize {
        self.probs.len() / CLASSES
    }

    pub fn is_empty(&self) -> bool {
        self.probs.is_empty()
    }

    /// The share of the images whose most probable class is `labels`' (one per image).
    pub fn accuracy(&self, labels: &[u8]) -> f64 {
        let right = self
            .labels()
            .iter()
            .zip(labels)
            .filter(|(&a, &b)| a == b as usize)
            .count();
        right as f64 / labels.len().max(1) as f64
    }

    /// The share of the images whose most probable class is a digit with probability >=
    /// [`CONFIDENT`](crate::judge::CONFIDENT).
    pub fn digit_like(&self) -> f64 {
        let confident = self
            .probs
            .chunks(CLASSES)
            .zip(self.labels())
            .filter(|(p, c)| *c < DIGITS && p[*c] >= crate::judge::CONFIDENT)
            .count();
        confident as f64 / self.len().max(1) as f64
    }

    /// Each image's most probable class.
    pub fn labels(&self) -> Vec<usize> {
        self.probs
            .chunks(CLASSES)
            .map(|row| (0..row.len()).fold(0, |best, j| if row[j] > row[best] { j } else { best }))
            .collect()
    }
}

/// Images judged per submit.
const EVAL_BATCH: usize = 1000;

/// A trained classifier on the GPU.
pub struct Classifier {
    ctx: Arc<GpuContext>,
    layout: ClassifierLayout,
    params: GpuTensor,
}

impl Classifier {
    pub fn new(ctx: Arc<GpuContext>, layers: &[Linear]) -> Result<Self> {
        let layout = ClassifierLayout::new();
        let params = ctx.upload(&layout.pack(layers), &[layout.len], "judge parameters")?;
        Ok(Self {
            ctx,
            layout,
            params,
        })
    }

    /// Probabilities and features of `pixels`: whole 28 x 28 images, one byte per pixel.
    pub fn classify(&self, pixels: &[u8]) -> Result<Verdicts> {
        let ctx = self.ctx.as_ref();
        let images = GpuImages::from_pixels(ctx, pixels, WIDTHS[0], "images to judge")?;
        let n = images.count;
        let mut probs = Vec::with_capacity(n * CLASSES);
        let mut features = Vec::with_capacity(n * FEATURES);
        let mut start = 0;
        let mut pass: Option<ClassifierPass> = None;
        while start < n {
            let rows = EVAL_BATCH.min(n - start);
            if pass.as_ref().is_none_or(|p| p.batch != rows) {
                pass = Some(ClassifierPass::new(
                    ctx,
                    &self.layout,
                    &self.params,
                    &images,
                    &images.identity,
                    rows,
                    0,
                )?);
            }
            let p = pass.as_ref().expect("made above");
            p.set_input(ctx, start, 0);
            ctx.submit(&p.dispatches());
            let got = ctx.read_many(&[&p.logits, p.features()])?;
            let ld = padded(CLASSES);
            for row in got[0].chunks(ld) {
                let logits: Vec<f64> = row[..CLASSES].iter().map(|&v| v as f64).collect();
                probs.extend(softmax(&logits));
            }
            let fd = padded(FEATURES);
            for row in got[1].chunks(fd) {
                features.extend_from_slice(&row[..FEATURES]);
            }
            start += rows;
        }
        Ok(Verdicts { probs, features })
    }

    /// The share of `pixels`' images the classifier labels as `labels` says.
    pub fn accuracy(&self, pixels: &[u8], labels: &[u8]) -> Result<f64> {
        Ok(self.classify(pixels)?.accuracy(labels))
    }

    pub fn layout(&self) -> &ClassifierLayout {
        &self.layout
    }

    pub fn params(&self) -> &GpuTensor {
        &self.params
    }

    pub fn context(&self) -> &Arc<GpuContext> {
        &self.ctx
    }

    /// The weights, read back.
    pub fn read_layers(&self) -> Result<Vec<Linear>> {
        Ok(self.layout.unpack(&self.ctx.read(&self.params)?))
    }
}

/// `softmax(logits)`, shifted by the largest logit so that nothing overflows.
fn softmax(logits: &[f64]) -> Vec<f64> {
    let top = logits.iter().copied().fold(f64::NEG_INFINITY, f64::max);
    let e: Vec<f64> = logits.iter().map(|&l| (l - top).exp()).collect();
    let total: f64 = e.iter().sum();
    e.into_iter().map(|v| v / total).collect()
}
