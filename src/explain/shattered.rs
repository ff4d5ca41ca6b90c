//! How alike the input gradients of nearby inputs are (Balduzzi, Frean, Leary, Lewis, Ma and
//! McWilliams, "The Shattered Gradients Problem", 2017): in deep plain nets the gradient of the
//! output with respect to the input decorrelates between ever closer inputs, towards white noise,
//! while in residual nets it stays alike over longer distances. Here the inputs lie on straight
//! lines between two test images (normalised), `points` evenly spaced from one to the other; the
//! output is the net's log-probability (eval mode) of the first image's class; two gradients are
//! compared by their cosine (1: the same direction, 0: unrelated).

use crate::data::normalize;
use crate::model::Net;
use tch::{Kind, Tensor};

/// The mean cosine between the input gradients of points `lag` steps apart on the lines, at
/// `t` = lag / (points − 1) of the way from one image to the other.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Correlation {
    pub lag: u32,
    pub t: f64,
    pub correlation: f64,
}

/// The input gradients (one row each, in the net's precision) along the line from `a` to `b`
/// (normalised images [3, 32, 32]) of the log-probability of `class`.
pub fn gradients(net: &Net, a: &Tensor, b: &Tensor, class: i64, points: i64) -> Tensor {
    let t = Tensor::linspace(0.0, 1.0, points, (a.kind(), a.device())).view([-1, 1, 1, 1]);
    let xs = net.inputs(a.unsqueeze(0) + t * (b - a).unsqueeze(0)).detach().set_requires_grad(true);
    let out =
        net.forward_probed(&xs, false, None, &[]).log_softmax(-1, xs.kind()).select(1, class).sum(xs.kind());
    let g = Tensor::run_backward(&[&out], &[&xs], false, false).remove(0);
    g.reshape([points, -1])
}

/// The mean over `lines` lines (test images 2i and 2i + 1) of the cosine between gradients at
/// each lag 1 … points − 1.
pub fn shattered(
    net: &Net,
    images: &Tensor,
    labels: &Tensor,
    mean: &Tensor,
    lines: i64,
    points: i64,
) -> Vec<Correlation> {
    let lines = lines.min(images.size()[0] / 2);
    let mut sums = vec![0.0; points as usize];
    for i in 0..lines {
        let pair = normalize(&images.narrow(0, 2 * i, 2), mean).to_kind(net.kind());
        let g = gradients(net, &pair.get(0), &pair.get(1), labels.int64_value(&[2 * i]), points)
            .to_kind(Kind::Double);
        let unit = &g / g.norm_scalaropt_dim(2, [1i64].as_slice(), true);
        let cos = unit.mm(&unit.tr());
        for (lag, s) in sums.iter_mut().enumerate().skip(1) {
            *s += cos.diagonal(lag as i64, 0, 1).mean(Kind::Double).double_value(&[]);
        }
    }
    (1..points as u32)
        .map(|lag| Correlation {
            lag,
            t: lag as f64 / (points - 1) as f64,
            correlation: sums[lag as usize] / lines as f64,
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::{Arch, Shortcut};
    use crate::explain::tests::net_and_images;

    /// Each gradient row is autograd's gradient of that one input alone (eval mode: the points
    /// do not see each other), and the cosines at lag 1 are those of neighbouring rows.
    #[test]
    fn gradients_are_per_input_and_cosines_are_of_neighbours() {
        let (l, images, labels, mean) = net_and_images(Arch::Residual, Shortcut::A);
        let pair = normalize(&images.narrow(0, 0, 2), &mean).to_kind(Kind::Double);
        let class = labels.int64_value(&[0]);
        let g = gradients(&l.net, &pair.get(0), &pair.get(1), class, 5);
        assert_eq!(g.size(), [5, 3 * 32 * 32]);
        let x = (pair.get(0) * 0.5 + pair.get(1) * 0.5).unsqueeze(0).set_requires_grad(true);
        let out = l
            .net
            .forward_probed(&x, false, None, &[])
            .log_softmax(-1, Kind::Double)
            .select(1, class)
            .sum(Kind::Double);
        out.backward();
        let alone = x.grad().reshape([1, -1]);
        assert!(alone.allclose(&g.narrow(0, 2, 1), 1e-10, 1e-12, false));

        let c = shattered(&l.net, &images.narrow(0, 0, 2), &labels, &mean, 1, 5);
        assert_eq!(
            c.iter().map(|c| (c.lag, c.t)).collect::<Vec<_>>(),
            [(1, 0.25), (2, 0.5), (3, 0.75), (4, 1.0)]
        );
        let cos = |i: i64, j: i64| {
            let (a, b) = (g.get(i), g.get(j));
            ((&a * &b).sum(Kind::Double) / (a.norm() * b.norm())).double_value(&[])
        };
        let lag1 = (0..4).map(|i| cos(i, i + 1)).sum::<f64>() / 4.0;
        assert!((c[0].correlation - lag1).abs() < 1e-12, "{} vs {lag1}", c[0].correlation);
        assert!((c[3].correlation - cos(0, 4)).abs() < 1e-12);
    }
}
