//! The one training loop: the paper's recipe (SGD with momentum, step schedule, warm-up for deep
//! nets), with the twins of one (depth, shortcut, seed), plain and residual, stepping in lockstep
//! on the identical sequence of augmented batches, so that their curves are a paired comparison.

use crate::config::{self, Config};
use crate::data::{Augmentation, Split, normalize};
use crate::model::{self, Net, Responses};
use crate::plan::Run;
use std::collections::VecDeque;
use std::time::Instant;
use tch::nn::{self, OptimizerConfig};
use tch::{Device, Kind, Reduction, Tensor};

/// Batches over which the warm-up's running training error is averaged.
const WARMUP_WINDOW: usize = 20;
/// Images per forward pass when evaluating (no gradients, so larger than training batches).
const EVAL_BATCH: i64 = 500;

/// The learning rate at `iteration` (0-based): `lr` times `gamma` for every milestone reached,
/// or the warm-up rate while warming up.
pub fn learning_rate(opt: &config::Optimizer, s: &config::Schedule, iteration: u64, warming: bool) -> f64 {
    if warming {
        return s.warmup.lr;
    }
    let passed = s.milestones.iter().filter(|&&m| m <= iteration).count();
    opt.lr * s.gamma.powi(passed as i32)
}

/// Whether a net of this depth starts with the warm-up rate.
pub fn warms_up(s: &config::Schedule, depth: u32) -> bool {
    s.warmup.enabled && depth >= s.warmup.min_depth
}

/// One row of a run's curves: the state after an epoch (errors are fractions in [0, 1]).
#[derive(Debug, Clone, PartialEq)]
pub struct EpochRecord {
    pub epoch: u64,
    /// Iterations done so far.
    pub iteration: u64,
    /// The rate of the epoch's last iteration.
    pub lr: f64,
    /// Averaged over the epoch's batches (in train mode, augmented).
    pub train_loss: f64,
    pub train_error: f64,
    /// On the evaluation images in eval mode; None in epochs without evaluation.
    pub test_loss: Option<f64>,
    pub test_error: Option<f64>,
    pub elapsed_s: f64,
    /// Training images through this net per second in this epoch.
    pub images_per_s: f64,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Status {
    Finished,
    Diverged,
}

/// What a run produced.
#[derive(Debug)]
pub struct Outcome {
    pub run: Run,
    pub status: Status,
    pub curves: Vec<EpochRecord>,
    /// The std of every 3x3 layer's response on the evaluation images, network order.
    pub responses: Option<Vec<f64>>,
}

/// A net with its optimizer and the sums of the current epoch, kept on the device.
struct Member {
    run: Run,
    _vs: nn::VarStore,
    net: Net,
    opt: nn::Optimizer,
    warming: bool,
    window: VecDeque<f64>,
    loss_sum: Tensor,
    wrong: Tensor,
    outcome: Outcome,
}

/// Trains `runs` (twins sharing depth, shortcut and seed) in lockstep on `split` (already on
/// `device`); `log` receives one line per run per epoch.
pub fn train_lockstep(
    cfg: &Config,
    runs: &[Run],
    split: &Split,
    device: Device,
    log: &mut dyn FnMut(&str),
) -> anyhow::Result<Vec<Outcome>> {
    let seed = runs[0].seed;
    anyhow::ensure!(
        runs.iter().all(|r| r.seed == seed && r.depth == runs[0].depth),
        "lockstep runs share depth and seed"
    );
    let sgd = nn::Sgd {
        momentum: cfg.optimizer.momentum,
        dampening: 0.0,
        wd: cfg.optimizer.weight_decay,
        nesterov: cfg.optimizer.nesterov,
    };
    let zero = || Tensor::zeros([], (Kind::Float, device));
    let mut members = Vec::new();
    for run in runs {
        // The same seed before each twin: plain and residual nets start from the same weights.
        tch::manual_seed(run.seed as i64);
        let vs = nn::VarStore::new(device);
        let net = model::net(&vs.root(), run.arch, run.depth, run.shortcut);
        let opt = sgd.build(&vs, cfg.optimizer.lr)?;
        members.push(Member {
            warming: warms_up(&cfg.schedule, run.depth),
            window: VecDeque::new(),
            run: run.clone(),
            _vs: vs,
            net,
            opt,
            loss_sum: zero(),
            wrong: zero(),
            outcome: Outcome { run: run.clone(), status: Status::Finished, curves: vec![], responses: None },
        });
    }

    let aug = Augmentation { pad: cfg.augment.pad as i64, flip: cfg.augment.flip };
    let n = split.train_images.size()[0];
    let batch = cfg.batch_size as i64;
    let per_epoch = (n + batch - 1) / batch;
    let total = cfg.schedule.iterations;
    let start = Instant::now();
    let (mut iteration, mut epoch) = (0u64, 0u64);
    while iteration < total && members.iter().any(|m| m.outcome.status == Status::Finished) {
        epoch += 1;
        let t0 = Instant::now();
        let draw = aug.draw(n as usize, seed, epoch, device);
        let mut images = 0i64;
        for m in &mut members {
            m.loss_sum = zero();
            m.wrong = zero();
        }
        let mut lrs = vec![0.0; members.len()];
        for k in 0..per_epoch {
            if iteration >= total {
                break;
            }
            let (at, len) = (k * batch, batch.min(n - k * batch));
            let idx = draw.order.narrow(0, at, len);
            let xs = aug.apply(
                &normalize(&split.train_images.index_select(0, &idx), &split.mean),
                &draw.dy.narrow(0, at, len),
                &draw.dx.narrow(0, at, len),
                &draw.flip.narrow(0, at, len),
            );
            let ys = split.train_labels.index_select(0, &idx);
            for (m, lr_seen) in members.iter_mut().zip(&mut lrs) {
                if m.outcome.status != Status::Finished {
                    continue;
                }
                let lr = learning_rate(&cfg.optimizer, &cfg.schedule, iteration, m.warming);
                m.opt.set_lr(lr);
                *lr_seen = lr;
                let logits = xs.apply_t(&m.net, true);
                let loss = logits.cross_entropy_for_logits(&ys);
                m.opt.backward_step(&loss);
                let wrong = logits.argmax(-1, false).ne_tensor(&ys).sum(Kind::Float);
                m.loss_sum += loss.detach() * len as f64;
                m.wrong += &wrong;
                if m.warming {
                    // Reading the batch error back costs a sync, but only for the few hundred
                    // warm-up iterations of the deepest nets.
                    m.window.push_back(wrong.double_value(&[]) / len as f64);
                    if m.window.len() > WARMUP_WINDOW {
                        m.window.pop_front();
                    }
                    let running = m.window.iter().sum::<f64>() / m.window.len() as f64;
                    if m.window.len() == WARMUP_WINDOW && running < cfg.schedule.warmup.until_train_error {
                        m.warming = false;
                        log(&format!(
                            "{}: warm-up ends at iteration {} (running training error {:.1}%)",
                            m.run.id,
                            iteration + 1,
                            100.0 * running
                        ));
                    }
                }
            }
            iteration += 1;
            images += len;
        }

        let evaluate_now = epoch % cfg.eval_every as u64 == 0 || iteration >= total;
        let epoch_s = t0.elapsed().as_secs_f64();
        for (m, &lr) in members.iter_mut().zip(&lrs) {
            if m.outcome.status != Status::Finished {
                continue;
            }
            let train_loss = m.loss_sum.double_value(&[]) / images as f64;
            let train_error = m.wrong.double_value(&[]) / images as f64;
            if !train_loss.is_finite() {
                m.outcome.status = Status::Diverged;
            }
            let (test_loss, test_error) = if evaluate_now && m.outcome.status == Status::Finished {
                let (l, e) = evaluate(&m.net, &split.eval_images, &split.eval_labels, &split.mean);
                (Some(l), Some(e))
            } else {
                (None, None)
            };
            let record = EpochRecord {
                epoch,
                iteration,
                lr,
                train_loss,
                train_error,
                test_loss,
                test_error,
                elapsed_s: start.elapsed().as_secs_f64(),
                images_per_s: images as f64 / epoch_s,
            };
            log(&epoch_line(&m.run, &record, total, m.outcome.status));
            m.outcome.curves.push(record);
        }
    }

    let mut outcomes = Vec::new();
    for mut m in members {
        if cfg.layer_responses && m.outcome.status == Status::Finished {
            m.outcome.responses = Some(layer_responses(&m.net, &split.eval_images, &split.mean));
        }
        outcomes.push(m.outcome);
    }
    Ok(outcomes)
}

fn epoch_line(run: &Run, r: &EpochRecord, total: u64, status: Status) -> String {
    let test = match r.test_error {
        Some(e) => format!("  test error {:5.2}%", 100.0 * e),
        None => String::new(),
    };
    let diverged = if status == Status::Diverged { "  DIVERGED (non-finite loss)" } else { "" };
    format!(
        "{:<18} epoch {:>3}  it {:>6}/{total}  lr {:<6.4}  train loss {:.4}  train error {:5.2}%{test}  {:.0} img/s{diverged}",
        run.id,
        r.epoch,
        r.iteration,
        r.lr,
        r.train_loss,
        100.0 * r.train_error,
        r.images_per_s
    )
}

/// Mean loss and error of `net` in eval mode (BN running statistics) on uint8 images.
pub fn evaluate(net: &Net, images: &Tensor, labels: &Tensor, mean: &Tensor) -> (f64, f64) {
    let _guard = tch::no_grad_guard();
    let n = images.size()[0];
    let mut loss = Tensor::zeros([], (Kind::Double, images.device()));
    let mut wrong = Tensor::zeros([], (Kind::Int64, images.device()));
    for at in (0..n).step_by(EVAL_BATCH as usize) {
        let len = EVAL_BATCH.min(n - at);
        let logits = normalize(&images.narrow(0, at, len), mean).apply_t(net, false);
        let ys = labels.narrow(0, at, len);
        loss +=
            logits.cross_entropy_loss::<Tensor>(&ys, None, Reduction::Sum, -100, 0.0).to_kind(Kind::Double);
        wrong += logits.argmax(-1, false).ne_tensor(&ys).sum(Kind::Int64);
    }
    (loss.double_value(&[]) / n as f64, wrong.int64_value(&[]) as f64 / n as f64)
}

/// The std of every 3x3 layer's response (after BN, before ReLU / addition) over `images`.
pub fn layer_responses(net: &Net, images: &Tensor, mean: &Tensor) -> Vec<f64> {
    let _guard = tch::no_grad_guard();
    let mut r = Responses::default();
    let n = images.size()[0];
    for at in (0..n).step_by(EVAL_BATCH as usize) {
        let len = EVAL_BATCH.min(n - at);
        let _ = net.forward_recording(&normalize(&images.narrow(0, at, len), mean), false, Some(&mut r));
        r.end_batch();
    }
    r.stds()
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::path::Path;

    fn cfg(text: &str) -> Config {
        Config::parse(text, Path::new("t.yaml"), "t").unwrap()
    }

    #[test]
    fn schedule_steps_at_milestones_and_warms_up() {
        let c = cfg("depths: [20]\n");
        let lr = |it, warm| learning_rate(&c.optimizer, &c.schedule, it, warm);
        assert_eq!(lr(0, false), 0.1);
        assert_eq!(lr(31_999, false), 0.1);
        assert!((lr(32_000, false) - 0.01).abs() < 1e-12);
        assert!((lr(47_999, false) - 0.01).abs() < 1e-12);
        assert!((lr(48_000, false) - 0.001).abs() < 1e-12);
        assert_eq!(lr(5, true), 0.01);
        assert!(!warms_up(&c.schedule, 56) && warms_up(&c.schedule, 110) && warms_up(&c.schedule, 1202));
        let off = cfg("depths: [110]\nschedule:\n  warmup:\n    enabled: false\n");
        assert!(!warms_up(&off.schedule, 110));
    }
}
