use anyhow::Result;
use clap::Parser;
use resdeg::{config::Config, plan};
use std::path::PathBuf;
use std::process::ExitCode;

/// Reproduces the CIFAR-10 study of "Deep Residual Learning for Image Recognition": plain and
/// residual nets of 6n+2 layers, trained as the sweep file says.
#[derive(Parser)]
#[command(version)]
struct Cli {
    /// The sweep file (YAML), e.g. experiments/cifar_depth.yaml.
    config: PathBuf,
    /// Print the runs the sweep expands to (and the device) without touching data.
    #[arg(long)]
    dry_run: bool,
}

fn main() -> ExitCode {
    match run(Cli::parse()) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {}", format!("{e:#}").replace('\n', " "));
            ExitCode::FAILURE
        }
    }
}

fn run(cli: Cli) -> Result<()> {
    let cfg = Config::load(&cli.config)?;
    let runs = plan::runs(&cfg);
    if let Some(t) = cfg.threads {
        tch::set_num_threads(t as i32);
    }
    let device = plan::device(cfg.device())?;
    if cli.dry_run {
        println!(
            "experiment {}: {} runs, {} iterations each at batch {}, on {} ({} threads)",
            cfg.name,
            runs.len(),
            cfg.schedule.iterations,
            cfg.batch_size,
            plan::device_name(device),
            tch::get_num_threads()
        );
        print!("{}", plan::table(&runs));
        return Ok(());
    }
    anyhow::bail!("training is not part of this build yet; use --dry-run")
}
