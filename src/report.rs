//! What a sweep's records say, on one page: REPORT.md (how the runs were trained and on which
//! data, the verdict, Table 6, the figures), table6.md and table6.csv, and the paper's figures
//! drawn by `plot` from the records the runs allow. Reads only the records, so it runs on a sweep
//! still in progress.
//!
//! Longer than ~500 lines only with its unit tests, kept below the code they test.

use crate::config::{Arch, Config, Shortcut};
use crate::data::DataIdentity;
use crate::gradients::{self, NetGradients};
use crate::plan::grouped;
use crate::plot;
use crate::record::{self, Row, RunCurve};
use crate::table6::{seeds_markdown, table, table_csv, table_markdown};
use crate::verdict::{Final, verdict};
use anyhow::{Context, Result};
use rayon::prelude::*;
use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::path::{Path, PathBuf};

mod explain;

/// Mean of the curves of one net over its seeds, at the iterations all seeds recorded; errors in
/// percent, iterations in units of 1e4.
pub(crate) fn mean_curve(label: String, runs: &[&RunCurve]) -> plot::ErrorCurves {
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
pub(crate) fn y_axis(curves: &[plot::ErrorCurves]) -> (f64, String) {
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
type Figure = (String, Box<dyn Fn(&Path) -> Result<()> + Send + Sync>);

/// The figures the records allow, and a line for each one skipped.
fn figures(cfg: &Config, curves: &[RunCurve], grads: &[NetGradients]) -> Result<(Vec<Figure>, Vec<String>)> {
    let ok: Vec<&RunCurve> = curves.iter().filter(|c| !c.diverged() && !c.rows.is_empty()).collect();
    let nets = |arch: Arch| -> BTreeMap<(u32, Shortcut), Vec<&RunCurve>> {
        let mut m: BTreeMap<(u32, Shortcut), Vec<&RunCurve>> = BTreeMap::new();
        for c in ok.iter().filter(|c| c.run.arch == arch) {
            m.entry((c.run.depth, c.run.shortcut)).or_default().push(c);
        }
        m
    };
    let label = |arch: Arch, (depth, shortcut): (u32, Shortcut), n: usize| {
        let name = crate::plan::net_name(arch, depth, shortcut);
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
                "fig1.png".into(),
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
        out.push((file.into(), Box::new(move |p: &Path| plot::error_figure(p, &title, &note, &drawn, y))));
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
        out.push((
            "fig6_deep.png".into(),
            Box::new(move |p: &Path| plot::error_figure(p, &title, &note, &deep, y)),
        ));
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
        out.push((
            "fig7_layer_responses.png".into(),
            Box::new(move |p: &Path| plot::responses_figure(p, &lines)),
        ));
    }
    let panels = gradient_panels(grads);
    if panels.is_empty() {
        skipped
            .push("gradient_norms.png skipped: no run recorded gradient norms (gradient_norms: true)".into());
    } else {
        let note = "plain twins solid, residual dashed; a colour per point of training; the fixed batch's \
                    loss gradient at each 3x3 layer's output, per image (README: Gradient norms).";
        out.push((
            "gradient_norms.png".into(),
            Box::new(move |p: &Path| plot::gradients_figure(p, &panels, note)),
        ));
    }
    Ok((out, skipped))
}

/// The gradient figure's panels: one per depth, its plain and residual nets' lines.
fn gradient_panels(grads: &[NetGradients]) -> Vec<plot::GradientPanel> {
    let mut depths: Vec<u32> = grads.iter().map(|n| n.depth).collect();
    depths.sort();
    depths.dedup();
    depths
        .into_iter()
        .map(|d| {
            let mut lines = Vec::new();
            for net in grads.iter().filter(|n| n.depth == d) {
                let name = match net.seeds.len() {
                    1 => net.name(),
                    n => format!("{} (mean of {n})", net.name()),
                };
                for (point, values) in net.lines() {
                    lines.push((name.clone(), point, net.arch == Arch::Residual, values));
                }
            }
            plot::GradientPanel { title: format!("depth {d}: loss gradient at each layer's output"), lines }
        })
        .filter(|p| !p.lines.is_empty())
        .collect()
}

/// Every recorded run's gradient norms with its final training error, grouped by net.
fn gradient_records(cfg: &Config, curves: &[RunCurve]) -> Result<Vec<NetGradients>> {
    let mut runs = Vec::new();
    for c in curves.iter().filter(|c| !c.diverged()) {
        if let Some(g) = record::gradients(cfg, &c.run)? {
            runs.push((c.run.clone(), c.final_errors().train_error, g));
        }
    }
    Ok(gradients::nets(runs))
}

/// The plots folder of an experiment.
pub fn plots_dir(cfg: &Config) -> PathBuf {
    cfg.plots_dir.join(&cfg.name)
}

/// A link from a file in `from_dir` to `to`: relative when both paths are, absolute otherwise.
pub(crate) fn link(from_dir: &Path, to: &Path) -> String {
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
pub(crate) fn data_line(curves: &[RunCurve]) -> (String, bool) {
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
    let grads = gradient_records(cfg, &curves)?;
    let (mut figs, skipped) = figures(cfg, &curves, &grads)?;
    let explained = explain::nets(cfg, &curves)?;
    figs.extend(explain::figures(&explained));
    let t0 = std::time::Instant::now();
    figs.par_iter().map(|(file, draw)| draw(&plots.join(file))).collect::<Result<Vec<()>>>()?;
    let render_s = t0.elapsed().as_secs_f64();

    let judged = gradients::judgement(&grads);
    let gradient_section = if judged.is_empty() {
        String::new()
    } else {
        let items: String = judged.iter().map(|j| format!("- {j}\n")).collect();
        format!(
            "## Gradients\n\nThe loss gradient at each 3x3 layer's output on one fixed training batch (README: \
             Gradient norms), the first layer's over the last one's. Vanishing and exploding gradients compound \
             with depth, so they are judged across depths: growing {c}x or more for every layer added, the ratio \
             explodes; shrinking as fast (1/{c}x or less), it vanishes; between, it is healthy.\n\n{items}\n",
            c = gradients::COMPOUNDS
        )
    };
    let (why_section, why) = explain::section(&explained, &grads);
    let by_seed = format!(
        "## Final errors by seed\n\nEach net's last epoch: mean ± sample std over its seeds, then seed by seed \
         (s0 = seed 0), training / test error in %.\n\n{}\n",
        seeds_markdown(&curves)
    );
    let mut report = format!(
        "# {}: plain against residual nets\n\n{how}\n\n{bullets}\n{by_seed}{gradient_section}{why_section}## Table 6\n\n{what}\n\n{md}\n## Figures\n\n",
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
    lines.extend(judged.iter().map(|j| format!("  {j}")));
    lines.extend(why.iter().map(|j| format!("  {j}")));
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
    use crate::model;

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
                // The loss gradient grows going back by 1.1x a layer at initialisation in plain nets,
                // 1.01x in residual ones, and evenly spread at the end.
                gradients: (0..3u64)
                    .map(|k| crate::measure::Gradients {
                        epoch: k,
                        iteration: [0, 1, 400][k as usize],
                        layers: (0..layers)
                            .map(|l| {
                                let rate = match (k, run.arch) {
                                    (2, _) => 1.0,
                                    (_, Arch::Plain) => 1.1,
                                    _ => 1.01,
                                };
                                let output = f64::powi(rate, (layers - 1 - l) as i32);
                                crate::measure::LayerGradient { output, weight: 1.0, weight_norm: 1.0 }
                            })
                            .collect(),
                    })
                    .filter(|_| !diverged)
                    .collect(),
                responses: (!diverged).then(|| {
                    (0..layers)
                        .map(|k| model::LayerStd { std: 1.0 / (k + 1) as f64, channel_std: 0.5 })
                        .collect()
                }),
                branches: vec![],
                run,
                warmup: None,
                weights: None,
            };
            record::write_outcome(&cfg, &o, info).unwrap();
        }
        // No gathered curves.parquet, as in a fresh clone of a study stopped mid-sweep: the report
        // reads the run folders.
        assert!(!record::experiment_dir(&cfg).join("curves.parquet").exists());
        let lines = write_report(&cfg).unwrap();
        let plots = plots_dir(&cfg);
        for f in [
            "fig1.png",
            "fig6_plain.png",
            "fig6_residual.png",
            "fig6_deep.png",
            "fig7_layer_responses.png",
            "gradient_norms.png",
        ] {
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
        // Every seed's final errors beside their mean ± std; a diverged run named, not averaged.
        assert!(
            report.contains(
                "| ResNet-110 | 3 | 5.0 ± 1.0% | 7.0 ± 1.0% | s0 4.0 / 6.0, s1 5.0 / 7.0, s2 6.0 / 8.0 |"
            ),
            "{report}"
        );
        assert!(report.contains("| plain-110 | 1 | – | – | s0 diverged |"), "{report}");
        assert!(report.contains("| plain-20 | 1 | 5.0% | 7.0% | s0 5.0 / 7.0 |"), "{report}");
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
        assert!(lines.iter().any(|l| l.starts_with("report: 6 figures")), "{lines:?}");
        // The gradient judgement: plain-56 (54 steps back at 1.1x: 172) against plain-20 (5.56)
        // compounds with depth at initialisation and is even at the end, while it trains worse.
        assert!(report.contains("## Gradients\n\nThe loss gradient at each 3x3 layer's output"), "{report}");
        assert!(
            report.contains("- plain-56: first layer's gradient over the last one's 172 (1.10x a layer going back) at initialisation, 1.00 (1.00x a layer going back) at the end (iteration 400)."),
            "{report}"
        );
        assert!(report.contains("- Plain nets across depth: at initialisation the ratio grows 1.10x for every layer added (5.56 at 20, 172 at 56): exploding: it compounds with depth; at the end it grows 1.00x"), "{report}");
        assert!(report.contains("- plain-56 trains worse than plain-20 (8.6% vs 5.0% final training error) while its gradients at the end do not compound with depth (ratio 1.00 against 1.00, 1.00x a layer added)"), "{report}");
        assert!(report.contains("ResNet-110: first layer's gradient over the last one's 2.93 (1.01x a layer going back) at initialisation, 1.00 (1.00x a layer going back) at the end (iteration 400), geometric mean of 3 seeds."), "{report}");
        if std::env::var_os("RESDEG_KEEP_TEST_OUTPUT").is_none() {
            std::fs::remove_dir_all(dir).unwrap();
        }
    }
}
