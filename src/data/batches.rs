//! Each epoch's batches and the paper's augmentation: the order of the training images, which
//! images make each batch by the `last_batch` rule, and pad-crop-flip as batched gathers on the
//! training device, all drawn from (seed, epoch) alone so that a resumed run draws what an
//! uninterrupted one would.

use super::*;

/// SplitMix64: a tiny generator whose whole state is one u64, so an epoch's randomness follows
/// from (seed, epoch) alone and a resumed run draws exactly what an uninterrupted one would.
#[derive(Debug, Clone)]
pub struct Rng(u64);

impl Rng {
    pub fn new(seed: u64, stream: u64) -> Rng {
        let mut r = Rng(seed ^ 0x5851_f42d_4c95_7f2d);
        let s = r.next_u64();
        Rng(s ^ stream.wrapping_mul(0x9e37_79b9_7f4a_7c15))
    }

    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    /// Uniform in 0..n (Lemire's multiply-shift; the bias is below 2^-40 for these sizes).
    pub fn below(&mut self, n: u64) -> u64 {
        ((self.next_u64() as u128 * n as u128) >> 64) as u64
    }
}

/// One epoch's randomness, drawn on the host once and sent to the device in one go: the order of
/// the training images and, per position, the crop offsets and whether to flip.
pub struct EpochDraw {
    pub order: Tensor,
    pub dy: Tensor,
    pub dx: Tensor,
    pub flip: Tensor,
}

/// A run of consecutive images of one epoch's order: (epoch, first position, count).
pub type Segment = (u64, i64, i64);

/// The batches of `epoch` (1-based) over `n` training images, each as the segments of the
/// epochs' orders it takes, by `last_batch` (see [`LastBatch`]). Under `wrap` the orders of
/// consecutive epochs form one stream, batch k (counted over the run) is items k·b … k·b+b−1 of
/// it, and an epoch is the batches that start in its order: it ends after ⌈epoch·n/b⌉ iterations.
pub fn epoch_batches(last_batch: LastBatch, n: i64, b: i64, epoch: u64) -> Vec<Vec<Segment>> {
    match last_batch {
        LastBatch::Partial => (0..(n + b - 1) / b).map(|k| vec![(epoch, k * b, b.min(n - k * b))]).collect(),
        LastBatch::Drop => (0..n / b).map(|k| vec![(epoch, k * b, b)]).collect(),
        LastBatch::Wrap => {
            let ends = |e: u64| (e as i64 * n + b - 1) / b;
            (ends(epoch - 1)..ends(epoch))
                .map(|k| {
                    let (start, mut left) = (k * b, b);
                    let mut segments = vec![];
                    let (mut e, mut at) = (start / n + 1, start % n);
                    while left > 0 {
                        let len = left.min(n - at);
                        segments.push((e as u64, at, len));
                        (e, at, left) = (e + 1, 0, left - len);
                    }
                    segments
                })
                .collect()
        }
    }
}

/// Iterations an epoch has on average, for estimates (`wrap` and `partial`: ⌈n/b⌉ at most).
pub fn iterations_per_epoch(last_batch: LastBatch, n: u64, b: u64) -> f64 {
    match last_batch {
        LastBatch::Partial => n.div_ceil(b) as f64,
        LastBatch::Drop => (n / b) as f64,
        LastBatch::Wrap => n as f64 / b as f64,
    }
}

/// The pad-crop-flip augmentation of the paper.
#[derive(Debug, Clone, Copy)]
pub struct Augmentation {
    pub pad: i64,
    pub flip: bool,
}

impl Augmentation {
    pub fn draw(&self, n: usize, seed: u64, epoch: u64, device: Device) -> EpochDraw {
        let mut rng = Rng::new(seed, epoch);
        let mut order: Vec<i64> = (0..n as i64).collect();
        for i in (1..n).rev() {
            order.swap(i, rng.below(i as u64 + 1) as usize);
        }
        let span = 2 * self.pad as u64 + 1;
        let mut offsets = |_| (0..n).map(|_| rng.below(span) as i64).collect::<Vec<_>>();
        let (dy, dx) = (offsets(0), offsets(1));
        let flip: Vec<bool> = (0..n).map(|_| self.flip && rng.next_u64() >> 63 == 1).collect();
        EpochDraw {
            order: Tensor::from_slice(&order).to_device(device),
            dy: Tensor::from_slice(&dy).to_device(device),
            dx: Tensor::from_slice(&dx).to_device(device),
            flip: Tensor::from_slice(&flip).to_device(device),
        }
    }

    /// Pads a normalized batch [B, C, H, W] with zeros, crops an HxW window at (dy, dx) per image
    /// and mirrors the images whose `flip` is set: two gathers, no loop over images.
    pub fn apply(&self, xs: &Tensor, dy: &Tensor, dx: &Tensor, flip: &Tensor) -> Tensor {
        let (b, c, h, w) = xs.size4().expect("images are [B, C, H, W]");
        let p = self.pad;
        let padded = xs.constant_pad_nd([p, p, p, p]);
        let opts = (Kind::Int64, xs.device());
        let rows = dy.view([b, 1]) + Tensor::arange(h, opts).view([1, h]);
        let ascending = Tensor::arange(w, opts).view([1, w]);
        let cols =
            dx.view([b, 1]) + ascending.where_self(&flip.logical_not().view([b, 1]), &(w - 1 - &ascending));
        let rows = rows.view([b, 1, h, 1]).expand([b, c, h, w + 2 * p], false);
        let cols = cols.view([b, 1, 1, w]).expand([b, c, h, w], false);
        padded.gather(2, &rows, false).gather(3, &cols, false)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every choice covers each epoch's order as it says: partial with a short last batch, drop
    /// without it, wrap with full batches running on into the next epoch's order.
    #[test]
    fn epoch_batches_cover_the_orders_as_each_choice_says() {
        let sizes =
            |v: &[Vec<Segment>]| v.iter().map(|b| b.iter().map(|s| s.2).sum::<i64>()).collect::<Vec<_>>();
        assert_eq!(sizes(&epoch_batches(LastBatch::Partial, 10, 4, 3)), [4, 4, 2]);
        assert_eq!(epoch_batches(LastBatch::Partial, 10, 4, 3)[2], [(3, 8, 2)]);
        assert_eq!(sizes(&epoch_batches(LastBatch::Drop, 10, 4, 3)), [4, 4]);
        // wrap, 10 images in batches of 4: the stream's batches 0-2 start in epoch 1's order,
        // 3-4 in epoch 2's (ends after 3, 5, 8, 10 iterations).
        let w: Vec<Vec<Vec<Segment>>> = (1..=4).map(|e| epoch_batches(LastBatch::Wrap, 10, 4, e)).collect();
        assert_eq!(w.iter().map(Vec::len).collect::<Vec<_>>(), [3, 2, 3, 2]);
        assert!(w.iter().flatten().all(|b| b.iter().map(|s| s.2).sum::<i64>() == 4));
        assert_eq!(w[0][2], [(1, 8, 2), (2, 0, 2)]);
        assert_eq!(w[1], [vec![(2, 2, 4)], vec![(2, 6, 4)]]);
        // Each order is used once, in order, with nothing left out.
        let stream: Vec<(u64, i64)> = w
            .iter()
            .flatten()
            .flatten()
            .flat_map(|&(e, at, len)| (at..at + len).map(move |i| (e, i)))
            .collect();
        let want: Vec<(u64, i64)> = (1..=4u64).flat_map(|e| (0..10).map(move |i| (e, i))).collect();
        assert_eq!(stream, want);
        // A batch size that divides the set: all three choices are the same.
        for lb in [LastBatch::Partial, LastBatch::Drop] {
            assert_eq!(epoch_batches(lb, 12, 4, 2), epoch_batches(LastBatch::Wrap, 12, 4, 2));
        }
    }

    #[test]
    fn augmentation_crops_and_flips_each_image_as_drawn() {
        let aug = Augmentation { pad: 4, flip: true };
        let xs = Tensor::arange(6 * 3 * 32 * 32, (Kind::Float, Device::Cpu)).view([6, 3, 32, 32]);
        let draw = aug.draw(6, 3, 0, Device::Cpu);
        let ys = aug.apply(&xs, &draw.dy, &draw.dx, &draw.flip);
        assert_eq!(ys.size(), [6, 3, 32, 32]);
        let padded = xs.constant_pad_nd([4, 4, 4, 4]);
        for i in 0..6 {
            let (dy, dx) = (draw.dy.int64_value(&[i]), draw.dx.int64_value(&[i]));
            assert!((0..=8).contains(&dy) && (0..=8).contains(&dx));
            let mut want = padded.get(i).narrow(1, dy, 32).narrow(2, dx, 32);
            if draw.flip.int64_value(&[i]) != 0 {
                want = want.flip([2]);
            }
            assert!(ys.get(i).equal(&want), "image {i}");
        }
        let again = aug.draw(6, 3, 0, Device::Cpu);
        assert!(again.order.equal(&draw.order) && again.dx.equal(&draw.dx) && again.flip.equal(&draw.flip));
        let other = aug.draw(1000, 3, 1, Device::Cpu);
        let mut sorted = other.order.sort(0, false).0;
        assert!(sorted.equal(&Tensor::arange(1000, (Kind::Int64, Device::Cpu))));
        sorted = other.flip.to_kind(Kind::Float).mean(Kind::Float);
        assert!((sorted.double_value(&[]) - 0.5).abs() < 0.06);
        let none = Augmentation { pad: 0, flip: false };
        let d = none.draw(6, 3, 0, Device::Cpu);
        assert!(none.apply(&xs, &d.dy, &d.dx, &d.flip).equal(&xs));
    }
}
