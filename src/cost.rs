//! What a dry run prints beside the plan: the time each run should take, from a few steps of a
//! reference net measured on this machine and scaled by multiply-adds.

use crate::config::{self, Config};
use crate::learner::Learner;
use crate::measure;
use crate::plan::{self, Run};
use std::time::Instant;
use tch::{Device, Kind, Tensor};

/// What a dry run needs to estimate times: seconds per training step and per evaluated image of
/// one reference net (residual-20, option A) on the device, from a few steps on random images.
#[derive(Debug, Clone, Copy)]
pub struct StepCost {
    pub train_step_s: f64,
    pub eval_image_s: f64,
    /// Multiply-adds per image of the reference net: other nets scale by theirs.
    pub flops: u64,
}

/// Times 3 training steps (after 1 untimed) and 2 evaluation batches of residual-20 on `device`
/// with the config's batch size and backend settings.
pub fn measure_step(cfg: &Config, device: Device) -> StepCost {
    let run = Run::new(config::Arch::Residual, 20, config::Shortcut::A, 0);
    let mut l = Learner::new(cfg, &run, device, Kind::Float);
    let b = cfg.batch_size as i64;
    let xs = l.net.inputs(Tensor::randn([b, 3, 32, 32], (Kind::Float, device)));
    let ys = Tensor::randint(10, [b], (Kind::Int64, device));
    let sync = || {
        if let Device::Cuda(i) = device {
            tch::Cuda::synchronize(i as i64);
        }
    };
    let timed = |reps: usize, f: &mut dyn FnMut()| {
        f();
        sync();
        let t0 = Instant::now();
        for _ in 0..reps {
            f();
        }
        sync();
        t0.elapsed().as_secs_f64() / reps as f64
    };
    // Plain SGD at a tiny rate: random labels must not make the net's numbers blow up.
    let train_step_s = timed(3, &mut || {
        let _ = l.step(&xs, &ys, 1e-6);
    });
    let images = Tensor::randint(256, [measure::EVAL_BATCH, 3, 32, 32], (Kind::Uint8, device));
    let mean = Tensor::zeros([3, 32, 32], (Kind::Float, device));
    let eval_s = timed(2, &mut || {
        let _ = measure::logits(&l, &images, &mean);
    });
    StepCost { train_step_s, eval_image_s: eval_s / measure::EVAL_BATCH as f64, flops: run.flops() }
}

/// Estimated seconds to train `run` under `cfg` with `train_images` and `eval_images`, from the
/// reference cost scaled by multiply-adds (measured on the CPU: ResNet-56 steps take 2.8x and
/// ResNet-110 5.5x ResNet-20's, against 3.1x and 6.2x the multiply-adds, so deep nets come out
/// up to ~10% high).
pub fn estimate_s(cfg: &Config, run: &Run, cost: &StepCost, train_images: u64, eval_images: u64) -> f64 {
    let scale = run.flops() as f64 / cost.flops as f64;
    let its = cfg.schedule.iterations;
    let per_epoch = crate::data::iterations_per_epoch(cfg.last_batch, train_images, cfg.batch_size as u64);
    let epochs = (its as f64 / per_epoch).ceil() as u64;
    // Evaluated every eval_every epochs and after the last, plus the layer responses at the end.
    let tests = epochs / cfg.eval_every as u64 + u64::from(!epochs.is_multiple_of(cfg.eval_every as u64));
    let evals = tests + u64::from(cfg.layer_responses);
    // Gradient norms at the start, after step 1 and at every evaluation: about 1.2 steps each
    // (BENCHMARKS.md).
    let steps = its as f64 + if cfg.gradient_norms { 1.2 * (tests + 2) as f64 } else { 0.0 };
    // Branch ratios at the start and every evaluation: a forward pass of their images each.
    let branch_images = if cfg.branch_ratios && run.arch == config::Arch::Residual {
        (tests + 1) * eval_images.min(cfg.explain.test_images as u64)
    } else {
        0
    };
    scale * (steps * cost.train_step_s + (evals * eval_images + branch_images) as f64 * cost.eval_image_s)
}

/// What `--dry-run` prints: the sweep's runs, where they would train (`on`) and, with `device`, how long each
/// would take there (estimated from a few measured steps of residual-20, scaled by multiply-adds).
pub fn plan_text(cfg: &Config, runs: &[Run], on: &str, device: Device, workers: usize) -> String {
    let mut out = format!(
        "experiment {}: {} runs, {} iterations each at batch {}, on {on}\n",
        cfg.name,
        runs.len(),
        cfg.schedule.iterations,
        cfg.batch_size
    );
    let step = measure_step(cfg, device);
    let (train, eval) = crate::data::images_in_use(cfg);
    let times: Vec<f64> = runs.iter().map(|r| estimate_s(cfg, r, &step, train as u64, eval as u64)).collect();
    out += &plan::table(runs, Some(&times));
    let total: f64 = times.iter().sum();
    let split = if workers > 1 {
        format!(" (about {} with {workers} workers)", plan::duration(total / workers as f64))
    } else {
        String::new()
    };
    out += &format!(
        "estimated: {} in all{split}, from residual-20 measured here at {:.0} ms a step and {:.2} ms an \
         evaluated image, scaled by multiply-adds; {train} training and {eval} evaluation images\n",
        plan::duration(total),
        1e3 * step.train_step_s,
        1e3 * step.eval_image_s
    );
    out
}

/// The line a sweep on the CPU starts with: how long what is left of it should take here (the dry
/// run's estimate; `left` pairs each run with the fraction of its iterations still to train),
/// that a sweep of more than a day is made for a GPU, and that stopping it is safe.
pub fn start_line(cfg: &Config, left: &[(Run, f64)], device: Device) -> String {
    let step = measure_step(cfg, device);
    let (train, eval) = crate::data::images_in_use(cfg);
    let total: f64 = left.iter().map(|(r, f)| f * estimate_s(cfg, r, &step, train as u64, eval as u64)).sum();
    let gpu = if total > 86_400.0 {
        "; a sweep this long is made for a GPU (README: On a GPU machine)"
    } else {
        ""
    };
    format!(
        "{} run(s) to train: about {} on this CPU at {} thread(s) (the dry run's estimate){gpu}. Ctrl-C is safe: \
         the same command resumes after the last finished epoch.",
        left.len(),
        plan::duration(total),
        tch::get_num_threads()
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    /// 64,000 iterations of 391 a 50,000-image epoch (`wrap`: 390.625): 164 epochs, 164 test
    /// evaluations and the layer responses; gradient norms add 1.2 steps at each test and twice
    /// at the start, branch ratios (residual nets) a pass over 1,000 images at each test and once
    /// at the start.
    #[test]
    fn the_estimate_counts_steps_evaluations_gradient_norms_and_branch_ratios() {
        let mut cfg = Config::parse("depths: [20]\n", std::path::Path::new("t.yaml"), "t").unwrap();
        let run = Run::new(config::Arch::Residual, 20, config::Shortcut::A, 0);
        let cost = StepCost { train_step_s: 1.0, eval_image_s: 1e-3, flops: run.flops() };
        let with = estimate_s(&cfg, &run, &cost, 50_000, 10_000);
        assert!((with - (64_000.0 + 1.2 * 166.0 + 165.0 * 10.0 + 165.0)).abs() < 1e-6, "{with}");
        let plain = Run::new(config::Arch::Plain, 20, config::Shortcut::A, 0);
        let plain_s = estimate_s(&cfg, &plain, &cost, 50_000, 10_000);
        assert!((plain_s - (64_000.0 + 1.2 * 166.0 + 165.0 * 10.0)).abs() < 1e-6, "{plain_s}");
        (cfg.gradient_norms, cfg.branch_ratios) = (false, false);
        let without = estimate_s(&cfg, &run, &cost, 50_000, 10_000);
        assert!((without - (64_000.0 + 165.0 * 10.0)).abs() < 1e-6, "{without}");
    }
}
