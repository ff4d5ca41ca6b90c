//! Why a residual mapping is easier to optimise: four measurements read off a trained net's final
//! weights, training nothing. The loss around the weights ([`landscape`], Li et al. 2018), the
//! test error with blocks deleted ([`lesions`], Veit et al. 2016), how alike the input gradients of
//! nearby inputs are ([`shattered`], Balduzzi et al. 2017), and how large each residual branch is
//! against its shortcut (`measure::branch_ratios`, the paper's own hypothesis of section 3.1). Every
//! measurement runs in fp32 (fp64 in the tests), one net at a time; [`judge`] turns them into the
//! words of REPORT.md by rules tested on constructed cases.

pub mod judge;
pub mod landscape;
pub mod lesions;
pub mod shattered;

use crate::measure::{EVAL_BATCH, Tally};
use crate::model::Net;
use serde::{Deserialize, Serialize};
use tch::Tensor;

/// Everything measured of one net.
#[derive(Debug, Clone, PartialEq)]
pub struct Explained {
    pub slice: landscape::Slice,
    pub surface: landscape::Surface,
    pub lesions: Vec<lesions::Lesion>,
    pub shattered: Vec<shattered::Correlation>,
    /// Residual nets only: each block's branch ratio at initialisation and at the end.
    pub branches: Vec<Branch>,
}

/// One residual block's ‖F(x)‖ / ‖shortcut(x)‖ (see [`crate::measure::branch_ratios`]).
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Branch {
    /// 0-based, in network order.
    pub block: u32,
    pub init: f64,
    pub end: f64,
}

/// Inputs normalised once and cut into evaluation batches, for measurements that run the same
/// images through the net hundreds of times.
pub struct Batches {
    pub xs: Vec<Tensor>,
    pub ys: Vec<Tensor>,
}

impl Batches {
    /// `images` (uint8) normalised with `mean`, in the net's layout and precision.
    pub fn new(net: &Net, images: &Tensor, labels: &Tensor, mean: &Tensor) -> Batches {
        let xs = net.inputs(crate::data::normalize(images, mean));
        Batches { xs: xs.split(EVAL_BATCH, 0), ys: labels.split(EVAL_BATCH, 0) }
    }
}

/// Mean cross-entropy and error of `net` in eval mode (BN running statistics) with the blocks in
/// `deleted` taken out. `measure::evaluate` runs the intact net from uint8 images under the
/// run's autocast; here the inputs are prepared once for many passes and blocks may be deleted.
pub fn score(net: &Net, b: &Batches, deleted: &[usize]) -> (f64, f64) {
    let _guard = tch::no_grad_guard();
    let mut tally = Tally::new(b.xs[0].device());
    for (xs, ys) in b.xs.iter().zip(&b.ys) {
        tally.add(&net.forward_probed(xs, false, None, deleted), ys);
    }
    tally.mean()
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use crate::config::{Arch, Config, Shortcut};
    use crate::learner::Learner;
    use crate::plan::Run;
    use tch::{Device, Kind};

    /// A trained-looking depth-8 net in fp64 (its BN statistics moved off their init by a few
    /// training-mode passes) and 64 random images with labels.
    pub(crate) fn net_and_images(arch: Arch, shortcut: Shortcut) -> (Learner, Tensor, Tensor, Tensor) {
        let _rng = crate::testing::torch_rng_lock();
        let cfg = Config::parse("depths: [8]\n", std::path::Path::new("t.yaml"), "t").unwrap();
        let l = Learner::new(&cfg, &Run::new(arch, 8, shortcut, 3), Device::Cpu, Kind::Double);
        tch::manual_seed(11);
        let images = Tensor::randint(256, [64, 3, 32, 32], (Kind::Uint8, Device::Cpu));
        let labels = Tensor::randint(10, [64], (Kind::Int64, Device::Cpu));
        let mean = Tensor::full([3, 32, 32], 0.5, (Kind::Float, Device::Cpu));
        tch::no_grad(|| {
            for _ in 0..3 {
                let xs = l.net.inputs(crate::data::normalize(&images, &mean));
                let _ = l.net.forward_recording(&xs, true, None);
            }
        });
        (l, images, labels, mean)
    }

    #[test]
    fn score_of_the_intact_net_is_the_evaluation() {
        let (l, images, labels, mean) = net_and_images(Arch::Residual, Shortcut::A);
        let b = Batches::new(&l.net, &images, &labels, &mean);
        let (loss, error) = score(&l.net, &b, &[]);
        let (want_loss, want_error) = crate::measure::evaluate(&l, &images, &labels, &mean);
        assert!((loss - want_loss).abs() < 1e-12, "{loss} vs {want_loss}");
        assert_eq!(error, want_error);
    }

    /// Branch ratios by hand for the first block (identity shortcut): ‖F(x)‖ / ‖x‖ with batch
    /// statistics; the running statistics are left as they were; plain nets have none.
    #[test]
    fn branch_ratios_are_branch_against_shortcut_and_leave_the_net_alone() {
        let (l, images, labels, mean) = net_and_images(Arch::Residual, Shortcut::A);
        let b = Batches::new(&l.net, &images, &labels, &mean);
        let before: Vec<(String, Tensor)> =
            l.vs.variables().into_iter().map(|(n, t)| (n, t.copy())).collect();
        let ratios = crate::measure::branch_ratios(&l.vs, &l.net, &b.xs);
        assert_eq!(ratios.len(), 3);
        for (name, t) in l.vs.variables() {
            assert!(t.equal(&before.iter().find(|b| b.0 == name).unwrap().1), "{name} changed");
        }
        let v = l.vs.variables();
        let conv_bn = |x: &Tensor, p: &str| {
            x.conv2d(&v[&format!("{p}.conv.weight")], None::<Tensor>, [1, 1], [1, 1], [1, 1], 1).batch_norm(
                Some(&v[&format!("{p}.bn.weight")]),
                Some(&v[&format!("{p}.bn.bias")]),
                None::<&Tensor>,
                None::<&Tensor>,
                true,
                0.1,
                1e-5,
                false,
            )
        };
        let _g = tch::no_grad_guard();
        let x = conv_bn(&b.xs[0], "stem").relu();
        let f = conv_bn(&conv_bn(&x, "stage1.block1.conv1").relu(), "stage1.block1.conv2");
        let per_image = |t: &Tensor| t.flatten(1, -1).norm_scalaropt_dim(2, [1i64].as_slice(), false);
        let want = (per_image(&f) / per_image(&x)).mean(Kind::Double).double_value(&[]);
        assert!((ratios[0] - want).abs() < 1e-12, "{} vs {want}", ratios[0]);
        let (p, ..) = net_and_images(Arch::Plain, Shortcut::A);
        assert!(crate::measure::branch_ratios(&p.vs, &p.net, &b.xs).is_empty());
    }
}
