//! What the recorded gradient norms say about the paper's section 4.1 argument: that plain nets
//! with BN degrade although "the backward propagated gradients exhibit healthy norms", so the
//! difficulty is not vanishing gradients. For every net: the ratio of the first 3x3 layer's
//! output gradient to the last one's, at initialisation and at the end. Vanishing and exploding
//! gradients are decay or growth that compounds with depth, so they are judged across the
//! sweep's depths: how much the ratio grows for every layer added, exploding at [`COMPOUNDS`] or
//! more, vanishing at its inverse or less, healthy between (README states the rule); then how that
//! sits with the plain nets' training errors. Also the lines of the gradient figure.

use crate::config::{Arch, Shortcut};
use crate::measure::Gradients;
use std::collections::BTreeMap;

/// The ratio growing by this factor or more for every layer added: exploding with depth (its
/// inverse or less: vanishing). At 1.1 the ratio grows 10x from 20 to 44 layers and 100x from 20
/// to 68: growth that compounds, as mean-field theory's 1.21 for BN-ReLU plain nets at
/// initialisation does (Yang et al., ICLR 2019). Residual nets at initialisation grow too, but
/// polynomially (BN scales each block's variance): their ratio doubles from 20 to 32 layers,
/// about 1.06x a layer added between those two depths, which this bound leaves healthy.
pub const COMPOUNDS: f64 = 1.1;

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

/// vanishing, exploding or healthy, by how the ratio grows per layer added ([`COMPOUNDS`]).
fn state(growth: f64) -> &'static str {
    if growth >= COMPOUNDS {
        "exploding"
    } else if growth <= 1.0 / COMPOUNDS {
        "vanishing"
    } else {
        "healthy"
    }
}

/// The state with what it means, as a judgement line says it.
fn state_words(growth: f64) -> &'static str {
    match state(growth) {
        "exploding" => "exploding: it compounds with depth",
        "vanishing" => "vanishing: it decays with depth",
        _ => "healthy: it does not compound with depth",
    }
}

fn conv_layers(depth: u32) -> f64 {
    crate::model::conv_stages(depth).len() as f64
}

/// How the ratio at one point (`at`) grows for every layer added across `nets` (one kind of net at
/// several depths): the least-squares slope of its logarithm against the number of 3x3 layers, as
/// a factor. None below two depths.
fn growth(nets: &[&NetGradients], at: fn(&NetGradients) -> Option<(f64, u64)>) -> Option<f64> {
    let points: Vec<(f64, f64)> =
        nets.iter().filter_map(|n| Some((conv_layers(n.depth), at(n)?.0.ln()))).collect();
    let n = points.len() as f64;
    let (mx, my) = (points.iter().map(|p| p.0).sum::<f64>() / n, points.iter().map(|p| p.1).sum::<f64>() / n);
    let sxx: f64 = points.iter().map(|p| (p.0 - mx).powi(2)).sum();
    let sxy: f64 = points.iter().map(|p| (p.0 - mx) * (p.1 - my)).sum();
    (points.len() >= 2 && sxx > 0.0).then(|| (sxy / sxx).exp())
}

fn number(x: f64) -> String {
    if x >= 1000.0 {
        crate::plan::grouped(x.round() as u64)
    } else if x >= 100.0 {
        format!("{x:.0}")
    } else if x >= 0.1 {
        format!("{x:.2}")
    } else {
        format!("{x:.1e}")
    }
}

/// A ratio in words: the number and the factor per layer going back it amounts to.
fn described(net: &NetGradients, ratio: f64) -> String {
    let per_layer = ratio.powf(1.0 / (conv_layers(net.depth) - 1.0));
    format!("{} ({per_layer:.2}x a layer going back)", number(ratio))
}

/// One kind of net across its depths at one point: how the ratio grows per layer added, from the
/// shallowest to the deepest, and the state.
fn across(nets: &[&NetGradients], at: fn(&NetGradients) -> Option<(f64, u64)>) -> Option<String> {
    let g = growth(nets, at)?;
    let ends: Vec<String> =
        nets.iter().filter_map(|n| Some(format!("{} at {}", number(at(n)?.0), n.depth))).collect();
    Some(format!("{g:.2}x for every layer added ({}): {}", ends.join(", "), state_words(g)))
}

/// REPORT.md's judgement: a line per net with records; a line per kind of net (plain; residual
/// by shortcut) on how its ratio grows with depth at initialisation and at the end; then a line
/// per deeper plain net on how its gradients sit with its training error against the shallowest
/// plain net's. Empty when no run recorded gradient norms.
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
    let kinds = [
        (Arch::Plain, None, "Plain nets"),
        (Arch::Residual, Some(Shortcut::A), "ResNets (A)"),
        (Arch::Residual, Some(Shortcut::B), "ResNets (B)"),
    ];
    for (arch, shortcut, name) in kinds {
        let kind: Vec<&NetGradients> = nets
            .iter()
            .filter(|n| n.arch == arch && shortcut.is_none_or(|s| s == n.shortcut) && n.at_end().is_some())
            .collect();
        let line = match (across(&kind, NetGradients::at_init), across(&kind, NetGradients::at_end)) {
            _ if kind.is_empty() => continue,
            (init, Some(end)) => {
                let init = init.map_or(String::new(), |i| format!("at initialisation the ratio grows {i}; "));
                format!("{name} across depth: {init}at the end it grows {end}.")
            }
            _ => format!(
                "{name}: one depth, so whether their gradients vanish or explode with depth is not judged (it takes a second depth)."
            ),
        };
        lines.push(line);
    }
    let plain: Vec<&NetGradients> =
        nets.iter().filter(|n| n.arch == Arch::Plain && n.train_error.is_finite()).collect();
    if let Some((shallow, deeper)) = plain.split_first() {
        for net in deeper {
            let (Some((end, _)), Some(g)) = (net.at_end(), growth(&[shallow, net], NetGradients::at_end))
            else {
                continue;
            };
            let Some((shallow_end, _)) = shallow.at_end() else { continue };
            let errors = format!(
                "{:.1}% vs {:.1}% final training error",
                100.0 * net.train_error,
                100.0 * shallow.train_error
            );
            let (a, b) = (net.name(), shallow.name());
            let ratios =
                format!("ratio {} against {}, {g:.2}x a layer added", number(end), number(shallow_end));
            lines.push(if net.train_error <= shallow.train_error {
                format!("{a} does not train worse than {b} here ({errors}); its gradients at the end are {} ({ratios}).", state(g))
            } else {
                match state(g) {
                    "healthy" => format!(
                        "{a} trains worse than {b} ({errors}) while its gradients at the end do not compound with depth \
                         ({ratios}): this degradation is not a vanishing gradient, as the paper argues."
                    ),
                    "vanishing" => format!(
                        "{a} trains worse than {b} ({errors}) and its gradients at the end vanish with depth ({ratios}): \
                         consistent with the vanishing-gradient reading, not with the paper's argument."
                    ),
                    _ => format!(
                        "{a} trains worse than {b} ({errors}) and its gradients at the end explode with depth ({ratios}): \
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

    /// A residual net whose first-over-last ratio is `init` at initialisation and `end` at the end.
    fn flat(depth: u32, train_error: f64, init: f64, end: f64) -> NetGradients {
        let rate = |ratio: f64| ratio.powf(1.0 / (conv_layers(depth) - 1.0));
        net(Arch::Residual, depth, train_error, rate(init), rate(end))
    }

    /// The paper's picture: plain nets explode at initialisation (1.2x a layer, compounding) and
    /// are healthy at the end while they degrade; ResNets end with a ratio of 16 at 20 and at 32
    /// layers, 1.10x a layer in ResNet-32, which does not compound with depth: healthy, not
    /// exploding; at initialisation their ratio doubles from 20 to 32 layers (as paper_20_32's
    /// do: 7.83 and 15.91), under the bound.
    #[test]
    fn the_judgement_follows_the_ratio_across_depth() {
        let nets = vec![
            net(Arch::Plain, 20, 0.10, 1.2, 1.02),
            net(Arch::Plain, 32, 0.15, 1.2, 1.02),
            net(Arch::Plain, 56, 0.20, 1.2, 1.02),
            flat(20, 0.05, 7.83, 16.0),
            flat(32, 0.04, 15.91, 16.0),
        ];
        let lines = judgement(&nets);
        assert_eq!(
            lines[0],
            "plain-20: first layer's gradient over the last one's 26.62 (1.20x a layer going back) at \
             initialisation, 1.43 (1.02x a layer going back) at the end (iteration 100)."
        );
        assert!(lines[4].starts_with("ResNet-32: first layer's gradient over the last one's"), "{lines:?}");
        assert!(lines[4].contains("16.00 (1.10x a layer going back) at the end"), "{}", lines[4]);
        assert_eq!(
            lines[5],
            "Plain nets across depth: at initialisation the ratio grows 1.20x for every layer added (26.62 at 20, \
             237 at 32, 18,871 at 56): exploding: it compounds with depth; at the end it grows 1.02x for every layer \
             added (1.43 at 20, 1.81 at 32, 2.91 at 56): healthy: it does not compound with depth."
        );
        assert!(
            lines[6].starts_with(
                "ResNets (A) across depth: at initialisation the ratio grows 1.06x for every layer added (7.83 at \
                 20, 15.91 at 32): healthy: it does not compound with depth;"
            ) && lines[6].ends_with(
                    "at the end it grows 1.00x for every layer added (16.00 at 20, 16.00 at 32): healthy: it does not \
                     compound with depth."
                ),
            "{}",
            lines[6]
        );
        assert_eq!(
            lines[7],
            "plain-32 trains worse than plain-20 (15.0% vs 10.0% final training error) while its gradients at the \
             end do not compound with depth (ratio 1.81 against 1.43, 1.02x a layer added): this degradation is not \
             a vanishing gradient, as the paper argues."
        );
        assert!(lines[8].starts_with("plain-56 trains worse than plain-20"), "{}", lines[8]);
        assert_eq!(lines.len(), 9);
    }

    /// Decay or growth at the end that compounds with depth is named so, beside the errors; a
    /// kind of net at one depth is not judged.
    #[test]
    fn vanishing_and_exploding_with_depth_and_one_depth_unjudged() {
        let nets = vec![
            net(Arch::Plain, 20, 0.10, 1.0, 0.9),
            net(Arch::Plain, 44, 0.20, 1.0, 0.9),
            net(Arch::Plain, 56, 0.05, 1.0, 1.3),
            net(Arch::Residual, 20, 0.05, 1.05, 1.0),
        ];
        let lines = judgement(&nets);
        assert!(lines[4].contains("at the end it grows 1.44x"), "{}", lines[4]);
        assert_eq!(
            lines[5],
            "ResNets (A): one depth, so whether their gradients vanish or explode with depth is not judged (it takes a \
             second depth)."
        );
        // 0.9 a layer going back in both: the ratio shrinks 0.9x a layer added.
        assert!(
            lines[6].starts_with("plain-44 trains worse than plain-20")
                && lines[6].contains("vanish with depth (ratio 1.2e-2 against 0.15, 0.90x a layer added)"),
            "{}",
            lines[6]
        );
        assert!(
            lines[7].starts_with("plain-56 does not train worse than plain-20 here")
                && lines[7].contains("are exploding"),
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
