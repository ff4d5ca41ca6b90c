//! The rules that turn the measurements into words, each a number with a stated threshold, so
//! that REPORT.md says the same thing as the figures (README states them; the tests below hold
//! them to constructed cases whose answer is known).

use super::landscape::{Slice, Surface};
use super::lesions::Lesion;
use super::shattered::Correlation;

/// A point of a 2D surface counts as non-convex where its Hessian has a negative eigenvalue of at
/// least this share of the largest one in size (Li et al. map |λmin / λmax|; small ratios are the
/// rounding of nearly flat directions).
pub const NON_CONVEX_RATIO: f64 = 0.1;
/// A surface reads as one convex basin when at most this share of its points is non-convex.
pub const CONVEX_SHARE: f64 = 0.1;

/// The share of a surface's interior points whose Hessian (central differences on the grid) has
/// λmin < 0 with |λmin / λmax| ≥ [`NON_CONVEX_RATIO`].
pub fn non_convex_share(s: &Surface) -> f64 {
    let n = s.axis.len();
    if n < 3 {
        return 0.0;
    }
    let h = s.axis[1] - s.axis[0];
    let f = &s.loss;
    let mut count = 0;
    for i in 1..n - 1 {
        for j in 1..n - 1 {
            let fxx = (f[i + 1][j] - 2.0 * f[i][j] + f[i - 1][j]) / (h * h);
            let fyy = (f[i][j + 1] - 2.0 * f[i][j] + f[i][j - 1]) / (h * h);
            let fxy = (f[i + 1][j + 1] - f[i + 1][j - 1] - f[i - 1][j + 1] + f[i - 1][j - 1]) / (4.0 * h * h);
            let (mid, rad) = ((fxx + fyy) / 2.0, (((fxx - fyy) / 2.0).powi(2) + fxy * fxy).sqrt());
            let (lo, hi) = (mid - rad, mid + rad);
            let largest = lo.abs().max(hi.abs());
            if lo < 0.0 && largest > 0.0 && lo.abs() >= NON_CONVEX_RATIO * largest {
                count += 1;
            }
        }
    }
    count as f64 / ((n - 2) * (n - 2)) as f64
}

/// How far the loss rises above the trained weights' before a slice counts as out of the basin.
pub const BASIN_RISE: f64 = 1.0;

/// The width in α of the stretch of a slice around α = 0 where the loss stays below its value
/// there plus [`BASIN_RISE`], the crossings interpolated linearly; the slice's whole width when
/// it never leaves. Wider is flatter.
pub fn basin_width(s: &Slice) -> f64 {
    let Some(centre) = s.alpha.iter().position(|&a| a == 0.0) else { return f64::NAN };
    let limit = s.loss[centre] + BASIN_RISE;
    let crossing = |range: &mut dyn Iterator<Item = usize>| {
        let mut prev = centre;
        for i in range {
            if s.loss[i] >= limit {
                let f = (limit - s.loss[prev]) / (s.loss[i] - s.loss[prev]);
                return s.alpha[prev] + f * (s.alpha[i] - s.alpha[prev]);
            }
            prev = i;
        }
        s.alpha[prev]
    };
    crossing(&mut (centre + 1..s.alpha.len())) - crossing(&mut (0..centre).rev())
}

/// The cosine below which two input gradients count as unrelated.
pub const UNRELATED: f64 = 0.5;

/// The correlation length: the fraction of the way between two images at which the gradients'
/// mean cosine first falls below [`UNRELATED`] (interpolated linearly from t = 0, where it is 1);
/// None when it never does on the line.
pub fn correlation_length(c: &[Correlation]) -> Option<f64> {
    let mut prev = (0.0, 1.0);
    for p in c {
        if p.correlation < UNRELATED {
            let f = (prev.1 - UNRELATED) / (prev.1 - p.correlation);
            return Some(prev.0 + f * (p.t - prev.0));
        }
        prev = (p.t, p.correlation);
    }
    None
}

/// Error at and above which a lesioned net counts as fallen to chance (chance is 90%).
pub const CHANCE: f64 = 0.8;

/// What deleting one block costs: the median rise in test error over the single-block lesions
/// of blocks that keep their input's shape (`same_shape[block]`), where a residual net passes the
/// input on unchanged; and the median error itself.
pub fn middle_block_cost(l: &[Lesion], same_shape: &[bool]) -> Option<(f64, f64)> {
    let intact = l.iter().find(|x| x.blocks.is_empty())?.error;
    let errs: Vec<f64> = l
        .iter()
        .filter(|x| x.blocks.len() == 1 && same_shape[x.blocks[0] as usize])
        .map(|x| x.error)
        .collect();
    if errs.is_empty() {
        return None;
    }
    let median = median(&errs);
    Some((median - intact, median))
}

/// The mean test error of the random lesions of each size k (k, error), increasing k.
pub fn error_by_k(l: &[Lesion]) -> Vec<(usize, f64)> {
    let mut by: std::collections::BTreeMap<usize, Vec<f64>> = Default::default();
    for x in l.iter().filter(|x| x.draw > 0) {
        by.entry(x.blocks.len()).or_default().push(x.error);
    }
    by.into_iter().map(|(k, e)| (k, e.iter().sum::<f64>() / e.len() as f64)).collect()
}

/// The median of a list (NaN when empty).
pub fn median(xs: &[f64]) -> f64 {
    let mut v = xs.to_vec();
    v.sort_by(f64::total_cmp);
    match v.len() {
        0 => f64::NAN,
        n if n % 2 == 1 => v[n / 2],
        n => (v[n / 2 - 1] + v[n / 2]) / 2.0,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::explain::landscape::axis;

    fn surface(f: impl Fn(f64, f64) -> f64) -> Surface {
        let ax = axis(21);
        let loss = ax.iter().map(|&a| ax.iter().map(|&b| f(a, b)).collect()).collect();
        Surface { axis: ax, loss }
    }

    #[test]
    fn a_bowl_is_convex_a_saddle_and_an_egg_crate_are_not() {
        assert_eq!(non_convex_share(&surface(|a, b| a * a + 3.0 * b * b)), 0.0);
        // Convex but flat in one direction: the rounding of the flat direction does not count.
        assert_eq!(non_convex_share(&surface(|a, b| a * a + 1e-9 * (40.0 * b).sin())), 0.0);
        assert_eq!(non_convex_share(&surface(|a, b| a * a - b * b)), 1.0);
        let crate_ = non_convex_share(&surface(|a, b| (6.0 * a).sin() * (6.0 * b).sin()));
        assert!(crate_ > 0.5 && crate_ < 1.0, "{crate_}");
        // A bowl with one dent: a few points.
        let dent = non_convex_share(&surface(|a, b| {
            a * a + b * b - 0.3 * (-((a - 0.5).powi(2) + b * b) / 0.01).exp()
        }));
        assert!(dent > 0.0 && dent <= CONVEX_SHARE, "{dent}");
    }

    fn slice(f: impl Fn(f64) -> f64) -> Slice {
        let alpha = axis(41);
        let loss = alpha.iter().map(|&a| f(a)).collect();
        Slice { error: vec![0.0; alpha.len()], alpha, loss }
    }

    #[test]
    fn basin_width_of_parabolas_and_of_a_slice_that_never_leaves() {
        // 4α² reaches +1 at α = ±0.5: width 1 (up to the linear interpolation on a 0.05 grid).
        let w = basin_width(&slice(|a| 0.1 + 4.0 * a * a));
        assert!((w - 1.0).abs() < 0.01, "{w}");
        let sharp = basin_width(&slice(|a| 0.1 + 100.0 * a * a));
        assert!((sharp - 0.2).abs() < 0.01, "{sharp}");
        assert_eq!(basin_width(&slice(|a| 0.1 + 0.5 * a * a)), 2.0);
        // Lopsided: rises on the right only.
        let w = basin_width(&slice(|a| if a > 0.0 { 4.0 * a } else { 0.0 }));
        assert!((w - 1.25).abs() < 1e-9, "{w}");
    }

    #[test]
    fn correlation_length_of_an_exponential_decay() {
        let c = |tau: f64| {
            (1..=64)
                .map(|lag| {
                    let t = lag as f64 / 64.0;
                    Correlation { lag, t, correlation: (-t / tau).exp() }
                })
                .collect::<Vec<_>>()
        };
        // e^(−t/τ) = 0.5 at t = τ ln 2.
        for tau in [0.02, 0.1, 0.5] {
            let l = correlation_length(&c(tau)).unwrap();
            assert!((l - tau * 2f64.ln()).abs() < 0.01 * tau.max(0.1), "τ {tau}: {l}");
        }
        assert_eq!(correlation_length(&c(10.0)), None, "never below 0.5 on the line");
        // White noise: unrelated at the first step.
        let noise: Vec<Correlation> =
            (1..=4).map(|lag| Correlation { lag, t: lag as f64 / 4.0, correlation: 0.0 }).collect();
        assert!((correlation_length(&noise).unwrap() - 0.125).abs() < 1e-12);
    }

    fn lesion(blocks: &[u32], draw: u32, error: f64) -> Lesion {
        Lesion { blocks: blocks.to_vec(), draw, loss: 0.0, error }
    }

    #[test]
    fn middle_block_cost_leaves_out_shape_changes_and_error_by_k_averages_draws() {
        let l = [
            lesion(&[], 0, 0.10),
            lesion(&[0], 0, 0.11),
            lesion(&[1], 0, 0.90), // changes shape: left out
            lesion(&[2], 0, 0.12),
            lesion(&[3], 0, 0.16),
            lesion(&[0, 2], 1, 0.20),
            lesion(&[2, 3], 2, 0.30),
        ];
        let (cost, error) = middle_block_cost(&l, &[true, false, true, true]).unwrap();
        assert!((cost - 0.02).abs() < 1e-12 && (error - 0.12).abs() < 1e-12);
        assert_eq!(middle_block_cost(&l, &[false; 4]), None);
        assert_eq!(error_by_k(&l), [(2, 0.25)]);
        assert_eq!(median(&[3.0, 1.0, 2.0, 10.0]), 2.5);
    }
}
