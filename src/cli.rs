//! The command line: its flags (clap), turned into the config and the runs it selects once, so
//! that nothing below `main` reads a raw flag.

use anyhow::{Result, bail};
use clap::Parser;
use resdeg::config::{self, Config};
use resdeg::{cluster, plan};
use std::path::PathBuf;

/// Reproduces the CIFAR-10 study of "Deep Residual Learning for Image Recognition": plain and
/// residual nets of 6n+2 layers, trained as the sweep file says. Running the same command again
/// resumes unfinished runs and skips ended ones.
#[derive(Parser)]
#[command(version)]
pub struct Cli {
    /// The sweep file (YAML), e.g. experiments/cifar_depth.yaml.
    pub config: PathBuf,
    /// Print the runs the sweep expands to (and the device) without touching data.
    #[arg(long)]
    pub dry_run: bool,
    /// Only the runs whose id matches one of these patterns (`*` and `?` as in the shell), e.g.
    /// 'residual-*' or plain-20-s0,residual-20-A-s0.
    #[arg(long, value_delimiter = ',', value_name = "GLOB,…")]
    pub only: Option<Vec<String>>,
    /// Delete the selected runs' records and checkpoints and train them from the start.
    #[arg(long)]
    pub fresh: bool,
    /// Only (re)draw the figures, Table 6 and REPORT.md from the records; train nothing.
    #[arg(long)]
    pub report: bool,
    /// Set this sweep's records beside another sweep's runs of the same ids (e.g. bf16 against
    /// fp32): final errors, the gap per epoch, both verdicts and a figure, written as
    /// vs_<other>.md beside REPORT.md; trains nothing.
    #[arg(long, value_name = "OTHER.yaml")]
    pub compare: Option<PathBuf>,
    /// Measure every finished run's final weights (loss landscape, lesions, shattered gradients,
    /// branch ratios: README, Why residual nets are easier to optimise) and redraw the report;
    /// trains nothing. Runs measured before are skipped (delete a run's explained.yaml to redo it).
    #[arg(long)]
    pub explain: bool,
    /// Print where every run stands (finished, diverged, running where and how far, stalled,
    /// pending) from the results folder alone; takes no lock, so safe beside running workers.
    #[arg(long)]
    pub status: bool,
    /// Plain log lines instead of progress bars.
    #[arg(long)]
    pub quiet: bool,
    /// Train on this device instead of the config's: auto, cpu, cuda, cuda:N.
    #[arg(long, value_name = "DEVICE")]
    pub device: Option<String>,
    /// One worker process per device, each training different runs at once: `0,1` (GPUs 0 and
    /// 1), `cuda:0,cuda:1`, `cpu,cpu` (the cores split). Overrides `devices:` in the config.
    #[arg(long, value_delimiter = ',', value_name = "LIST")]
    pub devices: Option<Vec<String>>,
    /// libtorch threads (per worker), instead of the config's `threads`.
    #[arg(long, value_name = "N")]
    pub threads: Option<usize>,
    #[command(flatten)]
    pub slurm: cluster::SlurmArgs,
    /// Run as one of several workers: no sweep-wide report at the end (set by --devices and
    /// --slurm; the report is drawn once all workers are done).
    #[arg(long, hide = true)]
    pub worker: bool,
}

/// The config with the command line's settings merged in, once, and the runs it selects.
pub fn settings(cli: &Cli) -> Result<(Config, Vec<plan::Run>)> {
    let mut cfg = Config::load(&cli.config)?;
    if let Some(d) = &cli.device {
        if d.parse::<config::Device>().is_err() {
            bail!("--device {d} is not a device; use auto, cpu, cuda or cuda:N (N = 0, 1, …)");
        }
        cfg.device = d.clone();
    }
    if let Some(t) = cli.threads {
        anyhow::ensure!(t > 0, "--threads 0: use a positive number of threads");
        cfg.threads = Some(t);
    }
    if let Some(list) = &cli.devices
        && let Some(d) = list.iter().find(|d| config::parse_worker_device(d).is_err())
    {
        bail!("--devices: {d:?} is not a worker's device; list cpu, cuda:N or N, e.g. --devices 0,1");
    }
    // A worker (or a sweep given one device) trains on that device.
    if let Some([one]) = cli.devices.as_deref().or(Some(cfg.devices.as_slice()))
        && cli.device.is_none()
    {
        cfg.device = config::parse_worker_device(one).expect("checked").to_string();
    }
    let mut runs = plan::runs(&cfg);
    if let Some(globs) = &cli.only {
        let all = runs.len();
        runs.retain(|r| globs.iter().any(|g| plan::matches(g, &r.id)));
        if runs.is_empty() {
            let (glob, file) = (globs.join(","), cli.config.display());
            bail!("--only {glob} matches none of the {all} run ids of {file}; --dry-run lists them");
        }
    }
    Ok((cfg, runs))
}
