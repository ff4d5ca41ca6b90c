//! What a sweep's records say: the paper's figures (drawn by `plot`), Table 6 beside the paper's
//! numbers, and the verdict in plain sentences (does final training error rise or fall with depth
//! for plain and for residual nets, and the paired plain − residual difference on identical
//! batches). Reads only the records, so it runs on a sweep still in progress.

use crate::config::{Arch, Config, Shortcut};
use crate::data::DataIdentity;
use crate::plan::grouped;
use crate::record::{self, Row, RunCurve};
use crate::{model, plot};
use anyhow::{Context, Result};
use rayon::prelude::*;
use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::path::{Path, PathBuf};

impl RunCurve {
    /// The final epoch's errors; the test error is the last one measured.
    pub fn final_errors(&self) -> Final {
        let last = self.rows.last();
        let diverged = self.status == "diverged";
        Final {
            run_id: self.run.id.clone(),
            arch: self.run.arch,
            depth: self.run.depth,
            shortcut: self.run.shortcut,
            seed: self.run.seed,
            iteration: last.map_or(0, |r| r.iteration),
            train_error: if diverged { f64::NAN } else { last.map_or(f64::NAN, |r| r.train_error) },
            test_error: self.rows.iter().rev().find_map(|r| r.test_error).filter(|_| !diverged),
        }
    }
}

/// A run's last recorded epoch (a diverged run's training error is NaN).
#[derive(Debug, Clone, PartialEq)]
pub struct Final {
    pub run_id: String,
    pub arch: Arch,
    pub depth: u32,
    pub shortcut: Shortcut,
    pub seed: u64,
    pub iteration: u64,
    pub train_error: f64,
    pub test_error: Option<f64>,
}

/// When one net's final training error is *clearly* above another's. A fixed margin in points
/// cannot serve both scales: early in training nets are tens of points apart, at the end of the
/// paper's schedule a few points or less (Fig. 6: every training error under 10%). So the rule is
/// relative: the mean difference must be at least [`RELATIVE_MARGIN`] of the smaller error (and at
/// least [`FLOOR_POINTS`]), and with two or more seeds it must have the same sign in every seed and
/// exceed the seeds' spread (the sample std of the per-seed differences).
const RELATIVE_MARGIN: f64 = 0.10;
const FLOOR_POINTS: f64 = 0.2;

fn pct(x: f64) -> String {
    format!("{:.1}%", 100.0 * x)
}

/// Which error a comparison is about: training error (the paper's criterion) or test error.
type Measure = fn(&Final) -> Option<f64>;
const TRAIN: Measure = |f| Some(f.train_error).filter(|e| e.is_finite());
const TEST: Measure = |f| f.test_error.filter(|e| e.is_finite());

/// One net's final errors (finite ones only), by seed.
fn net_errors(
    finals: &[Final],
    arch: Arch,
    depth: u32,
    shortcut: Shortcut,
    measure: Measure,
) -> BTreeMap<u64, f64> {
    finals
        .iter()
        .filter(|f| f.arch == arch && f.depth == depth)
        .filter(|f| arch == Arch::Plain || f.shortcut == shortcut)
        .filter_map(|f| measure(f).map(|e| (f.seed, e)))
        .collect()
}

fn mean(v: impl IntoIterator<Item = f64>) -> f64 {
    let v: Vec<f64> = v.into_iter().collect();
    v.iter().sum::<f64>() / v.len() as f64
}

/// Sample std (n − 1); 0 for fewer than two values.
fn std(v: &[f64]) -> f64 {
    if v.len() < 2 {
        return 0.0;
    }
    let m = mean(v.iter().copied());
    (v.iter().map(|x| (x - m).powi(2)).sum::<f64>() / (v.len() - 1) as f64).sqrt()
}

/// How net `b` compares with net `a`, and on what: the numbers it prints are the ones it judged.
#[derive(Debug, Clone, PartialEq)]
struct Gap {
    /// Means over the seeds compared.
    a: f64,
    b: f64,
    /// Mean of b − a over the seeds both have, or b's mean − a's mean when they share none.
    diff: f64,
    /// `b` clearly above `a` (+1), clearly below (−1), or neither (0).
    sign: i8,
    /// The seeds both nets have (paired), or empty when they share none (unpaired means).
    paired: Vec<u64>,
    /// Seeds of a and of b (for unpaired means).
    counts: (usize, usize),
}

/// Compares on the seeds both nets have (paired, the twins' or the sweep's common seeds); when
/// they share none, on the two means, which must then also lie further apart than the sum of
/// the two nets' seed spreads.
fn gap(a: &BTreeMap<u64, f64>, b: &BTreeMap<u64, f64>) -> Option<Gap> {
    if a.is_empty() || b.is_empty() {
        return None;
    }
    let paired: Vec<u64> = a.keys().filter(|s| b.contains_key(s)).copied().collect();
    let (ma, mb, diff, steady) = if paired.is_empty() {
        let (va, vb): (Vec<f64>, Vec<f64>) = (a.values().copied().collect(), b.values().copied().collect());
        let (ma, mb) = (mean(va.iter().copied()), mean(vb.iter().copied()));
        (ma, mb, mb - ma, (mb - ma).abs() > std(&va) + std(&vb))
    } else {
        let diffs: Vec<f64> = paired.iter().map(|s| b[s] - a[s]).collect();
        let diff = mean(diffs.iter().copied());
        let steady = diffs.len() < 2
            || (diffs.iter().all(|d| d.signum() == diff.signum()) && diff.abs() > std(&diffs));
        (mean(paired.iter().map(|s| a[s])), mean(paired.iter().map(|s| b[s])), diff, steady)
    };
    let big = diff.abs() >= (RELATIVE_MARGIN * ma.min(mb)).max(FLOOR_POINTS / 100.0);
    let sign = if big && steady { diff.signum() as i8 } else { 0 };
    Some(Gap { a: ma, b: mb, diff, sign, paired, counts: (a.len(), b.len()) })
}

/// The seeds a comparison was judged on, in words.
fn basis(g: &Gap) -> String {
    let list = |s: &[u64]| s.iter().map(u64::to_string).collect::<Vec<_>>().join(", ");
    match (g.paired.as_slice(), g.counts) {
        ([one], (1, 1)) => format!("seed {one}"),
        ([one], _) => format!("seed {one}, the only seed both have"),
        (seeds, (na, nb)) if !seeds.is_empty() && (na > seeds.len() || nb > seeds.len()) => {
            format!("seeds {}, the seeds both have", list(seeds))
        }
        (seeds, _) if !seeds.is_empty() => format!("seeds {}, paired", list(seeds)),
        (_, (na, nb)) => format!("unpaired means of {} and {}", seeds_text(na), seeds_text(nb)),
    }
}

fn seeds_text(n: usize) -> String {
    format!("{n} seed{}", if n == 1 { "" } else { "s" })
}

/// One net's name in the verdict: plain-56, ResNet-56 (option B when it is B).
fn net_name(arch: Arch, depth: u32, shortcut: Shortcut) -> String {
    match (arch, shortcut) {
        (Arch::Plain, _) => format!("plain-{depth}"),
        (Arch::Residual, Shortcut::A) => format!("ResNet-{depth}"),
        (Arch::Residual, Shortcut::B) => format!("ResNet-{depth} (B)"),
    }
}

fn trend(name: &str, errs: &BTreeMap<u32, f64>) -> Option<String> {
    if errs.len() < 2 {
        return None;
    }
    let v: Vec<f64> = errs.values().copied().collect();
    let word = if v.windows(2).all(|w| w[1] > w[0]) {
        "rises with depth"
    } else if v.windows(2).all(|w| w[1] < w[0]) {
        "falls with depth"
    } else if v[v.len() - 1] > v[0] {
        "is higher at the deepest than at the shallowest depth"
    } else {
        "is lower at the deepest than at the shallowest depth"
    };
    let list: Vec<String> = errs.iter().map(|(d, e)| format!("{d} layers {}", pct(*e))).collect();
    Some(format!("{name}: final training error {word} ({}).", list.join(", ")))
}

/// The sentences of the verdict, for each shortcut option apart: the trend of each arch with
/// depth, the paired plain − residual difference at each depth, and the conclusion. The paper's
/// claim has two halves, deeper plain nets train worse (degradation) and deeper residual nets
/// train better; "shown" needs both at one depth pair (and the deeper residual net below its plain
/// twin); otherwise the verdict says which half the records show.
pub fn verdict(finals: &[Final]) -> Vec<String> {
    let mut lines = Vec::new();
    let depths = |arch: Arch| -> Vec<u32> {
        let mut d: Vec<u32> = finals.iter().filter(|f| f.arch == arch).map(|f| f.depth).collect();
        d.sort();
        d.dedup();
        d
    };
    let means = |arch: Arch, sc: Shortcut| -> BTreeMap<u32, f64> {
        depths(arch)
            .into_iter()
            .filter_map(|d| {
                let e = net_errors(finals, arch, d, sc, TRAIN);
                (!e.is_empty()).then(|| (d, mean(e.values().copied())))
            })
            .collect()
    };
    lines.extend(trend("plain nets", &means(Arch::Plain, Shortcut::A)));
    let diverged: Vec<&str> =
        finals.iter().filter(|f| !f.train_error.is_finite()).map(|f| f.run_id.as_str()).collect();
    if !diverged.is_empty() {
        lines.push(format!("Diverged, left out: {}.", diverged.join(", ")));
    }
    let mut options: Vec<Shortcut> =
        finals.iter().filter(|f| f.arch == Arch::Residual).map(|f| f.shortcut).collect();
    options.sort();
    options.dedup();
    for sc in options {
        let opt = format!("option {sc}");
        lines.extend(trend(&format!("residual nets ({opt})"), &means(Arch::Residual, sc)));
        let net = |arch, d| net_errors(finals, arch, d, sc, TRAIN);
        for d in depths(Arch::Residual) {
            let (p, r) = (net(Arch::Plain, d), net(Arch::Residual, d));
            if let Some(g) = gap(&r, &p).filter(|g| !g.paired.is_empty()) {
                let side = if g.diff >= 0.0 { "ahead of" } else { "behind" };
                lines.push(format!(
                    "depth {d}: {} is {:.1} points {side} its plain twin ({} vs {}; {}, identical batches).",
                    net_name(Arch::Residual, d, sc),
                    100.0 * g.diff.abs(),
                    pct(g.a),
                    pct(g.b),
                    basis(&g)
                ));
            }
        }
        lines.extend(conclusion(finals, sc, &depths(Arch::Plain)));
    }
    lines
}

/// Why a gap is not clear: a difference under the margin (which it names), or seeds that disagree.
fn why_unclear(g: &Gap) -> String {
    let margin = (RELATIVE_MARGIN * g.a.min(g.b)).max(FLOOR_POINTS / 100.0);
    if g.diff.abs() < margin {
        format!(
            ": {:.1} points apart, under the margin of {:.1} ({:.0}% of the smaller error)",
            100.0 * g.diff.abs(),
            100.0 * margin,
            100.0 * RELATIVE_MARGIN
        )
    } else {
        ": the seeds disagree or spread more than the difference".into()
    }
}

/// The conclusion for one shortcut option: the depth pair that shows the most of the claim, the
/// seeds each comparison was judged on, and the same comparisons in test error.
fn conclusion(finals: &[Final], sc: Shortcut, plain_depths: &[u32]) -> Vec<String> {
    let net = |arch, d| net_errors(finals, arch, d, sc, TRAIN);
    // (lo, hi, plain gap, residual gap, residual-hi against plain-hi) for every complete pair.
    let mut pairs = Vec::new();
    for (i, &lo) in plain_depths.iter().enumerate() {
        for &hi in &plain_depths[i + 1..] {
            let (Some(p), Some(r), Some(t)) = (
                gap(&net(Arch::Plain, lo), &net(Arch::Plain, hi)),
                gap(&net(Arch::Residual, lo), &net(Arch::Residual, hi)),
                gap(&net(Arch::Residual, hi), &net(Arch::Plain, hi)),
            ) else {
                continue;
            };
            pairs.push((lo, hi, p, r, t));
        }
    }
    // All three conditions, widest pair first; else the pair of the shallowest and deepest nets.
    let shown = pairs.iter().filter(|(_, _, p, r, t)| p.sign > 0 && r.sign < 0 && t.sign > 0);
    let best = shown.max_by_key(|(lo, hi, ..)| hi - lo);
    let Some((lo, hi, p, r, t)) = best.or_else(|| pairs.iter().max_by_key(|(lo, hi, ..)| hi - lo)).cloned()
    else {
        return vec![];
    };
    let (plo, phi) = (net_name(Arch::Plain, lo, sc), net_name(Arch::Plain, hi, sc));
    let (rlo, rhi) = (net_name(Arch::Residual, lo, sc), net_name(Arch::Residual, hi, sc));
    let first = match p.sign {
        1 => format!("{phi} trains worse than {plo} ({} vs {})", pct(p.b), pct(p.a)),
        -1 => format!("{phi} trains better than {plo} ({} vs {}): no degradation", pct(p.b), pct(p.a)),
        _ => {
            format!("{phi} and {plo} are not clearly apart ({} vs {}{})", pct(p.b), pct(p.a), why_unclear(&p))
        }
    };
    let second = match r.sign {
        -1 => format!("{rhi} trains better than {rlo} ({} vs {})", pct(r.b), pct(r.a)),
        1 => {
            format!("{rhi} is still {:.1} points behind {rlo} ({} vs {})", 100.0 * r.diff, pct(r.b), pct(r.a))
        }
        _ => {
            format!("{rhi} and {rlo} are not clearly apart ({} vs {}{})", pct(r.b), pct(r.a), why_unclear(&r))
        }
    };
    let twins = match t.sign {
        1 => format!("{rhi} is {:.1} points ahead of its plain twin", 100.0 * t.diff),
        _ => format!("{rhi} is not clearly ahead of its plain twin ({} vs {})", pct(t.a), pct(t.b)),
    };
    let verdict = match (p.sign > 0, r.sign < 0 && t.sign > 0) {
        (true, true) => format!(
            "Degradation shown (option {sc}), both halves of the paper's claim: {first}, while {second} and \
             {twins}."
        ),
        (true, false) => format!(
            "First half only (option {sc}): {first}, but deeper residual nets are not better yet: {second}; \
             {twins}. {}",
            if r.sign > 0 {
                "Early in training every deeper net lags; train longer."
            } else {
                "Train longer."
            }
        ),
        (false, true) => format!(
            "Second half only (option {sc}): {second} and {twins}, but plain nets do not degrade: {first}."
        ),
        (false, false) => {
            format!("Neither half of the paper's claim yet (option {sc}): {first}; {second}; {twins}.")
        }
    };
    let on = format!(
        "Judged on {phi} against {plo}: {}; {rhi} against {rlo}: {}; {rhi} against {phi}: {}.",
        basis(&p),
        basis(&r),
        basis(&t)
    );
    let mut lines = vec![verdict, on];
    lines.extend(test_error_line(finals, sc, lo, hi));
    lines
}

/// The conclusion's three comparisons in final test error, by the same rule (the verdict itself
/// stays on training error, the paper's criterion for degradation).
fn test_error_line(finals: &[Final], sc: Shortcut, lo: u32, hi: u32) -> Option<String> {
    let net = |arch, d| net_errors(finals, arch, d, sc, TEST);
    let name = |arch, d| net_name(arch, d, sc);
    let mut parts = Vec::new();
    for (a, b) in [
        ((Arch::Plain, lo), (Arch::Plain, hi)),
        ((Arch::Residual, lo), (Arch::Residual, hi)),
        ((Arch::Plain, hi), (Arch::Residual, hi)),
    ] {
        let g = gap(&net(a.0, a.1), &net(b.0, b.1))?;
        let (na, nb, on) = (name(a.0, a.1), name(b.0, b.1), basis(&g));
        parts.push(match g.sign {
            1 => format!("{nb} is worse than {na} ({} vs {}; {on})", pct(g.b), pct(g.a)),
            -1 => format!("{nb} is better than {na} ({} vs {}; {on})", pct(g.b), pct(g.a)),
            _ => format!(
                "{nb} and {na} are not clearly apart ({} vs {}; {on}{})",
                pct(g.b),
                pct(g.a),
                why_unclear(&g)
            ),
        });
    }
    Some(format!("Test error (option {sc}), same rule: {}.", parts.join("; ")))
}

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

/// Table 6 from the recorded runs: one row per (arch, depth, shortcut), plain nets by their own
/// (the paper has none), residual nets beside the paper's figures.
pub fn table(curves: &[RunCurve]) -> Vec<TableRow> {
    let mut groups: BTreeMap<(Arch, u32, Shortcut), Vec<&RunCurve>> = BTreeMap::new();
    for c in curves {
        // A plain net has no shortcuts: its option is only the grid it came from.
        let shortcut = if c.run.arch == Arch::Plain { Shortcut::A } else { c.run.shortcut };
        groups.entry((c.run.arch, c.run.depth, shortcut)).or_default().push(c);
    }
    groups
        .into_iter()
        .map(|((arch, depth, shortcut), runs)| {
            let errs: Vec<f64> = runs.iter().filter_map(|c| c.final_errors().test_error).collect();
            let n = errs.len();
            let mean = (n > 0).then(|| errs.iter().sum::<f64>() / n as f64);
            let std = (n > 1).then(|| {
                let m = mean.expect("n > 0");
                (errs.iter().map(|e| (e - m).powi(2)).sum::<f64>() / (n - 1) as f64).sqrt()
            });
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
                mean,
                std,
                seeds: n,
                diverged: runs.iter().filter(|c| c.status == "diverged").count(),
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

/// Mean of the curves of one net over its seeds, at the iterations all seeds recorded; errors in
/// percent, iterations in units of 1e4.
fn mean_curve(label: String, runs: &[&RunCurve]) -> plot::ErrorCurves {
    let n = runs.len() as f64;
    let mut train = Vec::new();
    let mut test = Vec::new();
    for (k, row) in runs[0].rows.iter().enumerate() {
        let at: Vec<&Row> =
            runs.iter().filter_map(|c| c.rows.get(k).filter(|r| r.iteration == row.iteration)).collect();
        if at.len() != runs.len() {
            break;
        }
        let x = row.iteration as f64 / 1e4;
        train.push((x, 100.0 * at.iter().map(|r| r.train_error).sum::<f64>() / n));
        let tests: Vec<f64> = at.iter().filter_map(|r| r.test_error).collect();
        if tests.len() == at.len() {
            test.push((x, 100.0 * tests.iter().sum::<f64>() / n));
        }
    }
    plot::ErrorCurves { label, train, test }
}

/// The paper's y axis is 0–20%, which clips the first epochs of a full run; when the curves end
/// above 20% (short runs) the axis grows to show them whole instead. The figure says which.
fn y_axis(curves: &[plot::ErrorCurves]) -> (f64, String) {
    let points = || curves.iter().flat_map(|c| c.train.iter().chain(&c.test)).map(|p| p.1);
    let ends = curves.iter().flat_map(|c| c.train.last().into_iter().chain(c.test.last())).map(|p| p.1);
    let top = points().fold(0.0, f64::max);
    if ends.fold(0.0, f64::max) <= 20.0 {
        let entering = if top > 20.0 { "; curves enter from the top where they fall below 20%" } else { "" };
        (20.0, format!("y axis 0-20% as in the paper{entering}."))
    } else {
        let y = ((top / 10.0).ceil() * 10.0).min(100.0);
        (y, format!("y axis 0-{y:.0}%, not the paper's 0-20%: these runs end above 20% error."))
    }
}

/// A figure ready to draw into a given file, by its file name.
type Figure = (&'static str, Box<dyn Fn(&Path) -> Result<()> + Send + Sync>);

/// The figures the records allow, and a line for each one skipped.
fn figures(cfg: &Config, curves: &[RunCurve]) -> Result<(Vec<Figure>, Vec<String>)> {
    let ok: Vec<&RunCurve> = curves.iter().filter(|c| c.status != "diverged" && !c.rows.is_empty()).collect();
    let nets = |arch: Arch| -> BTreeMap<(u32, Shortcut), Vec<&RunCurve>> {
        let mut m: BTreeMap<(u32, Shortcut), Vec<&RunCurve>> = BTreeMap::new();
        for c in ok.iter().filter(|c| c.run.arch == arch) {
            m.entry((c.run.depth, c.run.shortcut)).or_default().push(c);
        }
        m
    };
    let label = |arch: Arch, (depth, shortcut): (u32, Shortcut), n: usize| {
        let name = match (arch, shortcut) {
            (Arch::Plain, _) => format!("plain-{depth}"),
            (Arch::Residual, Shortcut::A) => format!("ResNet-{depth}"),
            (Arch::Residual, Shortcut::B) => format!("ResNet-{depth} (B)"),
        };
        if n > 1 { format!("{name} (mean of {n})") } else { name }
    };
    let (plain, residual) = (nets(Arch::Plain), nets(Arch::Residual));
    let mut out: Vec<Figure> = Vec::new();
    let mut skipped = Vec::new();

    match (plain.iter().next(), plain.iter().next_back()) {
        (Some((a, ra)), Some((b, rb))) if a.0 < b.0 => {
            let curves = vec![
                mean_curve(label(Arch::Plain, *a, ra.len()), ra),
                mean_curve(label(Arch::Plain, *b, rb.len()), rb),
            ];
            let (y, note) = y_axis(&curves);
            let title = format!("{}: plain nets", cfg.name);
            out.push((
                "fig1.png",
                Box::new(move |p: &Path| plot::train_test_figure(p, &title, &note, &curves, y)),
            ));
        }
        _ => {
            let depths: Vec<u32> = plain.keys().map(|k| k.0).collect();
            skipped.push(format!(
                "fig1.png skipped: needs finished plain nets of two depths, the records have {depths:?}"
            ));
        }
    }
    for (file, arch, set, what) in [
        ("fig6_plain.png", Arch::Plain, &plain, "plain nets"),
        ("fig6_residual.png", Arch::Residual, &residual, "residual nets"),
    ] {
        // As in the paper: plain-110 (above 60% error) is left out, ResNet-1202 has its own panel.
        let drawn: Vec<plot::ErrorCurves> = set
            .iter()
            .filter(|((d, _), _)| *d < 110 || (arch == Arch::Residual && *d == 110))
            .map(|(key, runs)| mean_curve(label(arch, *key, runs.len()), runs))
            .collect();
        if drawn.is_empty() {
            skipped.push(format!(
                "{file} skipped: no finished {what} of fewer than 110 layers (110 for ResNets) in the records"
            ));
            continue;
        }
        let (y, note) = y_axis(&drawn);
        let note = format!("dashed: training error, bold: test error. {note}");
        let title = format!("{}: {what}", cfg.name);
        out.push((file, Box::new(move |p: &Path| plot::error_figure(p, &title, &note, &drawn, y))));
    }
    let deep: Vec<plot::ErrorCurves> = residual
        .iter()
        .filter(|((d, _), _)| *d == 110 || *d == 1202)
        .map(|(key, runs)| mean_curve(label(Arch::Residual, *key, runs.len()), runs))
        .collect();
    if deep.len() == 2 {
        let (y, note) = y_axis(&deep);
        let note = format!("dashed: training error, bold: test error. {note}");
        let title = format!("{}: ResNet-110 and ResNet-1202", cfg.name);
        out.push(("fig6_deep.png", Box::new(move |p: &Path| plot::error_figure(p, &title, &note, &deep, y))));
    } else {
        skipped.push("fig6_deep.png skipped: needs finished ResNet-110 and ResNet-1202 runs".into());
    }

    let mut lines = Vec::new();
    for (arch, set) in [(Arch::Plain, &plain), (Arch::Residual, &residual)] {
        for (key, runs) in set {
            let mut all: Vec<Vec<f64>> = Vec::new();
            for c in runs {
                all.extend(record::responses(cfg, &c.run)?);
            }
            if let Some(first) = all.first() {
                let mean = (0..first.len())
                    .map(|i| all.iter().map(|s| s[i]).sum::<f64>() / all.len() as f64)
                    .collect();
                lines.push((label(arch, *key, all.len()), mean));
            }
        }
    }
    if lines.is_empty() {
        skipped.push(
            "fig7_layer_responses.png skipped: no run recorded layer responses (layer_responses: true)"
                .into(),
        );
    } else {
        out.push(("fig7_layer_responses.png", Box::new(move |p: &Path| plot::responses_figure(p, &lines))));
    }
    Ok((out, skipped))
}

/// The plots folder of an experiment.
pub fn plots_dir(cfg: &Config) -> PathBuf {
    cfg.plots_dir.join(&cfg.name)
}

/// A link from a file in `from_dir` to `to`: relative when both paths are, absolute otherwise.
fn link(from_dir: &Path, to: &Path) -> String {
    if from_dir.is_relative() && to.is_relative() {
        let ups = from_dir.components().filter(|c| matches!(c, std::path::Component::Normal(_))).count();
        format!("{}{}", "../".repeat(ups), to.display())
    } else {
        std::path::absolute(to).unwrap_or_else(|_| to.to_path_buf()).display().to_string()
    }
}

/// How the runs were trained, in one line, so that a report read on its own says which schedule
/// and precision its numbers come from (a compressed CPU schedule is not the paper's 64k).
fn recipe(cfg: &Config, curves: &[RunCurve]) -> String {
    let (o, s) = (&cfg.optimizer, &cfg.schedule);
    let epochs = curves.iter().map(|c| c.rows.len()).max().unwrap_or(0);
    let mut text = format!(
        "Trained for {} iterations at batch {} ({epochs} epochs), SGD lr {} with momentum {} and weight \
         decay {}",
        grouped(s.iterations),
        cfg.batch_size,
        o.lr,
        o.momentum,
        o.weight_decay
    );
    if !s.milestones.is_empty() {
        let at: Vec<String> = s.milestones.iter().map(|&m| grouped(m)).collect();
        let _ = write!(text, ", lr times {} at {}", s.gamma, at.join(" and "));
    }
    if curves.iter().any(|c| crate::train::warms_up(s, c.run.depth)) {
        let w = &s.warmup;
        let _ = write!(text, ", nets of {}+ layers warmed up at lr {}", w.min_depth, w.lr);
    }
    let leftover = match cfg.last_batch {
        crate::config::LastBatch::Partial => {
            "an epoch's leftover images form a smaller last batch (`last_batch: partial`)"
        }
        crate::config::LastBatch::Drop => "an epoch's leftover images are left out (`last_batch: drop`)",
        crate::config::LastBatch::Wrap => {
            "every batch full, running on into the next epoch's order (`last_batch: wrap`)"
        }
    };
    let a = &cfg.augment;
    let _ = write!(text, "; {leftover}; pad {} and crop, flips {}", a.pad, if a.flip { "on" } else { "off" });
    let precision = if cfg.bf16 {
        "forward passes in bfloat16 under autocast (`bf16: true`), weights and SGD fp32"
    } else if cfg.tf32 {
        "fp32 with TF32 convolutions on a GPU (`tf32: true`)"
    } else {
        "fp32"
    };
    let every = match cfg.eval_every {
        1 => "every epoch".to_string(),
        n => format!("every {n} epochs and after the last"),
    };
    let _ = write!(text, "; {precision}; test set evaluated {every}.");
    text
}

/// On which data the records stand, in one line, and whether it is the official CIFAR-10 (the
/// paper's) throughout.
fn data_line(curves: &[RunCurve]) -> (String, bool) {
    let mut sets: Vec<&DataIdentity> = Vec::new();
    for d in curves.iter().filter_map(|c| c.data.as_ref()) {
        if !sets.iter().any(|s| s.differs_from(d).is_none()) {
            sets.push(d);
        }
    }
    let unrecorded = curves.iter().filter(|c| c.data.is_none()).count();
    let official = unrecorded == 0 && sets.iter().all(|d| d.official);
    let one = |d: &DataIdentity| {
        let test = d.files.iter().find(|f| f.name == crate::data::TEST_FILE).map_or("?", |f| &f.sha256[..16]);
        let note = d.note.as_ref().map_or(String::new(), |n| format!(" ({n})"));
        format!("{} (test_batch.bin SHA-256 {test}…){note}", d.what)
    };
    let text = match (sets.as_slice(), unrecorded) {
        ([], _) => "Data: not recorded (these runs were made before resdeg recorded its data).".to_string(),
        ([d], 0) => format!("Data: {}.", one(d)),
        _ => {
            let mut parts: Vec<String> = sets.iter().map(|d| one(d)).collect();
            if unrecorded > 0 {
                parts.push(format!("{unrecorded} run(s) with no record of their data"));
            }
            format!("Data: the runs did not all train on the same files: {}.", parts.join("; "))
        }
    };
    (text, official)
}

/// How many sittings trained the runs, when any took more than one.
fn sittings_line(curves: &[RunCurve]) -> Option<String> {
    let resumed: Vec<String> = curves
        .iter()
        .filter(|c| c.sittings > 1)
        .map(|c| format!("{} in {} sittings", c.run.id, c.sittings))
        .collect();
    (!resumed.is_empty())
        .then(|| format!("Resumed runs (run.yaml lists each sitting): {}.", resumed.join(", ")))
}

/// Reads the records and writes the figures (in parallel), Table 6 and REPORT.md; returns the
/// lines to print: the table, the verdict and what was skipped.
pub fn write_report(cfg: &Config) -> Result<Vec<String>> {
    let curves = record::curves(cfg)?;
    let results = record::experiment_dir(cfg);
    if curves.is_empty() {
        return Ok(vec![format!("report: no records in {} yet; nothing to report", results.display())]);
    }
    let rows = table(&curves);
    let md = table_markdown(&rows);
    let finals: Vec<Final> = curves.iter().map(RunCurve::final_errors).collect();
    let verdict = verdict(&finals);
    let bullets: String = verdict.iter().map(|v| format!("- {v}\n")).collect();
    let (data, official) = data_line(&curves);
    let how = format!(
        "{}\n\n{data}{}",
        recipe(cfg, &curves),
        sittings_line(&curves).map_or(String::new(), |l| format!("\n\n{l}"))
    );
    let what = if official {
        "Final-epoch test error (never the best epoch) on the evaluation images.".to_string()
    } else {
        "Final-epoch test error (never the best epoch) on the evaluation images. The paper's numbers are on the \
         official CIFAR-10 and these runs' data is not (see Data above): \"best − paper\" compares across data."
            .to_string()
    };
    record::write_text(
        &results.join("table6.md"),
        &format!("# Table 6: {}\n\n{how}\n\n{what}\n\n{md}\n## Verdict\n\n{bullets}", cfg.name),
    )?;
    record::write_text(&results.join("table6.csv"), &table_csv(&rows))?;

    let plots = plots_dir(cfg);
    std::fs::create_dir_all(&plots)
        .with_context(|| format!("cannot create {}; check plots_dir", plots.display()))?;
    let (figs, skipped) = figures(cfg, &curves)?;
    let t0 = std::time::Instant::now();
    figs.par_iter().map(|(file, draw)| draw(&plots.join(file))).collect::<Result<Vec<()>>>()?;
    let render_s = t0.elapsed().as_secs_f64();

    let mut report = format!(
        "# {}: plain against residual nets\n\n{how}\n\n{bullets}\n## Table 6\n\n{what}\n\n{md}\n## Figures\n\n",
        cfg.name
    );
    for (file, _) in &figs {
        let _ = writeln!(report, "![{file}]({})\n", link(&results, &plots.join(file)));
    }
    for s in &skipped {
        let _ = writeln!(report, "- {s}");
    }
    record::write_text(&results.join("REPORT.md"), &report)?;

    let mut lines = vec![
        String::new(),
        md.trim_end().to_string(),
        String::new(),
        format!("What the records of {} say:", cfg.name),
    ];
    lines.extend(verdict.iter().map(|v| format!("  {v}")));
    lines.extend(skipped);
    lines.push(format!(
        "report: {} figures in {} (drawn in {:.0} ms); Table 6 and REPORT.md in {}",
        figs.len(),
        plots.display(),
        1000.0 * render_s,
        results.display()
    ));
    Ok(lines)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn f(arch: Arch, depth: u32, seed: u64, train_error: f64) -> Final {
        fb(arch, depth, Shortcut::A, seed, train_error)
    }

    fn fb(arch: Arch, depth: u32, shortcut: Shortcut, seed: u64, train_error: f64) -> Final {
        Final {
            run_id: format!("{arch}-{depth}-{shortcut}-{seed}"),
            arch,
            depth,
            shortcut,
            seed,
            iteration: 100,
            train_error,
            test_error: None,
        }
    }

    /// The conclusion: the last line before the seeds it was judged on and the test-error line.
    fn last(v: &[String]) -> &str {
        let ends = |l: &&String| !l.starts_with("Judged on") && !l.starts_with("Test error");
        v.iter().rev().find(ends).map(String::as_str).unwrap_or_default()
    }

    /// The end of the paper's schedule (Fig. 6): every training error under 10%, plain nets
    /// ordered 20 < 32 < 44 < 56, residual nets the other way; gaps of a few points or less.
    #[test]
    fn the_verdict_at_paper_scale() {
        use Arch::{Plain, Residual};
        let mut finals = vec![];
        for (d, p, r) in [(20, 0.02, 0.040), (32, 0.04, 0.025), (44, 0.06, 0.015), (56, 0.08, 0.010)] {
            for seed in [0, 1] {
                let jitter = 0.001 * (2.0 * seed as f64 - 1.0);
                finals.push(f(Plain, d, seed, p + jitter));
                finals.push(f(Residual, d, seed, r + jitter / 4.0));
            }
        }
        let v = verdict(&finals);
        assert_eq!(
            v[0],
            "plain nets: final training error rises with depth (20 layers 2.0%, 32 layers 4.0%, 44 layers 6.0%, 56 layers 8.0%)."
        );
        assert!(v[1].starts_with("residual nets (option A): final training error falls with depth"), "{v:?}");
        assert!(
            v[5].starts_with(
                "depth 56: ResNet-56 is 7.0 points ahead of its plain twin (1.0% vs 8.0%; seeds 0, 1, paired"
            ),
            "{v:?}"
        );
        assert!(
            last(&v).starts_with(
                "Degradation shown (option A), both halves of the paper's claim: plain-56 trains worse than plain-20 \
                 (8.0% vs 2.0%), while ResNet-56 trains better than ResNet-20 (1.0% vs 4.0%)"
            ),
            "{}",
            last(&v)
        );
        // The old fixed 5-point margin would have said "not degradation yet" here.
    }

    /// quick.yaml after 700 iterations: plain-56 behind plain-20, but ResNet-56 far behind
    /// ResNet-20 too; only the first half holds.
    #[test]
    fn the_verdict_after_a_short_run_claims_only_what_it_shows() {
        use Arch::{Plain, Residual};
        let v = verdict(&[
            f(Plain, 20, 0, 0.496),
            f(Residual, 20, 0, 0.369),
            f(Plain, 56, 0, 0.772),
            f(Residual, 56, 0, 0.563),
        ]);
        assert!(
            last(&v).starts_with(
                "First half only (option A): plain-56 trains worse than plain-20 (77.2% vs 49.6%), but deeper residual \
                 nets are not better yet: ResNet-56 is still 19.4 points behind ResNet-20 (56.3% vs 36.9%)"
            ),
            "{}",
            last(&v)
        );
        assert!(
            v.iter().any(|l| l.starts_with("depth 56: ResNet-56 is 20.9 points ahead of its plain twin")),
            "{v:?}"
        );

        // A residual twin behind its plain twin is said so, not as a negative lead.
        let v = verdict(&[f(Plain, 20, 0, 0.40), f(Residual, 20, 0, 0.453)]);
        assert_eq!(
            v,
            [
                "depth 20: ResNet-20 is 5.3 points behind its plain twin (45.3% vs 40.0%; seed 0, identical batches)."
            ]
        );

        // The 2-hour CPU study (cpu_study, 6,000 iterations): ResNet-32 ahead of ResNet-20, but by
        // less than the margin; the verdict says by how much and what the margin is.
        let v = verdict(&[
            f(Plain, 20, 0, 0.1825),
            f(Residual, 20, 0, 0.1502),
            f(Plain, 32, 0, 0.2437),
            f(Residual, 32, 0, 0.1387),
        ]);
        assert!(last(&v).starts_with("First half only (option A): plain-32 trains worse"), "{}", last(&v));
        assert!(
            last(&v).contains(
                "ResNet-32 and ResNet-20 are not clearly apart (13.9% vs 15.0%: 1.2 points apart, under the margin of 1.4 (10% of the smaller error))"
            ),
            "{}",
            last(&v)
        );
        assert!(last(&v).ends_with("Train longer."), "{}", last(&v));

        // Neither half: all four within the margin.
        let v = verdict(&[
            f(Plain, 20, 0, 0.500),
            f(Residual, 20, 0, 0.500),
            f(Plain, 56, 0, 0.510),
            f(Residual, 56, 0, 0.505),
        ]);
        assert!(last(&v).starts_with("Neither half of the paper's claim yet (option A)"), "{}", last(&v));

        // Second half only: the deeper plain net is better.
        let v = verdict(&[
            f(Plain, 20, 0, 0.08),
            f(Residual, 20, 0, 0.05),
            f(Plain, 56, 0, 0.05),
            f(Residual, 56, 0, 0.02),
        ]);
        assert!(last(&v).starts_with("Second half only (option A)"), "{}", last(&v));
        assert!(last(&v).contains("no degradation"), "{}", last(&v));
    }

    /// Seeds must agree in sign and outweigh their spread; options A and B are judged apart; a
    /// diverged run is left out, never averaged in as NaN.
    #[test]
    fn the_verdict_weighs_seeds_options_and_divergence() {
        use Arch::{Plain, Residual};
        // ResNet-56 better than ResNet-20 by 2 points on average, but worse in one seed of two.
        let mut finals = vec![];
        for (seed, r56) in [(0, 0.01), (1, 0.07)] {
            finals.extend([
                f(Plain, 20, seed, 0.03),
                f(Residual, 20, seed, 0.06),
                f(Plain, 56, seed, 0.09),
                f(Residual, 56, seed, r56),
            ]);
        }
        let v = verdict(&finals);
        assert!(last(&v).starts_with("First half only"), "{}", last(&v));
        assert!(
            last(&v)
                .contains("ResNet-56 and ResNet-20 are not clearly apart (4.0% vs 6.0%: the seeds disagree"),
            "{}",
            last(&v)
        );

        // Option B shows both halves, option A only the first: two conclusions.
        let mut finals = vec![
            f(Plain, 20, 0, 0.05),
            f(Plain, 56, 0, 0.09),
            fb(Residual, 20, Shortcut::A, 0, 0.04),
            fb(Residual, 56, Shortcut::A, 0, 0.06),
            fb(Residual, 20, Shortcut::B, 0, 0.04),
            fb(Residual, 56, Shortcut::B, 0, 0.02),
        ];
        let v = verdict(&finals);
        assert!(v.iter().any(|l| l.starts_with("First half only (option A)")), "{v:?}");
        assert!(v.iter().any(|l| l.starts_with("Degradation shown (option B)")), "{v:?}");
        assert!(v.iter().any(|l| l.contains("ResNet-56 (B) trains better than ResNet-20 (B)")), "{v:?}");

        // A diverged plain-56 leaves no pair at 56 and no NaN anywhere.
        finals[1].train_error = f64::NAN;
        let v = verdict(&finals);
        assert!(v.iter().all(|l| !l.contains("NaN")), "{v:?}");
        assert!(v.iter().any(|l| l == "Diverged, left out: plain-56-A-0."), "{v:?}");
        assert!(!v.iter().any(|l| l.starts_with("depth 56")), "{v:?}");
        assert!(verdict(&[f(Residual, 20, 0, 0.1)]).is_empty());
    }

    /// Nets with different seeds are compared on the seeds both have, and the numbers printed are
    /// the ones compared (ResNet-110 over 5 seeds against ResNet-56 over 1: seed 0 alone); with no
    /// seed in common, on unpaired means that must lie further apart than their spreads.
    #[test]
    fn the_verdict_prints_what_it_judged() {
        use Arch::{Plain, Residual};
        let mut finals = vec![f(Plain, 56, 0, 0.10), f(Residual, 56, 0, 0.06), f(Plain, 110, 0, 0.15)];
        for (seed, e) in [(0, 0.05), (1, 0.09), (2, 0.09), (3, 0.09), (4, 0.09)] {
            finals.push(f(Residual, 110, seed, e));
        }
        let v = verdict(&finals);
        assert!(
            last(&v).starts_with(
                "Degradation shown (option A), both halves of the paper's claim: plain-110 trains worse than plain-56 \
                 (15.0% vs 10.0%), while ResNet-110 trains better than ResNet-56 (5.0% vs 6.0%)"
            ),
            "{v:?}"
        );
        assert!(
            v.contains(&"Judged on plain-110 against plain-56: seed 0; ResNet-110 against ResNet-56: seed 0, the only \
                 seed both have; ResNet-110 against plain-110: seed 0, the only seed both have."
                .to_string()),
            "{v:?}"
        );
        assert!(v.iter().any(|l| l.starts_with("depth 110: ResNet-110 is 10.0 points ahead of its plain twin (5.0% vs 15.0%; seed 0, the only seed both have")), "{v:?}");
        // The mean over ResNet-110's five seeds (8.2%) is printed nowhere in the judgement.
        assert!(!v.iter().filter(|l| !l.starts_with("residual nets")).any(|l| l.contains("8.2%")), "{v:?}");

        // No seed in common: unpaired means, which must lie apart by more than the two spreads.
        let a: BTreeMap<u64, f64> = [(0, 0.10), (1, 0.11), (2, 0.12)].into();
        let g = gap(&a, &[(3, 0.20), (4, 0.21)].into()).unwrap();
        assert_eq!((g.sign, basis(&g).as_str()), (1, "unpaired means of 3 seeds and 2 seeds"));
        assert!((g.b - 0.205).abs() < 1e-12 && (g.a - 0.11).abs() < 1e-12);
        let g = gap(&a, &[(3, 0.13), (4, 0.10)].into()).unwrap();
        assert_eq!(g.sign, 0, "{g:?}");
    }

    /// The test-error line compares the conclusion's nets by the same rule (cpu_study_bf16's final
    /// errors: ResNet-32 0.7 points below ResNet-20 in test error, under the margin).
    #[test]
    fn the_verdict_has_a_test_error_line() {
        use Arch::{Plain, Residual};
        let ft = |arch, depth, train, test| Final { test_error: Some(test), ..f(arch, depth, 0, train) };
        let v = verdict(&[
            ft(Plain, 20, 0.1453, 0.1707),
            ft(Plain, 32, 0.1867, 0.2027),
            ft(Residual, 20, 0.1156, 0.1520),
            ft(Residual, 32, 0.0985, 0.1449),
        ]);
        assert!(last(&v).starts_with("Degradation shown (option A)"), "{v:?}");
        assert_eq!(
            v.last().unwrap(),
            "Test error (option A), same rule: plain-32 is worse than plain-20 (20.3% vs 17.1%; seed 0); ResNet-32 and \
             ResNet-20 are not clearly apart (14.5% vs 15.2%; seed 0: 0.7 points apart, under the margin of 1.4 (10% of \
             the smaller error)); ResNet-32 is better than plain-32 (14.5% vs 20.3%; seed 0)."
        );
    }

    /// A synthetic results folder: ResNet-110 three times, a diverged plain-110, and a run of the
    /// config (residual-20) never recorded.
    #[test]
    fn report_from_synthetic_records() {
        use crate::record::{EpochRecord, Outcome, Status};
        let dir = std::env::temp_dir().join(format!("resdeg-report-{}", std::process::id()));
        let text = format!(
            "name: synth\ndepths: [20, 56, 110]\ngrids:\n  - {{archs: [residual], depths: [110], seeds: [1, 2]}}\n  - {{archs: [residual], depths: [1202]}}\n\
             results_dir: {}\nplots_dir: {}\n",
            dir.join("results").display(),
            dir.join("plots").display()
        );
        let cfg = Config::parse(&text, Path::new("synth.yaml"), "synth").unwrap();
        // Final test error per run: deeper plain nets worse, deeper residual nets better.
        let final_test = |r: &crate::plan::Run| match (r.arch, r.depth, r.seed) {
            (Arch::Plain, d, _) => 0.05 + d as f64 / 1000.0,
            (Arch::Residual, 110, s) => 0.06 + s as f64 / 100.0,
            (Arch::Residual, d, _) => 0.05 - d as f64 / 100_000.0,
        };
        let data = DataIdentity {
            dir: dir.join("data"),
            files: vec![crate::data::DataFile {
                name: "test_batch.bin".into(),
                bytes: 3073,
                sha256: "ab".repeat(32),
            }],
            official: false,
            what: "synthetic files".into(),
            note: None,
        };
        for run in crate::plan::runs(&cfg) {
            if run.id == "residual-20-A-s0" {
                continue;
            }
            let diverged = run.id == "plain-110-s0";
            let curves: Vec<EpochRecord> = (1..=4u64)
                .map(|e| {
                    let test = final_test(&run) + 0.1 * (4 - e) as f64;
                    EpochRecord {
                        epoch: e,
                        iteration: 100 * e,
                        lr: 0.1,
                        train_loss: if diverged && e == 4 { f64::NAN } else { 1.0 },
                        train_error: test - 0.02,
                        test_loss: Some(1.0),
                        test_error: Some(test),
                        elapsed_s: e as f64,
                        images_per_s: 1.0,
                    }
                })
                .collect();
            let layers = model::conv_stages(run.depth).len();
            let info = record::RunInfo::sitting(&run, &cfg, &data, record::Environment::here("cpu"), None);
            let o = Outcome {
                status: if diverged { Status::Diverged } else { Status::Finished },
                curves,
                responses: (!diverged).then(|| {
                    (0..layers)
                        .map(|k| model::LayerStd { std: 1.0 / (k + 1) as f64, channel_std: 0.5 })
                        .collect()
                }),
                run,
                warmup: None,
            };
            record::write_outcome(&cfg, &o, info).unwrap();
        }
        record::gather_curves(&cfg).unwrap();
        let lines = write_report(&cfg).unwrap();
        let plots = plots_dir(&cfg);
        for f in
            ["fig1.png", "fig6_plain.png", "fig6_residual.png", "fig6_deep.png", "fig7_layer_responses.png"]
        {
            assert!(std::fs::metadata(plots.join(f)).unwrap().len() > 10_000, "{f}");
        }
        let results = record::experiment_dir(&cfg);
        let md = std::fs::read_to_string(results.join("table6.md")).unwrap();
        let csv = std::fs::read_to_string(results.join("table6.csv")).unwrap();
        let report = std::fs::read_to_string(results.join("REPORT.md")).unwrap();
        // ResNet-110 seeds 0, 1, 2 end at 6%, 7%, 8%: best 6.00, mean 7.00 ± 1.00, 0.43 under the paper.
        let row =
            "| ResNet (A) | 110 | 1,727,962 | 1.7M | 6.43 (6.61 ± 0.16) | 6.00 | 7.00 ± 1.00 | 3 | -0.43 |";
        assert!(md.contains(row), "{md}");
        assert!(
            csv.contains("residual,110,A,1727962,1.7M,6.4300,6.6100,0.1600,6.0000,7.0000,1.0000,3,0,-0.4300"),
            "{csv}"
        );
        // Plain nets have no paper figures; the diverged plain-110 counts in no statistic.
        assert!(md.contains("| plain | 20 | 269,722 | – | – | 7.00 | 7.00 | 1 | – |"), "{md}");
        assert!(md.contains("| plain | 110 | 1,727,962 | – | – | – | – | 0 (1 diverged) | – |"), "{md}");
        assert!(!md.contains("| ResNet (A) | 20 |"), "a run never recorded has no row: {md}");
        // Without a residual-20 no depth pair is complete, so no conclusion is drawn.
        assert!(md.contains("- depth 56: ResNet-56 is 5.7 points ahead of its plain twin"), "{md}");
        assert!(report.contains("Diverged, left out: plain-110-s0.") && !md.contains("half"), "{md}");
        assert!(report.contains("fig6_plain.png") && report.contains("## Table 6"), "{report}");
        // Defaults: 64,000 iterations, lr 0.1 divided by 10 at 32k and 48k, warm-up for ResNet-110.
        let how = "Trained for 64,000 iterations at batch 128 (4 epochs), SGD lr 0.1 with momentum 0.9 and \
                   weight decay 0.0001, lr times 0.1 at 32,000 and 48,000, nets of 110+ layers warmed up at \
                   lr 0.01; every batch full, running on into the next epoch's order (`last_batch: wrap`); pad 4 \
                   and crop, flips on; fp32; test set evaluated every epoch.";
        assert!(report.contains(how) && md.contains(how), "{report}");
        // The data the records name, and that the paper's numbers stand on other data.
        let data = "Data: synthetic files (test_batch.bin SHA-256 abababababababab…).";
        assert!(report.contains(data) && md.contains(data), "{report}");
        assert!(md.contains("\"best − paper\" compares across data"), "{md}");
        assert!(lines.iter().any(|l| l.starts_with("report: 5 figures")), "{lines:?}");
        if std::env::var_os("RESDEG_KEEP_TEST_OUTPUT").is_none() {
            std::fs::remove_dir_all(dir).unwrap();
        }
    }
}
