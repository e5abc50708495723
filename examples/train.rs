//! `cargo run --release --example train [-- --preset quick ...]`: trains the exercise's flow on
//! MNIST (fetching it on first use), prints the test log-likelihood, and writes the curves,
//! samples, layer-by-layer grid, interpolations and report to runs/<name>/.
//! `--help` lists every option.

use clap::Parser;
use flowgpu::cli::adapter_arg::AdapterArg;
use flowgpu::cli::commands::run_train;
use flowgpu::cli::train_args::TrainArgs;

#[derive(Parser)]
#[command(
    name = "train",
    about = "Train a normalizing flow on MNIST with WGSL kernels"
)]
struct Cli {
    #[command(flatten)]
    adapter: AdapterArg,
    #[command(flatten)]
    train: TrainArgs,
}

fn main() -> std::process::ExitCode {
    flowgpu::cli::display_probe::silence_display_probes();
    let cli = Cli::parse();
    match cli
        .train
        .validate()
        .and_then(|()| cli.adapter.open_context())
        .and_then(|ctx| run_train(ctx, &cli.train))
    {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {}", flowgpu::cli::flags::command_line_message(&e));
            std::process::ExitCode::FAILURE
        }
    }
}
