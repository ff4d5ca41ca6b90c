use anyhow::{Context, Result, bail};
use clap::Parser;
use resdeg::config::{self, Config};
use resdeg::data;
use resdeg::progress::Progress;
use resdeg::record::Status;
use resdeg::{backend, claim, cluster, cost, plan, record, report, sweep};
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
    /// Write an sbatch job-array script (one array task per run) to FILE instead of training.
    #[arg(long, value_name = "FILE")]
    slurm: Option<PathBuf>,
    /// --slurm: one array task per lockstep `group` (the plain and residual twins of a depth and
    /// seed, trained together as in a local run) or per `run` (twins in separate tasks).
    #[arg(long, value_enum, default_value = "group", requires = "slurm")]
    slurm_per: SlurmPer,
    /// --slurm: the partition to submit to.
    #[arg(long, requires = "slurm")]
    partition: Option<String>,
    /// --slurm: GPUs per array task (0 for CPU-only tasks).
    #[arg(long, default_value_t = 1, requires = "slurm")]
    gpus: u32,
    /// --slurm: CPU cores per array task.
    #[arg(long, default_value_t = 8, requires = "slurm")]
    cpus_per_task: u32,
    /// --slurm: time limit per array task (Slurm's format, e.g. 12:00:00 or 2-00:00:00).
    #[arg(long, default_value = "24:00:00", requires = "slurm")]
    time: String,
    /// Run as one of several workers: no sweep-wide report at the end (set by --devices and
    /// --slurm; the report is drawn once all workers are done).
    #[arg(long, hide = true)]
    worker: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
enum SlurmPer {
    Group,
    Run,
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
    let mut cfg = Config::load(&cli.config)?;
    let file = cli.config.display();
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
    let mut runs = plan::runs(&cfg);
    if let Some(globs) = &cli.only {
        let all = runs.len();
        runs.retain(|r| globs.iter().any(|g| plan::matches(g, &r.id)));
        if runs.is_empty() {
            let glob = globs.join(",");
            bail!("--only {glob} matches none of the {all} run ids of {file}; --dry-run lists them");
        }
    }
    if let Some(script) = &cli.slurm {
        return write_slurm(&cli, &cfg, &runs, script);
    }
    if cli.status {
        print!("{}", resdeg::status::table(&resdeg::status::lines(&cfg, &runs)));
        return Ok(());
    }
    if cli.report {
        // Needs no device: `--report` also works on a login node without the config's GPU.
        return print_report(&cfg);
    }
    let devices = match &cli.devices {
        Some(list) => {
            if let Some(d) = list.iter().find(|d| config::parse_worker_device(d).is_err()) {
                bail!("--devices: {d:?} is not a worker's device; list cpu, cuda:N or N, e.g. --devices 0,1");
            }
            list.clone()
        }
        None => cfg.devices.clone(),
    };
    if devices.len() > 1 && !cli.worker {
        return run_workers(&cli, &cfg, &runs, &devices);
    }
    if let [one] = devices.as_slice()
        && cli.device.is_none()
    {
        cfg.device = config::parse_worker_device(one).expect("checked").to_string();
    }

    let device = plan::device(cfg.device())?;
    backend::apply(&cfg, device);
    if cli.dry_run {
        let on = format!("{} ({} threads)", plan::device_name(device), tch::get_num_threads());
        print_plan(&cfg, &runs, &on, device, 1);
        return Ok(());
    }
    let progress = Progress::new(cli.quiet, runs.len() as u64);
    let done = sweep::train(&cfg, &runs, device, cli.fresh, &progress)?;
    progress.finish();

    println!("\n{:<20} {:>9} {:>14} {:>13}", "run id", "status", "train error %", "test error %");
    for o in &done.outcomes {
        let last = o.curves.last();
        let pct = |v: Option<f64>| v.map_or("-".to_string(), |v| format!("{:.2}", 100.0 * v));
        let status = if o.status == Status::Diverged { "diverged" } else { "finished" };
        println!(
            "{:<20} {:>9} {:>14} {:>13}",
            o.run.id,
            status,
            pct(last.map(|r| r.train_error)),
            pct(last.and_then(|r| r.test_error))
        );
    }
    println!("records: {}", record::experiment_dir(&cfg).display());
    if done.elsewhere > 0 {
        println!(
            "{} run(s) were being trained by other workers; once they end, `resdeg {file} --report` draws everything",
            done.elsewhere
        );
    }
    if !cli.worker {
        print_report(&cfg)?;
    }
    Ok(())
}

/// --dry-run: the sweep's runs, where they would train (`on`) and, with `device`, how long each
/// would take there (estimated from a few measured steps of residual-20, scaled by multiply-adds).
fn print_plan(cfg: &Config, runs: &[plan::Run], on: &str, device: tch::Device, workers: usize) {
    println!(
        "experiment {}: {} runs, {} iterations each at batch {}, on {on}",
        cfg.name,
        runs.len(),
        cfg.schedule.iterations,
        cfg.batch_size
    );
    let step = cost::measure_step(cfg, device);
    let (train, eval) = data::images_in_use(cfg);
    let times: Vec<f64> =
        runs.iter().map(|r| cost::estimate_s(cfg, r, &step, train as u64, eval as u64)).collect();
    print!("{}", plan::table(runs, Some(&times)));
    let total: f64 = times.iter().sum();
    let split = if workers > 1 {
        format!(" (about {} with {workers} workers)", plan::duration(total / workers as f64))
    } else {
        String::new()
    };
    println!(
        "estimated: {} in all{split}, from residual-20 measured here at {:.0} ms a step and {:.2} ms an \
         evaluated image, scaled by multiply-adds; {train} training and {eval} evaluation images",
        plan::duration(total),
        1e3 * step.train_step_s,
        1e3 * step.eval_image_s
    );
}

/// Draws the figures, Table 6 and REPORT.md from the records, and prints what they say.
fn print_report(cfg: &Config) -> Result<()> {
    for line in report::write_report(cfg)? {
        println!("{line}");
    }
    Ok(())
}

/// `--devices` with several entries: one worker process per device, then the report.
fn run_workers(cli: &Cli, cfg: &Config, runs: &[plan::Run], devices: &[String]) -> Result<()> {
    let names: Vec<config::Device> =
        devices.iter().map(|d| config::parse_worker_device(d).expect("checked")).collect();
    for &d in &names {
        plan::device(d)?;
    }
    // CPU workers share the cores: each gets its share unless threads are set.
    let cpu_workers = names.iter().filter(|d| **d == config::Device::Cpu).count();
    let threads =
        cfg.threads.or((cpu_workers > 1).then(|| (tch::get_num_threads() as usize / cpu_workers).max(1)));
    let list = names.iter().map(|d| d.to_string()).collect::<Vec<_>>();
    if cli.dry_run {
        let each = threads.map_or(String::new(), |t| format!(" ({t} threads each)"));
        let first = plan::device(*names.first().expect("two or more workers"))?;
        let on = format!("{} workers: {}{each}", list.len(), list.join(", "));
        if let Some(t) = threads {
            tch::set_num_threads(t as i32);
        }
        backend::apply(cfg, first);
        print_plan(cfg, runs, &on, first, list.len());
        return Ok(());
    }
    claim::prepare(cfg)?;
    if cli.fresh {
        sweep::forget(cfg, runs)?;
    }
    let only = cli.only.as_ref().map(|g| g.join(","));
    let w = cluster::WorkerArgs { config: &cli.config, only: only.as_deref(), threads };
    cluster::run_workers(&list, &w)?;
    print_report(cfg)
}

/// `--slurm FILE`: the job-array script, and how to submit it.
fn write_slurm(cli: &Cli, cfg: &Config, runs: &[plan::Run], script: &std::path::Path) -> Result<()> {
    let exe = std::env::current_exe()?;
    let config = std::fs::canonicalize(&cli.config)?;
    let log_dir = std::path::absolute(record::experiment_dir(cfg).join("slurm"))?;
    std::fs::create_dir_all(&log_dir).with_context(|| {
        format!("results_dir = {}: cannot create {}", cfg.results_dir.display(), log_dir.display())
    })?;
    // A task per lockstep group keeps twins training together on one batch pipeline.
    let tasks: Vec<String> = match cli.slurm_per {
        SlurmPer::Group => plan::lockstep_groups(runs)
            .iter()
            .map(|g| g.iter().map(|r| r.id.as_str()).collect::<Vec<_>>().join(","))
            .collect(),
        SlurmPer::Run => runs.iter().map(|r| r.id.clone()).collect(),
    };
    let s = cluster::Slurm {
        partition: cli.partition.as_deref(),
        gpus: cli.gpus,
        time: &cli.time,
        cpus: cli.cpus_per_task,
    };
    let text = cluster::slurm_script(&exe, &config, &cfg.name, &tasks, &log_dir, &s);
    std::fs::write(script, text).with_context(|| format!("--slurm {}: cannot write it", script.display()))?;
    println!(
        "wrote {} ({} array tasks, one per {}); submit it with: sbatch {}",
        script.display(),
        tasks.len(),
        if cli.slurm_per == SlurmPer::Group { "lockstep group" } else { "run" },
        script.display()
    );
    println!("when every task has ended: {} {} --report", exe.display(), config.display());
    Ok(())
}
