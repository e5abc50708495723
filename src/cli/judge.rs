//! `flowgpu judge`: the sample judge's table ([`crate::judge`]) for a checkpoint's samples at
//! several temperatures, and for image files, always with the two reference lines (real
//! test images, an untrained flow's samples).

use std::path::PathBuf;
use std::sync::Arc;

use crate::cli::commands::load_checkpoint;
use crate::cli::value_checks::{temperature, usize_in};
use crate::data::{self, DatasetName};
use crate::error::{Error, Result};
use crate::gpu::GpuContext;
use crate::judge::{
    image_files, markdown_table, Judge, JudgeTable, DEFAULT_IMAGES, DEFAULT_TEMPERATURES,
};
use crate::train::start::fetch_missing;

/// What to judge and how many samples (`flowgpu judge`'s flags).
#[derive(Clone, Debug, clap::Args)]
pub struct JudgeArgs {
    #[arg(long)]
    pub checkpoint: Option<PathBuf>,
    /// A PNG grid or .npy array of 28 x 28 images (repeat for several).
    #[arg(long)]
    pub images: Vec<PathBuf>,
    /// Samples per temperature, and real test images in the reference line.
    #[arg(long, allow_hyphen_values = true, default_value_t = DEFAULT_IMAGES, value_parser = usize_in(2, 10_000))]
    pub samples: usize,
    /// Comma-separated sampling temperatures, each in [0, 10].
    #[arg(long, allow_hyphen_values = true, value_delimiter = ',', default_values_t = DEFAULT_TEMPERATURES, value_parser = temperature)]
    pub temperatures: Vec<f32>,
    #[arg(long, allow_hyphen_values = true, default_value_t = 7)]
    pub seed: u32,
    /// The judge for --images without a checkpoint: mnist or fashion-mnist.
    #[arg(long, default_value = "mnist")]
    pub dataset: DatasetName,
    /// Where that data set is (default `data/<dataset>`); the judge is cached there.
    #[arg(long)]
    pub data_dir: Option<PathBuf>,
    /// The JSON to write (default: judge.json beside the checkpoint).
    #[arg(long)]
    pub out: Option<PathBuf>,
}

fn log(msg: &str) {
    eprintln!("{msg}");
}

/// Judges what `args` names, prints the table and writes the JSON.
pub fn run_judge(ctx: Arc<GpuContext>, args: &JudgeArgs) -> Result<JudgeTable> {
    if args.checkpoint.is_none() && args.images.is_empty() {
        return Err(Error::Config(
            "nothing to judge: give a checkpoint, image files, or both".into(),
        ));
    }
    // Files first: a bad one fails before any data is fetched or a judge trained.
    let files = args
        .images
        .iter()
        .map(|p| Ok((p, image_files::read_images(p)?)))
        .collect::<Result<Vec<_>>>()?;
    let loaded = match &args.checkpoint {
        Some(path) => Some(load_checkpoint(ctx.clone(), path)?),
        None => None,
    };
    let (dataset, dir) = match &loaded {
        Some(l) => (l.opts.dataset, l.opts.data_dir()),
        None => (
            args.dataset,
            args.data_dir
                .clone()
                .unwrap_or_else(|| data::default_data_dir(args.dataset)),
        ),
    };
    fetch_missing(dataset, &dir, &mut log)?;
    let judge = Judge::open(&ctx, dataset, &dir, &mut log)?;
    let n = args.samples;
    let mut table = match &loaded {
        Some(l) => judge.flow_table(
            &l.flow,
            l.opts.preprocess(),
            n,
            &args.temperatures,
            args.seed,
            &mut log,
        )?,
        None => judge.table(vec![judge.real_images(n, args.seed as u64)?]),
    };
    for (path, pixels) in files {
        table
            .sets
            .push(judge.judge(&path.display().to_string(), None, &pixels)?);
    }
    println!(
        "sample judge ({}, v{}): {:.2}% of the {} test set right; digit-like: the top class is a digit with probability >= 0.9",
        judge.path.display(),
        judge.info.version,
        100.0 * judge.info.test_accuracy,
        dataset.title()
    );
    print!("{}", markdown_table(&table.sets));
    let out = args.out.clone().or_else(|| {
        args.checkpoint
            .as_ref()
            .map(|c| c.with_file_name("judge.json"))
    });
    if let Some(out) = out {
        let json =
            serde_json::to_string_pretty(&table).map_err(|e| Error::Report(e.to_string()))?;
        crate::atomic_write::write_atomic(&out, json.as_bytes())?;
        println!("wrote {}", out.display());
    }
    Ok(table)
}
