//! Test error with blocks deleted at test time (Veit, Wilber and Belongie, "Residual Networks
//! Behave Like Ensembles of Relatively Shallow Networks", 2016). A deleted residual block leaves
//! its shortcut; a deleted plain block leaves the identity, which only blocks that keep their
//! input's shape have (`Net::deletable`). First the intact net, then every deletable block alone,
//! then random sets of k blocks for k = 2, 4, … up to half of them.

use super::{Batches, score};
use crate::data::Rng;
use crate::model::Net;

/// The net with `blocks` deleted (0-based, network order; none: the intact net).
#[derive(Debug, Clone, PartialEq)]
pub struct Lesion {
    pub blocks: Vec<u32>,
    /// 0 for the intact net and the single blocks; 1, 2, … for the random sets of one size.
    pub draw: u32,
    pub loss: f64,
    pub error: f64,
}

/// Which blocks each lesion deletes, with its draw number: the intact net, each of `deletable`
/// alone, then `draws` random sets of each size k = 2, 4, … ≤ half of them (from `seed`).
pub fn choices(deletable: &[usize], draws: u32, seed: u64) -> Vec<(Vec<usize>, u32)> {
    let mut out = vec![(vec![], 0)];
    out.extend(deletable.iter().map(|&b| (vec![b], 0)));
    let mut rng = Rng::new(seed, 0x1e51_0000);
    for k in (2..=deletable.len() / 2).step_by(2) {
        for draw in 1..=draws {
            // The first k of a partial Fisher-Yates shuffle.
            let mut pool = deletable.to_vec();
            for i in 0..k {
                let j = i + rng.below((pool.len() - i) as u64) as usize;
                pool.swap(i, j);
            }
            let mut set = pool[..k].to_vec();
            set.sort_unstable();
            out.push((set, draw));
        }
    }
    out
}

/// The eval-mode loss and error of `net` under each lesion of `choices`.
pub fn lesions(net: &Net, b: &Batches, choices: &[(Vec<usize>, u32)]) -> Vec<Lesion> {
    choices
        .iter()
        .map(|(blocks, draw)| {
            let (loss, error) = score(net, b, blocks);
            Lesion { blocks: blocks.iter().map(|&k| k as u32).collect(), draw: *draw, loss, error }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::{Arch, Shortcut};
    use crate::explain::tests::net_and_images;

    #[test]
    fn choices_are_the_intact_net_each_block_then_distinct_random_sets() {
        let c = choices(&[0, 1, 2, 4, 5, 7, 8, 9], 3, 7);
        assert_eq!(c[0], (vec![], 0));
        assert_eq!(c[1..9].iter().map(|(b, _)| b[0]).collect::<Vec<_>>(), [0, 1, 2, 4, 5, 7, 8, 9]);
        // k = 2 and 4, three draws each.
        let sets = &c[9..];
        assert_eq!(sets.len(), 6);
        assert_eq!(
            sets.iter().map(|(b, d)| (b.len(), *d)).collect::<Vec<_>>(),
            [(2, 1), (2, 2), (2, 3), (4, 1), (4, 2), (4, 3)]
        );
        for (set, _) in sets {
            assert!(set.windows(2).all(|w| w[0] < w[1]), "sorted, distinct: {set:?}");
            assert!(set.iter().all(|b| ![3, 6].contains(b)), "only deletable blocks: {set:?}");
        }
        assert_eq!(c, choices(&[0, 1, 2, 4, 5, 7, 8, 9], 3, 7), "the seed decides");
        assert_ne!(c, choices(&[0, 1, 2, 4, 5, 7, 8, 9], 3, 8));
    }

    /// A deleted residual block passes its input on through its shortcut: the net with a block
    /// deleted is the net whose block's last BN outputs zero. Plain nets delete only the blocks
    /// that keep their input's shape (tests/explain_equivalence.rs checks what they compute).
    #[test]
    fn a_deleted_residual_block_leaves_its_shortcut() {
        let (l, images, labels, mean) = net_and_images(Arch::Residual, Shortcut::A);
        let b = Batches::new(&l.net, &images, &labels, &mean);
        let deleted = score(&l.net, &b, &[1]);
        assert_ne!(deleted, score(&l.net, &b, &[]));
        // Zeroing the block's second BN (scale and shift) makes F(x) = 0: the same net.
        let vars = l.vs.variables();
        tch::no_grad(|| {
            for k in ["weight", "bias"] {
                let _ = vars[&format!("stage2.block1.conv2.bn.{k}")].shallow_clone().fill_(0.0);
            }
        });
        let zeroed = score(&l.net, &b, &[]);
        assert!((zeroed.0 - deleted.0).abs() < 1e-12 && zeroed.1 == deleted.1, "{zeroed:?} vs {deleted:?}");
        assert_eq!(l.net.deletable(), [true; 3]);
        let (p, ..) = net_and_images(Arch::Plain, Shortcut::A);
        assert_eq!(
            p.net.deletable(),
            [true, false, false],
            "depth 8: the first block of stages 2 and 3 change shape"
        );
        let r = lesions(&p.net, &b, &choices(&[0], 1, 0));
        assert_eq!(r.len(), 2);
        assert_eq!(r[1].blocks, [0]);
        assert!(r[1].error >= 0.0 && r[1] != Lesion { blocks: vec![], ..r[0].clone() });
    }
}
