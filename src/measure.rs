//! What is read off a net without training it: test loss and error (eval mode), the spread of
//! every 3x3 layer's response (the paper's Fig. 7) and the loss gradient at every 3x3 layer (the
//! backward side of the paper's "healthy norms" argument), and how large each residual branch is
//! against its shortcut (the paper's hypothesis). Nothing here changes a weight, a BN statistic, a
//! gradient the optimizer will use or a random stream.

use crate::data::normalize;
use crate::learner::Learner;
use crate::model::{self, Net, Responses, Tap};
use serde::{Deserialize, Serialize};
use tch::{Kind, Reduction, Tensor, nn};

/// The BN running statistics of a net, put back when this is dropped: a measurement that runs the
/// net in train mode (batch statistics) moves them, and must leave the net as it found it.
pub struct RunningStatsKept(Vec<(Tensor, Tensor)>);

impl RunningStatsKept {
    pub fn new(vs: &tch::nn::VarStore) -> RunningStatsKept {
        let running = vs.variables().into_values().filter(|t| !t.requires_grad());
        RunningStatsKept(running.map(|t| (t.copy(), t)).collect())
    }
}

impl Drop for RunningStatsKept {
    fn drop(&mut self) {
        let _guard = tch::no_grad_guard();
        for (saved, t) in &mut self.0 {
            t.copy_(saved);
        }
    }
}

/// Images per forward pass when evaluating (no gradients, so larger than training batches).
pub const EVAL_BATCH: i64 = 500;

/// Eval-mode logits of the learner's net on uint8 images (one forward pass: keep `images` to a
/// batch).
pub fn logits(l: &Learner, images: &Tensor, mean: &Tensor) -> Tensor {
    let _guard = tch::no_grad_guard();
    let _bf16 = l.autocast();
    l.net.inputs(normalize(images, mean)).apply_t(&l.net, false)
}

/// Mean loss and error of the learner's net in eval mode (BN running statistics) on uint8 images.
pub fn evaluate(l: &Learner, images: &Tensor, labels: &Tensor, mean: &Tensor) -> (f64, f64) {
    let _guard = tch::no_grad_guard();
    let n = images.size()[0];
    let mut tally = Tally::new(images.device());
    for at in (0..n).step_by(EVAL_BATCH as usize) {
        let len = EVAL_BATCH.min(n - at);
        let logits = logits(l, &images.narrow(0, at, len), mean);
        // Under bf16 autocast the logits are bf16; the loss is taken in fp32, as in training.
        let logits = if logits.kind() == Kind::BFloat16 { logits.to_kind(Kind::Float) } else { logits };
        tally.add(&logits, &labels.narrow(0, at, len));
    }
    tally.mean()
}

/// Summed cross-entropy (fp64) and misclassified images over batches of logits, kept on the
/// device so that no batch waits for a copy to the host.
pub struct Tally {
    loss: Tensor,
    wrong: Tensor,
    images: i64,
}

impl Tally {
    pub fn new(device: tch::Device) -> Tally {
        let zero = |kind| Tensor::zeros([], (kind, device));
        Tally { loss: zero(Kind::Double), wrong: zero(Kind::Int64), images: 0 }
    }

    pub fn add(&mut self, logits: &Tensor, ys: &Tensor) {
        self.loss +=
            logits.cross_entropy_loss::<Tensor>(ys, None, Reduction::Sum, -100, 0.0).to_kind(Kind::Double);
        self.wrong += logits.argmax(-1, false).ne_tensor(ys).sum(Kind::Int64);
        self.images += ys.size()[0];
    }

    /// Mean loss and error over the images added.
    pub fn mean(&self) -> (f64, f64) {
        let n = self.images as f64;
        (self.loss.double_value(&[]) / n, self.wrong.int64_value(&[]) as f64 / n)
    }
}

/// The std of every 3x3 layer's response (after BN, before ReLU / addition) over `images`.
pub fn layer_responses(l: &Learner, images: &Tensor, mean: &Tensor) -> Vec<model::LayerStd> {
    let _guard = tch::no_grad_guard();
    let net = &l.net;
    let mut r = Responses::default();
    let n = images.size()[0];
    for at in (0..n).step_by(EVAL_BATCH as usize) {
        let len = EVAL_BATCH.min(n - at);
        let xs = net.inputs(normalize(&images.narrow(0, at, len), mean));
        let _bf16 = l.autocast();
        let _ = net.forward_recording(&xs, false, Some(Tap::Responses(&mut r)));
        r.end_batch();
    }
    r.stds()
}

/// The loss gradient at one 3x3 layer (see [`gradient_norms`]).
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct LayerGradient {
    /// Root mean square over the batch's images of the gradient of the summed loss with respect
    /// to the layer's output (after BN, before the ReLU / addition): √B·‖∂L/∂h‖ for the mean
    /// loss L of a batch of B, so that it does not depend on the batch size.
    pub output: f64,
    /// ‖∂L/∂W‖ of the conv's weights: the gradient SGD applies (before weight decay).
    pub weight: f64,
    /// ‖W‖, to read the weight gradient against.
    pub weight_norm: f64,
}

/// Every 3x3 layer's gradient at one point of training, network order.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Gradients {
    /// 0 at initialisation; else the epoch in progress (after the first step) or just ended.
    pub epoch: u64,
    /// Steps taken before the measurement.
    pub iteration: u64,
    pub layers: Vec<LayerGradient>,
}

/// The loss gradient at every 3x3 layer of `l`'s net on one batch (`xs` in the net's layout),
/// with the training-mode forward pass of a step (batch statistics, the same autocast). Autograd's
/// `grad` (backward with explicit inputs) leaves the parameters' own gradients alone, and the BN
/// running statistics that the forward pass moves are put back: training goes on as if this
/// never happened (the test below and `train`'s tests check it).
pub fn gradient_norms(l: &Learner, xs: &Tensor, ys: &Tensor) -> Vec<LayerGradient> {
    let _kept = RunningStatsKept::new(&l.vs);
    let mut outputs = Vec::new();
    let loss = {
        let _bf16 = l.autocast();
        let logits = l.net.forward_recording(xs, true, Some(Tap::Outputs(&mut outputs)));
        logits.cross_entropy_loss::<Tensor>(ys, None, Reduction::Mean, -100, 0.0)
    };
    let weights = l.net.conv_weights();
    let inputs: Vec<&Tensor> = outputs.iter().chain(weights.iter().copied()).collect();
    let grads = Tensor::run_backward(&[&loss], &inputs, false, false);
    let norm = |t: &Tensor| t.to_kind(Kind::Double).norm().double_value(&[]);
    let root_b = (xs.size()[0] as f64).sqrt();
    let (g_out, g_w) = grads.split_at(outputs.len());
    g_out
        .iter()
        .zip(g_w)
        .zip(&weights)
        .map(|((o, w), ws)| LayerGradient {
            output: root_b * norm(o),
            weight: norm(w),
            weight_norm: norm(ws),
        })
        .collect()
}

/// The batch [`gradient_norms`] is measured on through a run: the first `batch` training images,
/// un-augmented, in the net's layout.
pub fn probe_batch(l: &Learner, split: &crate::data::Split, batch: i64) -> (Tensor, Tensor) {
    let n = batch.min(split.train_images.size()[0]);
    let xs = l.net.inputs(normalize(&split.train_images.narrow(0, 0, n), &split.mean));
    (xs, split.train_labels.narrow(0, 0, n))
}

/// Each residual block's ‖F(x)‖ / ‖shortcut(x)‖ on the batches `xs` (in the net's layout): the
/// size of what the block adds against what it passes on, per image (all channels and pixels),
/// averaged over the images. The paper's hypothesis is that the optimum lies near the identity, so
/// that trained branches stay small. BN normalises with each batch's statistics, as the net
/// computes while it trains: at initialisation the running statistics are not yet those of any
/// input, so the result depends on how the images are cut into batches. The running statistics
/// that the pass moves are put back, so the net is left as it was. Empty for a plain net.
pub fn branch_ratios(vs: &nn::VarStore, net: &Net, xs: &[Tensor]) -> Vec<f64> {
    let _guard = tch::no_grad_guard();
    let _kept = RunningStatsKept::new(vs);
    let mut sums: Vec<Tensor> = Vec::new();
    let mut images = 0;
    for xs in xs {
        let mut ratios = Vec::new();
        let _ = net.forward_probed(xs, true, Some(Tap::Branches(&mut ratios)), &[]);
        let per_block = ratios.iter().map(|r| r.to_kind(Kind::Double).sum(Kind::Double));
        if sums.is_empty() {
            sums = per_block.collect();
        } else {
            sums.iter_mut().zip(per_block).for_each(|(s, r)| *s += r);
        }
        images += xs.size()[0];
    }
    sums.iter().map(|s| s.double_value(&[]) / images as f64).collect()
}

/// Every residual block's [`branch_ratios`] at one point of training, network order.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Branches {
    /// 0 at initialisation; else the epoch just ended.
    pub epoch: u64,
    /// Steps taken before the measurement.
    pub iteration: u64,
    pub ratios: Vec<f64>,
}

/// The images [`branch_ratios`] are measured on through a run: the first `n` evaluation images in
/// the net's layout, cut into evaluation batches as `--explain` cuts them, so that its
/// measurement of the final weights is the record's last point.
pub fn branch_batches(l: &Learner, split: &crate::data::Split, n: usize) -> Vec<Tensor> {
    let n = (n as i64).min(split.eval_images.size()[0]);
    let xs = l.net.inputs(normalize(&split.eval_images.narrow(0, 0, n), &split.mean));
    xs.split(EVAL_BATCH, 0)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::Config;
    use crate::data::Cifar10;
    use crate::data::Split;
    use crate::plan::Run;
    use crate::testing::write_synthetic;
    use std::path::{Path, PathBuf};
    use tch::Device;
    use tch::nn::ModuleT;

    /// A depth-8 pair's config and a split of 96 synthetic training and 32 test images.
    fn tiny(name: &str) -> (Config, Split, Vec<Run>, PathBuf) {
        let dir = std::env::temp_dir().join(format!("resdeg-measure-{name}-{}", std::process::id()));
        write_synthetic(&dir.join("data"), 32, 9).unwrap();
        let c = Config::parse("depths: [8]\nbatch_size: 16\nseeds: [4]\n", Path::new("t.yaml"), "t").unwrap();
        let split = Cifar10::load(&dir.join("data")).unwrap().split(0, Some(96), None).unwrap();
        (c.clone(), split, crate::plan::runs(&c), dir)
    }

    /// Under bf16 the evaluation loss is cross-entropy of the (bf16) logits taken in fp32.
    #[test]
    fn the_bf16_evaluation_loss_is_taken_in_fp32() {
        let (mut c, split, runs, dir) = tiny("bf16");
        c.bf16 = true;
        let _rng = crate::testing::torch_rng_lock();
        let l = Learner::new(&c, &runs[1], Device::Cpu, Kind::Float);
        let (images, labels) = (&split.eval_images, &split.eval_labels);
        let (loss, _) = evaluate(&l, images, labels, &split.mean);
        let z = logits(&l, images, &split.mean);
        assert_eq!(z.kind(), Kind::BFloat16);
        let in_fp32 =
            z.to_kind(Kind::Float).cross_entropy_loss::<Tensor>(labels, None, Reduction::Mean, -100, 0.0);
        assert!((loss - in_fp32.double_value(&[])).abs() < 1e-6, "{loss} vs {}", in_fp32.double_value(&[]));
        std::fs::remove_dir_all(dir).unwrap();
    }

    /// The measurement changes nothing training uses: variables (BN statistics included), the
    /// parameters' gradients, the random stream; and its weight gradients are those of an
    /// ordinary backward pass.
    #[test]
    fn gradient_norms_change_nothing_and_match_an_ordinary_backward() {
        let (c, split, runs, dir) = tiny("gradients");
        let _rng = crate::testing::torch_rng_lock();
        for run in &runs {
            let l = Learner::new(&c, run, Device::Cpu, Kind::Double);
            let (xs, ys) = probe_batch(&l, &split, 16);
            let before: Vec<(String, Tensor)> =
                l.vs.variables().into_iter().map(|(n, t)| (n, t.copy())).collect();
            tch::manual_seed(9);
            let layers = gradient_norms(&l, &xs, &ys);
            let next_draw = Tensor::randn([4], (Kind::Double, Device::Cpu));
            tch::manual_seed(9);
            assert!(next_draw.equal(&Tensor::randn([4], (Kind::Double, Device::Cpu))), "random stream moved");
            for (name, t) in l.vs.variables() {
                let was = &before.iter().find(|b| b.0 == name).unwrap().1;
                assert!(t.equal(was), "{}: {name} changed", run.id);
                assert!(!t.grad().defined(), "{}: {name} got a gradient", run.id);
            }
            assert_eq!(layers.len(), 7, "{}", run.id);
            assert!(layers.iter().all(|g| g.output > 0.0 && g.weight > 0.0 && g.weight_norm > 0.0));

            // The same weight gradients from loss.backward() on the same net and batch.
            let loss = l.net.forward_t(&xs, true).cross_entropy_loss::<Tensor>(
                &ys,
                None,
                Reduction::Mean,
                -100,
                0.0,
            );
            loss.backward();
            for (g, w) in layers.iter().zip(l.net.conv_weights()) {
                let direct = w.grad().norm().double_value(&[]);
                assert!((g.weight - direct).abs() <= 1e-12 * direct, "{}: {} vs {direct}", run.id, g.weight);
                assert_eq!(g.weight_norm, w.norm().double_value(&[]));
            }
        }
        std::fs::remove_dir_all(dir).unwrap();
    }
}
