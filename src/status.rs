//! Where a sweep stands (`--status`), from its results folder alone: run.yaml says which runs have
//! ended, when and after how long (and their curves with what final errors), the claim locks who
//! is training what, the group checkpoints how far it got, how fast and at what errors, and so how
//! long the rest takes.
//! It takes no lock and writes nothing, so it can run from a login node while workers or array
//! tasks train, without ever getting in their way.

use crate::checkpoint;
use crate::claim::{self, Holder};
use crate::config::Config;
use crate::plan::{Run, duration};
use crate::record::{self, EpochRecord, Row, RunInfo, Sitting};
use std::fmt::Write as _;
use std::time::SystemTime;

/// One run's line of the status table.
#[derive(Debug, Clone, PartialEq)]
pub struct Line {
    pub run_id: String,
    /// finished, diverged, running, stalled or pending.
    pub state: &'static str,
    /// Epoch k of K after the last checkpoint, its age, the time left and who trains the run.
    pub detail: String,
    /// Seconds of training left to this run at the measured pace: its share, by multiply-adds, of
    /// its group's time left; for a run not started, its iterations at the pace per multiply-add of
    /// the newest checkpoint's group. None for an ended run, or when nothing has been measured.
    pub left_s: Option<f64>,
}

/// When a group's checkpoint was written, and the seconds an iteration took it per multiply-add
/// of its nets: what scales its pace to nets not started.
type Pace = (SystemTime, f64);

fn modified(path: &std::path::Path) -> Option<SystemTime> {
    std::fs::metadata(path).and_then(|m| m.modified()).ok()
}

fn age_s(t: SystemTime) -> f64 {
    SystemTime::now().duration_since(t).map_or(0.0, |d| d.as_secs_f64())
}

/// Seconds an iteration took in the sitting that started at `started` (RFC 3339) from iteration
/// `from` and wrote its last checkpoint at `written`, at `to`: evaluations, checkpoints and every
/// other pause included, so the time left it gives is the wall time. The last epoch's training
/// speed alone leaves evaluation out (about 5% short) and swings from epoch to epoch; it stands in
/// until the sitting has written a checkpoint.
fn sitting_pace(started: &str, from: u64, written: SystemTime, to: u64) -> Option<f64> {
    let started = humantime::parse_rfc3339(started).ok()?;
    let s = written.duration_since(started).ok()?.as_secs_f64();
    (to > from && s > 0.0).then(|| s / (to - from) as f64)
}

/// How long a run's sittings took between them, from run.yaml: the wall time it trained (with
/// its lockstep twin, evaluations included), pauses between sittings left out. None when a
/// sitting's start or end is missing or unreadable, rather than a sum short of one.
fn wall_s(sittings: &[Sitting]) -> Option<f64> {
    let at = |t: &str| humantime::parse_rfc3339(t).ok();
    sittings
        .iter()
        .map(|s| Some(at(s.ended.as_deref()?)?.duration_since(at(&s.started)?).ok()?.as_secs_f64()))
        .sum()
}

/// A run's latest errors, so that a long sweep can be followed without its report: the last
/// epoch's training error and the last evaluation's test error (with its epoch when older).
fn errors(curves: &[EpochRecord]) -> Option<String> {
    let last = curves.last()?;
    let mut s = format!("training error {:.2}%", 100.0 * last.train_error);
    if let Some((epoch, e)) = curves.iter().rev().find_map(|r| r.test_error.map(|e| (r.epoch, e))) {
        let _ = write!(s, ", test error {:.2}%", 100.0 * e);
        if epoch != last.epoch {
            let _ = write!(s, " (epoch {epoch})");
        }
    }
    Some(s)
}

/// An ended run's final errors, from its recorded curve.
fn final_errors(rows: &[Row]) -> Option<String> {
    let last = rows.last()?;
    let mut s = format!("final training error {:.2}%", 100.0 * last.train_error);
    if let Some(e) = last.test_error {
        let _ = write!(s, ", test error {:.2}%", 100.0 * e);
    }
    Some(s)
}

/// The status of every run of `runs`.
pub fn lines(cfg: &Config, runs: &[Run]) -> Vec<Line> {
    let total = cfg.schedule.iterations;
    // Unreadable records leave the errors out; the rest of the line stands.
    let recorded = record::curves(cfg).unwrap_or_default();
    let flops = |id: &str| runs.iter().find(|r| r.id == id).map(Run::flops);
    // Each line with its iterations left and its group's pace.
    let lines: Vec<(Line, u64, Option<Pace>)> = runs
        .iter()
        .map(|run| {
            let yaml = record::run_dir(cfg, run).join("run.yaml");
            let info = RunInfo::read(&yaml).ok();
            if let Some(i) = info.as_ref().filter(|i| i.status.ended()) {
                let state = i.status.as_str();
                let ended = i.ended.as_deref().unwrap_or("?");
                let mut detail = format!("ended {ended}");
                if let Some(s) = wall_s(&i.sittings) {
                    let _ = write!(detail, " after {} of wall time", duration(s));
                }
                if i.sittings.len() > 1 {
                    let _ = write!(detail, " in {} sittings", i.sittings.len());
                }
                let rows = recorded.iter().find(|c| c.run.id == run.id).map(|c| c.rows.as_slice());
                if let Some(e) = rows.and_then(final_errors) {
                    let _ = write!(detail, "; {e}");
                }
                return (Line { run_id: run.id.clone(), state, detail, left_s: None }, 0, None);
            }
            let checkpoint = record::checkpoints_of(cfg, run).into_iter().next();
            let at = checkpoint.as_deref().and_then(|p| checkpoint::position(p).ok());
            let written = at.as_ref().and_then(|p| p.written);
            let age = written.or_else(|| info.as_ref().and_then(|_| modified(&yaml))).map(age_s);
            let mut detail = String::new();
            let (mut its_left, mut pace) = (total, None);
            if let Some(p) = &at {
                let epochs = (total as f64 * p.epoch.max(1) as f64 / p.iteration.max(1) as f64).ceil();
                let sitting = info.as_ref().and_then(|i| i.sittings.last());
                let per_iteration = sitting
                    .zip(written)
                    .and_then(|(s, w)| sitting_pace(&s.started, s.from_iteration, w, p.iteration))
                    .unwrap_or(cfg.batch_size as f64 / p.images_per_s.max(1e-9));
                its_left = total.saturating_sub(p.iteration);
                let left = its_left as f64 * per_iteration;
                let group: Option<u64> = p.curves.iter().map(|(id, _)| flops(id)).sum();
                let group = group.unwrap_or(run.flops() * p.curves.len().max(1) as u64);
                pace = written.map(|w| (w, per_iteration / group as f64));
                let _ = write!(
                    detail,
                    "epoch {} of {}, iteration {}/{total}, about {} left",
                    p.epoch,
                    epochs,
                    p.iteration,
                    duration(left)
                );
                let mine = p.curves.iter().find(|(id, _)| *id == run.id);
                if let Some(e) = mine.and_then(|(_, c)| errors(c)) {
                    let _ = write!(detail, "; {e}");
                }
            }
            if let Some(a) = age {
                let _ = write!(detail, "{}last record {} ago", if detail.is_empty() { "" } else { "; " }, duration(a));
            }
            let (state, who) = match claim::holder(cfg, run) {
                Holder::Here(who) => ("running", format!("by {who}")),
                Holder::Elsewhere(who) => {
                    // Another machine's lock cannot be checked from here: judge by the records'
                    // age against the epoch time (and at least 10 minutes).
                    let epoch_s = at.as_ref().map_or(0.0, |p| p.elapsed_s / p.epoch.max(1) as f64);
                    let fresh = age.is_some_and(|a| a < (3.0 * epoch_s).max(600.0));
                    (if fresh { "running" } else { "stalled" }, format!("by {who} (another machine)"))
                }
                Holder::Free if info.is_some() || at.is_some() => {
                    ("stalled", "interrupted, nobody trains it now: a sweep still running gets to it in turn, else rerun the command (or resubmit) to resume".into())
                }
                Holder::Free => ("pending", String::new()),
            };
            if let Some(n) = info.as_ref().map(|i| i.sittings.len()).filter(|&n| n > 1) {
                let _ = write!(detail, "{}sitting {n}", if detail.is_empty() { "" } else { "; " });
            }
            if !who.is_empty() {
                let _ = write!(detail, "{}{who}", if detail.is_empty() { "" } else { "; " });
            }
            (Line { run_id: run.id.clone(), state, detail, left_s: None }, its_left, pace)
        })
        .collect();
    let newest = lines.iter().filter_map(|(_, _, p)| *p).max_by_key(|(written, _)| *written).map(|(_, r)| r);
    lines
        .into_iter()
        .zip(runs)
        .map(|((mut line, its_left, pace), run)| {
            // At its own group's pace when it has one, else at the newest.
            let rate = pace.map(|(_, r)| r).or(newest);
            line.left_s = rate.map(|r| its_left as f64 * r * run.flops() as f64).filter(|_| its_left > 0);
            line
        })
        .collect()
}

/// The table `--status` prints, with a count per state.
pub fn table(lines: &[Line]) -> String {
    let w = lines.iter().map(|l| l.run_id.len()).max().unwrap_or(0).max(6);
    let mut s = format!("{:<w$}  {:<9}  detail\n", "run id", "state");
    for l in lines {
        let _ = writeln!(s, "{:<w$}  {:<9}  {}", l.run_id, l.state, l.detail);
    }
    let counts: Vec<String> = ["finished", "diverged", "running", "stalled", "pending"]
        .iter()
        .map(|st| (st, lines.iter().filter(|l| l.state == *st).count()))
        .filter(|(_, n)| *n > 0)
        .map(|(st, n)| format!("{n} {st}"))
        .collect();
    let _ = write!(s, "{} runs: {}", lines.len(), counts.join(", "));
    let left: Vec<f64> = lines.iter().filter_map(|l| l.left_s).collect();
    if !left.is_empty() {
        let _ = write!(
            s,
            "; about {} of training left for one worker at the newest checkpoint's pace (runs not \
             started scaled by multiply-adds)",
            duration(left.iter().sum())
        );
    }
    s.push('\n');
    s
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    fn at(epoch: u64, train_error: f64, test_error: Option<f64>) -> EpochRecord {
        EpochRecord {
            epoch,
            iteration: 10 * epoch,
            lr: 0.1,
            train_loss: 1.0,
            train_error,
            test_loss: test_error,
            test_error,
            elapsed_s: 0.0,
            images_per_s: 1.0,
        }
    }

    #[test]
    fn errors_are_the_last_epochs_and_the_last_evaluations() {
        assert_eq!(errors(&[]), None);
        let curves = [at(1, 0.5, Some(0.55)), at(2, 0.4, None)];
        assert_eq!(errors(&curves[..1]).unwrap(), "training error 50.00%, test error 55.00%");
        assert_eq!(errors(&curves).unwrap(), "training error 40.00%, test error 55.00% (epoch 1)");
        assert_eq!(errors(&[at(1, 0.25, None)]).unwrap(), "training error 25.00%");
        let row = |train_error, test_error| Row { iteration: 1, train_error, test_error, elapsed_s: 1.0 };
        assert_eq!(final_errors(&[]), None);
        let rows = [row(0.5, Some(0.6)), row(0.0159, Some(0.1231))];
        assert_eq!(final_errors(&rows).unwrap(), "final training error 1.59%, test error 12.31%");
        assert_eq!(final_errors(&[row(0.5, None)]).unwrap(), "final training error 50.00%");
    }

    #[test]
    fn the_table_counts_states_and_sums_the_time_left() {
        let line = |id: &str, state, left_s| Line { run_id: id.into(), state, detail: String::new(), left_s };
        let lines = [
            line("plain-20-s0", "finished", None),
            line("plain-56-s0", "running", Some(3600.0)),
            line("plain-110-s0", "pending", Some(1800.0)),
        ];
        let t = table(&lines);
        let last = t.lines().last().unwrap();
        assert!(
            last.starts_with("3 runs: 1 finished, 1 running, 1 pending; about 1.5 h of training left"),
            "{t}"
        );
        // Nothing measured yet: no time left to give.
        assert_eq!(table(&lines[..1]).lines().last().unwrap(), "1 runs: 1 finished");
    }

    #[test]
    fn the_wall_time_sums_the_sittings_and_leaves_the_pauses_out() {
        let sitting = |started: &str, ended: Option<&str>| Sitting {
            started: started.into(),
            ended: ended.map(String::from),
            from_iteration: 0,
            to_iteration: None,
            environment: crate::record::Environment::here("cpu"),
        };
        // paper_resnets_fp32's ResNet-20: 1 h 50 min in three sittings.
        let three = [
            sitting("2026-12-05T23:32:47Z", Some("2026-12-06T00:28:41Z")),
            sitting("2026-12-06T00:40:01Z", Some("2026-12-06T00:52:30Z")),
            sitting("2026-12-06T01:15:53Z", Some("2026-12-06T01:57:54Z")),
        ];
        assert_eq!(wall_s(&three), Some(6624.0));
        assert_eq!(wall_s(&three[..1]), Some(3354.0));
        let open = [three[0].clone(), sitting("2026-12-06T00:40:01Z", None)];
        assert_eq!(wall_s(&open), None);
        assert_eq!(wall_s(&[sitting("noon", Some("2026-12-06T00:28:41Z"))]), None);
    }

    #[test]
    fn the_pace_is_the_sittings_wall_time_per_iteration() {
        let started = humantime::parse_rfc3339("2026-12-05T06:00:00Z").unwrap();
        let written = started + Duration::from_secs(600);
        // Resumed at iteration 1,000, checkpointed at 4,000 ten minutes later: 0.2 s an iteration.
        assert_eq!(sitting_pace("2026-12-05T06:00:00Z", 1000, written, 4000), Some(0.2));
        // A sitting that has not yet written its own checkpoint, or a bad timestamp: no pace.
        assert_eq!(sitting_pace("2026-12-05T06:00:00Z", 4000, written, 4000), None);
        assert_eq!(sitting_pace("2026-12-05T06:20:00Z", 1000, written, 4000), None);
        assert_eq!(sitting_pace("yesterday", 1000, written, 4000), None);
    }
}
