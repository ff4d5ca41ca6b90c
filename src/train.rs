//! The one training loop: the paper's recipe (SGD with momentum, step schedule, warm-up for deep
//! nets), with the twins of one (depth, shortcut, seed), plain and residual, stepping in lockstep
//! on the identical sequence of augmented batches, so that their curves are a paired comparison.
//! After every epoch the whole group is checkpointed in one file, so a rerun resumes exactly.
//!
//! Longer than ~500 lines only with its unit tests, kept below the code they test.

use crate::checkpoint::{self, GroupState, MemberState};
use crate::config::Arch;
use crate::config::{self, Config};
use crate::data::{Augmentation, EpochDraw, Segment, Split, epoch_batches, normalize};
use crate::learner::Learner;
use crate::measure::{
    Branches, Gradients, branch_batches, branch_ratios, evaluate, gradient_norms, layer_responses,
    probe_batch,
};
use crate::model;
use crate::plan::Run;
use crate::progress::Progress;
use crate::record::{EpochRecord, Outcome, Status, WarmupEnd};
use anyhow::{Result, ensure};
use std::path::PathBuf;
use std::time::Instant;
use tch::{Device, Kind, Tensor};

/// Batches over which the warm-up's running training error is averaged.
pub const WARMUP_WINDOW: usize = 20;

/// The learning rate at `iteration` (0-based): `lr` times `gamma` for every milestone reached;
/// while warming up, the warm-up rate unless the milestones already ask for less.
pub fn learning_rate(opt: &config::Optimizer, s: &config::Schedule, iteration: u64, warming: bool) -> f64 {
    let passed = s.milestones.iter().filter(|&&m| m <= iteration).count();
    let scheduled = opt.lr * s.gamma.powi(passed as i32);
    if warming { scheduled.min(s.warmup.lr) } else { scheduled }
}

/// Whether a net of this depth starts with the warm-up rate.
pub fn warms_up(s: &config::Schedule, depth: u32) -> bool {
    s.warmup.enabled && depth >= s.warmup.min_depth
}

/// A learner with its run and the sums of the current epoch, kept on the device.
struct Member {
    run: Run,
    learner: Learner,
    state: MemberState,
    /// Whether its branch ratios are recorded (see `Config::branch_ratios`).
    branches: bool,
    loss_sum: Tensor,
    wrong: Tensor,
}

/// How a lockstep group is run: where it checkpoints, and (for tests) where it stops early.
pub struct Control<'a> {
    /// The group's checkpoint: written after every epoch, read on start, removed at the end.
    pub checkpoint: Option<PathBuf>,
    /// Stop once this epoch is done, leaving the checkpoint, as a crash would.
    pub stop_after_epoch: Option<u64>,
    pub progress: &'a Progress,
    /// Called after every member's every step: lets the equivalence test against PyTorch see
    /// exactly what the loop fed and produced, without a second copy of the loop.
    pub observe: Option<&'a dyn Fn(&Step)>,
    /// Float. The equivalence test also trains in Double, where rounding is too small to hide a
    /// difference from PyTorch over many steps (in Float it grows chaotically within ten).
    pub kind: Kind,
}

impl<'a> Control<'a> {
    pub fn new(progress: &'a Progress) -> Control<'a> {
        Control { checkpoint: None, stop_after_epoch: None, progress, observe: None, kind: Kind::Float }
    }
}

/// One member's training step, as [`Control::observe`] sees it.
pub struct Step<'s> {
    pub member: usize,
    pub epoch: u64,
    /// Iterations done, this one included.
    pub iteration: u64,
    pub lr: f64,
    /// The augmented, normalized batch in the net's layout, and its labels.
    pub xs: &'s Tensor,
    pub ys: &'s Tensor,
    pub loss: &'s Tensor,
    pub learner: &'s Learner,
}

/// Trains `runs` (twins sharing depth, shortcut and seed) in lockstep on `split` (already on
/// `device`), resuming from the checkpoint when there is one. Returns None when stopped early.
///
/// Twins follow one learning-rate schedule, so that their difference is the architecture alone.
/// For deep nets that warm up, the group's warm-up ends when any member's running training error
/// falls below the threshold (in practice the residual twin's, as in the paper's ResNet-110) or
/// at the cap; a plain-110 thus gets its twin's schedule, not one of its own.
pub fn train_lockstep(
    cfg: &Config,
    runs: &[Run],
    split: &Split,
    device: Device,
    control: &Control,
) -> Result<Option<Vec<Outcome>>> {
    let seed = runs[0].seed;
    ensure!(
        runs.iter().all(|r| r.seed == seed && r.depth == runs[0].depth),
        "lockstep runs share depth and seed"
    );
    let zero = || Tensor::zeros([], (Kind::Float, device));
    let mut members = Vec::new();
    for run in runs {
        let learner = Learner::new(cfg, run, device, control.kind);
        let state = MemberState {
            run_id: run.id.clone(),
            status: Status::Running,
            window: vec![],
            curves: vec![],
            gradients: vec![],
            branches: vec![],
        };
        let (loss_sum, wrong) = (zero(), zero());
        members.push(Member { run: run.clone(), learner, state, branches: false, loss_sum, wrong });
    }
    let (mut epoch, mut iteration, mut elapsed) = (0u64, 0u64, 0.0f64);
    let mut warming = warms_up(&cfg.schedule, runs[0].depth);
    let mut warmup_end = None;
    if let Some(path) = control.checkpoint.as_deref().filter(|p| p.is_file()) {
        let mut learners: Vec<(&str, &mut Learner)> =
            members.iter_mut().map(|m| (m.run.id.as_str(), &mut m.learner)).collect();
        let g = checkpoint::load_group(path, &mut learners)?;
        for (m, state) in members.iter_mut().zip(&g.members) {
            m.state = state.clone();
        }
        (epoch, iteration, elapsed) = (g.epoch, g.iteration, g.elapsed_s);
        (warming, warmup_end) = (g.warming, g.warmup_end);
        control
            .progress
            .line(&format!("{}: resumed after epoch {epoch} (iteration {iteration})", label(runs)));
    }

    let aug = Augmentation { pad: cfg.augment.pad as i64, flip: cfg.augment.flip };
    let n = split.train_images.size()[0];
    let batch = cfg.batch_size as i64;
    // Gradient norms: one fixed batch, measured at the start, after the first step and at every
    // evaluation.
    let probe = cfg.gradient_norms.then(|| probe_batch(&members[0].learner, split, batch));
    // Branch ratios: residual members, on fixed evaluation images, from the start or not at all.
    for m in &mut members {
        m.branches = cfg.branch_ratios
            && m.run.arch == Arch::Residual
            && (iteration == 0 || !m.state.branches.is_empty());
    }
    let branch_xs = members
        .iter()
        .any(|m| m.branches)
        .then(|| branch_batches(&members[0].learner, split, cfg.explain.test_images));
    if iteration == 0 {
        probe_gradients(&mut members, probe.as_ref(), 0, 0);
        for m in members.iter_mut().filter(|m| m.branches) {
            probe_branches(m, branch_xs.as_deref(), 0, 0);
        }
    }
    // Each epoch's order, crops and flips; `wrap` batches reach into the next epoch's too.
    let mut draws: Vec<(u64, EpochDraw)> = Vec::new();
    let total = cfg.schedule.iterations;
    control.progress.start_group(&label(runs), total, iteration);
    let running = |ms: &[Member]| ms.iter().any(|m| m.state.status == Status::Running);
    while iteration < total && running(&members) {
        epoch += 1;
        let t0 = Instant::now();
        let batches = epoch_batches(cfg.last_batch, n, batch, epoch);
        draws.retain(|(e, _)| *e >= epoch);
        for e in [epoch, epoch + 1] {
            if !draws.iter().any(|d| d.0 == e) && batches.iter().flatten().any(|s| s.0 == e) {
                draws.push((e, aug.draw(n as usize, seed, e, device)));
            }
        }
        let mut images = 0i64;
        for m in &mut members {
            m.loss_sum = zero();
            m.wrong = zero();
        }
        let mut lrs = vec![0.0; members.len()];
        for segments in batches.iter().take((total - iteration) as usize) {
            let take = |part: fn(&EpochDraw) -> &Tensor| segments_of(&draws, segments, part);
            let (idx, len) = (take(|d| &d.order), segments.iter().map(|s| s.2).sum::<i64>());
            // One augmented batch, fed to every twin.
            let xs = aug.apply(
                &normalize(&split.train_images.index_select(0, &idx), &split.mean),
                &take(|d| &d.dy),
                &take(|d| &d.dx),
                &take(|d| &d.flip),
            );
            let xs = members[0].learner.net.inputs(xs);
            let ys = split.train_labels.index_select(0, &idx);
            let lr = learning_rate(&cfg.optimizer, &cfg.schedule, iteration, warming);
            for (member, (m, lr_seen)) in members.iter_mut().zip(&mut lrs).enumerate() {
                if m.state.status != Status::Running {
                    continue;
                }
                *lr_seen = lr;
                let (loss, logits) = m.learner.step(&xs, &ys, lr);
                if let Some(observe) = control.observe {
                    let learner = &m.learner;
                    let (iteration, xs, ys, loss) = (iteration + 1, &xs, &ys, &loss);
                    observe(&Step { member, epoch, iteration, lr, xs, ys, loss, learner });
                }
                let wrong = logits.argmax(-1, false).ne_tensor(&ys).sum(Kind::Float);
                m.loss_sum += loss * len as f64;
                m.wrong += &wrong;
                if warming {
                    // Reading the batch error back costs a sync, but only for the few hundred
                    // warm-up iterations of the deepest nets.
                    m.state.window.push(wrong.double_value(&[]) / len as f64);
                    if m.state.window.len() > WARMUP_WINDOW {
                        m.state.window.remove(0);
                    }
                }
            }
            iteration += 1;
            if iteration == 1 {
                probe_gradients(&mut members, probe.as_ref(), epoch, iteration);
            }
            if warming && let Some(end) = warmup_ends(cfg, &members, iteration) {
                warming = false;
                control.progress.line(&format!(
                    "{}: warm-up ends after iteration {} ({}: {} at {:.1}% running training error)",
                    label(runs),
                    end.iteration,
                    end.reason,
                    end.ended_by,
                    100.0 * end.running_train_error
                ));
                for m in &mut members {
                    m.state.window.clear();
                }
                warmup_end = Some(end);
            }
            images += len;
            crate::testing::crash_point(|| format!("iteration:{iteration}"));
            control.progress.iteration(iteration);
        }

        let evaluate_now = epoch.is_multiple_of(cfg.eval_every as u64) || iteration >= total;
        let epoch_s = t0.elapsed().as_secs_f64();
        elapsed += epoch_s;
        let mut message = String::new();
        for (m, &lr) in members.iter_mut().zip(&lrs) {
            if m.state.status != Status::Running {
                continue;
            }
            let train_loss = m.loss_sum.double_value(&[]) / images as f64;
            let train_error = m.wrong.double_value(&[]) / images as f64;
            let diverged = !train_loss.is_finite();
            let (test_loss, test_error) = if evaluate_now && !diverged {
                let (l, e) = evaluate(&m.learner, &split.eval_images, &split.eval_labels, &split.mean);
                if let Some((xs, ys)) = &probe {
                    let layers = gradient_norms(&m.learner, xs, ys);
                    m.state.gradients.push(Gradients { epoch, iteration, layers });
                }
                if m.branches {
                    probe_branches(m, branch_xs.as_deref(), epoch, iteration);
                }
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
                elapsed_s: elapsed,
                images_per_s: images as f64 / epoch_s,
            };
            if diverged {
                m.state.status = Status::Diverged;
            } else if iteration >= total {
                m.state.status = Status::Finished;
            }
            control.progress.line(&epoch_line(&m.run, &record, total, m.state.status));
            message.push_str(&format!("  {} {:.3}/{:.1}%", m.run.arch, train_loss, 100.0 * train_error));
            m.state.curves.push(record);
        }
        control.progress.message(&message);
        if let Some(path) = &control.checkpoint
            && running(&members)
        {
            let g = GroupState {
                epoch,
                iteration,
                elapsed_s: elapsed,
                warming,
                warmup_end: warmup_end.clone(),
                members: vec![],
                written: None,
            };
            let states: Vec<(&MemberState, &Learner)> =
                members.iter().map(|m| (&m.state, &m.learner)).collect();
            checkpoint::save_group(path, g, &states)?;
        }
        if control.stop_after_epoch == Some(epoch) && running(&members) {
            return Ok(None);
        }
    }

    let mut outcomes = Vec::new();
    for m in members {
        let mut status = m.state.status;
        if status == Status::Running {
            // A run resumed from a checkpoint taken at its last epoch has nothing left to train.
            status = Status::Finished;
        }
        let responses = (cfg.layer_responses && status == Status::Finished)
            .then(|| layer_responses(&m.learner, &split.eval_images, &split.mean));
        let weights = (status == Status::Finished)
            .then(|| model::state_dict(&m.learner.vs, iteration as i64, &split.mean));
        outcomes.push(Outcome {
            run: m.run,
            status,
            curves: m.state.curves,
            responses,
            gradients: m.state.gradients,
            branches: m.state.branches,
            warmup: warmup_end.clone(),
            weights,
        });
    }
    Ok(Some(outcomes))
}

/// Each running member's gradient norms on the probe batch, when the config records them.
fn probe_gradients(members: &mut [Member], probe: Option<&(Tensor, Tensor)>, epoch: u64, iteration: u64) {
    let Some((xs, ys)) = probe else { return };
    for m in members.iter_mut().filter(|m| m.state.status == Status::Running) {
        let layers = gradient_norms(&m.learner, xs, ys);
        m.state.gradients.push(Gradients { epoch, iteration, layers });
    }
}

/// A member's branch ratios on the batches `xs`, recorded at this point.
fn probe_branches(m: &mut Member, xs: Option<&[Tensor]>, epoch: u64, iteration: u64) {
    let Some(xs) = xs else { return };
    let ratios = branch_ratios(&m.learner.vs, &m.learner.net, xs);
    m.state.branches.push(Branches { epoch, iteration, ratios });
}

/// One part (order, crops or flips) of a batch's draws: its segments of the epochs' draws, joined.
fn segments_of(draws: &[(u64, EpochDraw)], segments: &[Segment], part: fn(&EpochDraw) -> &Tensor) -> Tensor {
    let piece = |&(epoch, at, len): &Segment| {
        let draw = &draws.iter().find(|d| d.0 == epoch).expect("drawn for this epoch's batches").1;
        part(draw).narrow(0, at, len)
    };
    match segments {
        [one] => piece(one),
        more => Tensor::cat(&more.iter().map(piece).collect::<Vec<_>>(), 0),
    }
}

/// Whether the group's warm-up ends after `iteration` iterations: a running member's last
/// [`WARMUP_WINDOW`] batches averaged below the threshold, or the cap reached.
fn warmup_ends(cfg: &Config, members: &[Member], iteration: u64) -> Option<WarmupEnd> {
    let w = &cfg.schedule.warmup;
    let best = members
        .iter()
        .filter(|m| m.state.status == Status::Running && !m.state.window.is_empty())
        .map(|m| (m, m.state.window.iter().sum::<f64>() / m.state.window.len() as f64))
        .min_by(|a, b| a.1.total_cmp(&b.1))?;
    let full = best.0.state.window.len() == WARMUP_WINDOW;
    let reason = if full && best.1 < w.until_train_error {
        "threshold"
    } else if iteration >= w.max_iterations {
        "cap"
    } else {
        return None;
    };
    Some(WarmupEnd {
        iteration,
        reason: reason.into(),
        running_train_error: best.1,
        ended_by: best.0.run.id.clone(),
    })
}

fn label(runs: &[Run]) -> String {
    runs.iter().map(|r| r.id.as_str()).collect::<Vec<_>>().join(" + ")
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::data::Cifar10;
    use crate::testing::write_synthetic;
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

    fn tiny() -> (Config, Split, Vec<Run>, PathBuf) {
        let dir = std::env::temp_dir().join(format!(
            "resdeg-train-{}-{:?}",
            std::process::id(),
            std::thread::current().id()
        ));
        write_synthetic(&dir.join("data"), 32, 9).unwrap();
        let c = cfg(
            "depths: [8]\nbatch_size: 16\nseeds: [4]\nschedule: {iterations: 15, milestones: [10]}\neval_every: 2\n",
        );
        let split = Cifar10::load(&dir.join("data")).unwrap().split(0, Some(96), None).unwrap();
        (c.clone(), split, crate::plan::runs(&c), dir)
    }

    fn train(
        c: &Config,
        split: &Split,
        runs: &[Run],
        checkpoint: Option<PathBuf>,
        stop: Option<u64>,
    ) -> Option<Vec<Outcome>> {
        let progress = Progress::new(true, 0);
        let control = Control { checkpoint, stop_after_epoch: stop, ..Control::new(&progress) };
        let _rng = crate::testing::torch_rng_lock();
        train_lockstep(c, runs, split, Device::Cpu, &control).unwrap()
    }

    fn without_timing(curves: &[EpochRecord]) -> Vec<EpochRecord> {
        curves.iter().map(|r| EpochRecord { elapsed_s: 0.0, images_per_s: 0.0, ..r.clone() }).collect()
    }

    /// Twins see the same batches: each net's curves in the pair equal those of the net alone.
    #[test]
    fn lockstep_twins_see_the_batches_they_would_see_alone() {
        let (c, split, runs, dir) = tiny();
        assert_eq!(runs.len(), 2);
        let pair = train(&c, &split, &runs, None, None).unwrap();
        for (k, run) in runs.iter().enumerate() {
            let alone = train(&c, &split, std::slice::from_ref(run), None, None).unwrap();
            assert_eq!(without_timing(&alone[0].curves), without_timing(&pair[k].curves), "{}", run.id);
        }
        // 6 batches an epoch, 15 iterations: epochs end at 6, 12, 15; evaluated at 2 and 3.
        let its: Vec<u64> = pair[0].curves.iter().map(|r| r.iteration).collect();
        assert_eq!(its, [6, 12, 15]);
        assert_eq!(
            pair[0].curves.iter().map(|r| r.test_error.is_some()).collect::<Vec<_>>(),
            [false, true, true]
        );
        assert!((pair[1].curves[2].lr - 0.01).abs() < 1e-12);
        assert_eq!(pair[0].responses.as_ref().unwrap().len(), 7);
        std::fs::remove_dir_all(dir).unwrap();
    }

    /// Stopping after epoch 1 and resuming from the checkpoint gives the uninterrupted curves bit
    /// for bit, and the final weights too (through the layer responses).
    #[test]
    fn resume_is_exact() {
        let (c, split, runs, dir) = tiny();
        let whole = train(&c, &split, &runs, None, None).unwrap();
        let ck = dir.join("ck.safetensors");
        assert!(train(&c, &split, &runs, Some(ck.clone()), Some(1)).is_none());
        assert!(ck.is_file());
        let (saved, _) = checkpoint::load(&ck).unwrap();
        assert_eq!((saved.epoch, saved.iteration, saved.members.len()), (1, 6, 2));
        let at = checkpoint::position(&ck).unwrap();
        assert_eq!((at.epoch, at.iteration, at.elapsed_s), (1, 6, saved.elapsed_s));
        assert!(
            at.written.is_some()
                && at.written == saved.written.map(|w| humantime::parse_rfc3339(&w).unwrap())
        );
        assert!(at.images_per_s > 0.0);
        let resumed = train(&c, &split, &runs, Some(ck.clone()), None).unwrap();
        // Epoch 1 comes from the checkpoint, timing included: it was not trained again.
        for (k, o) in resumed.iter().enumerate() {
            assert_eq!(o.curves[0], saved.members[k].curves[0]);
        }
        for (a, b) in whole.iter().zip(&resumed) {
            assert_eq!(without_timing(&a.curves), without_timing(&b.curves), "{}", a.run.id);
            assert_eq!(a.responses, b.responses);
            assert_eq!(b.status, Status::Finished);
        }
        std::fs::remove_dir_all(dir).unwrap();
    }

    /// Trains `runs` with a measurement off and then on (`set`): whole, and stopped after epoch 2
    /// and resumed. Asserts that measuring changes nothing training does: the curves, the layer
    /// responses and every tensor of the checkpoint (weights, BN statistics, momentum) stay bit
    /// for bit. Returns the whole runs without it, with it, and resumed with it.
    fn off_and_on(
        c: &mut Config,
        split: &Split,
        runs: &[Run],
        dir: &Path,
        set: fn(&mut Config, bool),
    ) -> [Vec<Outcome>; 3] {
        let mut tensors = Vec::new();
        let mut outcomes = Vec::new();
        for on in [false, true] {
            set(c, on);
            let ck = dir.join(format!("ck-{on}.safetensors"));
            assert!(train(c, split, runs, Some(ck.clone()), Some(2)).is_none());
            tensors.push(checkpoint::load(&ck).unwrap().1);
            outcomes.push((
                train(c, split, runs, None, None).unwrap(),
                train(c, split, runs, Some(ck), None).unwrap(),
            ));
        }
        let (off, on) = (&tensors[0], &tensors[1]);
        assert_eq!(off.len(), on.len());
        for (name, a) in off.iter().filter(|t| t.0 != "state") {
            let b = &on.iter().find(|t| t.0 == *name).unwrap().1;
            assert!(a.equal(b), "{name} differs with the measurement");
        }
        let [(off, _), (whole, resumed)] = <[_; 2]>::try_from(outcomes).unwrap();
        for (a, b) in off.iter().zip(&whole) {
            assert_eq!(without_timing(&a.curves), without_timing(&b.curves), "{}", a.run.id);
            assert_eq!(a.responses, b.responses);
        }
        [off, whole, resumed]
    }

    /// Gradient norms are measured at the start, after the first step and at every evaluation,
    /// changing nothing; a resumed run carries the points measured before.
    #[test]
    fn gradient_norms_leave_training_untouched() {
        let (mut c, split, runs, dir) = tiny();
        let [off, whole, resumed] = off_and_on(&mut c, &split, &runs, &dir, |c, on| c.gradient_norms = on);
        for ((a, b), r) in off.iter().zip(&whole).zip(&resumed) {
            assert!(a.gradients.is_empty());
            // 6 batches an epoch, evaluated after epochs 2 and 3 (iterations 12 and 15).
            let points: Vec<(u64, u64)> = b.gradients.iter().map(|g| (g.epoch, g.iteration)).collect();
            assert_eq!(points, [(0, 0), (1, 1), (2, 12), (3, 15)], "{}", b.run.id);
            assert!(b.gradients.iter().all(|g| g.layers.len() == 7));
            assert_eq!(b.gradients, r.gradients, "resumed after epoch 2: {}", b.run.id);
        }
        std::fs::remove_dir_all(dir).unwrap();
    }

    /// The residual twin's branch ratios are measured at the start and at every evaluation,
    /// changing nothing; a resumed run carries those before, and a run resumed from a checkpoint
    /// written without them goes on without.
    #[test]
    fn branch_ratios_leave_training_untouched_and_start_with_the_run() {
        let (mut c, split, runs, dir) = tiny();
        c.gradient_norms = false;
        let [off, whole, resumed] = off_and_on(&mut c, &split, &runs, &dir, |c, on| c.branch_ratios = on);
        for ((a, b), r) in off.iter().zip(&whole).zip(&resumed) {
            assert!(a.branches.is_empty());
            assert_eq!(b.branches, r.branches, "resumed after epoch 2: {}", b.run.id);
            if b.run.arch == Arch::Plain {
                assert!(b.branches.is_empty());
                continue;
            }
            let points: Vec<(u64, u64)> = b.branches.iter().map(|p| (p.epoch, p.iteration)).collect();
            assert_eq!(points, [(0, 0), (2, 12), (3, 15)]);
            assert!(b.branches.iter().all(|p| p.ratios.len() == 3 && p.ratios.iter().all(|r| *r > 0.0)));
            assert_ne!(b.branches[0].ratios, b.branches[2].ratios, "training moves the branches");
        }
        c.branch_ratios = true;
        let older = train(&c, &split, &runs, Some(dir.join("ck-false.safetensors")), None).unwrap();
        assert!(older.iter().all(|o| o.branches.is_empty()), "a record that would start mid-run");
        std::fs::remove_dir_all(dir).unwrap();
    }

    /// The lr of every step of the first run of `c`, and how its warm-up ended.
    fn lrs(c: &Config, split: &Split, runs: &[Run]) -> (Vec<f64>, Option<WarmupEnd>) {
        let seen = std::cell::RefCell::new(vec![]);
        let observe = |s: &Step| {
            if s.member == 0 {
                seen.borrow_mut().push(s.lr)
            }
        };
        let progress = Progress::new(true, 0);
        let control = Control { observe: Some(&observe), ..Control::new(&progress) };
        let out = {
            let _rng = crate::testing::torch_rng_lock();
            train_lockstep(c, runs, split, Device::Cpu, &control).unwrap().unwrap()
        };
        assert!(out.iter().all(|o| o.warmup == out[0].warmup), "twins share one warm-up");
        (seen.into_inner(), out[0].warmup.clone())
    }

    /// A net whose training error never reaches the threshold leaves the warm-up at the cap, and
    /// milestones stay in force during the warm-up.
    #[test]
    fn warm_up_is_bounded_and_shared_by_the_twins() {
        let (mut c, split, runs, dir) = tiny();
        c.schedule.warmup = config::Warmup {
            enabled: true,
            min_depth: 8,
            lr: 0.01,
            until_train_error: 1e-6,
            max_iterations: 7,
        };
        let (lr, end) = lrs(&c, &split, &runs);
        let want: Vec<f64> = (1..=15).map(|i| if i <= 7 || i > 10 { 0.01 } else { 0.1 }).collect();
        assert!(lr.iter().zip(&want).all(|(a, b)| (a - b).abs() < 1e-12), "{lr:?}");
        let end = end.unwrap();
        assert_eq!((end.iteration, end.reason.as_str()), (7, "cap"));

        // A milestone inside the warm-up lowers the rate below the warm-up rate.
        c.schedule.milestones = vec![3];
        c.schedule.gamma = 0.01;
        let (lr, _) = lrs(&c, &split, &runs);
        assert_eq!(&lr[..4], &[0.01, 0.01, 0.01, 0.1 * 0.01]);

        // Error below the threshold: the warm-up ends once the window of 20 batches is full.
        c.schedule.iterations = 30;
        c.schedule.warmup.until_train_error = 1.0;
        c.schedule.warmup.max_iterations = 800;
        let (_, end) = lrs(&c, &split, &runs);
        let end = end.unwrap();
        assert_eq!((end.iteration, end.reason.as_str()), (WARMUP_WINDOW as u64, "threshold"));
        assert!(end.running_train_error < 1.0);
        std::fs::remove_dir_all(dir).unwrap();
    }

    /// Every last-batch choice resumes exactly, and `wrap` feeds full batches, one stream across
    /// the epochs' orders (90 images in batches of 16: 6, 5 and 5 batches an epoch, 5.6 in `wrap`).
    #[test]
    fn every_last_batch_choice_resumes_exactly() {
        let (mut c, split, runs, dir) = tiny();
        c.batch_size = 16;
        c.schedule = config::Schedule { iterations: 25, milestones: vec![20], ..c.schedule.clone() };
        let split = Split {
            train_images: split.train_images.narrow(0, 0, 90),
            train_labels: split.train_labels.narrow(0, 0, 90),
            ..split
        };
        for (lb, ends) in [
            (config::LastBatch::Partial, vec![6, 12, 18, 24, 25]),
            (config::LastBatch::Drop, vec![5, 10, 15, 20, 25]),
            (config::LastBatch::Wrap, vec![6, 12, 17, 23, 25]),
        ] {
            c.last_batch = lb;
            let whole = train(&c, &split, &runs, None, None).unwrap();
            let its: Vec<u64> = whole[0].curves.iter().map(|r| r.iteration).collect();
            assert_eq!(its, ends, "{lb}");
            let ck = dir.join(format!("ck-{lb}.safetensors"));
            assert!(train(&c, &split, &runs, Some(ck.clone()), Some(2)).is_none());
            let resumed = train(&c, &split, &runs, Some(ck), None).unwrap();
            for (a, b) in whole.iter().zip(&resumed) {
                assert_eq!(without_timing(&a.curves), without_timing(&b.curves), "{lb} {}", a.run.id);
                assert_eq!(a.responses, b.responses, "{lb}");
            }
        }
        std::fs::remove_dir_all(dir).unwrap();
    }

    #[test]
    fn an_absurd_learning_rate_marks_runs_diverged() {
        let (mut c, split, runs, dir) = tiny();
        c.optimizer.lr = 1e12;
        let out = train(&c, &split, &runs, None, None).unwrap();
        for o in &out {
            assert_eq!(o.status, Status::Diverged, "{}", o.run.id);
            assert!(!o.curves.last().unwrap().train_loss.is_finite());
            assert!(o.responses.is_none());
        }
        std::fs::remove_dir_all(dir).unwrap();
    }
}
