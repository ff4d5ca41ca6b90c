//! Table 6 from the records: one row per net, final-epoch test errors (best, mean ± std over
//! seeds) beside the paper's figures, as Markdown and CSV; and beside it each net's final training
//! and test errors seed by seed, so that a reader sees the spread behind every mean.

use crate::config::{Arch, Shortcut};
use crate::model;
use crate::plan::{grouped, net_name};
use crate::record::RunCurve;
use crate::verdict::{mean, std};
use std::collections::BTreeMap;
use std::fmt::Write as _;

/// A residual net's row in the paper's Table 6: depth, parameters as printed, best test error (%)
/// and, for ResNet-110, mean and std over 5 runs.
type PaperRow = (u32, &'static str, f64, Option<(f64, f64)>);

/// The paper's Table 6 rows for its residual nets (option A).
const PAPER: [PaperRow; 6] = [
    (20, "0.27M", 8.75, None),
    (32, "0.46M", 7.51, None),
    (44, "0.66M", 7.17, None),
    (56, "0.85M", 6.97, None),
    (110, "1.7M", 6.43, Some((6.61, 0.16))),
    (1202, "19.4M", 7.93, None),
];

/// One row of our Table 6: the final-epoch test errors (fractions) of the runs of one net.
#[derive(Debug, Clone, PartialEq)]
pub struct TableRow {
    pub arch: Arch,
    pub depth: u32,
    pub shortcut: Shortcut,
    pub parameters: u64,
    pub paper_parameters: Option<&'static str>,
    pub paper_error: Option<f64>,
    pub paper_mean_std: Option<(f64, f64)>,
    pub best: Option<f64>,
    pub mean: Option<f64>,
    /// Sample std (n − 1) over seeds; None for fewer than two.
    pub std: Option<f64>,
    pub seeds: usize,
    pub diverged: usize,
}

/// The runs of each net: (arch, depth, shortcut) in the table's order, plain nets first.
fn nets(curves: &[RunCurve]) -> BTreeMap<(Arch, u32, Shortcut), Vec<&RunCurve>> {
    let mut groups: BTreeMap<(Arch, u32, Shortcut), Vec<&RunCurve>> = BTreeMap::new();
    for c in curves {
        // A plain net has no shortcuts: its option is only the grid it came from.
        let shortcut = if c.run.arch == Arch::Plain { Shortcut::A } else { c.run.shortcut };
        groups.entry((c.run.arch, c.run.depth, shortcut)).or_default().push(c);
    }
    groups
}

/// Mean and sample std of some fractions in percent, "14.4 ± 0.2%" ("14.4%" for one value).
fn mean_std(v: &[f64]) -> String {
    let m = 100.0 * mean(v.iter().copied());
    if v.len() < 2 { format!("{m:.1}%") } else { format!("{m:.1} ± {:.1}%", 100.0 * std(v)) }
}

/// Each net's final training and test errors, mean ± sample std over its seeds and then seed by
/// seed, as Markdown; diverged runs are named and left out of the means.
pub fn seeds_markdown(curves: &[RunCurve]) -> String {
    let mut s = String::from(
        "| net | seeds | training error | test error | per seed: training / test |\n|---|---|---|---|---|\n",
    );
    for ((arch, depth, shortcut), runs) in nets(curves) {
        let mut finals: Vec<_> = runs.iter().map(|c| c.final_errors()).collect();
        finals.sort_by_key(|f| f.seed);
        let ok: Vec<_> = finals.iter().filter(|f| f.train_error.is_finite()).collect();
        let train: Vec<f64> = ok.iter().map(|f| f.train_error).collect();
        let test: Vec<f64> = ok.iter().filter_map(|f| f.test_error).collect();
        let show = |v: &[f64]| if v.is_empty() { "–".to_string() } else { mean_std(v) };
        let each: Vec<String> = finals
            .iter()
            .map(|f| match (f.train_error.is_finite(), f.test_error) {
                (false, _) => format!("s{} diverged", f.seed),
                (true, Some(t)) => format!("s{} {:.1} / {:.1}", f.seed, 100.0 * f.train_error, 100.0 * t),
                (true, None) => format!("s{} {:.1} / –", f.seed, 100.0 * f.train_error),
            })
            .collect();
        let _ = writeln!(
            s,
            "| {} | {} | {} | {} | {} |",
            net_name(arch, depth, shortcut),
            finals.len(),
            show(&train),
            show(&test),
            each.join(", ")
        );
    }
    s
}

/// Table 6 from the recorded runs: one row per (arch, depth, shortcut), plain nets by their own
/// (the paper has none), residual nets beside the paper's figures.
pub fn table(curves: &[RunCurve]) -> Vec<TableRow> {
    nets(curves)
        .into_iter()
        .map(|((arch, depth, shortcut), runs)| {
            let errs: Vec<f64> = runs.iter().filter_map(|c| c.final_errors().test_error).collect();
            let n = errs.len();
            let paper =
                PAPER.iter().find(|p| arch == Arch::Residual && shortcut == Shortcut::A && p.0 == depth);
            TableRow {
                arch,
                depth,
                shortcut,
                parameters: model::parameters(arch, depth, shortcut),
                paper_parameters: paper.map(|p| p.1),
                paper_error: paper.map(|p| p.2),
                paper_mean_std: paper.and_then(|p| p.3),
                best: errs.iter().copied().reduce(f64::min),
                mean: (n > 0).then(|| mean(errs.iter().copied())),
                std: (n > 1).then(|| std(&errs)),
                seeds: n,
                diverged: runs.iter().filter(|c| c.diverged()).count(),
            }
        })
        .collect()
}

fn name(r: &TableRow) -> String {
    match r.arch {
        Arch::Plain => "plain".into(),
        Arch::Residual => format!("ResNet ({})", r.shortcut),
    }
}

/// Table 6 as Markdown.
pub fn table_markdown(rows: &[TableRow]) -> String {
    let mut s = String::from(
        "| method | layers | params | params (paper) | error % (paper) | error % (ours, best) | error % (ours, mean ± std) | seeds | best − paper |\n\
         |---|---|---|---|---|---|---|---|---|\n",
    );
    for r in rows {
        let paper = match (r.paper_error, r.paper_mean_std) {
            (Some(e), Some((m, sd))) => format!("{e:.2} ({m:.2} ± {sd:.2})"),
            (Some(e), None) => format!("{e:.2}"),
            _ => "–".into(),
        };
        let best = r.best.map_or_else(|| "–".to_string(), |b| format!("{:.2}", 100.0 * b));
        let mean = match (r.mean, r.std) {
            (Some(m), Some(sd)) => format!("{:.2} ± {:.2}", 100.0 * m, 100.0 * sd),
            (Some(m), None) => format!("{:.2}", 100.0 * m),
            _ => "–".into(),
        };
        let seeds = if r.diverged > 0 {
            format!("{} ({} diverged)", r.seeds, r.diverged)
        } else {
            r.seeds.to_string()
        };
        let diff = match (r.best, r.paper_error) {
            (Some(b), Some(p)) => format!("{:+.2}", 100.0 * b - p),
            _ => "–".into(),
        };
        let _ = writeln!(
            s,
            "| {} | {} | {} | {} | {paper} | {best} | {mean} | {seeds} | {diff} |",
            name(r),
            r.depth,
            grouped(r.parameters),
            r.paper_parameters.unwrap_or("–"),
        );
    }
    s
}

/// Table 6 as CSV (errors in percent, empty where there is no value).
pub fn table_csv(rows: &[TableRow]) -> String {
    let f = |v: Option<f64>| v.map_or(String::new(), |v| format!("{v:.4}"));
    let mut s = String::from(
        "arch,depth,shortcut,parameters,paper_parameters,paper_error,paper_mean,paper_std,best_error,mean_error,std_error,seeds,diverged,best_minus_paper\n",
    );
    for r in rows {
        let _ = writeln!(
            s,
            "{},{},{},{},{},{},{},{},{},{},{},{},{},{}",
            r.arch,
            r.depth,
            if r.arch == Arch::Plain { String::new() } else { r.shortcut.to_string() },
            r.parameters,
            r.paper_parameters.unwrap_or(""),
            f(r.paper_error),
            f(r.paper_mean_std.map(|p| p.0)),
            f(r.paper_mean_std.map(|p| p.1)),
            f(r.best.map(|b| 100.0 * b)),
            f(r.mean.map(|m| 100.0 * m)),
            f(r.std.map(|x| 100.0 * x)),
            r.seeds,
            r.diverged,
            f(r.best.zip(r.paper_error).map(|(b, p)| 100.0 * b - p)),
        );
    }
    s
}
