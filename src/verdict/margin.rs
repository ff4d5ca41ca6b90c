//! The margin rule: when one net's final error is *clearly* above another's, judged on the seeds
//! both have (or on unpaired means), and how such a comparison is said, with the seeds it stood on.

use std::collections::BTreeMap;

/// When one net's final training error is *clearly* above another's. A fixed margin in points
/// cannot serve both scales: early in training nets are tens of points apart, at the end of the
/// paper's schedule a few points or less (Fig. 6: every training error under 10%). So the rule is
/// relative: the mean difference must be at least [`RELATIVE_MARGIN`] of the smaller error (and at
/// least [`FLOOR_POINTS`]), and with two or more seeds it must have the same sign in every seed and
/// exceed the seeds' spread (the sample std of the per-seed differences).
pub(super) const RELATIVE_MARGIN: f64 = 0.10;
pub(super) const FLOOR_POINTS: f64 = 0.2;

pub(super) fn pct(x: f64) -> String {
    format!("{:.1}%", 100.0 * x)
}

pub fn mean(v: impl IntoIterator<Item = f64>) -> f64 {
    let v: Vec<f64> = v.into_iter().collect();
    v.iter().sum::<f64>() / v.len() as f64
}

/// Sample std (n − 1); 0 for fewer than two values.
pub fn std(v: &[f64]) -> f64 {
    if v.len() < 2 {
        return 0.0;
    }
    let m = mean(v.iter().copied());
    (v.iter().map(|x| (x - m).powi(2)).sum::<f64>() / (v.len() - 1) as f64).sqrt()
}

/// How net `b` compares with net `a`, and on what: the numbers it prints are the ones it judged.
#[derive(Debug, Clone, PartialEq)]
pub(super) struct Gap {
    /// Means over the seeds compared.
    pub(super) a: f64,
    pub(super) b: f64,
    /// Mean of b − a over the seeds both have, or b's mean − a's mean when they share none.
    pub(super) diff: f64,
    /// `b` clearly above `a` (+1), clearly below (−1), or neither (0).
    pub(super) sign: i8,
    /// The seeds both nets have (paired), or empty when they share none (unpaired means).
    pub(super) paired: Vec<u64>,
    /// b − a in each paired seed, in the order of `paired`.
    pub(super) diffs: Vec<f64>,
    /// Seeds of a and of b (for unpaired means).
    pub(super) counts: (usize, usize),
}

/// Compares on the seeds both nets have (paired, the twins' or the sweep's common seeds); when
/// they share none, on the two means, which must then also lie further apart than the sum of
/// the two nets' seed spreads.
pub(super) fn gap(a: &BTreeMap<u64, f64>, b: &BTreeMap<u64, f64>) -> Option<Gap> {
    if a.is_empty() || b.is_empty() {
        return None;
    }
    let paired: Vec<u64> = a.keys().filter(|s| b.contains_key(s)).copied().collect();
    let diffs: Vec<f64> = paired.iter().map(|s| b[s] - a[s]).collect();
    let (ma, mb, diff, steady) = if paired.is_empty() {
        let (va, vb): (Vec<f64>, Vec<f64>) = (a.values().copied().collect(), b.values().copied().collect());
        let (ma, mb) = (mean(va.iter().copied()), mean(vb.iter().copied()));
        (ma, mb, mb - ma, (mb - ma).abs() > std(&va) + std(&vb))
    } else {
        let diff = mean(diffs.iter().copied());
        let steady = diffs.len() < 2
            || (diffs.iter().all(|d| d.signum() == diff.signum()) && diff.abs() > std(&diffs));
        (mean(paired.iter().map(|s| a[s])), mean(paired.iter().map(|s| b[s])), diff, steady)
    };
    let big = diff.abs() >= (RELATIVE_MARGIN * ma.min(mb)).max(FLOOR_POINTS / 100.0);
    let sign = if big && steady { diff.signum() as i8 } else { 0 };
    Some(Gap { a: ma, b: mb, diff, sign, paired, diffs, counts: (a.len(), b.len()) })
}

/// The seeds a comparison was judged on, in words; with several, the gap in each seed and their
/// mean ± sample std, so that a reader sees the spread the rule judged. Each seed's gap is signed
/// in the mean's direction: a seed that went the other way shows as negative.
pub(super) fn basis(g: &Gap) -> String {
    let list = |s: &[u64]| s.iter().map(u64::to_string).collect::<Vec<_>>().join(", ");
    let spread = || {
        let along: Vec<f64> = g.diffs.iter().map(|d| 100.0 * d * g.diff.signum()).collect();
        let each = along.iter().map(|d| format!("{d:.1}")).collect::<Vec<_>>().join(", ");
        format!("{each} points a seed, {:.1} ± {:.1}", mean(along.iter().copied()), std(&along))
    };
    match (g.paired.as_slice(), g.counts) {
        ([one], (1, 1)) => format!("seed {one}"),
        ([one], _) => format!("seed {one}, the only seed both have"),
        (seeds, (na, nb)) if !seeds.is_empty() && (na > seeds.len() || nb > seeds.len()) => {
            format!("seeds {}, the seeds both have: {}", list(seeds), spread())
        }
        (seeds, _) if !seeds.is_empty() => format!("seeds {}, paired: {}", list(seeds), spread()),
        (_, (na, nb)) => format!("unpaired means of {} and {}", seeds_text(na), seeds_text(nb)),
    }
}

pub(super) fn seeds_text(n: usize) -> String {
    format!("{n} seed{}", if n == 1 { "" } else { "s" })
}

/// A comparison by the margin rule in words: `nb` against `na`, with the errors and the seeds.
pub(super) fn compared(g: &Gap, na: &str, nb: &str, (worse, better): (&str, &str)) -> String {
    let on = basis(g);
    match g.sign {
        1 => format!("{nb} {worse} {na} ({} vs {}; {on})", pct(g.b), pct(g.a)),
        -1 => format!("{nb} {better} {na} ({} vs {}; {on})", pct(g.b), pct(g.a)),
        _ => format!(
            "{nb} and {na} are not clearly apart ({} vs {}; {on}{})",
            pct(g.b),
            pct(g.a),
            why_unclear(g)
        ),
    }
}

/// Why a gap is not clear: a difference under the margin (which it names), or seeds that disagree.
pub(super) fn why_unclear(g: &Gap) -> String {
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
