//! Step-exact equivalence with PyTorch: resdeg's own training loop (`train_lockstep`, the code a
//! sweep runs) trains plain-20, ResNet-20 option A and option B for 32 steps through a warm-up
//! switch and a milestone, once in fp64 and once in fp32 (as it trains), and everything it fed and
//! produced is handed to
//! `tests/pytorch_equivalence.py`, which rebuilds the batches from the raw files and resdeg's
//! draws, trains the same nets with nn.Conv2d / BatchNorm2d / Linear and torch.optim.SGD from the
//! same initial weights, and compares: batches, learning rates, per-step losses, final weights,
//! BN running statistics, momentum buffers and eval-mode logits. In fp64 every check holds to 1e-4
//! over all 32 steps. In fp32 the first step agrees and then rounding differences grow chaotically
//! (PyTorch in fp32 against PyTorch in fp64 diverges just as fast), so there resdeg must stay within
//! PyTorch's own rounding spread. With `bf16: true` both sides train under bfloat16 autocast: step
//! 1 agrees as in fp32 (here the first 2-16 steps agree exactly), and over 32 steps resdeg stays
//! within twice the distance of PyTorch's bf16 run from its fp32 one. Then it flips one detail of
//! the PyTorch side at a time and requires the fp64 comparison to fail, so the test is known to bite.
//!
//! Needs the torch Python package (`scripts/setup` installs it into `.libtorch/`); without it the
//! test prints why and passes, unless RESDEG_REQUIRE_TORCH=1 (CI sets it).

mod common;

use resdeg::config::Config;
use resdeg::data::{Augmentation, Cifar10, write_synthetic};
use resdeg::progress::Progress;
use resdeg::train::{self, Control, Learner, Step};
use resdeg::{plan, record};
use std::cell::RefCell;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Command;
use tch::{Device, Kind, Tensor};

const STEPS: u64 = 32;
const EVAL_IMAGES: i64 = 256;
const TRAIN_IMAGES: usize = 150; // 10 batches of 16 an epoch, the last one 6 images
const SCRIPT: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/pytorch_equivalence.py");

/// A Python that imports torch, with the PYTHONPATH that makes it do so; or why there is none.
fn python() -> Result<(String, Option<PathBuf>), String> {
    let python = std::env::var("PYTHON").unwrap_or_else(|_| "python3".into());
    // .cargo/config.toml points LIBTORCH at .libtorch/torch; its parent holds the torch package.
    let path = std::env::var_os("LIBTORCH").map(|l| {
        let l = PathBuf::from(l);
        let l = if l.is_relative() { Path::new(env!("CARGO_MANIFEST_DIR")).join(l) } else { l };
        l.parent().unwrap().to_path_buf()
    });
    let mut cmd = Command::new(&python);
    cmd.args(["-c", "import torch; print(torch.__version__)"]);
    if let Some(p) = &path {
        cmd.env("PYTHONPATH", p);
    }
    match cmd.output() {
        Ok(o) if o.status.success() => Ok((python, path)),
        Ok(o) => Err(format!("{python} cannot import torch: {}", String::from_utf8_lossy(&o.stderr).trim())),
        Err(e) => Err(format!("cannot run {python}: {e}")),
    }
}

/// Everything one run fed and produced, as named tensors for the Python side.
#[derive(Default)]
struct Trace {
    tensors: Vec<(String, Tensor)>,
    losses: Vec<f64>,
    lrs: Vec<f64>,
}

fn config(dir: &Path) -> Config {
    let text = format!(
        "name: equivalence\ndepths: [20]\nshortcut: A\nseeds: [3]\n\
         grids:\n  - archs: [residual]\n    shortcut: B\n\
         batch_size: 16\ndata: {{train_subset: {TRAIN_IMAGES}, test_subset: {EVAL_IMAGES}}}\n\
         schedule:\n  iterations: {STEPS}\n  milestones: [24]\n  \
         warmup: {{min_depth: 20, lr: 0.01, until_train_error: 0.0001, max_iterations: 10}}\n\
         eval_every: 100\nlayer_responses: false\nresults_dir: {}\nplots_dir: {}\n",
        dir.join("results").display(),
        dir.join("plots").display()
    );
    Config::parse(&text, Path::new("equivalence.yaml"), "equivalence").unwrap()
}

/// Trains every run of the config with resdeg's loop and writes `<run_id>.safetensors` and
/// `meta.json` into `out`.
fn trace_resdeg(cfg: &Config, data: &Path, out: &Path, kind: Kind) {
    std::fs::create_dir_all(out).unwrap();
    let split = Cifar10::load(data).unwrap().split(0, cfg.data.train_subset, cfg.data.test_subset).unwrap();
    let runs = plan::runs(cfg);
    assert_eq!(runs.len(), 3);
    let mut metas = Vec::new();
    for group in plan::lockstep_groups(&runs) {
        let traces: Vec<RefCell<Trace>> = group.iter().map(|_| RefCell::default()).collect();
        for (run, t) in group.iter().zip(&traces) {
            // The loop builds its nets the same way, from the run's seed.
            let l = Learner::new(cfg, run, Device::Cpu, kind);
            for (name, v) in l.vs.variables() {
                t.borrow_mut().tensors.push((format!("init.{name}"), v.contiguous()));
            }
        }
        let observe = |s: &Step| {
            let mut t = traces[s.member].borrow_mut();
            t.losses.push(s.loss.double_value(&[]));
            t.lrs.push(s.lr);
            t.tensors.push((format!("batch{}.xs", s.iteration), s.xs.contiguous()));
            t.tensors.push((format!("batch{}.ys", s.iteration), s.ys.shallow_clone()));
            if s.iteration == STEPS {
                for (name, v) in s.learner.vs.variables() {
                    t.tensors.push((format!("final.{name}"), v.contiguous()));
                }
                for (name, b) in s.learner.momentum_buffers() {
                    t.tensors.push((format!("momentum.{name}"), b.contiguous()));
                }
                let logits = train::logits(s.learner, &split.eval_images, &split.mean);
                t.tensors.push(("eval_logits".into(), logits.contiguous()));
            }
        };
        let progress = Progress::new(true, 0);
        let control = Control { observe: Some(&observe), kind, ..Control::new(&progress) };
        let outcomes = train::train_lockstep(cfg, group, &split, Device::Cpu, &control).unwrap().unwrap();
        for ((run, t), o) in group.iter().zip(traces).zip(outcomes) {
            assert_eq!(o.status, record::Status::Finished, "{}", run.id);
            let end = o.warmup.expect("the group warms up");
            assert_eq!((end.iteration, end.reason.as_str()), (10, "cap"));
            let mut t = t.into_inner();
            assert_eq!(t.losses.len() as u64, STEPS, "{}", run.id);
            t.tensors.push(("loss".into(), Tensor::from_slice(&t.losses)));
            t.tensors.push(("lr".into(), Tensor::from_slice(&t.lrs)));
            t.tensors.push(("mean".into(), split.mean.shallow_clone()));
            Tensor::write_safetensors(&t.tensors, out.join(format!("{}.safetensors", run.id))).unwrap();
            let channels_last = resdeg::backend::channels_last(cfg, Device::Cpu);
            metas.push(format!(
                r#"{{"id": "{}", "arch": "{}", "depth": {}, "shortcut": "{}", "channels_last": {channels_last}}}"#,
                run.id, run.arch, run.depth, run.shortcut
            ));
        }
    }
    // resdeg's draws for every epoch the 32 steps reach, so that the Python side can re-apply them.
    let aug = Augmentation { pad: cfg.augment.pad as i64, flip: cfg.augment.flip };
    let mut draws = Vec::new();
    let epochs = STEPS.div_ceil(TRAIN_IMAGES.div_ceil(cfg.batch_size) as u64);
    for epoch in 1..=epochs {
        let d = aug.draw(TRAIN_IMAGES, runs[0].seed, epoch, Device::Cpu);
        draws.push((format!("epoch{epoch}.order"), d.order));
        draws.push((format!("epoch{epoch}.dy"), d.dy));
        draws.push((format!("epoch{epoch}.dx"), d.dx));
        draws.push((format!("epoch{epoch}.flip"), d.flip.to_kind(Kind::Uint8)));
    }
    Tensor::write_safetensors(&draws, out.join("draws.safetensors")).unwrap();
    let (o, s, w) = (&cfg.optimizer, &cfg.schedule, &cfg.schedule.warmup);
    let meta = format!(
        r#"{{"data": "{}", "train_images": {TRAIN_IMAGES}, "eval_images": {EVAL_IMAGES}, "batch_size": {},
 "steps": {STEPS}, "lr": {}, "momentum": {}, "weight_decay": {}, "milestones": {:?}, "gamma": {},
 "warmup_lr": {}, "warmup_iterations": 10, "pad": {}, "threads": {}, "dtype": "{}",
 "runs": [{}]}}"#,
        data.display(),
        cfg.batch_size,
        o.lr,
        o.momentum,
        o.weight_decay,
        s.milestones,
        s.gamma,
        w.lr,
        cfg.augment.pad,
        tch::get_num_threads(),
        match (kind, cfg.bf16) {
            (Kind::Double, _) => "f64",
            (_, true) => "bf16",
            _ => "f32",
        },
        metas.join(", ")
    );
    std::fs::write(out.join("meta.json"), meta).unwrap();
}

/// Runs the Python side; returns its exit status and output.
fn compare(python: &(String, Option<PathBuf>), dir: &Path, extra: &[&str]) -> (bool, String) {
    let mut cmd = Command::new(&python.0);
    cmd.arg(SCRIPT).arg(dir).args(extra);
    if let Some(p) = &python.1 {
        cmd.env("PYTHONPATH", p);
    }
    let o = cmd.output().unwrap();
    let text = format!("{}{}", String::from_utf8_lossy(&o.stdout), String::from_utf8_lossy(&o.stderr));
    (o.status.success(), text)
}

#[test]
fn training_equals_pytorch_step_by_step() {
    let python = match python() {
        Ok(p) => p,
        Err(why) if std::env::var("RESDEG_REQUIRE_TORCH").as_deref() != Ok("1") => {
            println!("skipped: {why} (run scripts/setup to install it into .libtorch/)");
            return;
        }
        Err(why) => panic!("RESDEG_REQUIRE_TORCH=1 but {why}"),
    };
    let dir = common::tmp("equivalence");
    // RESDEG_EQUIVALENCE_DATA=<cifar-10-batches-bin> runs the same check on real images.
    let data = match std::env::var_os("RESDEG_EQUIVALENCE_DATA") {
        Some(d) => PathBuf::from(d),
        None => {
            let d = dir.join("data");
            write_synthetic(&d, 256, 11).unwrap();
            d
        }
    };
    let cfg = config(&dir);
    let bf16 = Config { bf16: true, ..cfg.clone() };
    let (f64_dir, f32_dir, bf16_dir) = (dir.join("f64"), dir.join("f32"), dir.join("bf16"));
    trace_resdeg(&cfg, &data, &f64_dir, Kind::Double);
    trace_resdeg(&cfg, &data, &f32_dir, Kind::Float);
    trace_resdeg(&bf16, &data, &bf16_dir, Kind::Float);
    for out in [&f64_dir, &f32_dir, &bf16_dir] {
        let (ok, text) = compare(&python, out, &[]);
        println!("{text}");
        assert!(ok, "resdeg and PyTorch differ:\n{text}");
    }

    // Each detail flipped on the PyTorch side alone must break a named check.
    let flips: BTreeMap<&str, (&str, &str)> = BTreeMap::from([
        ("bn-no-decay", ("plain-20-s3", "final")),
        ("pad-front", ("residual-20-A-s3", "loss")),
        ("caffe-momentum", ("residual-20-B-s3", "loss")),
        ("bn-momentum", ("plain-20-s3", "final")),
        ("per-channel-mean", ("residual-20-A-s3", "batch")),
    ]);
    for (flip, (run, check)) in flips {
        let (ok, text) = compare(&python, &f64_dir, &["--only", run, "--flip", flip]);
        println!("--flip {flip} on {run}:\n{text}");
        assert!(!ok, "flipping {flip} went unnoticed:\n{text}");
        let verdict = text.lines().rev().find(|l| l.starts_with("FAIL")).unwrap_or_default().to_string();
        assert!(verdict.contains(check), "--flip {flip}: expected the {check} check to break: {verdict}");
    }
    std::fs::remove_dir_all(dir).unwrap();
}
