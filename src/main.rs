use anyhow::{Result, bail};
use clap::Parser;
use resdeg::data::{self, Cifar10};
use resdeg::progress::Progress;
use resdeg::train::{Control, Status};
use resdeg::{config::Config, plan, record, report, train};
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
    /// Only the runs whose id matches this pattern (`*` and `?` as in the shell), e.g. 'residual-*'.
    #[arg(long, value_name = "GLOB")]
    only: Option<String>,
    /// Delete the selected runs' records and checkpoints and train them from the start.
    #[arg(long)]
    fresh: bool,
    /// Only (re)draw the figures, Table 6 and REPORT.md from the records; train nothing.
    #[arg(long)]
    report: bool,
    /// Plain log lines instead of progress bars.
    #[arg(long)]
    quiet: bool,
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
    let mut runs = plan::runs(&cfg);
    if let Some(glob) = &cli.only {
        let all = runs.len();
        runs.retain(|r| plan::matches(glob, &r.id));
        if runs.is_empty() {
            bail!(
                "--only {glob} matches none of the {all} run ids of {}; --dry-run lists them",
                cli.config.display()
            );
        }
    }
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
    if cli.report {
        for line in report::write_report(&cfg)? {
            println!("{line}");
        }
        return Ok(());
    }
    if cli.fresh {
        for run in &runs {
            record::forget(&cfg, run)?;
        }
    }

    let dir = data::resolve_dir(&cfg.data.dir);
    data::ensure_present(&dir, cfg.data.download)?;
    let split = Cifar10::load(&dir)?
        .split(cfg.data.validation, cfg.data.train_subset, cfg.data.test_subset)?
        .to_device(device);
    if device.is_cuda() {
        tch::Cuda::cudnn_set_benchmark(true);
    }
    let progress = Progress::new(cli.quiet, runs.len() as u64);
    progress.line(&format!(
        "experiment {}: {} runs on {} ({} threads); {} training images, evaluating on {} {} images",
        cfg.name,
        runs.len(),
        plan::device_name(device),
        tch::get_num_threads(),
        split.train_images.size()[0],
        split.eval_images.size()[0],
        if split.evaluates_on_validation { "validation" } else { "test" }
    ));
    let env = record::Environment::here(&plan::device_name(device));
    let mut outcomes = Vec::new();
    for group in plan::lockstep_groups(&runs) {
        let mut todo = Vec::new();
        for run in group {
            if record::already_done(&cfg, run)? {
                progress.line(&format!(
                    "{}: already done, skipped ({})",
                    run.id,
                    record::run_dir(&cfg, run).display()
                ));
            } else {
                todo.push(run.clone());
            }
        }
        progress.runs_done((group.len() - todo.len()) as u64);
        if todo.is_empty() {
            continue;
        }
        let now = record::now();
        let info = |run: &plan::Run| {
            let started = record::started(&cfg, run).unwrap_or_else(|| now.clone());
            record::RunInfo::running(run, &cfg, env.clone(), started)
        };
        let infos: Vec<record::RunInfo> = todo.iter().map(info).collect();
        for (run, i) in todo.iter().zip(&infos) {
            record::write_run_info(&cfg, run, i)?;
        }
        let checkpoint = record::checkpoint_path(&cfg, &todo);
        let control =
            Control { checkpoint: Some(checkpoint.clone()), stop_after_epoch: None, progress: &progress };
        let Some(ended) = train::train_lockstep(&cfg, &todo, &split, device, &control)? else {
            bail!("training stopped before the end without a reason");
        };
        for (o, i) in ended.into_iter().zip(infos) {
            record::write_outcome(&cfg, &o, i)?;
            outcomes.push(o);
        }
        let _ = std::fs::remove_file(&checkpoint);
        record::gather_curves(&cfg)?;
        progress.runs_done(todo.len() as u64);
    }
    progress.finish();

    println!("\n{:<20} {:>9} {:>14} {:>13}", "run id", "status", "train error %", "test error %");
    for o in &outcomes {
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
    for line in report::write_report(&cfg)? {
        println!("{line}");
    }
    Ok(())
}
