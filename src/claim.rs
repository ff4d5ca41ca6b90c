//! Which process trains which run. A worker claims a run by holding an exclusive lock (flock) on
//! `results/<experiment>/.locks/<run_id>.lock`; the kernel releases it when the process ends, however
//! it ends, so a crashed worker never blocks a rerun, and workers started on one sweep (by hand, by
//! `--devices`, by a Slurm array) never train one run at once. Holding a claim also makes every
//! temporary file in the run's folder and checkpoint a leftover of a crash, safe to delete.

use crate::config::Config;
use crate::plan::Run;
use crate::record::{checkpoint_dir, experiment_dir, host, run_dir, who};
use anyhow::{Context, Result};
use std::fs::{self, File, TryLockError};
use std::io::Write;
use std::path::{Path, PathBuf};

/// The claims on a group of runs; dropping it releases them.
pub struct Claim {
    _locks: Vec<File>,
}

fn locks_dir(cfg: &Config) -> PathBuf {
    experiment_dir(cfg).join(".locks")
}

/// Creates the experiment's folders before any data is loaded, so that an unwritable
/// `results_dir` is said at once, and removes the experiment-level temporary files (gathered
/// curves, report) that a crashed process of this machine left. Returns the files it removed.
pub fn prepare(cfg: &Config) -> Result<Vec<PathBuf>> {
    let dir = locks_dir(cfg);
    fs::create_dir_all(&dir).with_context(|| {
        format!(
            "results_dir = {}: cannot create {}; choose a writable results_dir (in the config)",
            cfg.results_dir.display(),
            dir.display()
        )
    })?;
    let probe = dir.join(format!(".probe-{}", who()));
    fs::write(&probe, b"").with_context(|| {
        format!(
            "results_dir = {}: cannot write in it; choose a writable results_dir",
            cfg.results_dir.display()
        )
    })?;
    let _ = fs::remove_file(probe);
    let mut removed = Vec::new();
    for d in [experiment_dir(cfg), cfg.plots_dir.join(&cfg.name)] {
        removed.extend(remove_temporaries(&d, |_, writer| !writer_alive(writer))?);
    }
    Ok(removed)
}

/// Claims every run of `group`, or none: Err(holder) names who holds the first one taken.
pub fn claim(cfg: &Config, group: &[Run]) -> Result<std::result::Result<Claim, String>> {
    let mut locks = Vec::new();
    for run in group {
        let path = locks_dir(cfg).join(format!("{}.lock", run.id));
        let mut f = fs::OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(false)
            .open(&path)
            .with_context(|| format!("cannot open lock {}; check results_dir", path.display()))?;
        match f.try_lock() {
            Ok(()) => {
                f.set_len(0)?;
                writeln!(f, "{} since {}", who(), crate::record::now())?;
                locks.push(f);
            }
            Err(TryLockError::WouldBlock) => {
                let holder = fs::read_to_string(&path).unwrap_or_default();
                return Ok(Err(format!("{} (lock {})", holder.trim(), path.display())));
            }
            Err(TryLockError::Error(e)) => {
                return Err(e).with_context(|| format!("cannot lock {}", path.display()));
            }
        }
    }
    Ok(Ok(Claim { _locks: locks }))
}

/// Who holds a run's claim, as far as this machine can tell without trying the lock (trying it
/// would, for an instant, make a worker starting then skip the run).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Holder {
    /// Held by a process of this machine (its `host-pid since time`).
    Here(String),
    /// The lock file names a process of another machine, which this one cannot check.
    Elsewhere(String),
    /// Nobody holds it (or it was never taken).
    Free,
}

pub fn holder(cfg: &Config, run: &Run) -> Holder {
    use std::os::unix::fs::MetadataExt;
    let path = locks_dir(cfg).join(format!("{}.lock", run.id));
    let (Ok(meta), Ok(text)) = (fs::metadata(&path), fs::read_to_string(&path)) else {
        return Holder::Free;
    };
    let who_holds = text.trim().to_string();
    let writer = who_holds.split_whitespace().next().unwrap_or_default();
    if writer.rsplit_once('-').is_some_and(|(h, _)| h != host()) {
        return Holder::Elsewhere(who_holds);
    }
    // flock()s held on this machine are listed in /proc/locks by inode: `FLOCK ADVISORY WRITE
    // <pid> <maj>:<min>:<inode> …`.
    let (locks, inode) = (fs::read_to_string("/proc/locks").unwrap_or_default(), meta.ino().to_string());
    let held = locks.lines().any(|l| {
        l.contains("FLOCK") && l.split_whitespace().any(|f| f.rsplit(':').next() == Some(inode.as_str()))
    });
    if held { Holder::Here(who_holds) } else { Holder::Free }
}

/// Removes every temporary file in the folders of `group` and in its checkpoints: with the group
/// claimed, no live process writes them. Returns the files removed.
pub fn remove_stale(cfg: &Config, group: &[Run]) -> Result<Vec<PathBuf>> {
    let mut removed = Vec::new();
    for run in group {
        removed.extend(remove_temporaries(&run_dir(cfg, run), |_, _| true)?);
    }
    let ours = |name: &str| name.split('+').any(|id| group.iter().any(|r| r.id == id));
    removed.extend(remove_temporaries(&checkpoint_dir(cfg), |name, _| ours(name))?);
    Ok(removed)
}

/// The temporary files that [`crate::record::write_atomic`] names `.<name>.tmp-<host>-<pid>`:
/// removes those in `dir` for which `stale(name, writer)` holds.
fn remove_temporaries(dir: &Path, stale: impl Fn(&str, &str) -> bool) -> Result<Vec<PathBuf>> {
    let mut removed = Vec::new();
    for entry in fs::read_dir(dir).into_iter().flatten().flatten() {
        let file = entry.file_name().to_string_lossy().into_owned();
        let Some((name, writer)) = file.strip_prefix('.').and_then(|f| f.rsplit_once(".tmp-")) else {
            continue;
        };
        if stale(name, writer) {
            fs::remove_file(entry.path())
                .with_context(|| format!("cannot remove stale temporary file {}", entry.path().display()))?;
            removed.push(entry.path());
        }
    }
    Ok(removed)
}

/// Whether the process that names itself `writer` (`<host>-<pid>`) may still be writing: true
/// unless it is of this machine and gone. A file from another machine is left alone.
fn writer_alive(writer: &str) -> bool {
    match writer.rsplit_once('-') {
        Some((h, pid)) if h == host() => pid.parse::<i32>().is_ok_and(process_alive),
        _ => true,
    }
}

fn process_alive(pid: i32) -> bool {
    unsafe extern "C" {
        fn kill(pid: i32, sig: i32) -> i32;
    }
    // SAFETY: signal 0 only checks that the process exists (EPERM also means it does).
    pid > 0 && (unsafe { kill(pid, 0) } == 0 || std::io::Error::last_os_error().raw_os_error() == Some(1))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cfg(results: &Path) -> Config {
        let plots = results.with_file_name("plots");
        let text =
            format!("depths: [8]\nresults_dir: {}\nplots_dir: {}\n", results.display(), plots.display());
        Config::parse(&text, Path::new("c.yaml"), "c").unwrap()
    }

    #[test]
    fn a_claim_excludes_others_until_dropped() {
        let dir = std::env::temp_dir().join(format!("resdeg-claim-{}", std::process::id()));
        let c = cfg(&dir);
        prepare(&c).unwrap();
        let runs = crate::plan::runs(&c);
        let held = claim(&c, &runs).unwrap().expect("free");
        // flock locks belong to the open file, so a second open in this process is refused too.
        let busy = claim(&c, &runs[1..]).unwrap().err().expect("busy");
        assert!(busy.contains(&who()), "{busy}");
        drop(held);
        assert!(claim(&c, &runs).unwrap().is_ok());
        fs::remove_dir_all(dir).unwrap();
    }

    #[test]
    fn only_dead_writers_of_this_machine_are_stale() {
        let dead = std::process::Command::new("true").spawn().unwrap();
        let pid = dead.id();
        let mut dead = dead;
        dead.wait().unwrap();
        let me = who();
        let host = me.rsplit_once('-').unwrap().0;
        assert!(writer_alive(&me));
        assert!(!writer_alive(&format!("{host}-{pid}")));
        assert!(writer_alive(&format!("elsewhere-{pid}")));
    }
}
