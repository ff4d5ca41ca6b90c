//! What the user sees while a sweep runs: two indicatif bars on a terminal (the sweep's runs, and
//! the iterations of the runs training now), or plain log lines with `--quiet` or when the output
//! is not a terminal (logs, CI), where bars would only add noise.

use indicatif::{MultiProgress, ProgressBar, ProgressStyle};
use std::io::IsTerminal;
use std::sync::Mutex;

pub struct Progress {
    bars: Option<Bars>,
    /// No output at all (the benchmark, which prints only its measurements).
    silent: bool,
    /// Without bars: the group that started and when, until its first step is reported (an
    /// epoch's line can be many minutes away).
    first_step: Mutex<Option<(String, std::time::Instant, u64)>>,
}

struct Bars {
    multi: MultiProgress,
    sweep: ProgressBar,
    group: Mutex<Option<ProgressBar>>,
}

impl Progress {
    pub fn new(quiet: bool, runs: u64) -> Progress {
        let bars = (!quiet && std::io::stderr().is_terminal()).then(|| {
            let multi = MultiProgress::new();
            let sweep = multi.add(ProgressBar::new(runs));
            sweep.set_style(
                ProgressStyle::with_template(
                    "sweep {bar:30} {pos}/{len} runs  {elapsed_precise} (ETA {eta})",
                )
                .expect("valid template"),
            );
            Bars { multi, sweep, group: Mutex::new(None) }
        });
        Progress { bars, silent: false, first_step: Mutex::new(None) }
    }

    /// Prints nothing.
    pub fn silent() -> Progress {
        Progress { bars: None, silent: true, first_step: Mutex::new(None) }
    }

    /// A log line, printed above the bars when there are any.
    pub fn line(&self, s: &str) {
        match &self.bars {
            Some(b) => b.multi.println(s).unwrap_or_else(|_| println!("{s}")),
            None if !self.silent => println!("{s}"),
            None => {}
        }
    }

    /// Runs `label` are now training, `done` of `total` iterations behind them.
    pub fn start_group(&self, label: &str, total: u64, done: u64) {
        if self.bars.is_none() {
            *self.first_step.lock().unwrap_or_else(|e| e.into_inner()) =
                Some((label.to_string(), std::time::Instant::now(), total));
        }
        if let Some(b) = &self.bars {
            let bar = b.multi.add(ProgressBar::new(total));
            bar.set_style(
                ProgressStyle::with_template("{prefix} {bar:30} it {pos}/{len} {per_sec} {msg}")
                    .expect("valid template"),
            );
            bar.set_prefix(label.to_string());
            bar.set_position(done);
            bar.reset_eta();
            if let Some(old) = b.group.lock().unwrap_or_else(|e| e.into_inner()).replace(bar) {
                old.finish_and_clear();
            }
        }
    }

    pub fn iteration(&self, done: u64) {
        let first = self.first_step.lock().unwrap_or_else(|e| e.into_inner()).take();
        if let Some((label, start, total)) = first {
            let s = start.elapsed().as_secs_f64();
            self.line(&format!("{label}: training, iteration {done} of {total} done after {s:.1} s"));
        }
        if let Some(b) = &self.bars
            && let Some(bar) = &*b.group.lock().unwrap_or_else(|e| e.into_inner())
        {
            bar.set_position(done);
        }
    }

    /// The latest epoch's figures (loss, training error, img/s), shown beside the bar.
    pub fn message(&self, msg: &str) {
        if let Some(b) = &self.bars
            && let Some(bar) = &*b.group.lock().unwrap_or_else(|e| e.into_inner())
        {
            bar.set_message(msg.to_string());
        }
    }

    pub fn runs_done(&self, n: u64) {
        if let Some(b) = &self.bars {
            b.sweep.inc(n);
        }
    }

    pub fn finish(&self) {
        if let Some(b) = &self.bars {
            if let Some(bar) = b.group.lock().unwrap_or_else(|e| e.into_inner()).take() {
                bar.finish_and_clear();
            }
            b.sweep.finish();
        }
    }
}
