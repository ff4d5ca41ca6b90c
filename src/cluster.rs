//! Spreading a sweep over several processes: one worker per device from one command
//! (`--devices`), or one Slurm array task per lockstep group or run (`--slurm`). Workers coordinate only through
//! the run claims of [`crate::claim`], so any mix of them can work on one results folder.

use crate::config::{self, Config};
use crate::plan::{self, Run};
use crate::{backend, claim, cost, record, sweep};
use anyhow::{Context, Result, bail};
use std::fmt::Write as _;
use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

/// What every worker is asked besides its device.
pub struct WorkerArgs<'a> {
    pub config: &'a Path,
    pub only: Option<&'a str>,
    /// Threads per worker (CPU workers split the cores).
    pub threads: Option<usize>,
}

/// `--devices` with several entries: checks every device and gives CPU workers their share of the
/// cores (unless `w.threads` is set). With `dry_run` returns the plan as those workers would
/// train it; else forgets the runs if `fresh`, starts one worker per device and waits for all.
pub fn local_workers(
    cfg: &Config,
    runs: &[Run],
    devices: &[String],
    mut w: WorkerArgs,
    fresh: bool,
    dry_run: bool,
) -> Result<Option<String>> {
    let names: Vec<config::Device> =
        devices.iter().map(|d| config::parse_worker_device(d).expect("checked")).collect();
    for &d in &names {
        plan::device(d)?;
    }
    let cpu_workers = names.iter().filter(|d| **d == config::Device::Cpu).count();
    w.threads =
        w.threads.or((cpu_workers > 1).then(|| (tch::get_num_threads() as usize / cpu_workers).max(1)));
    let list = names.iter().map(|d| d.to_string()).collect::<Vec<_>>();
    if dry_run {
        let each = w.threads.map_or(String::new(), |t| format!(" ({t} threads each)"));
        let first = plan::device(*names.first().expect("two or more workers"))?;
        let on = format!("{} workers: {}{each}", list.len(), list.join(", "));
        if let Some(t) = w.threads {
            tch::set_num_threads(t as i32);
        }
        backend::apply(cfg, first);
        return Ok(Some(cost::plan_text(cfg, runs, &on, first, list.len())));
    }
    claim::prepare(cfg)?;
    if fresh {
        sweep::forget(cfg, runs)?;
    }
    run_workers(&list, &w)?;
    Ok(None)
}

/// Runs one worker process per entry of `devices` (this same binary, `--worker --device D`),
/// prefixing each worker's lines with its device, and waits for all of them. A failed worker
/// fails the command once the others have finished; rerunning resumes.
pub fn run_workers(devices: &[String], w: &WorkerArgs) -> Result<()> {
    let exe = std::env::current_exe().context("cannot find this program's path to start workers")?;
    let mut children = Vec::new();
    for (k, device) in devices.iter().enumerate() {
        let mut cmd = Command::new(&exe);
        cmd.arg(w.config).args(["--worker", "--quiet", "--device", device]);
        if let Some(glob) = w.only {
            cmd.args(["--only", glob]);
        }
        if let Some(t) = w.threads {
            cmd.args(["--threads", &t.to_string()]);
        }
        let mut child = cmd
            .stdout(Stdio::piped())
            .spawn()
            .with_context(|| format!("cannot start the worker for {device}"))?;
        let out = child.stdout.take().expect("piped");
        let tag = format!("[{k}:{device}]");
        let echo = std::thread::spawn(move || {
            for line in BufReader::new(out).lines().map_while(Result::ok) {
                println!("{tag} {line}");
            }
        });
        children.push((device, child, echo));
        // Workers scan the sweep in the same order: a head start lets each claim a different
        // group instead of all racing for the first one.
        std::thread::sleep(std::time::Duration::from_millis(200));
    }
    let mut failed = Vec::new();
    for (device, mut child, echo) in children {
        let status = child.wait()?;
        let _ = echo.join();
        if !status.success() {
            failed.push(format!("{device} ({status})"));
        }
    }
    if !failed.is_empty() {
        bail!(
            "worker(s) on {} failed (their error is above); rerun the same command to resume",
            failed.join(", ")
        );
    }
    Ok(())
}

/// What one Slurm array task trains: a lockstep group (the twins of a depth and seed together on
/// one batch pipeline, as in a local run) or a single run.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum TaskPer {
    Group,
    Run,
}

/// `--slurm FILE`: writes the job-array script for `runs` of the sweep file `config` (this binary
/// in every task); returns what to tell the user.
pub fn write_slurm(
    cfg: &Config,
    config: &Path,
    runs: &[Run],
    script: &Path,
    s: &SlurmArgs,
) -> Result<String> {
    let per = s.slurm_per;
    let exe = std::env::current_exe()?;
    let config = std::fs::canonicalize(config)?;
    let log_dir = std::path::absolute(record::experiment_dir(cfg).join("slurm"))?;
    std::fs::create_dir_all(&log_dir).with_context(|| {
        format!("results_dir = {}: cannot create {}", cfg.results_dir.display(), log_dir.display())
    })?;
    let tasks: Vec<String> = match per {
        TaskPer::Group => plan::lockstep_groups(runs)
            .iter()
            .map(|g| g.iter().map(|r| r.id.as_str()).collect::<Vec<_>>().join(","))
            .collect(),
        TaskPer::Run => runs.iter().map(|r| r.id.clone()).collect(),
    };
    let text = slurm_script(&exe, &config, &cfg.name, &tasks, &log_dir, s);
    std::fs::write(script, text).with_context(|| format!("--slurm {}: cannot write it", script.display()))?;
    Ok(format!(
        "wrote {} ({} array tasks, one per {}); submit it with: sbatch {}\nwhen every task has ended: {} {} --report",
        script.display(),
        tasks.len(),
        if per == TaskPer::Group { "lockstep group" } else { "run" },
        script.display(),
        exe.display(),
        config.display()
    ))
}

/// `--slurm` and its settings, as command-line flags.
#[derive(Debug, clap::Args)]
pub struct SlurmArgs {
    /// Write an sbatch job-array script (one array task per run) to FILE instead of training.
    #[arg(long, value_name = "FILE")]
    pub slurm: Option<PathBuf>,
    /// --slurm: one array task per lockstep `group` (the plain and residual twins of a depth and
    /// seed, trained together as in a local run) or per `run` (twins in separate tasks).
    #[arg(long, value_enum, default_value = "group", requires = "slurm")]
    pub slurm_per: TaskPer,
    /// --slurm: the partition to submit to.
    #[arg(long, requires = "slurm")]
    pub partition: Option<String>,
    /// --slurm: GPUs per array task (0 for CPU-only tasks).
    #[arg(long, default_value_t = 1, requires = "slurm")]
    pub gpus: u32,
    /// --slurm: CPU cores per array task.
    #[arg(long, default_value_t = 8, requires = "slurm")]
    pub cpus_per_task: u32,
    /// --slurm: time limit per array task (Slurm's format, e.g. 12:00:00 or 2-00:00:00).
    #[arg(long, default_value = "24:00:00", requires = "slurm")]
    pub time: String,
}

/// An sbatch script with one array task per entry of `tasks` (run ids, comma-separated): each task
/// runs this binary with `--only <ids>`, so a requeued (preempted) task resumes its runs from
/// their last checkpoint.
pub fn slurm_script(
    exe: &Path,
    config: &Path,
    name: &str,
    tasks: &[String],
    log_dir: &Path,
    s: &SlurmArgs,
) -> String {
    let mut out = String::from("#!/usr/bin/env bash\n");
    let _ = writeln!(
        out,
        "# Written by `resdeg {} --slurm`: submit with `sbatch <this file>`.",
        config.display()
    );
    let _ = writeln!(out, "# One array task per line of runs=(…); when all have ended, on a login node:");
    let _ = writeln!(out, "#   {} {} --report", exe.display(), config.display());
    let _ = writeln!(out, "#SBATCH --job-name=resdeg-{name}");
    let _ = writeln!(out, "#SBATCH --array=0-{}", tasks.len() - 1);
    if let Some(p) = &s.partition {
        let _ = writeln!(out, "#SBATCH --partition={p}");
    }
    if s.gpus > 0 {
        let _ = writeln!(out, "#SBATCH --gres=gpu:{}", s.gpus);
    }
    let _ = writeln!(out, "#SBATCH --cpus-per-task={}", s.cpus_per_task);
    let _ = writeln!(out, "#SBATCH --time={}", s.time);
    let _ = writeln!(out, "#SBATCH --requeue");
    let _ = writeln!(out, "#SBATCH --open-mode=append");
    let _ = writeln!(out, "#SBATCH --output={}/%A_%a.out", log_dir.display());
    out += "set -euo pipefail\n";
    let _ = writeln!(out, "cd {}", shell_quote(&std::env::current_dir().unwrap_or_default()));
    out += "runs=(\n";
    for task in tasks {
        let _ = writeln!(out, "  {task}");
    }
    out += ")\n";
    let _ = writeln!(
        out,
        "exec {} {} --only \"${{runs[$SLURM_ARRAY_TASK_ID]}}\" --worker --quiet",
        shell_quote(exe),
        shell_quote(config)
    );
    out
}

fn shell_quote(p: &Path) -> String {
    format!("'{}'", p.display().to_string().replace('\'', r"'\''"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn slurm_script_lists_each_run_once_with_a_matching_array() {
        let ids: Vec<String> = ["plain-20-s0,residual-20-A-s0", "residual-110-A-s1", "residual-1202-A-s0"]
            .map(String::from)
            .into();
        let s = SlurmArgs {
            slurm: None,
            slurm_per: TaskPer::Group,
            partition: Some("gpu".into()),
            gpus: 1,
            time: "12:00:00".into(),
            cpus_per_task: 8,
        };
        let text = slurm_script(
            Path::new("/opt/resdeg"),
            Path::new("/home/u/exp.yaml"),
            "exp",
            &ids,
            Path::new("/r/exp/slurm"),
            &s,
        );
        assert!(text.contains("#SBATCH --array=0-2\n"), "{text}");
        assert!(text.contains("#SBATCH --partition=gpu\n#SBATCH --gres=gpu:1\n"), "{text}");
        assert!(text.contains("--only \"${runs[$SLURM_ARRAY_TASK_ID]}\""), "{text}");
        for id in &ids {
            assert_eq!(text.lines().filter(|l| l.trim() == id).count(), 1, "{id}");
        }
    }
}
