//! The binary: `run(Cli::parse())`, the flags turned into settings once (`cli`), then one match
//! on what the call does.

mod cli;

use anyhow::Result;
use clap::Parser;
use cli::{Cli, settings};
use resdeg::config::Config;
use resdeg::progress::Progress;
use resdeg::{backend, cluster, cost, plan, report, sweep};
use std::path::PathBuf;
use std::process::ExitCode;

fn main() -> ExitCode {
    match run(Cli::parse()) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {}", format!("{e:#}").replace('\n', " "));
            ExitCode::FAILURE
        }
    }
}

/// What one call does: the command line's mode, decided once.
enum Mode {
    Slurm(PathBuf),
    Status,
    Compare(PathBuf),
    /// Needs no device: `--report` also works on a login node without the config's GPU.
    Report,
    /// Measures finished runs' weights, then draws the report.
    Explain,
    /// One worker process per device, the report drawn once all have ended.
    Workers(Vec<String>),
    DryRun,
    Train,
}

fn run(cli: Cli) -> Result<()> {
    let (cfg, runs) = settings(&cli)?;
    let devices = cli.devices.clone().unwrap_or_else(|| cfg.devices.clone());
    let mode = match () {
        _ if let Some(script) = &cli.slurm.slurm => Mode::Slurm(script.clone()),
        _ if cli.status => Mode::Status,
        _ if let Some(other) = &cli.compare => Mode::Compare(other.clone()),
        _ if cli.report => Mode::Report,
        _ if cli.explain => Mode::Explain,
        _ if devices.len() > 1 && !cli.worker => Mode::Workers(devices),
        _ if cli.dry_run => Mode::DryRun,
        _ => Mode::Train,
    };
    let print = |lines: Vec<String>| lines.iter().for_each(|l| println!("{l}"));
    match mode {
        Mode::Slurm(script) => {
            println!("{}", cluster::write_slurm(&cfg, &cli.config, &runs, &script, &cli.slurm)?)
        }
        Mode::Status => print!("{}", resdeg::status::table(&resdeg::status::lines(&cfg, &runs))),
        Mode::Compare(other) => print(resdeg::compare::write_comparison(&cfg, &Config::load(&other)?)?),
        Mode::Report => print(report::write_report(&cfg)?),
        Mode::Explain => {
            let progress = Progress::new(cli.quiet, 0);
            print(sweep::explain_runs(&cfg, &runs, device(&cfg)?, &progress)?);
            print(report::write_report(&cfg)?);
        }
        Mode::Workers(devices) => {
            let only = cli.only.as_ref().map(|g| g.join(","));
            let w = cluster::WorkerArgs { config: &cli.config, only: only.as_deref(), threads: cfg.threads };
            match cluster::local_workers(&cfg, &runs, &devices, w, cli.fresh, cli.dry_run)? {
                Some(plan) => print!("{plan}"),
                None => print(report::write_report(&cfg)?),
            }
        }
        Mode::DryRun => {
            let device = device(&cfg)?;
            let on = format!("{} ({} threads)", plan::device_name(device), tch::get_num_threads());
            print!("{}", cost::plan_text(&cfg, &runs, &on, device, 1));
        }
        Mode::Train => {
            let progress = Progress::new(cli.quiet, runs.len() as u64);
            let done = sweep::train(&cfg, &runs, device(&cfg)?, cli.fresh, &progress)?;
            progress.finish();
            print!("{}", done.summary(&cfg, &cli.config.display().to_string()));
            if !cli.worker {
                print(report::write_report(&cfg)?);
            }
        }
    }
    Ok(())
}

/// The config's device, with libtorch set up for it (threads, memory format, TF32, allocator).
fn device(cfg: &Config) -> Result<tch::Device> {
    let device = plan::device(cfg.device())?;
    backend::apply(cfg, device);
    Ok(device)
}
