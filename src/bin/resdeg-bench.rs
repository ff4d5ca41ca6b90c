//! resdeg's side of `scripts/bench`: the harness's own training step, evaluation and epoch (the
//! code a sweep runs, not a copy), measured as `bench/pytorch_reference.py` measures PyTorch.
//! Prints one JSON object a line, as the reference does; `scripts/bench` puts both in a table.

use anyhow::{Context, Result};
use clap::Parser;
use resdeg::config::Config;
use resdeg::data::Cifar10;
use resdeg::learner::Learner;
use resdeg::measure;
use resdeg::progress::Progress;
use resdeg::train::{self, Control};
use resdeg::{backend, model, plan};
use std::path::{Path, PathBuf};
use std::time::Instant;
use tch::{Device, Kind, Tensor};

#[derive(Parser)]
struct Args {
    #[arg(long, value_delimiter = ',', default_value = "20,56,110")]
    depths: Vec<u32>,
    #[arg(long, default_value = "cpu")]
    device: String,
    /// libtorch threads (absent: one per core).
    #[arg(long)]
    threads: Option<usize>,
    #[arg(long, default_value_t = 128)]
    batch: usize,
    /// Training steps before timing.
    #[arg(long, default_value_t = 5)]
    warmup: usize,
    /// Training steps per timed repeat.
    #[arg(long, default_value_t = 10)]
    steps: usize,
    #[arg(long, default_value_t = 5)]
    repeats: usize,
    #[arg(long, default_value_t = 2000)]
    eval_images: i64,
    /// CIFAR-10 binary folder; without it no epoch is timed.
    #[arg(long)]
    data: Option<PathBuf>,
    #[arg(long, default_value_t = 5120)]
    epoch_train: usize,
    #[arg(long, default_value_t = 1000)]
    epoch_test: usize,
    #[arg(long, default_value_t = 3)]
    epoch_repeats: usize,
    /// Also time the plain + residual pair stepping on one batch, as sweeps train them.
    #[arg(long)]
    pair: bool,
    /// Override the default memory format (true or false).
    #[arg(long)]
    channels_last: Option<bool>,
    #[arg(long)]
    tf32: bool,
    /// Forward passes under bfloat16 autocast (the config's `bf16`).
    #[arg(long)]
    bf16: bool,
    /// Turn oneDNN off (to measure what it brings).
    #[arg(long)]
    no_onednn: bool,
    /// Leave glibc's allocator at its defaults (to measure what reuse brings).
    #[arg(long)]
    no_malloc_reuse: bool,
    /// Only write CIFAR-shaped synthetic files (1024 images a file) into this folder, for an
    /// epoch benchmark on a machine without CIFAR-10.
    #[arg(long, value_name = "DIR")]
    write_synthetic: Option<PathBuf>,
}

/// The sweep config a benchmark run stands for: the paper's recipe at one depth, residual
/// option A, no warm-up (the reference has none), evaluated after the epoch.
fn config(a: &Args, archs: &str, depth: u32, iterations: usize) -> Result<Config> {
    let mut text = format!(
        "depths: [{depth}]\narchs: [{archs}]\nbatch_size: {}\ndevice: {}\ntf32: {}\nbf16: {}\nlayer_responses: false\ngradient_norms: false\n\
         schedule: {{iterations: {iterations}, milestones: [], warmup: {{enabled: false}}}}\n\
         data: {{train_subset: {}, test_subset: {}}}\n",
        a.batch, a.device, a.tf32, a.bf16, a.epoch_train, a.epoch_test
    );
    if let Some(t) = a.threads {
        text += &format!("threads: {t}\n");
    }
    if let Some(c) = a.channels_last {
        text += &format!("channels_last: {c}\n");
    }
    Ok(Config::parse(&text, Path::new("bench.yaml"), "bench")?)
}

fn sync(device: Device) {
    if let Device::Cuda(i) = device {
        tch::Cuda::synchronize(i as i64);
    }
}

fn print(depth: u32, metric: &str, values: &[f64], extra: &str) {
    let mut v = values.to_vec();
    v.sort_by(f64::total_cmp);
    let median = if v.len() % 2 == 1 { v[v.len() / 2] } else { (v[v.len() / 2 - 1] + v[v.len() / 2]) / 2.0 };
    println!(
        "{{\"impl\": \"resdeg\", \"depth\": {depth}, \"metric\": \"{metric}\", \"median\": {median}, \
         \"min\": {}, \"max\": {}, \"n\": {}{extra}}}",
        v[0],
        v[v.len() - 1],
        v.len()
    );
}

/// Seconds for each of `repeats` calls of `f`, after `warmup` calls.
fn time(device: Device, warmup: usize, repeats: usize, mut f: impl FnMut()) -> Vec<f64> {
    for _ in 0..warmup {
        f();
    }
    sync(device);
    (0..repeats)
        .map(|_| {
            let t = Instant::now();
            f();
            sync(device);
            t.elapsed().as_secs_f64()
        })
        .collect()
}

/// A measurement's cost in training steps: `a.steps` of it (`measure`) timed in turn with
/// `a.steps` training steps, `a.repeats` times, so that drift in the machine's load hits both alike.
fn in_turn(
    a: &Args,
    device: Device,
    l: &mut Learner,
    xs: &Tensor,
    ys: &Tensor,
    measure: impl Fn(&Learner),
) -> Vec<f64> {
    (0..a.repeats)
        .map(|_| {
            let steps = time(device, 0, 1, || {
                for _ in 0..a.steps {
                    let _ = l.step(xs, ys, 0.1);
                }
            });
            let probes = time(device, 0, 1, || measure(l));
            probes[0] / steps[0]
        })
        .collect()
}

fn bench_depth(a: &Args, depth: u32, device: Device, data: Option<&Cifar10>) -> Result<()> {
    let b = a.batch as i64;
    let per_step = |t: &[f64], nets: f64| -> Vec<f64> {
        t.iter().map(|t| nets * (a.steps as i64 * b) as f64 / t).collect()
    };
    let cfg = config(a, "residual", depth, 1)?;
    let run = plan::runs(&cfg).remove(0);
    tch::manual_seed(1);
    let xs = Tensor::randn([b, 3, 32, 32], (Kind::Float, device));
    let ys = Tensor::randint(10, [b], (Kind::Int64, device));
    let mut learner = Learner::new(&cfg, &run, device, Kind::Float);
    let xs = if learner.net.is_channels_last() { model::channels_last(&xs) } else { xs };
    for _ in 0..a.warmup {
        let _ = learner.step(&xs, &ys, 0.1);
    }
    let times = time(device, 0, a.repeats, || {
        for _ in 0..a.steps {
            let _ = learner.step(&xs, &ys, 0.1);
        }
    });
    print(depth, "train_img_s", &per_step(&times, 1.0), "");
    let ms: Vec<f64> = times.iter().map(|t| 1000.0 * t / a.steps as f64).collect();
    print(depth, "train_ms_per_it", &ms, "");

    // The gradient-norm measurement (one more forward and backward on a batch, no step), timed
    // in turn with training steps so that drift hits both alike: its cost in training steps.
    let ratios = in_turn(a, device, &mut learner, &xs, &ys, |l| {
        for _ in 0..a.steps {
            let _ = measure::gradient_norms(l, &xs, &ys);
        }
    });
    print(depth, "gradient_norms_per_step", &ratios, "");

    // The branch-ratio measurement (a train-mode forward pass of 1,000 images in batches of
    // 500, the running statistics put back), in turn with steps: its cost in training steps.
    let images = Tensor::randn([1000, 3, 32, 32], (Kind::Float, device));
    let images = if learner.net.is_channels_last() { model::channels_last(&images) } else { images };
    let branch_xs = images.split(measure::EVAL_BATCH, 0);
    let ratios = in_turn(a, device, &mut learner, &xs, &ys, |l| {
        for _ in 0..a.steps {
            let _ = measure::branch_ratios(&l.vs, &l.net, &branch_xs);
        }
    });
    print(depth, "branch_ratios_per_step", &ratios, "");

    if a.pair {
        let pair_cfg = config(a, "plain, residual", depth, 1)?;
        let mut pair: Vec<Learner> =
            plan::runs(&pair_cfg).iter().map(|r| Learner::new(&pair_cfg, r, device, Kind::Float)).collect();
        let times = time(device, 1, a.repeats, || {
            for _ in 0..a.steps {
                for l in &mut pair {
                    let _ = l.step(&xs, &ys, 0.1);
                }
            }
        });
        // Images through a net per second, counting both nets: compare with train_img_s.
        print(depth, "pair_img_s", &per_step(&times, 2.0), "");
    }

    let images = Tensor::randint(256, [a.eval_images, 3, 32, 32], (Kind::Uint8, device));
    let labels = Tensor::randint(10, [a.eval_images], (Kind::Int64, device));
    let mean = Tensor::zeros([3, 32, 32], (Kind::Float, device));
    let times = time(device, 1, a.repeats, || {
        measure::evaluate(&learner, &images, &labels, &mean);
    });
    let rate: Vec<f64> = times.iter().map(|t| a.eval_images as f64 / t).collect();
    print(depth, "eval_img_s", &rate, "");

    let Some(data) = data else { return Ok(()) };
    // One epoch end to end, as a sweep runs it: augmentation, training, test evaluation.
    let iterations = a.epoch_train.div_ceil(a.batch);
    let cfg = config(a, "residual", depth, iterations)?;
    let split = data.split(0, Some(a.epoch_train), Some(a.epoch_test))?.to_device(device);
    let progress = Progress::silent();
    let control = Control::new(&progress);
    let runs = plan::runs(&cfg);
    let times = time(device, 1, a.epoch_repeats, || {
        train::train_lockstep(&cfg, &runs, &split, device, &control).expect("an epoch trains");
    });
    let extra = format!(", \"train\": {}, \"test\": {}", a.epoch_train, a.epoch_test);
    print(depth, "epoch_s", &times, &extra);
    Ok(())
}

fn main() -> Result<()> {
    let a = Args::parse();
    if let Some(dir) = &a.write_synthetic {
        return resdeg::testing::write_synthetic(dir, 1024, 7);
    }
    let cfg = config(&a, "residual", a.depths[0], 1)?;
    let device = plan::device(cfg.device())?;
    if a.no_malloc_reuse {
        backend::apply_without_allocator(&cfg, device);
    } else {
        backend::apply(&cfg, device);
    }
    if a.no_onednn {
        backend::set_onednn(false);
    }
    println!(
        "{{\"impl\": \"resdeg\", \"libtorch\": \"{}\", \"threads\": {}, \"device\": \"{}\", \"channels_last\": {}}}",
        env!("RESDEG_LIBTORCH_VERSION"),
        tch::get_num_threads(),
        plan::device_name(device),
        backend::channels_last(&cfg, device)
    );
    let data = match &a.data {
        Some(dir) => Some(Cifar10::load(dir).with_context(|| format!("--data {}", dir.display()))?),
        None => None,
    };
    for &depth in &a.depths {
        bench_depth(&a, depth, device, data.as_ref())?;
    }
    Ok(())
}
