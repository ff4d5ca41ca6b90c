//! `cargo run --release --example final_phase -- SWEEP.yaml …`: how far one net's final-epoch
//! test error could have moved by the choice of epoch alone. For every recorded run of each sweep it
//! prints the test error at each evaluation after the last lr milestone (the net barely changes
//! there), their mean ± sample std and range, and the final epoch's error that Table 6 reports.
//!
//! Why: Table 6 is a single number per net. Before a gap to the paper is put down to a seed, the
//! data or bf16, this says whether the last epoch was a lucky or unlucky draw of its own plateau.

use anyhow::{Result, bail};
use resdeg::config::Config;
use resdeg::record;
use std::path::PathBuf;

fn main() -> Result<()> {
    let files: Vec<PathBuf> = std::env::args_os().skip(1).map(PathBuf::from).collect();
    if files.is_empty() {
        bail!("usage: final_phase SWEEP.yaml … (sweeps whose records are in results/)");
    }
    for file in &files {
        let cfg = Config::load(file)?;
        let from = cfg.schedule.milestones.last().copied().unwrap_or(0);
        println!("{} (evaluations after iteration {from}, test error %)", cfg.name);
        let curves = record::curves(&cfg)?;
        if curves.is_empty() {
            println!("  no records in {}", record::experiment_dir(&cfg).display());
        }
        for curve in curves {
            let tests: Vec<f64> = curve
                .rows
                .iter()
                .filter(|r| r.iteration > from)
                .filter_map(|r| r.test_error.map(|e| 100.0 * e))
                .collect();
            let (Some(&last), n) = (tests.last(), tests.len()) else {
                println!("  {:<20} no evaluation after iteration {from} yet", curve.run.id);
                continue;
            };
            let mean = tests.iter().sum::<f64>() / n as f64;
            let var = tests.iter().map(|t| (t - mean).powi(2)).sum::<f64>() / (n.max(2) - 1) as f64;
            let (lo, hi) = tests.iter().fold((f64::MAX, f64::MIN), |(l, h), &t| (l.min(t), h.max(t)));
            println!(
                "  {:<20} {n:>3} evaluations: {mean:.2} ± {:.2} ({lo:.2}–{hi:.2}), final {last:.2}",
                curve.run.id,
                var.sqrt()
            );
        }
    }
    Ok(())
}
