//! The verdict in plain sentences: does final training error rise or fall with depth for plain
//! and for residual nets, how far each residual net is ahead of its plain twin on identical
//! batches, and what the records show of the paper's two-part claim, judged by one margin rule
//! on the seeds both nets have (`verdict/margin.rs`), with the same comparisons in test error.

use crate::config::{Arch, Shortcut};
use crate::plan::net_name;
use crate::record::RunCurve;
use std::collections::BTreeMap;

mod margin;
use margin::*;
pub use margin::{mean, std};

impl RunCurve {
    /// The final epoch's errors; the test error is the last one measured.
    pub fn final_errors(&self) -> Final {
        let last = self.rows.last();
        let diverged = self.diverged();
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
        let concluded = conclusion(finals, sc, &depths(Arch::Plain));
        if concluded.is_empty() {
            lines.extend(residual_only(finals, sc, &depths(Arch::Residual)));
        }
        lines.extend(concluded);
    }
    lines
}

/// Without plain nets to set beside them (a study of residual nets alone), the conclusion's
/// residual comparison: the shallowest against the deepest residual net, in training error and
/// in test error, by the same rule.
fn residual_only(finals: &[Final], sc: Shortcut, depths: &[u32]) -> Vec<String> {
    let (Some(&lo), Some(&hi)) = (depths.first(), depths.last()) else { return vec![] };
    let net = |d, which| net_errors(finals, Arch::Residual, d, sc, which);
    let (Some(train), Some(test)) =
        (gap(&net(lo, TRAIN), &net(hi, TRAIN)), gap(&net(lo, TEST), &net(hi, TEST)))
    else {
        return vec![];
    };
    if lo == hi {
        return vec![];
    }
    let (rlo, rhi) = (net_name(Arch::Residual, lo, sc), net_name(Arch::Residual, hi, sc));
    vec![
        format!(
            "Residual nets alone (option {sc}), no plain twins to compare: {}.",
            compared(&train, &rlo, &rhi, ("trains worse than", "trains better than"))
        ),
        format!(
            "Test error (option {sc}), same rule: {}.",
            compared(&test, &rlo, &rhi, ("is worse than", "is better than"))
        ),
    ]
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
        parts.push(compared(&g, &name(a.0, a.1), &name(b.0, b.1), ("is worse than", "is better than")));
    }
    Some(format!("Test error (option {sc}), same rule: {}.", parts.join("; ")))
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

        // Paired seeds: the gap in each seed, signed along the mean, and mean ± std; one seed
        // going the other way shows as negative and keeps the gap from counting.
        let g = gap(&a, &[(0, 0.14), (1, 0.14), (2, 0.11)].into()).unwrap();
        assert_eq!(
            (g.sign, basis(&g).as_str()),
            (0, "seeds 0, 1, 2, paired: 4.0, 3.0, -1.0 points a seed, 2.0 ± 2.6")
        );
        let g = gap(&[(0, 0.14), (1, 0.14), (2, 0.11)].into(), &a).unwrap();
        assert_eq!(basis(&g), "seeds 0, 1, 2, paired: 4.0, 3.0, -1.0 points a seed, 2.0 ± 2.6");
        let g = gap(&a, &[(1, 0.15), (2, 0.16)].into()).unwrap();
        assert_eq!(
            (g.sign, basis(&g).as_str()),
            (1, "seeds 1, 2, the seeds both have: 4.0, 4.0 points a seed, 4.0 ± 0.0")
        );
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

    /// A study of residual nets alone (paper_resnets_fp32's final errors) gets the conclusion's
    /// residual comparison in training and in test error, by the same rule.
    #[test]
    fn residual_nets_alone_are_compared_across_depth() {
        let ft = |depth, train, test| Final { test_error: Some(test), ..f(Arch::Residual, depth, 0, train) };
        let v = verdict(&[ft(20, 0.0159, 0.1231), ft(32, 0.0042, 0.1076)]);
        assert_eq!(
            v,
            [
                "residual nets (option A): final training error falls with depth (20 layers 1.6%, 32 layers 0.4%).",
                "Residual nets alone (option A), no plain twins to compare: ResNet-32 trains better than ResNet-20 \
                 (0.4% vs 1.6%; seed 0).",
                "Test error (option A), same rule: ResNet-32 is better than ResNet-20 (10.8% vs 12.3%; seed 0)."
            ]
        );
        // One depth: nothing to compare.
        assert_eq!(verdict(&[ft(20, 0.0159, 0.1231)]).len(), 0);
    }
}
