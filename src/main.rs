//! `flowgpu`: train a normalizing flow on MNIST with WGSL kernels, and make the exercise's
//! figures and report from a checkpoint.

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};
use flowgpu::cli::adapter_arg::AdapterArg;
use flowgpu::cli::commands::{self, ReportFlags};
use flowgpu::cli::export_web::{export_web, ExportWeb};
use flowgpu::cli::judge::{run_judge, JudgeArgs};
use flowgpu::cli::train_args::TrainArgs;
use flowgpu::cli::value_checks::{
    image_pairs, temperature, u32_in, usize_in, ImagePairs, MAX_DRAWS, MAX_FIGURE_IMAGES, MAX_SCALE,
};

#[derive(Parser)]
#[command(
    name = "flowgpu",
    version,
    about = "Normalizing flows on MNIST with hand-written WGSL kernels (wgpu)"
)]
struct Cli {
    #[command(flatten)]
    adapter: AdapterArg,
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Train a flow (the same as `cargo run --release --example train`), then write the
    /// figures and runs/<name>/report.md.
    Train(Box<TrainArgs>),
    /// Test log-likelihood of a checkpoint, in nats per image and bits/dim with standard errors.
    Eval {
        #[arg(long)]
        checkpoint: PathBuf,
        /// Dequantization noise draws averaged per image.
        #[arg(long, allow_hyphen_values = true, default_value_t = 4, value_parser = u32_in(1, MAX_DRAWS))]
        draws: u32,
    },
    /// A PNG grid of samples x = f^-1(z), z ~ N(0, T^2 I).
    Sample {
        #[arg(long)]
        checkpoint: PathBuf,
        /// Number of samples.
        #[arg(long, allow_hyphen_values = true, default_value_t = 64, value_parser = usize_in(1, MAX_FIGURE_IMAGES))]
        n: usize,
        /// Standard deviation of the prior draws, in [0, 10].
        #[arg(long, allow_hyphen_values = true, default_value_t = 1.0, value_parser = temperature)]
        temperature: f32,
        #[arg(long, allow_hyphen_values = true, default_value_t = 7)]
        seed: u32,
        /// Integer upscaling of every pixel.
        #[arg(long, allow_hyphen_values = true, default_value_t = 2, value_parser = usize_in(1, MAX_SCALE))]
        scale: usize,
        #[arg(long, default_value = "samples.png")]
        out: PathBuf,
    },
    /// The layer-by-layer figure: rows of z ~ N(0, I) followed through the inverse, one column
    /// per stage (z, after each layer, x).
    Layers {
        #[arg(long)]
        checkpoint: PathBuf,
        #[arg(long, allow_hyphen_values = true, default_value_t = 10, value_parser = usize_in(1, MAX_FIGURE_IMAGES))]
        rows: usize,
        #[arg(long, allow_hyphen_values = true, default_value_t = 8)]
        seed: u32,
        #[arg(long, allow_hyphen_values = true, default_value_t = 2, value_parser = usize_in(1, MAX_SCALE))]
        scale: usize,
        #[arg(long, default_value = "layers.png")]
        out: PathBuf,
    },
    /// Latent interpolations between pairs of test images (default: the first 3/8, 1/7, 4/9).
    Interpolate {
        #[arg(long)]
        checkpoint: PathBuf,
        /// Test image indices, e.g. `18:61,2:0,4:7`.
        #[arg(long, value_parser = image_pairs)]
        pairs: Option<ImagePairs>,
        /// Points on each line, the two ends included.
        #[arg(long, allow_hyphen_values = true, default_value_t = 10, value_parser = usize_in(2, MAX_FIGURE_IMAGES))]
        steps: usize,
        #[arg(long, allow_hyphen_values = true, default_value_t = 2, value_parser = usize_in(1, MAX_SCALE))]
        scale: usize,
        #[arg(long, default_value = "interpolations.png")]
        out: PathBuf,
    },
    /// A static site that explores the model in a browser on WebGPU (samples, the layer
    /// stages, interpolation, kernel conformance). Needs the wasm build: scripts/build-web.sh.
    ExportWeb {
        #[arg(long)]
        checkpoint: PathBuf,
        /// The folder to write (created; files in it are replaced).
        #[arg(long)]
        out: PathBuf,
        /// Test digits offered for interpolation.
        #[arg(long, allow_hyphen_values = true, default_value_t = 300, value_parser = usize_in(2, 10_000))]
        images: usize,
        /// The wasm build to copy (default: web/pkg of this source tree).
        #[arg(long)]
        bundle: Option<PathBuf>,
        /// Do not judge the samples at the page's temperatures (judge.json).
        #[arg(long)]
        no_judge: bool,
    },
    /// The sample judge: the share of a checkpoint's samples (at each temperature) or of the
    /// images in PNG grids / .npy files that a digit classifier calls digit-like (its top
    /// class is a digit with probability >= 0.9), their class spread and an MNIST FID, beside
    /// real test images and an untrained flow. Trains and caches the classifier on first use.
    Judge(Box<JudgeArgs>),
    /// Regenerate every figure and report.md / report.html of a run from its checkpoint.
    Report {
        #[arg(long)]
        checkpoint: PathBuf,
        #[arg(long, value_parser = image_pairs)]
        pairs: Option<ImagePairs>,
        #[arg(long, allow_hyphen_values = true, default_value_t = 2, value_parser = usize_in(1, MAX_SCALE))]
        scale: usize,
        #[arg(long, allow_hyphen_values = true, default_value_t = 7)]
        seed: u32,
        /// Do not measure the samples with the sample judge.
        #[arg(long)]
        no_judge: bool,
    },
}

fn run(cli: Cli) -> flowgpu::Result<()> {
    if let Command::Train(args) = &cli.command {
        args.validate()?;
    }
    let ctx = cli.adapter.open_context()?;
    match cli.command {
        Command::Train(args) => commands::run_train(ctx, &args)?,
        Command::Eval { checkpoint, draws } => {
            let t = commands::run_eval(ctx, &checkpoint, draws)?;
            println!(
                "test: {:.2} ± {:.2} nats/image, {:.4} ± {:.4} bits/dim ({} images, {} draws)",
                t.nats, t.nats_se, t.bits_per_dim, t.bits_per_dim_se, t.images, t.draws
            );
        }
        Command::Sample {
            checkpoint,
            n,
            temperature,
            seed,
            scale,
            out,
        } => {
            commands::run_sample(ctx, &checkpoint, n, temperature, seed, scale, &out)?;
            println!("{}", out.display());
        }
        Command::Layers {
            checkpoint,
            rows,
            seed,
            scale,
            out,
        } => {
            commands::run_layers(ctx, &checkpoint, rows, seed, scale, &out)?;
            println!("{}", out.display());
        }
        Command::Interpolate {
            checkpoint,
            pairs,
            steps,
            scale,
            out,
        } => {
            let pairs = pairs.map(|p| p.0);
            commands::run_interpolate(ctx, &checkpoint, pairs, steps, scale, &out)?;
            println!("{}", out.display());
        }
        Command::ExportWeb {
            checkpoint,
            out,
            images,
            bundle,
            no_judge,
        } => {
            let files = export_web(
                ctx,
                &ExportWeb {
                    checkpoint,
                    out: out.clone(),
                    images,
                    bundle,
                    judge: !no_judge,
                },
            )?;
            println!(
                "wrote {} files to {}; serve them with
  python3 -m http.server -d {} -b 127.0.0.1 8000
and open http://127.0.0.1:8000/ in a browser with WebGPU",
                files.len(),
                out.display(),
                out.display()
            );
        }
        Command::Judge(args) => {
            run_judge(ctx, &args)?;
        }
        Command::Report {
            checkpoint,
            pairs,
            scale,
            seed,
            no_judge,
        } => {
            let files = commands::report_from_checkpoint(
                ctx,
                &checkpoint,
                None,
                None,
                &ReportFlags {
                    scale,
                    seed,
                    pairs: pairs.map(|p| p.0),
                    judge: !no_judge,
                },
            )?;
            for f in files {
                println!("{}", f.display());
            }
        }
    }
    Ok(())
}

fn main() -> ExitCode {
    flowgpu::cli::display_probe::silence_display_probes();
    match run(Cli::parse()) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {}", flowgpu::cli::flags::command_line_message(&e));
            ExitCode::FAILURE
        }
    }
}
