//! Two sweeps' runs of the same id side by side. A run id names the net and its seed, and the
//! seed fixes the initial weights and every batch, so what separates two sweeps' curves of one id
//! is what their recipes differ in, which this names: bf16 against fp32, one data copy against
//! another. Reads only the records; writes `vs_<other>.md` beside the sweep's REPORT.md and
//! `vs_<other>.png` beside its figures.

use crate::config::Config;
use crate::plan;
use crate::plot;
use crate::record::{self, RunCurve};
use crate::report::{data_line, link, mean_curve, plots_dir, y_axis};
use crate::verdict::{Final, mean, verdict};
use anyhow::{Context, Result};
use std::collections::HashMap;
use std::fmt::Write as _;

/// One run id recorded by both sweeps, each cut to the iterations both recorded.
struct Pair {
    a: RunCurve,
    b: RunCurve,
}

impl Pair {
    fn new(a: &RunCurve, b: &RunCurve) -> Pair {
        let common = |x: &RunCurve, y: &RunCurve| {
            let mut x = x.clone();
            x.rows.retain(|r| y.rows.iter().any(|s| s.iteration == r.iteration));
            x
        };
        Pair { a: common(a, b), b: common(b, a) }
    }

    /// The training error of a minus b at every epoch both recorded, in points, with the epoch.
    fn train_gaps(&self) -> Vec<(usize, f64)> {
        let rows = self.a.rows.iter().zip(&self.b.rows);
        rows.enumerate().map(|(k, (a, b))| (k + 1, 100.0 * (a.train_error - b.train_error))).collect()
    }
}

/// An error in percent, or why there is none.
fn pct(e: Option<f64>, diverged: bool) -> String {
    match e {
        _ if diverged => "diverged".into(),
        Some(e) if e.is_finite() => format!("{:.2}%", 100.0 * e),
        _ => "–".into(),
    }
}

/// `a / b (a − b)` for one error of both final epochs.
fn both(p: &Pair, error: fn(&Final) -> Option<f64>) -> String {
    let (fa, fb) = (p.a.final_errors(), p.b.final_errors());
    let (ea, eb) = (error(&fa), error(&fb));
    let gap = match (ea, eb) {
        (Some(x), Some(y)) if (x - y).is_finite() => format!(" ({:+.2})", 100.0 * (x - y)),
        _ => String::new(),
    };
    format!("{} / {}{gap}", pct(ea, p.a.diverged()), pct(eb, p.b.diverged()))
}

/// Minutes of training to the last epoch both recorded, a / b, and how many times longer b took.
/// A run records its lockstep group's time, so runs trained in groups of different sizes get no
/// ratio, only the sizes.
fn times(p: &Pair, (ga, gb): (usize, usize)) -> String {
    let last = |c: &RunCurve| c.rows.last().map_or(f64::NAN, |r| r.elapsed_s);
    let (ta, tb) = (last(&p.a), last(&p.b));
    if !(ta.is_finite() && tb.is_finite() && ta > 0.0) {
        return "–".into();
    }
    let ratio = if ga == gb { format!("{:.2}x", tb / ta) } else { format!("{ga} / {gb} nets a group") };
    format!("{:.0} / {:.0} min ({ratio})", ta / 60.0, tb / 60.0)
}

/// For each run id of `cfg`'s sweep, how many nets train in lockstep with it, itself included.
fn group_sizes(cfg: &Config) -> HashMap<String, usize> {
    let runs = plan::runs(cfg);
    plan::lockstep_groups(&runs).iter().flat_map(|g| g.iter().map(|r| (r.id.clone(), g.len()))).collect()
}

/// Compares `a`'s records with `b`'s runs of the same ids; writes the page and its figure and
/// returns the lines to print.
pub fn write_comparison(a: &Config, b: &Config) -> Result<Vec<String>> {
    let (ca, cb) = (record::curves(a)?, record::curves(b)?);
    let pairs: Vec<Pair> = ca
        .iter()
        .filter_map(|x| cb.iter().find(|y| y.run.id == x.run.id).map(|y| Pair::new(x, y)))
        .filter(|p| !p.a.rows.is_empty())
        .collect();
    if pairs.is_empty() {
        let ids = |c: &[RunCurve]| c.iter().map(|c| c.run.id.as_str()).collect::<Vec<_>>().join(", ");
        return Ok(vec![format!(
            "compare: {} ({}) and {} ({}) share no run recorded at the same iterations; nothing to compare",
            a.name,
            ids(&ca),
            b.name,
            ids(&cb)
        )]);
    }
    let (na, nb) = (&a.name, &b.name);
    let differences = a.recipe_differences(b);
    let differ = if differences.is_empty() {
        "The two recipes are the same: what separates the runs is the machine, the thread count or the data."
            .to_string()
    } else {
        format!("What the recipes differ in ({na} / {nb}): {}.", differences.join("; "))
    };
    let mut all: Vec<RunCurve> = pairs.iter().map(|p| p.a.clone()).collect();
    all.extend(pairs.iter().map(|p| p.b.clone()));
    let (data, _) = data_line(&all);
    let only = |x: &[RunCurve], name: &str| {
        let ids: Vec<&str> = x
            .iter()
            .map(|c| c.run.id.as_str())
            .filter(|id| !pairs.iter().any(|p| p.a.run.id == *id))
            .collect();
        (!ids.is_empty()).then(|| format!("Recorded by {name} only, not compared: {}.", ids.join(", ")))
    };
    let mut md = format!(
        "# {na} against {nb}\n\nEach run as both sweeps recorded it, to the last epoch both reached: the same run id \
         starts the same net from the same weights on the same batches, so what separates the two is what their \
         recipes differ in. {differ}\n\n{data}\n\n"
    );
    for line in [only(&ca, na), only(&cb, nb)].into_iter().flatten() {
        let _ = write!(md, "{line}\n\n");
    }
    let _ = write!(
        md,
        "| run | epochs | final training error | final test error | training error gap per epoch: mean, largest | \
         training time |\n|---|---|---|---|---|---|\n"
    );
    let mut lines = vec![String::new()];
    let mut groups_differ = false;
    let (sizes_a, sizes_b) = (group_sizes(a), group_sizes(b));
    for p in &pairs {
        let size = |sizes: &HashMap<String, usize>, id: &str| sizes.get(id).copied().unwrap_or(1);
        let groups = (size(&sizes_a, &p.a.run.id), size(&sizes_b, &p.b.run.id));
        groups_differ |= groups.0 != groups.1;
        let gaps = p.train_gaps();
        // The first epoch where the gap is largest.
        let largest = gaps.iter().fold(gaps[0], |best, &g| if g.1.abs() > best.1.abs() { g } else { best });
        let row = format!(
            "| {} | {} | {} | {} | {:.2}, {:+.2} (epoch {}) | {} |",
            p.a.run.id,
            gaps.len(),
            both(p, |f| Some(f.train_error)),
            both(p, |f| f.test_error),
            mean(gaps.iter().map(|g| g.1.abs())),
            largest.1,
            largest.0,
            times(p, groups)
        );
        let _ = writeln!(md, "{row}");
        lines.push(row);
    }
    let _ = write!(
        md,
        "\nErrors {na} / {nb} ({na} − {nb} in points). The gap per epoch is in training error, over every epoch \
         both recorded: the mean of its size, and the largest with its sign and epoch. Training time is the lockstep \
         pair's, evaluations excluded, and its ratio {nb} / {na}.{}\n\n## The verdict on these runs alone\n\n",
        if groups_differ {
            " Where the two sweeps trained a run in lockstep groups of different sizes, the times are not \
             comparable: the row gives each group's size instead."
        } else {
            ""
        }
    );
    let side_a: Vec<&RunCurve> = pairs.iter().map(|p| &p.a).collect();
    let side_b: Vec<&RunCurve> = pairs.iter().map(|p| &p.b).collect();
    for (name, side) in [(na, side_a), (nb, side_b)] {
        let finals: Vec<Final> = side.iter().map(|c| c.final_errors()).collect();
        let mut verdict = verdict(&finals);
        if verdict.is_empty() {
            verdict.push("nothing to judge: these runs alone hold no two nets the verdict compares".into());
        }
        let _ = writeln!(md, "{name}:\n");
        for v in &verdict {
            let _ = writeln!(md, "- {v}");
        }
        md.push('\n');
        lines.push(format!("What the records of {name} say of these runs:"));
        lines.extend(verdict.iter().map(|v| format!("  {v}")));
    }

    let panels: Vec<(String, Vec<plot::ErrorCurves>)> = pairs
        .iter()
        .map(|p| (p.a.run.id.clone(), vec![mean_curve(na.clone(), &[&p.a]), mean_curve(nb.clone(), &[&p.b])]))
        .collect();
    let (y, axis) = y_axis(&panels.iter().flat_map(|p| p.1.clone()).collect::<Vec<_>>());
    let plots = plots_dir(a);
    std::fs::create_dir_all(&plots)
        .with_context(|| format!("cannot create {}; check plots_dir", plots.display()))?;
    let figure = plots.join(format!("vs_{nb}.png"));
    let note = format!("{na} (blue) against {nb} (red): training error dashed, test error bold; {axis}");
    plot::panels_figure(&figure, &note, &panels, y)?;
    let results = record::experiment_dir(a);
    let _ = writeln!(md, "![{na} against {nb}]({})", link(&results, &figure));
    let page = results.join(format!("vs_{nb}.md"));
    record::write_text(&page, &md)?;

    lines.push(format!("compare: {} and {}", page.display(), figure.display()));
    Ok(lines)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::data::{DataFile, DataIdentity};
    use crate::record::{EpochRecord, Outcome, RunInfo, Status};
    use std::path::Path;

    /// Writes `name`'s records: every run of the config with training error `error(run id, epoch)`.
    fn sweep(dir: &Path, name: &str, keys: &str, epochs: u64, error: impl Fn(&str, u64) -> f64) -> Config {
        let text = format!(
            "name: {name}\n{keys}results_dir: {}\nplots_dir: {}\n",
            dir.join("results").display(),
            dir.join("plots").display()
        );
        let cfg = Config::parse(&text, Path::new("t.yaml"), name).unwrap();
        let data = DataIdentity {
            dir: dir.join("data"),
            files: vec![DataFile { name: "test_batch.bin".into(), bytes: 3073, sha256: "ab".repeat(32) }],
            official: false,
            what: "synthetic files".into(),
            note: None,
        };
        for run in crate::plan::runs(&cfg) {
            let curves = (1..=epochs)
                .map(|e| EpochRecord {
                    epoch: e,
                    iteration: 100 * e,
                    lr: 0.1,
                    train_loss: 1.0,
                    train_error: error(&run.id, e),
                    test_loss: (e % 2 == 0).then_some(1.0),
                    test_error: (e % 2 == 0).then(|| error(&run.id, e) + 0.03),
                    elapsed_s: 60.0 * e as f64,
                    images_per_s: 1.0,
                })
                .collect();
            let info = RunInfo::sitting(&run, &cfg, &data, record::Environment::here("cpu"), None);
            let o = Outcome {
                run: run.clone(),
                status: Status::Finished,
                curves,
                responses: None,
                gradients: vec![],
                branches: vec![],
                warmup: None,
                weights: None,
            };
            record::write_outcome(&cfg, &o, info).unwrap();
        }
        cfg
    }

    /// Deeper plain nets worse, deeper residual nets better, falling with the epochs.
    fn error(id: &str, e: u64) -> f64 {
        let end = match id {
            "plain-20-s0" => 0.14,
            "plain-32-s0" => 0.18,
            "residual-20-A-s0" => 0.11,
            _ => 0.09,
        };
        end + 0.2 / e as f64
    }

    #[test]
    fn compares_runs_of_the_same_id_at_the_epochs_both_recorded() {
        let dir = std::env::temp_dir().join(format!("resdeg-compare-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        let a = sweep(&dir, "half", "depths: [20, 32]\nbf16: true\n", 6, error);
        // Longer, and from epoch 3 on higher in training error by 0.1 point more each epoch,
        // except plain-32's.
        let b = sweep(&dir, "full", "depths: [20, 32]\n", 8, |id, e| {
            error(id, e) + if e >= 3 && id != "plain-32-s0" { 0.001 * (e - 2) as f64 } else { 0.0 }
        });
        let lines = write_comparison(&a, &b).unwrap();
        let md = std::fs::read_to_string(dir.join("results/half/vs_full.md")).unwrap();
        assert!(dir.join("plots/half/vs_full.png").is_file());
        assert!(md.contains("What the recipes differ in (half / full): bf16: true / false."), "{md}");
        assert!(md.contains("Data: synthetic files"), "{md}");
        // Six epochs in both; final errors at epoch 6, test error measured there.
        let p20 = lines.iter().find(|l| l.starts_with("| plain-20-s0 ")).unwrap();
        assert!(p20.contains("| 6 | 17.33% / 17.73% (-0.40) | 20.33% / 20.73% (-0.40) |"), "{p20}");
        // The gap: 0 at epochs 1 and 2, then -0.1, -0.2, -0.3, -0.4: mean 0.17, largest at 6.
        assert!(p20.contains("| 0.17, -0.40 (epoch 6) | 6 / 6 min (1.00x) |"), "{p20}");
        let p32 = lines.iter().find(|l| l.starts_with("| plain-32-s0 ")).unwrap();
        assert!(p32.contains("| 0.00, +0.00 (epoch 1) |"), "{p32}");
        // Both verdicts, each from its own sweep's runs.
        assert!(md.contains("half:\n\n- ") && md.contains("full:\n\n- "), "{md}");
        assert_eq!(lines.iter().filter(|l| l.contains("Degradation shown")).count(), 2, "{lines:?}");

        // A residual net trained alone against the same id trained beside its plain twin: no
        // time ratio across groups of different sizes, and no empty verdict.
        let alone = sweep(&dir, "alone", "archs: [residual]\ndepths: [20]\n", 6, error);
        let lines = write_comparison(&alone, &a).unwrap();
        let row = lines.iter().find(|l| l.starts_with("| residual-20-A-s0 ")).unwrap();
        assert!(row.ends_with("| 6 / 6 min (1 / 2 nets a group) |"), "{row}");
        let md = std::fs::read_to_string(dir.join("results/alone/vs_half.md")).unwrap();
        assert!(md.contains("the times are not comparable"), "{md}");
        assert_eq!(md.matches("- nothing to judge").count(), 2, "{md}");

        // Nothing recorded at common iterations: said, nothing written.
        let c = sweep(&dir, "other", "depths: [44]\n", 2, error);
        let none = write_comparison(&a, &c).unwrap();
        assert!(none[0].contains("share no run"), "{none:?}");
        assert!(!dir.join("results/half/vs_other.md").exists());
        let _ = std::fs::remove_dir_all(&dir);
    }
}
