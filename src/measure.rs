//! What is read off a net without training it: test loss and error (eval mode), the spread of
//! every 3x3 layer's response (the paper's Fig. 7). Nothing here changes a weight, a BN statistic
//! or a random stream.

use crate::data::normalize;
use crate::learner::Learner;
use crate::model::{self, Responses};
use tch::{Kind, Reduction, Tensor};

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
    let mut loss = Tensor::zeros([], (Kind::Double, images.device()));
    let mut wrong = Tensor::zeros([], (Kind::Int64, images.device()));
    for at in (0..n).step_by(EVAL_BATCH as usize) {
        let len = EVAL_BATCH.min(n - at);
        let logits = logits(l, &images.narrow(0, at, len), mean);
        // Under bf16 autocast the logits are bf16; the loss is taken in fp32, as in training.
        let logits = if logits.kind() == Kind::BFloat16 { logits.to_kind(Kind::Float) } else { logits };
        let ys = labels.narrow(0, at, len);
        loss +=
            logits.cross_entropy_loss::<Tensor>(&ys, None, Reduction::Sum, -100, 0.0).to_kind(Kind::Double);
        wrong += logits.argmax(-1, false).ne_tensor(&ys).sum(Kind::Int64);
    }
    (loss.double_value(&[]) / n as f64, wrong.int64_value(&[]) as f64 / n as f64)
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
        let _ = net.forward_recording(&xs, false, Some(&mut r));
        r.end_batch();
    }
    r.stds()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::Config;
    use crate::data::Split;
    use crate::data::{Cifar10, write_synthetic};
    use crate::plan::Run;
    use std::path::{Path, PathBuf};
    use tch::Device;

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
        let _rng = crate::torch_rng_lock();
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
}
