//! The training loss around the final weights along random directions (Li, Xu, Taylor, Studer and
//! Goldstein, "Visualizing the Loss Landscape of Neural Nets", 2018). Each direction is drawn
//! from a standard normal and scaled filter by filter to the norm of the same filter of the
//! weights: BN makes a conv's scale free, so an unscaled direction would mean a large step for a
//! net of small weights and a small one for a net of large weights. Parameters of one dimension
//! (BN scales and shifts, the FC bias) are not moved, nor are BN's running statistics (Li et al.'s
//! `--xignore biasbn`). The loss is taken in eval mode, as theirs is.

use super::{Batches, score};
use crate::model::Net;
use tch::{Tensor, nn};

/// A direction in weight space: one tensor per trainable variable, by variable name.
pub type Direction = Vec<(String, Tensor)>;

/// The loss along one direction: `loss[i]` and `error[i]` at the weights + `alpha[i]` · d.
#[derive(Debug, Clone, PartialEq)]
pub struct Slice {
    pub alpha: Vec<f64>,
    pub loss: Vec<f64>,
    pub error: Vec<f64>,
}

/// The loss over a plane: `loss[i][j]` at the weights + `axis[i]` · d + `axis[j]` · e.
#[derive(Debug, Clone, PartialEq)]
pub struct Surface {
    pub axis: Vec<f64>,
    pub loss: Vec<Vec<f64>>,
}

/// `points` evenly spaced on [−1, 1] (Li et al.'s range for filter-normalised directions).
pub fn axis(points: u32) -> Vec<f64> {
    let last = (points.max(2) - 1) as f64;
    (0..points).map(|i| -1.0 + 2.0 * i as f64 / last).collect()
}

/// A random direction for the trainable variables of `vs`: [`normalized`] of [`draw`].
pub fn direction(vs: &nn::VarStore, seed: i64) -> Direction {
    normalized(vs, &draw(vs, seed))
}

/// One standard normal draw per trainable variable of `vs`, in order of name, from libtorch's
/// generator seeded with `seed` (so twins that share every layer draw the same numbers).
pub fn draw(vs: &nn::VarStore, seed: i64) -> Direction {
    let mut vars: Vec<(String, Tensor)> =
        vs.variables().into_iter().filter(|(_, t)| t.requires_grad()).collect();
    vars.sort_by(|a, b| a.0.cmp(&b.0));
    tch::manual_seed(seed);
    vars.into_iter().map(|(name, w)| (name, Tensor::randn(w.size(), (w.kind(), w.device())))).collect()
}

/// `raw` made a direction for the weights of `vs`: each filter (slice along the first dimension:
/// a conv's output channel, a row of the FC layer) scaled to the norm of the same filter of the
/// weights; zero for variables of one dimension.
pub fn normalized(vs: &nn::VarStore, raw: &Direction) -> Direction {
    let _guard = tch::no_grad_guard();
    let vars = vs.variables();
    raw.iter()
        .map(|(name, r)| {
            let w = &vars[name];
            let d = if w.dim() <= 1 { w.zeros_like() } else { filter_normalized(r, w) };
            (name.clone(), d)
        })
        .collect()
}

/// `d` with each filter rescaled to the norm of the same filter of `w`.
pub fn filter_normalized(d: &Tensor, w: &Tensor) -> Tensor {
    let dims: Vec<i64> = (1..w.dim() as i64).collect();
    let norm = |t: &Tensor| t.norm_scalaropt_dim(2, dims.as_slice(), true);
    d * (norm(w) / norm(d))
}

/// The net's trainable variables, each with its value now (the centre) and its share of the
/// directions, so that a point of the plane can be set and the centre put back.
struct Moves {
    vars: Vec<(Tensor, Tensor, Vec<Tensor>)>,
}

impl Moves {
    fn new(vs: &nn::VarStore, directions: &[&Direction]) -> Moves {
        let by_name = vs.variables();
        let names: Vec<&String> = directions[0].iter().map(|(n, _)| n).collect();
        let vars = names
            .iter()
            .enumerate()
            .map(|(k, name)| {
                let var = by_name[*name].shallow_clone();
                let centre = var.detach().copy();
                let ds = directions.iter().map(|d| d[k].1.shallow_clone()).collect();
                (var, centre, ds)
            })
            .collect();
        Moves { vars }
    }

    /// Sets every variable to centre + Σ coefficient · direction.
    fn to(&self, at: &[f64]) {
        let _guard = tch::no_grad_guard();
        for (var, centre, ds) in &self.vars {
            let mut w = centre.copy();
            for (d, &a) in ds.iter().zip(at) {
                if a != 0.0 {
                    w += d * a;
                }
            }
            var.shallow_clone().copy_(&w);
        }
    }

    fn back(&self) {
        self.to(&[]);
    }
}

/// The eval-mode loss and error of `net` along `d` at each of `alpha` (the net is left as it was).
pub fn slice(vs: &nn::VarStore, net: &Net, d: &Direction, alpha: &[f64], b: &Batches) -> Slice {
    let moves = Moves::new(vs, &[d]);
    let (loss, error) = alpha
        .iter()
        .map(|&a| {
            moves.to(&[a]);
            score(net, b, &[])
        })
        .unzip();
    moves.back();
    Slice { alpha: alpha.to_vec(), loss, error }
}

/// The eval-mode loss of `net` over the plane of `d` and `e` at `axis` × `axis`.
pub fn surface(
    vs: &nn::VarStore,
    net: &Net,
    d: &Direction,
    e: &Direction,
    axis: &[f64],
    b: &Batches,
) -> Surface {
    let moves = Moves::new(vs, &[d, e]);
    let loss = axis
        .iter()
        .map(|&a| {
            axis.iter()
                .map(|&c| {
                    moves.to(&[a, c]);
                    score(net, b, &[]).0
                })
                .collect()
        })
        .collect();
    moves.back();
    Surface { axis: axis.to_vec(), loss }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::{Arch, Shortcut};
    use crate::explain::tests::net_and_images;

    /// Every filter of a direction has its weight filter's norm; one-dimensional variables (BN,
    /// the FC bias) are not moved; twins sharing every layer draw the same numbers.
    #[test]
    fn directions_are_filter_normalised_and_leave_bn_alone() {
        let (l, ..) = net_and_images(Arch::Residual, Shortcut::A);
        let (p, ..) = net_and_images(Arch::Plain, Shortcut::A);
        let d = {
            let _rng = crate::testing::torch_rng_lock();
            (direction(&l.vs, 5), direction(&p.vs, 5))
        };
        let vars = l.vs.variables();
        let mut moved = 0;
        for (name, t) in &d.0 {
            let w = &vars[name];
            if w.dim() <= 1 {
                assert_eq!(t.abs().max().double_value(&[]), 0.0, "{name}");
                continue;
            }
            moved += 1;
            for f in 0..w.size()[0] {
                let (a, b) = (t.get(f).norm().double_value(&[]), w.get(f).norm().double_value(&[]));
                assert!((a - b).abs() <= 1e-12 * b, "{name} filter {f}: {a} vs {b}");
            }
            // Not the weights themselves: a random direction with their filters' norms.
            assert!(!t.allclose(w, 1e-3, 1e-3, false), "{name}");
        }
        assert_eq!(moved, 7 + 1, "7 convs and the FC layer");
        assert!(
            vars.keys().any(|k| k.ends_with("running_mean"))
                && d.0.iter().all(|(n, _)| !n.contains("running"))
        );
        // Twins built from one seed have the same weights here, so the same direction.
        assert!(d.0.iter().zip(&d.1).all(|((n, a), (m, b))| n == m && a.equal(b)));
    }

    /// The slice at α = 0 is the net's own loss, a step along the direction changes it, and the
    /// net is left exactly as it was.
    #[test]
    fn the_slice_passes_through_the_trained_weights_and_puts_them_back() {
        let (l, images, labels, mean) = net_and_images(Arch::Residual, Shortcut::A);
        let b = Batches::new(&l.net, &images, &labels, &mean);
        let d = {
            let _rng = crate::testing::torch_rng_lock();
            direction(&l.vs, 1)
        };
        let before: Vec<(String, Tensor)> =
            l.vs.variables().into_iter().map(|(n, t)| (n, t.copy())).collect();
        let s = slice(&l.vs, &l.net, &d, &axis(5), &b);
        assert_eq!(s.alpha, [-1.0, -0.5, 0.0, 0.5, 1.0]);
        assert_eq!((s.loss[2], s.error[2]), score(&l.net, &b, &[]));
        assert!(s.loss[4] != s.loss[2] && s.loss[0] != s.loss[2]);
        for (name, t) in l.vs.variables() {
            assert!(t.equal(&before.iter().find(|b| b.0 == name).unwrap().1), "{name} changed");
        }
        // The surface's row β = 0 is the slice (at the same α).
        let e = {
            let _rng = crate::testing::torch_rng_lock();
            direction(&l.vs, 2)
        };
        let sf = surface(&l.vs, &l.net, &d, &e, &axis(5), &b);
        for i in 0..5 {
            assert!((sf.loss[i][2] - s.loss[i]).abs() < 1e-12, "{i}");
        }
        assert!(sf.loss[2][4] != sf.loss[2][2]);
    }
}
