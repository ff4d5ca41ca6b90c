use anyhow::Result;
use clap::Parser;
use resdeg::data::{self, Cifar10};
use resdeg::{config::Config, plan, train};
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
    let dir = data::resolve_dir(&cfg.data.dir);
    data::ensure_present(&dir, cfg.data.download)?;
    let split = Cifar10::load(&dir)?
        .split(cfg.data.validation, cfg.data.train_subset, cfg.data.test_subset)?
        .to_device(device);
    if device.is_cuda() {
        tch::Cuda::cudnn_set_benchmark(true);
    }
    println!(
        "experiment {}: {} runs on {} ({} threads); {} training images, evaluating on {} {} images",
        cfg.name,
        runs.len(),
        plan::device_name(device),
        tch::get_num_threads(),
        split.train_images.size()[0],
        split.eval_images.size()[0],
        if split.evaluates_on_validation { "validation" } else { "test" }
    );
    let mut outcomes = Vec::new();
    for group in plan::lockstep_groups(&runs) {
        outcomes.extend(train::train_lockstep(&cfg, group, &split, device, &mut |line| println!("{line}"))?);
    }
    println!("\n{:<20} {:>9} {:>14} {:>13}", "run id", "status", "train error %", "test error %");
    for o in &outcomes {
        let last = o.curves.last();
        let pct = |v: Option<f64>| v.map_or("-".to_string(), |v| format!("{:.2}", 100.0 * v));
        println!(
            "{:<20} {:>9} {:>14} {:>13}",
            o.run.id,
            format!("{:?}", o.status).to_lowercase(),
            pct(last.map(|r| r.train_error)),
            pct(last.and_then(|r| r.test_error))
        );
    }
    Ok(())
}
