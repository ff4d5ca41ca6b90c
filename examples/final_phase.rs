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
use resdeg::verdict::{mean, std};
use std::path::PathBuf;

/// One run's test errors (%) at the evaluations after the last milestone.
#[derive(Debug, PartialEq)]
struct Plateau {
    n: usize,
    mean: f64,
    std: f64,
    lo: f64,
    hi: f64,
    last: f64,
}

/// Every recorded run's plateau, by run id; None for a run not evaluated past the last milestone.
fn plateaus(cfg: &Config) -> Result<Vec<(String, Option<Plateau>)>> {
    let from = cfg.schedule.milestones.last().copied().unwrap_or(0);
    let curves = record::curves(cfg)?;
    Ok(curves
        .into_iter()
        .map(|curve| {
            let tests: Vec<f64> = curve
                .rows
                .iter()
                .filter(|r| r.iteration > from)
                .filter_map(|r| r.test_error.map(|e| 100.0 * e))
                .collect();
            let plateau = tests.last().map(|&last| {
                let (lo, hi) = tests.iter().fold((f64::MAX, f64::MIN), |(l, h), &t| (l.min(t), h.max(t)));
                Plateau { n: tests.len(), mean: mean(tests.iter().copied()), std: std(&tests), lo, hi, last }
            });
            (curve.run.id, plateau)
        })
        .collect())
}

fn main() -> Result<()> {
    let files: Vec<PathBuf> = std::env::args_os().skip(1).map(PathBuf::from).collect();
    if files.is_empty() {
        bail!("usage: final_phase SWEEP.yaml … (sweeps whose records are in results/)");
    }
    for file in &files {
        let cfg = Config::load(file)?;
        let from = cfg.schedule.milestones.last().copied().unwrap_or(0);
        println!("{} (evaluations after iteration {from}, test error %)", cfg.name);
        let runs = plateaus(&cfg)?;
        if runs.is_empty() {
            println!(
                "  no curves in {} (a run writes them when it ends)",
                record::experiment_dir(&cfg).display()
            );
        }
        for (id, plateau) in runs {
            match plateau {
                Some(Plateau { n, mean, std, lo, hi, last }) => println!(
                    "  {id:<20} {n:>3} evaluations: {mean:.2} ± {std:.2} ({lo:.2}–{hi:.2}), final {last:.2}"
                ),
                None => println!("  {id:<20} no evaluation after iteration {from} yet"),
            }
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::path::Path;

    /// The committed paper-schedule study gives the plateau docs/cpu-studies.md quotes.
    #[test]
    fn the_committed_paper_schedule_plateau() {
        let repo = Path::new(env!("CARGO_MANIFEST_DIR"));
        let mut cfg = Config::load(&repo.join("experiments/investigations/paper_20_32.yaml")).unwrap();
        cfg.results_dir = repo.join("results");
        let runs = plateaus(&cfg).unwrap();
        let resnet32 = runs.iter().find(|(id, _)| id == "residual-32-A-s0").and_then(|(_, p)| p.as_ref());
        let p = resnet32.expect("paper_20_32 records residual-32-A-s0 past iteration 48000");
        assert_eq!(p.n, 21, "evaluations every second epoch after iteration 48000, and the last");
        let shown = |x: f64| format!("{x:.2}");
        assert_eq!(
            [p.mean, p.std, p.lo, p.hi, p.last].map(shown),
            ["11.12", "0.08", "11.01", "11.32", "11.14"].map(String::from)
        );
    }
}
