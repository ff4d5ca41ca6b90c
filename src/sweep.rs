//! One sweep from start to end, as `resdeg CONFIG` runs it: claim each lockstep group, skip what
//! has ended, check the data against what earlier sittings trained on, write run.yaml (with this
//! sitting), train the group (resuming from its checkpoint), write its records and gather the
//! curves. The report is drawn by the caller (a worker of several leaves it to the parent).

use crate::checkpoint;
use crate::claim;
use crate::config::Config;
use crate::cost;
use crate::data::{self, Cifar10, DataIdentity, Split};
use crate::plan::{self, Run};
use crate::progress::Progress;
use crate::record::{self, Outcome};
use crate::train::{self, Control};
use anyhow::{Result, bail};
use tch::Device;

pub mod explain;

/// What a sweep trained here, and how many runs other workers were training meanwhile.
pub struct Done {
    pub outcomes: Vec<Outcome>,
    pub elsewhere: usize,
    /// A line per run measured by `explain` after training.
    pub explained: Vec<String>,
}

impl Done {
    /// What a sweep prints at its end: each run's status and final errors, where the records
    /// are, and whether other workers still train runs of it (`file`: the sweep file).
    pub fn summary(&self, cfg: &Config, file: &str) -> String {
        let mut out =
            format!("\n{:<20} {:>9} {:>14} {:>13}\n", "run id", "status", "train error %", "test error %");
        for o in &self.outcomes {
            let last = o.curves.last();
            let pct = |v: Option<f64>| v.map_or("-".to_string(), |v| format!("{:.2}", 100.0 * v));
            let status = o.status.as_str();
            out += &format!(
                "{:<20} {:>9} {:>14} {:>13}\n",
                o.run.id,
                status,
                pct(last.map(|r| r.train_error)),
                pct(last.and_then(|r| r.test_error))
            );
        }
        out.extend(self.explained.iter().map(|l| format!("{l}\n")));
        out += &format!("records: {}\n", record::experiment_dir(cfg).display());
        if self.elsewhere > 0 {
            out += &format!(
                "{} run(s) were being trained by other workers; once they end, `resdeg {file} --report` draws everything\n",
                self.elsewhere
            );
        }
        out
    }
}

/// Trains every run of `runs` that has not ended, group by group, on `device` (`fresh`: their
/// records and checkpoints deleted first).
pub fn train(cfg: &Config, runs: &[Run], device: Device, fresh: bool, progress: &Progress) -> Result<Done> {
    for path in claim::prepare(cfg)? {
        progress.line(&format!("removed {} (left by a crashed process)", path.display()));
    }
    if fresh {
        forget(cfg, runs)?;
    }
    // Refuse a results folder of a different config now, not after loading the data.
    for run in runs {
        record::already_done(cfg, run)?;
    }
    let left = left(cfg, runs)?;
    if device == Device::Cpu && !left.is_empty() {
        progress.line(&cost::start_line(cfg, &left, device));
    }
    let (split, identity) = load_data(cfg, runs, device, progress)?;
    let env = record::Environment::here(&plan::device_name(device));
    let mut done = Done { outcomes: Vec::new(), elsewhere: 0, explained: Vec::new() };
    for group in plan::lockstep_groups(runs) {
        let ids = group.iter().map(|r| r.id.as_str()).collect::<Vec<_>>().join(" + ");
        // Held until the group's records are written: no other worker trains these runs meanwhile.
        let _claim = match claim::claim(cfg, group)? {
            Ok(c) => c,
            Err(holder) => {
                progress.line(&format!("{ids}: being trained by another worker ({holder}), skipped"));
                done.elsewhere += group.len();
                progress.runs_done(group.len() as u64);
                continue;
            }
        };
        for path in claim::remove_stale(cfg, group)? {
            progress.line(&format!("removed {} (left by a crashed process)", path.display()));
        }
        let mut todo = Vec::new();
        for run in group {
            if record::already_done(cfg, run)? {
                let at = record::run_dir(cfg, run);
                progress.line(&format!("{}: already done, skipped ({})", run.id, at.display()));
            } else {
                todo.push(run.clone());
            }
        }
        progress.runs_done((group.len() - todo.len()) as u64);
        if !todo.is_empty() {
            let sitting = Sitting { split: &split, identity: &identity, env: &env, device };
            done.outcomes.extend(train_group(cfg, &todo, &sitting, progress)?);
            progress.runs_done(todo.len() as u64);
        }
    }
    if cfg.explain.after_sweep {
        done.explained = explain::run(cfg, runs, &split, device, progress)?;
    }
    Ok(done)
}

/// `--explain`: measures every finished run of `runs` that kept its weights and has no explain
/// records yet (the data is read only when there is one).
pub fn explain_runs(cfg: &Config, runs: &[Run], device: Device, progress: &Progress) -> Result<Vec<String>> {
    let todo = explain::todo(cfg, runs);
    if todo.is_empty() {
        let finished = runs.iter().filter(|r| record::already_done(cfg, r).unwrap_or(false)).count();
        return Ok(vec![format!(
            "explain: nothing to measure ({finished} of {} runs ended; those with weights.safetensors are measured already)",
            runs.len()
        )]);
    }
    let (split, _) = load_data(cfg, runs, device, progress)?;
    explain::run(cfg, &todo, &split, device, progress)
}

/// The runs not ended yet, each with the fraction of its iterations still to train (its group's
/// checkpoint says how far it got).
fn left(cfg: &Config, runs: &[Run]) -> Result<Vec<(Run, f64)>> {
    let mut out = Vec::new();
    for group in plan::lockstep_groups(runs) {
        let done = checkpoint::position(&record::checkpoint_path(cfg, group)).map_or(0, |at| at.iteration);
        let fraction = 1.0 - done as f64 / cfg.schedule.iterations.max(1) as f64;
        for run in group {
            if !record::already_done(cfg, run)? {
                out.push((run.clone(), fraction.max(0.0)));
            }
        }
    }
    Ok(out)
}

/// What every group of this sitting shares: the data, what it is, and where it trains.
struct Sitting<'a> {
    split: &'a Split,
    identity: &'a DataIdentity,
    env: &'a record::Environment,
    device: Device,
}

/// Reads the data (downloading it if allowed and needed), on the device, and refuses it if a run
/// of the sweep was trained on other files.
fn load_data(
    cfg: &Config,
    runs: &[Run],
    device: Device,
    progress: &Progress,
) -> Result<(Split, DataIdentity)> {
    let dir = data::resolve_dir(&cfg.data.dir);
    data::ensure_present(&dir, cfg.data.download)?;
    let split = Cifar10::load(&dir)?
        .split(cfg.data.validation, cfg.data.train_subset, cfg.data.test_subset)?
        .to_device(device);
    // After the files' own checks, which say more about a damaged file than its checksum does.
    let identity = data::identify(&dir)?;
    for run in runs {
        record::check_same_data(cfg, run, &identity)?;
    }
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
    progress.line(&format!("data: {} ({})", identity.what, identity.dir.display()));
    Ok((split, identity))
}

/// One lockstep group, claimed: run.yaml with this sitting, training (resumed from the group's
/// checkpoint if there is one), the records, the gathered curves; the checkpoint removed at the end.
fn train_group(cfg: &Config, todo: &[Run], s: &Sitting, progress: &Progress) -> Result<Vec<Outcome>> {
    let checkpoint = record::checkpoint_path(cfg, todo);
    let resumed = checkpoint::position(&checkpoint)
        .ok()
        .map(|at| record::Resumed::from_checkpoint(at.iteration, at.written));
    let _threads = resumed.as_ref().and_then(|_| Threads::as_started(cfg, todo, progress));
    let env = record::Environment { threads: tch::get_num_threads(), ..s.env.clone() };
    let info = |run| record::RunInfo::sitting(run, cfg, s.identity, env.clone(), resumed.clone());
    let infos: Vec<record::RunInfo> = todo.iter().map(info).collect();
    for (run, i) in todo.iter().zip(&infos) {
        record::write_run_info(cfg, run, i)?;
    }
    let control = Control { checkpoint: Some(checkpoint.clone()), ..Control::new(progress) };
    let Some(ended) = train::train_lockstep(cfg, todo, s.split, s.device, &control)? else {
        bail!("training stopped before the end without a reason");
    };
    for (o, i) in ended.iter().zip(infos) {
        record::write_outcome(cfg, o, i)?;
    }
    let _ = std::fs::remove_file(&checkpoint);
    record::gather_curves(cfg)?;
    Ok(ended)
}

/// A resumed group trains at the thread count its runs started with: libtorch's CPU kernels split
/// their reductions by thread, so another count would change the bits from that step on
/// (BENCHMARKS.md). Puts this process's count back when dropped.
struct Threads(i32);

impl Threads {
    /// Sets the threads of the group's first sitting, if they differ from this process's.
    fn as_started(cfg: &Config, group: &[Run], progress: &Progress) -> Option<Threads> {
        let info = record::RunInfo::read(&record::run_dir(cfg, &group[0]).join("run.yaml")).ok()?;
        let started = info.sittings.first()?.environment.threads;
        let here = tch::get_num_threads();
        if started == here || started < 1 {
            return None;
        }
        progress.line(&format!(
            "{}: resumes at {started} thread(s), as it started (this process has {here}), so that its numbers stay bit for bit",
            group.iter().map(|r| r.id.as_str()).collect::<Vec<_>>().join(" + ")
        ));
        tch::set_num_threads(started);
        Some(Threads(here))
    }
}

impl Drop for Threads {
    fn drop(&mut self) {
        tch::set_num_threads(self.0);
    }
}

/// --fresh: deletes the selected runs' records and checkpoints, each under its claim, so that a
/// run another worker is training is never deleted under it.
pub fn forget(cfg: &Config, runs: &[Run]) -> Result<()> {
    for run in runs {
        match claim::claim(cfg, std::slice::from_ref(run))? {
            Ok(_claim) => record::forget(cfg, run)?,
            Err(holder) => bail!(
                "--fresh: {} is being trained by another worker ({holder}); stop it first, or leave out --fresh",
                run.id
            ),
        }
    }
    Ok(())
}
