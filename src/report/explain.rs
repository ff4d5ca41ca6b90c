//! REPORT.md's section "Why residual nets are easier to optimise" and its figures, from the runs'
//! `--explain` records, judged by the rules of `explain::judge` (README states them). Nothing is
//! written for a sweep without such records, so earlier reports redraw byte for byte.

use super::Figure;
use crate::config::Arch;
use crate::explain::Explained;
use crate::explain::judge::{self, CHANCE, CONVEX_SHARE};
use crate::gradients::NetGradients;
use crate::measure::Branches;
use crate::plan::Run;
use crate::plot::explain::{ContourMap, Corner, Line, Panel, contour_figure, lines_figure};
use std::collections::BTreeMap;
use std::path::Path;

/// One explained run.
pub struct Net {
    pub run: Run,
    pub e: Explained,
    /// Its branch ratios recorded through training (`branch_ratios.parquet`), when it has them.
    pub over_training: Vec<Branches>,
}

/// Every run of the sweep that has explain records.
pub fn nets(cfg: &crate::config::Config, curves: &[crate::record::RunCurve]) -> anyhow::Result<Vec<Net>> {
    let mut out = Vec::new();
    for c in curves {
        if let Some((e, _)) = crate::record::explain::read(cfg, &c.run)? {
            let over_training = crate::record::branches(cfg, &c.run)?.unwrap_or_default();
            out.push(Net { run: c.run.clone(), e, over_training });
        }
    }
    Ok(out)
}

/// Contour levels of every 2D map (training loss), so that twins are read on one scale.
pub const LEVELS: [f64; 9] = [0.1, 0.25, 0.5, 1.0, 1.5, 2.0, 3.0, 5.0, 10.0];

/// What the rules read off one net.
struct Reading {
    loss: f64,
    width: f64,
    non_convex: f64,
    middle: Option<(f64, f64)>,
    most_deleted: Option<(usize, f64)>,
    length: Option<f64>,
    branches: Option<(f64, f64)>,
    /// The largest median branch ratio recorded through training, after which iteration, and
    /// the last iteration recorded.
    peak: Option<(f64, u64, u64)>,
}

fn read(n: &Net) -> Reading {
    let e = &n.e;
    let centre = e.slice.alpha.iter().position(|&a| a == 0.0);
    let same_shape = crate::model::blocks_keeping_shape(n.run.depth);
    let branches = (!e.branches.is_empty()).then(|| {
        let init: Vec<f64> = e.branches.iter().map(|b| b.init).collect();
        let end: Vec<f64> = e.branches.iter().map(|b| b.end).collect();
        (judge::median(&init), judge::median(&end))
    });
    Reading {
        loss: centre.map_or(f64::NAN, |c| e.slice.loss[c]),
        width: judge::basin_width(&e.slice),
        non_convex: judge::non_convex_share(&e.surface),
        middle: judge::middle_block_cost(&e.lesions, &same_shape),
        most_deleted: judge::error_by_k(&e.lesions).last().copied(),
        length: judge::correlation_length(&e.shattered),
        branches,
        peak: medians(&n.over_training)
            .into_iter()
            .max_by(|a, b| a.0.total_cmp(&b.0))
            .zip(n.over_training.last())
            .map(|((m, it), last)| (m, it, last.iteration)),
    }
}

/// The median over blocks of each recorded point of training, with its iteration.
fn medians(points: &[Branches]) -> Vec<(f64, u64)> {
    points.iter().map(|p| (judge::median(&p.ratios), p.iteration)).collect()
}

fn name(run: &Run) -> String {
    let net = crate::plan::net_name(run.arch, run.depth, run.shortcut);
    format!("{net} (seed {})", run.seed)
}

fn pct(x: f64) -> String {
    format!("{:.1}%", 100.0 * x)
}

/// The section's Markdown and the judgement lines (also printed). `grads`: the sweep's gradient
/// records, whose weight norms answer the "weights too small" guess.
pub fn section(nets: &[Net], grads: &[NetGradients]) -> (String, Vec<String>) {
    if nets.is_empty() {
        return (String::new(), vec![]);
    }
    let mut md = String::from(
        "## Why residual nets are easier to optimise\n\nMeasured on each run's final weights by `--explain` (README: \
         Why residual nets are easier to optimise). Loss landscape (Li et al. 2018): training loss along a \
         filter-normalised random direction (basin width: the stretch of α around the weights where the loss \
         stays within 1 of its value there) and over a plane of two (non-convex share: the grid points whose \
         Hessian has a negative eigenvalue of at least 0.1 of the largest in size). Lesions (Veit et al. 2016): \
         test error with one block deleted at test time (the median over blocks that keep their input's \
         shape), and with the most blocks deleted. Shattered gradients (Balduzzi et al. 2017): the fraction of \
         the way between two test images at which input gradients' cosine falls below 0.5. Branches: \
         ‖F(x)‖ / ‖x‖ of each residual block, median over blocks, at initialisation → at the end.\n\n\
         | net | training loss | basin width | non-convex share | one middle block deleted | most blocks deleted | correlation length | branch ratio |\n\
         |---|---|---|---|---|---|---|---|\n",
    );
    let readings: Vec<(&Net, Reading)> = nets.iter().map(|n| (n, read(n))).collect();
    for (n, r) in &readings {
        let middle = r.middle.map_or("-".into(), |(c, e)| format!("{} ({:+.1})", pct(e), 100.0 * c));
        let most = r.most_deleted.map_or("-".into(), |(k, e)| format!("{} ({k} blocks)", pct(e)));
        let length = r.length.map_or("> 1".into(), |l| format!("{l:.3}"));
        let branches = r.branches.map_or("-".into(), |(a, b)| format!("{a:.2} → {b:.2}"));
        md += &format!(
            "| {} | {:.3} | {:.2} | {} | {middle} | {most} | {length} | {branches} |\n",
            name(&n.run),
            r.loss,
            r.width,
            pct(r.non_convex)
        );
    }
    let mut lines = Vec::new();
    let twins = |n: &Net| {
        readings.iter().find(|(m, _)| {
            m.run.arch == Arch::Plain && m.run.depth == n.run.depth && m.run.seed == n.run.seed
        })
    };
    for (res, r) in readings.iter().filter(|(n, _)| n.run.arch == Arch::Residual) {
        let rname = name(&res.run);
        if let Some((plain, p)) = twins(res) {
            let pname = name(&plain.run);
            let shape =
                |x: f64| if x <= CONVEX_SHARE { "one convex basin" } else { "a chaotic, non-convex surface" };
            lines.push(format!(
                "Landscape: {rname} lies in {} ({} of its plane non-convex, basin width {:.2}); {pname} in {} ({}, width {:.2}).",
                shape(r.non_convex),
                pct(r.non_convex),
                r.width,
                shape(p.non_convex),
                pct(p.non_convex),
                p.width
            ));
            if let (Some((rc, re)), Some((_, pe))) = (r.middle, p.middle) {
                let fallen = if pe >= CHANCE { ", at chance" } else { "" };
                lines.push(format!(
                    "Lesions: deleting one middle block moves {rname}'s test error by {:+.1} points (to {}); {pname}'s goes to {}{fallen}.",
                    100.0 * rc,
                    pct(re),
                    pct(pe)
                ));
            }
            let len = |l: Option<f64>| {
                l.map_or("past the whole line".to_string(), |l| format!("to {l:.3} of the way"))
            };
            let less = match (r.length, p.length) {
                (None, Some(_)) => "less shattered",
                (Some(a), Some(b)) if a > b => "less shattered",
                (Some(a), Some(b)) if a < b => "more shattered",
                (None, None) => "alike to the end of the line in both",
                _ => "as shattered",
            };
            lines.push(format!(
                "Shattered gradients: {rname}'s input gradients stay alike {} between two images, {pname}'s {}: the residual net's are {less}.",
                len(r.length),
                len(p.length)
            ));
        }
        if let Some((a, b)) = r.branches {
            let small =
                if b < 1.0 { "smaller than their shortcuts" } else { "not smaller than their shortcuts" };
            let path = match r.peak {
                None => String::new(),
                Some((_, it, last)) if it == last => "; recorded through training, largest at the end".into(),
                Some((m, 0, _)) => format!("; recorded through training, largest at initialisation ({m:.2})"),
                Some((m, it, _)) => {
                    format!("; recorded through training, largest after iteration {it} ({m:.2})")
                }
            };
            lines.push(format!(
                "Branches: {rname}'s residual branches end {small} (median ‖F(x)‖ / ‖x‖ {b:.2}; {a:.2} at initialisation{path})."
            ));
        }
    }
    lines.extend(weights_line(grads));
    md += "\n";
    md.extend(lines.iter().map(|l| format!("- {l}\n")));
    md += "\n";
    (md, lines)
}

/// The "weights too small" guess against the recorded weight norms: each plain net's median 3x3
/// weight norm at its last recorded point over its residual twin's.
fn weights_line(grads: &[NetGradients]) -> Vec<String> {
    let median_end = |n: &NetGradients| {
        let last = n.seeds.first()?.last()?;
        Some(judge::median(&last.layers.iter().map(|l| l.weight_norm).collect::<Vec<_>>()))
    };
    grads
        .iter()
        .filter(|n| n.arch == Arch::Plain)
        .filter_map(|p| {
            let r = grads.iter().find(|r| r.arch == Arch::Residual && r.depth == p.depth)?;
            let (a, b) = (median_end(p)?, median_end(r)?);
            let verdict = if a >= 0.9 * b { "not smaller than" } else { "smaller than" };
            Some(format!(
                "Weights: {}'s weights end {verdict} {}'s (median ‖W‖ of a 3x3 layer {a:.2} against {b:.2}); BN makes each \
                 layer's output independent of its weights' scale, so their size alone cannot stall a layer.",
                p.name(),
                r.name()
            ))
        })
        .collect()
}

/// The decade below the lowest loss of the nets' slices (at least 1e-4): the slices' log axis.
fn floor_decade(nets: &[&Net]) -> f64 {
    let lowest =
        nets.iter().flat_map(|n| n.e.slice.loss.iter().copied()).filter(|l| *l > 0.0).fold(1.0, f64::min);
    10f64.powf(lowest.log10().floor()).max(1e-4)
}

/// The section's figures: 1D slices a panel per depth, the 2D maps of each depth's twins side by
/// side, lesions, gradient correlations and branch ratios.
pub fn figures(nets: &[Net]) -> Vec<Figure> {
    if nets.is_empty() {
        return vec![];
    }
    let mut by_depth: BTreeMap<u32, Vec<&Net>> = BTreeMap::new();
    for n in nets {
        by_depth.entry(n.run.depth).or_default().push(n);
    }
    // A colour per net (a depth's twins side by side in the palette), the residual one dashed,
    // so that nets of one kind at two depths are told apart.
    let rank: BTreeMap<u32, usize> = by_depth.keys().enumerate().map(|(k, d)| (*d, k)).collect();
    let line = |n: &Net, points: Vec<(f64, f64)>| {
        let residual = n.run.arch == Arch::Residual;
        Line {
            label: name(&n.run),
            color: 2 * rank[&n.run.depth] + usize::from(residual),
            dashed: residual,
            points,
        }
    };
    let mut out: Vec<Figure> = Vec::new();

    let slices: Vec<Panel> = by_depth
        .iter()
        .map(|(d, ns)| Panel {
            title: format!("depth {d}: training loss along a random direction"),
            x_desc: "α (filter-normalised direction)".into(),
            y_desc: "loss (log)".into(),
            y: (floor_decade(ns), 1e2),
            log_y: true,
            legend: Corner::LowerLeft,
            lines: ns
                .iter()
                .map(|n| {
                    line(n, n.e.slice.alpha.iter().copied().zip(n.e.slice.loss.iter().copied()).collect())
                })
                .collect(),
        })
        .collect();
    out.push(("explain_landscape_1d.png".into(), Box::new(move |p: &Path| {
        lines_figure(p, "each net's own directions, drawn from one seed and scaled filter by filter to its weights; BN not moved.", &slices)
    })));

    for (d, ns) in &by_depth {
        let mut ns = ns.clone();
        ns.sort_by_key(|n| (n.run.seed, n.run.arch == Arch::Residual));
        let maps: Vec<ContourMap> = ns
            .iter()
            .map(|n| ContourMap {
                title: name(&n.run),
                axis: n.e.surface.axis.clone(),
                values: n.e.surface.loss.clone(),
            })
            .collect();
        out.push((format!("explain_landscape_2d_{d}.png"), Box::new(move |p: &Path| {
            contour_figure(p, "training loss over the plane of two filter-normalised directions; the same levels on every map; • the trained weights.", &maps, &LEVELS)
        })));
    }

    let single: Vec<Line> = nets
        .iter()
        .map(|n| {
            let pts =
                n.e.lesions
                    .iter()
                    .filter(|l| l.blocks.len() == 1)
                    .map(|l| (l.blocks[0] as f64 + 1.0, 100.0 * l.error));
            line(n, pts.collect())
        })
        .collect();
    let by_k: Vec<Line> = nets
        .iter()
        .map(|n| {
            let intact = n.e.lesions.iter().find(|l| l.blocks.is_empty()).map(|l| (0.0, 100.0 * l.error));
            let pts = intact
                .into_iter()
                .chain(judge::error_by_k(&n.e.lesions).into_iter().map(|(k, e)| (k as f64, 100.0 * e)));
            line(n, pts.collect())
        })
        .collect();
    let lesions = vec![
        Panel {
            title: "one block deleted at test time".into(),
            x_desc: "deleted block (network order)".into(),
            y_desc: "test error (%)".into(),
            y: (0.0, 100.0),
            log_y: false,
            legend: Corner::MiddleRight,
            lines: single,
        },
        Panel {
            title: "k random blocks deleted (mean of draws)".into(),
            x_desc: "blocks deleted".into(),
            y_desc: "test error (%)".into(),
            y: (0.0, 100.0),
            log_y: false,
            legend: Corner::MiddleRight,
            lines: by_k,
        },
    ];
    out.push(("explain_lesions.png".into(), Box::new(move |p: &Path| {
        lines_figure(p, "a deleted residual block leaves its shortcut; a plain net can lose only blocks that keep their input's shape.", &lesions)
    })));

    let shattered = vec![Panel {
        title: "input gradients along a line between two test images".into(),
        x_desc: "distance (fraction of the way)".into(),
        y_desc: "mean cosine of the gradients".into(),
        y: (-0.2, 1.0),
        log_y: false,
        legend: Corner::UpperRight,
        lines: nets
            .iter()
            .map(|n| line(n, n.e.shattered.iter().map(|c| (c.t, c.correlation)).collect()))
            .collect(),
    }];
    out.push(("explain_shattered.png".into(), Box::new(move |p: &Path| {
        lines_figure(p, "gradient of the log-probability of the first image's class; 1: alike, 0: unrelated (white noise).", &shattered)
    })));

    let residual: Vec<&Net> = nets.iter().filter(|n| !n.e.branches.is_empty()).collect();
    if !residual.is_empty() {
        let mut ls = Vec::new();
        for (k, n) in residual.iter().enumerate() {
            let pts = |f: fn(&crate::explain::Branch) -> f64| {
                n.e.branches.iter().map(|b| (b.block as f64 + 1.0, f(b))).collect()
            };
            ls.push(Line {
                label: format!("{}, initialisation", name(&n.run)),
                color: k,
                dashed: true,
                points: pts(|b| b.init),
            });
            ls.push(Line {
                label: format!("{}, end", name(&n.run)),
                color: k,
                dashed: false,
                points: pts(|b| b.end),
            });
        }
        let mut panels = vec![Panel {
            title: "residual branch against its shortcut".into(),
            x_desc: "block (network order)".into(),
            y_desc: "‖F(x)‖ / ‖x‖ (log)".into(),
            y: (1e-2, 1e1),
            log_y: true,
            legend: Corner::UpperRight,
            lines: ls,
        }];
        // Through training, for nets that recorded it (a figure without is drawn as before).
        let during: Vec<Line> = residual
            .iter()
            .enumerate()
            .filter(|(_, n)| !n.over_training.is_empty())
            .map(|(k, n)| Line {
                label: name(&n.run),
                color: k,
                dashed: false,
                points: medians(&n.over_training).iter().map(|&(m, it)| (it as f64, m)).collect(),
            })
            .collect();
        if !during.is_empty() {
            panels.push(Panel {
                title: "median over blocks, through training".into(),
                x_desc: "iteration".into(),
                y_desc: "median ‖F(x)‖ / ‖x‖ (log)".into(),
                y: (1e-2, 1e1),
                log_y: true,
                legend: Corner::UpperRight,
                lines: during,
            });
        }
        out.push((
            "explain_branches.png".into(),
            Box::new(move |p: &Path| {
                lines_figure(
                    p,
                    "mean over test images, batch statistics; below 1 the block adds less than it passes on.",
                    &panels,
                )
            }),
        ));
    }
    out
}
