//! What a sweep's records say, in plain sentences: does final training error rise or fall with
//! depth for plain and for residual nets, and what is the paired plain − residual difference on
//! identical batches. Works from the final row of each run's curves.

use crate::config::Arch;
use std::collections::BTreeMap;

/// A run's last recorded epoch.
#[derive(Debug, Clone, PartialEq)]
pub struct Final {
    pub run_id: String,
    pub arch: Arch,
    pub depth: u32,
    pub seed: u64,
    pub iteration: u64,
    pub train_error: f64,
    pub test_error: Option<f64>,
}

/// The lead in training error (percentage points) that the deeper residual net must have over its
/// plain twin before the sweep is said to show degradation; smaller gaps are within seed noise.
const MARGIN_POINTS: f64 = 2.0;

fn pct(x: f64) -> String {
    format!("{:.1}%", 100.0 * x)
}

/// Mean final training error per depth for one arch (over seeds), depth ascending.
fn by_depth(finals: &[Final], arch: Arch) -> BTreeMap<u32, f64> {
    let mut sums: BTreeMap<u32, (f64, usize)> = BTreeMap::new();
    for f in finals.iter().filter(|f| f.arch == arch && f.train_error.is_finite()) {
        let e = sums.entry(f.depth).or_default();
        e.0 += f.train_error;
        e.1 += 1;
    }
    sums.into_iter().map(|(d, (s, n))| (d, s / n as f64)).collect()
}

fn trend(arch: Arch, errs: &BTreeMap<u32, f64>) -> Option<String> {
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
    Some(format!("{arch} nets: final training error {word} ({}).", list.join(", ")))
}

/// The sentences of the verdict: one per arch, one per paired depth, and the conclusion.
pub fn verdict(finals: &[Final]) -> Vec<String> {
    let plain = by_depth(finals, Arch::Plain);
    let residual = by_depth(finals, Arch::Residual);
    let mut lines: Vec<String> =
        [trend(Arch::Plain, &plain), trend(Arch::Residual, &residual)].into_iter().flatten().collect();

    // Paired differences: the twins share depth and seed (and so every batch).
    let mut paired: BTreeMap<u32, Vec<f64>> = BTreeMap::new();
    for p in finals.iter().filter(|f| f.arch == Arch::Plain) {
        if let Some(r) =
            finals.iter().find(|r| r.arch == Arch::Residual && r.depth == p.depth && r.seed == p.seed)
        {
            paired.entry(p.depth).or_default().push(p.train_error - r.train_error);
        }
    }
    for (depth, diffs) in &paired {
        let mean = diffs.iter().sum::<f64>() / diffs.len() as f64;
        lines.push(format!(
            "depth {depth}: plain − residual final training error = {:+.1} points ({} seed{}, identical batches).",
            100.0 * mean,
            diffs.len(),
            if diffs.len() == 1 { "" } else { "s" }
        ));
    }

    let (Some((&shallow, &plain_shallow)), Some((&deep, &plain_deep))) =
        (plain.first_key_value(), plain.last_key_value())
    else {
        return lines;
    };
    let Some(&res_deep) = residual.get(&deep).filter(|_| deep > shallow) else {
        return lines;
    };
    let lead = 100.0 * (plain_deep - res_deep);
    lines.push(if plain_deep > plain_shallow && lead >= MARGIN_POINTS {
        let full = match residual.get(&shallow) {
            Some(&res_shallow) if res_deep < res_shallow => {
                format!(" Deeper is also better among residual nets ({} vs {}), as in the paper.", pct(res_deep), pct(res_shallow))
            }
            Some(&res_shallow) => format!(
                " Deeper is not yet better among residual nets ({} vs {} for residual-{shallow}): the paper's full result needs \
                 longer training.",
                pct(res_deep),
                pct(res_shallow)
            ),
            None => String::new(),
        };
        format!(
            "Degradation shown: plain-{deep} trains worse than plain-{shallow} ({} vs {}) while its residual twin reaches {}, \
             {lead:.1} points better on the same batches.{full}",
            pct(plain_deep),
            pct(plain_shallow),
            pct(res_deep)
        )
    } else if plain_deep > plain_shallow {
        format!(
            "Not degradation yet: plain-{deep} is behind plain-{shallow} ({} vs {}), but its residual twin ({}) is not clearly \
             ahead of it (by {lead:.1} points; {MARGIN_POINTS} needed): early in training every deeper net lags, so train longer.",
            pct(plain_deep),
            pct(plain_shallow),
            pct(res_deep)
        )
    } else {
        format!(
            "No degradation: plain-{deep} trains at least as well as plain-{shallow} ({} vs {}).",
            pct(plain_deep),
            pct(plain_shallow)
        )
    });
    lines
}

#[cfg(test)]
mod tests {
    use super::*;

    fn f(arch: Arch, depth: u32, seed: u64, train_error: f64) -> Final {
        Final {
            run_id: format!("{arch}-{depth}-{seed}"),
            arch,
            depth,
            seed,
            iteration: 100,
            train_error,
            test_error: None,
        }
    }

    #[test]
    fn the_verdict_follows_the_numbers() {
        use Arch::{Plain, Residual};
        let shown = verdict(&[
            f(Plain, 20, 0, 0.05),
            f(Residual, 20, 0, 0.04),
            f(Plain, 56, 0, 0.08),
            f(Residual, 56, 0, 0.02),
        ]);
        assert_eq!(
            shown[0],
            "plain nets: final training error rises with depth (20 layers 5.0%, 56 layers 8.0%)."
        );
        assert_eq!(
            shown[1],
            "residual nets: final training error falls with depth (20 layers 4.0%, 56 layers 2.0%)."
        );
        assert_eq!(
            shown[3],
            "depth 56: plain − residual final training error = +6.0 points (1 seed, identical batches)."
        );
        assert!(
            shown[4].starts_with("Degradation shown: plain-56 trains worse than plain-20 (8.0% vs 5.0%)"),
            "{}",
            shown[4]
        );

        // Early training: both deeper nets behind, twins level.
        let early = verdict(&[
            f(Plain, 20, 0, 0.56),
            f(Residual, 20, 0, 0.46),
            f(Plain, 56, 0, 0.79),
            f(Residual, 56, 0, 0.79),
        ]);
        assert!(early[1].contains("rises with depth"));
        assert!(early.last().unwrap().starts_with("Not degradation yet"), "{early:?}");

        // Flipped: the deeper plain net better.
        let none = verdict(&[f(Plain, 20, 0, 0.08), f(Plain, 56, 0, 0.05), f(Residual, 56, 0, 0.04)]);
        assert!(
            none[0].contains("falls with depth") && none.last().unwrap().starts_with("No degradation"),
            "{none:?}"
        );

        // Seeds average, and a lone run says nothing.
        let seeds = verdict(&[
            f(Plain, 110, 0, 0.1),
            f(Residual, 110, 0, 0.05),
            f(Plain, 110, 1, 0.2),
            f(Residual, 110, 1, 0.05),
        ]);
        assert_eq!(
            seeds,
            ["depth 110: plain − residual final training error = +10.0 points (2 seeds, identical batches)."]
        );
        assert!(verdict(&[f(Residual, 20, 0, 0.1)]).is_empty());
    }
}
