//! What the recorded gradient norms say about the paper's section 4.1 argument: that plain nets
//! with BN degrade although "the backward propagated gradients exhibit healthy norms", so the
//! difficulty is not vanishing gradients. For every net: the ratio of the first 3x3 layer's
//! output gradient to the last one's, at initialisation and at the end, called vanishing below
//! [`VANISH`], exploding above [`EXPLODE`] and healthy between (README states the rule), and how
//! that sits with the plain nets' training errors. Also the lines of the gradient figure.

use crate::config::{Arch, Shortcut};
use crate::measure::Gradients;
use std::collections::BTreeMap;

/// The first layer's gradient a tenth of the last one's or less: vanished.
pub const VANISH: f64 = 0.1;
/// Ten times the last one's or more: exploded.
pub const EXPLODE: f64 = 10.0;

/// One net (arch, depth, shortcut) with its final training error and its gradient records, one
/// per seed.
#[derive(Debug, Clone)]
pub struct NetGradients {
    pub arch: Arch,
    pub depth: u32,
    pub shortcut: Shortcut,
    /// Mean final training error over the seeds (NaN when none finished).
    pub train_error: f64,
    pub seeds: Vec<Vec<Gradients>>,
}

impl NetGradients {
    pub fn name(&self) -> String {
        crate::plan::net_name(self.arch, self.depth, self.shortcut)
    }

    /// The first layer's output gradient over the last one's at the point `pick` chooses in each
    /// seed, as a geometric mean over the seeds (ratios multiply); with that point's iteration.
    fn ratio(&self, pick: fn(&[Gradients]) -> Option<&Gradients>) -> Option<(f64, u64)> {
        let at: Vec<&Gradients> = self.seeds.iter().filter_map(|s| pick(s)).collect();
        let logs: Vec<f64> = at
            .iter()
            .filter_map(|g| Some((g.layers.first()?.output / g.layers.last()?.output).ln()))
            .filter(|l| l.is_finite())
            .collect();
        (!logs.is_empty()).then(|| ((logs.iter().sum::<f64>() / logs.len() as f64).exp(), at[0].iteration))
    }

    fn at_init(&self) -> Option<(f64, u64)> {
        self.ratio(|s| s.first().filter(|g| g.iteration == 0))
    }

    fn at_end(&self) -> Option<(f64, u64)> {
        self.ratio(|s| s.last().filter(|g| g.iteration > 0))
    }

    /// The mean output gradient of every layer at each of a few points of training (the start,
    /// after the first step, halfway and the end), geometric means over the seeds: the lines of
    /// the figure, as (label, per-layer values).
    pub fn lines(&self) -> Vec<(String, Vec<f64>)> {
        let Some(first) = self.seeds.first() else { return vec![] };
        let last = first.len().saturating_sub(1);
        let mut picks: Vec<usize> = vec![0, 1, last.div_ceil(2), last];
        picks.retain(|&k| k <= last);
        picks.dedup();
        picks
            .into_iter()
            .filter_map(|k| {
                let at: Vec<&Gradients> = self.seeds.iter().filter_map(|s| s.get(k)).collect();
                let it = at.first()?.iteration;
                if at.iter().any(|g| g.iteration != it || g.layers.len() != at[0].layers.len()) {
                    return None;
                }
                let layers = (0..at[0].layers.len())
                    .map(|l| {
                        (at.iter().map(|g| g.layers[l].output.ln()).sum::<f64>() / at.len() as f64).exp()
                    })
                    .collect();
                let when = if it == 0 { "initialisation".to_string() } else { format!("iteration {it}") };
                Some((when, layers))
            })
            .collect()
    }
}

/// vanishing, exploding or healthy, by [`VANISH`] and [`EXPLODE`].
fn state(ratio: f64) -> &'static str {
    if ratio <= VANISH {
        "vanishing"
    } else if ratio >= EXPLODE {
        "exploding"
    } else {
        "healthy"
    }
}

fn number(x: f64) -> String {
    if x >= 100.0 {
        format!("{x:.0}")
    } else if x >= 0.1 {
        format!("{x:.2}")
    } else {
        format!("{x:.1e}")
    }
}

/// A ratio in words: the number, the factor per layer it amounts to and the state.
fn described(net: &NetGradients, ratio: f64) -> String {
    let layers = crate::model::conv_stages(net.depth).len();
    let per_layer = ratio.powf(1.0 / (layers - 1) as f64);
    format!("{} ({per_layer:.2}x a layer going back, {})", number(ratio), state(ratio))
}

/// REPORT.md's judgement: a line per net with records, then a line per deeper plain net on how
/// its gradients sit with its training error against the shallowest plain net's. Empty when no
/// run recorded gradient norms.
pub fn judgement(nets: &[NetGradients]) -> Vec<String> {
    let mut lines = Vec::new();
    for net in nets {
        let (Some((init, _)), Some((end, it))) = (net.at_init(), net.at_end()) else { continue };
        let seeds = match net.seeds.len() {
            1 => String::new(),
            n => format!(", geometric mean of {n} seeds"),
        };
        lines.push(format!(
            "{}: first layer's gradient over the last one's {} at initialisation, {} at the end (iteration {it}){seeds}.",
            net.name(),
            described(net, init),
            described(net, end)
        ));
    }
    let plain: Vec<&NetGradients> =
        nets.iter().filter(|n| n.arch == Arch::Plain && n.train_error.is_finite()).collect();
    if let Some((shallow, deeper)) = plain.split_first() {
        for net in deeper {
            let Some((end, _)) = net.at_end() else { continue };
            let errors = format!(
                "{:.1}% vs {:.1}% final training error",
                100.0 * net.train_error,
                100.0 * shallow.train_error
            );
            let (a, b) = (net.name(), shallow.name());
            let ratio = number(end);
            lines.push(if net.train_error <= shallow.train_error {
                format!("{a} does not train worse than {b} here ({errors}); its gradients at the end are {} ({ratio}).", state(end))
            } else {
                match state(end) {
                    "healthy" => format!(
                        "{a} trains worse than {b} ({errors}) while its gradients at the end are healthy \
                         ({ratio}): this degradation is not a vanishing gradient, as the paper argues."
                    ),
                    "vanishing" => format!(
                        "{a} trains worse than {b} ({errors}) and its gradients at the end vanish ({ratio}): \
                         consistent with the vanishing-gradient reading, not with the paper's argument."
                    ),
                    _ => format!(
                        "{a} trains worse than {b} ({errors}) and its gradients at the end explode ({ratio}): \
                         they do not vanish, but they are not the paper's \"healthy norms\" either."
                    ),
                }
            });
        }
    }
    lines
}

/// Groups recorded gradient norms by net, in order plain then residual, by depth.
pub fn nets(runs: Vec<(crate::plan::Run, f64, Vec<Gradients>)>) -> Vec<NetGradients> {
    // (residual, depth, shortcut) -> each seed's final training error and gradient records.
    type Seeds = (Vec<f64>, Vec<Vec<Gradients>>);
    let mut by: BTreeMap<(bool, u32, Shortcut), Seeds> = BTreeMap::new();
    for (run, train_error, g) in runs {
        let shortcut = if run.arch == Arch::Plain { Shortcut::A } else { run.shortcut };
        let e = by.entry((run.arch == Arch::Residual, run.depth, shortcut)).or_default();
        e.0.push(train_error);
        e.1.push(g);
    }
    by.into_iter()
        .map(|((residual, depth, shortcut), (errors, seeds))| {
            let finite: Vec<f64> = errors.into_iter().filter(|e| e.is_finite()).collect();
            NetGradients {
                arch: if residual { Arch::Residual } else { Arch::Plain },
                depth,
                shortcut,
                train_error: if finite.is_empty() {
                    f64::NAN
                } else {
                    finite.iter().sum::<f64>() / finite.len() as f64
                },
                seeds,
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::measure::LayerGradient;

    /// A record of `layers` layers whose output gradient grows by `rate` a layer going back.
    fn points(layers: usize, init_rate: f64, end_rate: f64) -> Vec<Gradients> {
        let at = |iteration: u64, rate: f64| Gradients {
            epoch: iteration / 10,
            iteration,
            layers: (0..layers)
                .map(|k| LayerGradient {
                    output: rate.powi((layers - 1 - k) as i32),
                    weight: 1.0,
                    weight_norm: 1.0,
                })
                .collect(),
        };
        vec![at(0, init_rate), at(1, init_rate), at(50, (init_rate + end_rate) / 2.0), at(100, end_rate)]
    }

    fn net(arch: Arch, depth: u32, train_error: f64, init: f64, end: f64) -> NetGradients {
        let layers = crate::model::conv_stages(depth).len();
        NetGradients {
            arch,
            depth,
            shortcut: Shortcut::A,
            train_error,
            seeds: vec![points(layers, init, end)],
        }
    }

    #[test]
    fn the_judgement_names_the_state_and_how_it_sits_with_degradation() {
        // plain-20: 19 layers, 18 steps at 1.2x = 26.6 at init (exploding), 1.02x = 1.43 at the end.
        let nets = vec![
            net(Arch::Plain, 20, 0.10, 1.2, 1.02),
            net(Arch::Plain, 32, 0.15, 1.2, 1.02),
            net(Arch::Plain, 44, 0.20, 1.0, 0.9),
            net(Arch::Plain, 56, 0.08, 1.0, 1.3),
            net(Arch::Residual, 20, 0.05, 1.05, 1.0),
        ];
        let lines = judgement(&nets);
        assert_eq!(
            lines[0],
            "plain-20: first layer's gradient over the last one's 26.62 (1.20x a layer going back, exploding) \
             at initialisation, 1.43 (1.02x a layer going back, healthy) at the end (iteration 100)."
        );
        assert!(
            lines[4].starts_with("ResNet-20: first layer's gradient over the last one's 2.41 (1.05x"),
            "{lines:?}"
        );
        assert_eq!(
            lines[5],
            "plain-32 trains worse than plain-20 (15.0% vs 10.0% final training error) while its gradients at \
             the end are healthy (1.81): this degradation is not a vanishing gradient, as the paper argues."
        );
        // 0.9^42 = 0.012: vanishing.
        assert!(
            lines[6].starts_with("plain-44 trains worse than plain-20")
                && lines[6].contains("vanish (1.2e-2)"),
            "{}",
            lines[6]
        );
        assert!(
            lines[7].starts_with("plain-56 does not train worse than plain-20 here")
                && lines[7].contains("exploding"),
            "{}",
            lines[7]
        );
        assert_eq!(lines.len(), 8);
    }

    #[test]
    fn seeds_average_geometrically_and_nothing_recorded_says_nothing() {
        let mut two = net(Arch::Residual, 8, 0.1, 2.0, 2.0);
        two.seeds.push(points(7, 0.5, 0.5));
        // Ratios 64 and 1/64 average to 1.
        assert!((two.at_init().unwrap().0 - 1.0).abs() < 1e-12);
        let lines = two.lines();
        assert_eq!(
            lines.iter().map(|l| l.0.as_str()).collect::<Vec<_>>(),
            ["initialisation", "iteration 1", "iteration 50", "iteration 100"]
        );
        assert!(lines[0].1.iter().all(|v| (v - 1.0).abs() < 1e-12));
        let none = NetGradients { seeds: vec![], ..two };
        assert!(judgement(&[none]).is_empty());
    }
}
