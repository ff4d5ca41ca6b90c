//! Spreading a sweep over several processes: one worker per device from one command
//! (`--devices`), or one Slurm array task per lockstep group or run (`--slurm`). Workers coordinate only through
//! the run claims of [`crate::claim`], so any mix of them can work on one results folder.

use anyhow::{Context, Result, bail};
use std::fmt::Write as _;
use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Command, Stdio};

/// What every worker is asked besides its device.
pub struct WorkerArgs<'a> {
    pub config: &'a Path,
    pub only: Option<&'a str>,
    /// Threads per worker (CPU workers split the cores).
    pub threads: Option<usize>,
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

/// Slurm settings for `--slurm`.
pub struct Slurm<'a> {
    pub partition: Option<&'a str>,
    pub gpus: u32,
    pub time: &'a str,
    pub cpus: u32,
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
    s: &Slurm,
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
    if let Some(p) = s.partition {
        let _ = writeln!(out, "#SBATCH --partition={p}");
    }
    if s.gpus > 0 {
        let _ = writeln!(out, "#SBATCH --gres=gpu:{}", s.gpus);
    }
    let _ = writeln!(out, "#SBATCH --cpus-per-task={}", s.cpus);
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
        let s = Slurm { partition: Some("gpu"), gpus: 1, time: "12:00:00", cpus: 8 };
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
