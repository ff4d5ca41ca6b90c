use anyhow::{Result, bail};
use clap::Parser;
use resdeg::config::{self, Config};
use resdeg::progress::Progress;
use resdeg::{backend, cluster, cost, plan, report, sweep};
use std::path::PathBuf;
use std::process::ExitCode;

/// Reproduces the CIFAR-10 study of "Deep Residual Learning for Image Recognition": plain and
/// residual nets of 6n+2 layers, trained as the sweep file says. Running the same command again
/// resumes unfinished runs and skips ended ones.
#[derive(Parser)]
#[command(version)]
struct Cli {
    /// The sweep file (YAML), e.g. experiments/cifar_depth.yaml.
    config: PathBuf,
    /// Print the runs the sweep expands to (and the device) without touching data.
    #[arg(long)]
    dry_run: bool,
    /// Only the runs whose id matches one of these patterns (`*` and `?` as in the shell), e.g.
    /// 'residual-*' or plain-20-s0,residual-20-A-s0.
    #[arg(long, value_delimiter = ',', value_name = "GLOB,…")]
    only: Option<Vec<String>>,
    /// Delete the selected runs' records and checkpoints and train them from the start.
    #[arg(long)]
    fresh: bool,
    /// Only (re)draw the figures, Table 6 and REPORT.md from the records; train nothing.
    #[arg(long)]
    report: bool,
    /// Set this sweep's records beside another sweep's runs of the same ids (e.g. bf16 against
    /// fp32): final errors, the gap per epoch, both verdicts and a figure, written as
    /// vs_<other>.md beside REPORT.md; trains nothing.
    #[arg(long, value_name = "OTHER.yaml")]
    compare: Option<PathBuf>,
    /// Print where every run stands (finished, diverged, running where and how far, stalled,
    /// pending) from the results folder alone; takes no lock, so safe beside running workers.
    #[arg(long)]
    status: bool,
    /// Plain log lines instead of progress bars.
    #[arg(long)]
    quiet: bool,
    /// Train on this device instead of the config's: auto, cpu, cuda, cuda:N.
    #[arg(long, value_name = "DEVICE")]
    device: Option<String>,
    /// One worker process per device, each training different runs at once: `0,1` (GPUs 0 and
    /// 1), `cuda:0,cuda:1`, `cpu,cpu` (the cores split). Overrides `devices:` in the config.
    #[arg(long, value_delimiter = ',', value_name = "LIST")]
    devices: Option<Vec<String>>,
    /// libtorch threads (per worker), instead of the config's `threads`.
    #[arg(long, value_name = "N")]
    threads: Option<usize>,
    #[command(flatten)]
    slurm: cluster::SlurmArgs,
    /// Run as one of several workers: no sweep-wide report at the end (set by --devices and
    /// --slurm; the report is drawn once all workers are done).
    #[arg(long, hide = true)]
    worker: bool,
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
    let (cfg, runs) = settings(&cli)?;
    let file = cli.config.display().to_string();
    if let Some(script) = &cli.slurm.slurm {
        println!("{}", cluster::write_slurm(&cfg, &cli.config, &runs, script, &cli.slurm)?);
        return Ok(());
    }
    if cli.status {
        print!("{}", resdeg::status::table(&resdeg::status::lines(&cfg, &runs)));
        return Ok(());
    }
    if let Some(other) = &cli.compare {
        for line in resdeg::compare::write_comparison(&cfg, &Config::load(other)?)? {
            println!("{line}");
        }
        return Ok(());
    }
    if cli.report {
        // Needs no device: `--report` also works on a login node without the config's GPU.
        return print_report(&cfg);
    }
    let devices = cli.devices.clone().unwrap_or_else(|| cfg.devices.clone());
    if devices.len() > 1 && !cli.worker {
        let only = cli.only.as_ref().map(|g| g.join(","));
        let w = cluster::WorkerArgs { config: &cli.config, only: only.as_deref(), threads: cfg.threads };
        match cluster::local_workers(&cfg, &runs, &devices, w, cli.fresh, cli.dry_run)? {
            Some(plan) => print!("{plan}"),
            None => print_report(&cfg)?,
        }
        return Ok(());
    }
    let device = plan::device(cfg.device())?;
    backend::apply(&cfg, device);
    if cli.dry_run {
        let on = format!("{} ({} threads)", plan::device_name(device), tch::get_num_threads());
        print!("{}", cost::plan_text(&cfg, &runs, &on, device, 1));
        return Ok(());
    }
    let progress = Progress::new(cli.quiet, runs.len() as u64);
    let done = sweep::train(&cfg, &runs, device, cli.fresh, &progress)?;
    progress.finish();
    print!("{}", done.summary(&cfg, &file));
    if !cli.worker {
        print_report(&cfg)?;
    }
    Ok(())
}

/// The config with the command line's settings merged in, once, and the runs it selects.
fn settings(cli: &Cli) -> Result<(Config, Vec<plan::Run>)> {
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

/// Draws the figures, Table 6 and REPORT.md from the records, and prints what they say.
fn print_report(cfg: &Config) -> Result<()> {
    for line in report::write_report(cfg)? {
        println!("{line}");
    }
    Ok(())
}
