//! What a fresh run starts from: the data splits (trimmed as the options say) and the initial
//! parameters, optionally scaled from the data.

use std::path::Path;

use crate::data::{self, DatasetName, ImageSet, Splits};
use crate::error::{Error, Result};
use crate::gpu::GpuContext;
use crate::model::params::FlowParams;
use crate::train::gpu_data::GpuImages;
use crate::train::options::TrainOptions;
use crate::train::seeds::noise_seed;

fn limit(set: ImageSet, n: Option<usize>) -> ImageSet {
    match n {
        Some(n) => set.take(n),
        None => set,
    }
}

/// Fetches the files of `dataset` that are missing from `dir`, with the `fetch`
/// feature; without it they are left for [`data::load_splits`] to report, with the commands
/// that fetch them.
pub(crate) fn fetch_missing(
    dataset: DatasetName,
    dir: &Path,
    log: &mut dyn FnMut(&str),
) -> Result<()> {
    #[cfg(feature = "fetch")]
    return data::ensure_dataset(dataset, dir, log);
    #[cfg(not(feature = "fetch"))]
    {
        let _ = (dataset, dir, log);
        Ok(())
    }
}

/// Loads (fetching if needed) and trims the splits.
pub fn load_data(opts: &TrainOptions, log: &mut dyn FnMut(&str)) -> Result<Splits> {
    let dir = opts.data_dir();
    fetch_missing(opts.dataset, &dir, log)?;
    let s = data::load_splits(opts.dataset, &dir)?;
    let dim = s.train.dim();
    if dim != opts.flow.dim {
        return Err(Error::Config(format!(
            "the model's dim is {} but the images have {dim} pixels",
            opts.flow.dim
        )));
    }
    Ok(Splits {
        train: limit(s.train, opts.train_limit),
        valid: limit(s.valid, opts.valid_limit),
        test: limit(s.test, opts.test_limit),
    })
}

/// Images the data-dependent initialisation looks at.
const DATA_INIT_IMAGES: usize = 2048;

/// `FlowParams::init`, and with `data_init` the last scale `s_{K-1}[d] = -ln(E[x_d^2]) / 2`
/// over a sample of dequantized training images: the untrained flow (the identity up to that
/// scale) then maps the data to unit second moments instead of logit values of size ~10,
/// which saves the first few hundred steps.
pub fn initial_params(
    ctx: &GpuContext,
    opts: &TrainOptions,
    train: &ImageSet,
) -> Result<FlowParams> {
    let mut params = FlowParams::init(&opts.flow, opts.seed);
    if !opts.data_init {
        return Ok(params);
    }
    let sample = train.take(DATA_INIT_IMAGES);
    let images = GpuImages::upload(ctx, &sample, "initialisation images")?;
    let x = ctx.read(&images.dequantized(
        ctx,
        opts.preprocess(),
        Some(noise_seed(opts.seed, u32::MAX)),
    )?)?;
    let dim = opts.flow.dim;
    let mut second = vec![0.0f64; dim];
    for row in x.chunks_exact(dim) {
        for (s, &v) in second.iter_mut().zip(row) {
            *s += (v as f64) * (v as f64);
        }
    }
    let last = params.scales.last_mut().expect("at least one layer");
    for (s, m) in last.iter_mut().zip(&second) {
        *s = (-0.5 * (m / sample.len() as f64).max(1e-12).ln()) as f32;
    }
    Ok(params)
}
