//! A sweep's last step (`resdeg CONFIG --explain`, and after training unless `explain:
//! after_sweep` is false): every finished run that kept its weights and has no explain records
//! yet is loaded and measured (`crate::explain`), and its records written. Nothing is trained.

use crate::config::Config;
use crate::data::Split;
use crate::explain::{Batches, Branch, Explained, landscape, lesions, shattered};
use crate::learner::Learner;
use crate::measure;
use crate::plan::{self, Run};
use crate::progress::Progress;
use crate::record::{self, explain::ExplainInfo};
use anyhow::{Context, Result, bail};
use std::collections::BTreeMap;
use std::time::Instant;
use tch::{Device, Kind, Tensor};

/// The finished runs of `runs` with weights and without explain records.
pub fn todo(cfg: &Config, runs: &[Run]) -> Vec<Run> {
    runs.iter()
        .filter(|r| weights_path(cfg, r).is_file() && !record::explain::explained(cfg, r))
        .cloned()
        .collect()
}

fn weights_path(cfg: &Config, run: &Run) -> std::path::PathBuf {
    record::run_dir(cfg, run).join("weights.safetensors")
}

/// The config the measurements run under: the run's net in fp32 whatever it trained in.
fn fp32(cfg: &Config) -> Config {
    Config { bf16: false, ..cfg.clone() }
}

/// `run`'s net with its final weights, and the mean image it was trained with.
pub fn trained(cfg: &Config, run: &Run, device: Device, kind: Kind) -> Result<(Learner, Tensor)> {
    let path = weights_path(cfg, run);
    let w = record::weights::read(&path)?;
    let l = Learner::new(&fp32(cfg), run, device, kind);
    let vars = l.vs.variables();
    let mut mean = None;
    let mut set = 0;
    for (name, t) in &w.tensors {
        match vars.get(name) {
            Some(v) => {
                tch::no_grad(|| v.shallow_clone().copy_(t));
                set += 1;
            }
            None if name == "input_mean" => mean = Some(t.to_device(device).to_kind(Kind::Float)),
            None if name.ends_with(".num_batches_tracked") => {}
            None => bail!(
                "{}: {name} is not a variable of {}; is this {}'s weights file?",
                path.display(),
                run.id,
                run.id
            ),
        }
    }
    if set != vars.len() {
        bail!(
            "{}: holds {set} of {}'s {} variables; delete it and train the run again",
            path.display(),
            run.id,
            vars.len()
        );
    }
    Ok((
        l,
        mean.with_context(|| {
            format!("{}: no input_mean; delete it and train the run again", path.display())
        })?,
    ))
}

/// Every measurement of one net, each timed (seconds by record name).
pub fn measure(
    cfg: &Config,
    run: &Run,
    split: &Split,
    device: Device,
) -> Result<(Explained, BTreeMap<String, f64>)> {
    let s = &cfg.explain;
    let (l, mean) = trained(cfg, run, device, Kind::Float)?;
    let (net, vs) = (&l.net, &l.vs);
    let first = |images: &Tensor, labels: &Tensor, n: usize| {
        let n = (n as i64).min(images.size()[0]);
        Batches::new(net, &images.narrow(0, 0, n), &labels.narrow(0, 0, n), &mean)
    };
    let train = |n| first(&split.train_images, &split.train_labels, n);
    let test = first(&split.eval_images, &split.eval_labels, s.test_images);
    let mut seconds = BTreeMap::new();
    let mut timed = |name: &str, t: Instant| seconds.insert(name.to_string(), t.elapsed().as_secs_f64());

    let t = Instant::now();
    let (d, e) = (landscape::direction(vs, s.seed as i64), landscape::direction(vs, s.seed as i64 + 1));
    let slice = landscape::slice(vs, net, &d, &landscape::axis(s.slice_points), &train(s.slice_images));
    timed("landscape_1d", t);
    let t = Instant::now();
    let surface = landscape::surface(vs, net, &d, &e, &landscape::axis(s.grid_points), &train(s.grid_images));
    timed("landscape_2d", t);

    let t = Instant::now();
    let deletable: Vec<usize> =
        net.deletable().iter().enumerate().filter(|(_, d)| **d).map(|(k, _)| k).collect();
    let lesions = lesions::lesions(net, &test, &lesions::choices(&deletable, s.lesion_draws, s.seed));
    timed("lesions", t);

    let t = Instant::now();
    let (images, labels) = (&split.eval_images, &split.eval_labels);
    let shattered = shattered::shattered(net, images, labels, &mean, s.lines as i64, s.line_points as i64);
    timed("shattered", t);

    let t = Instant::now();
    let end = measure::branch_ratios(vs, net, &test.xs);
    let branches = if end.is_empty() {
        vec![]
    } else {
        let init = Learner::new(&fp32(cfg), run, device, Kind::Float);
        let start = measure::branch_ratios(&init.vs, &init.net, &test.xs);
        (0..start.len()).map(|k| Branch { block: k as u32, init: start[k], end: end[k] }).collect()
    };
    timed("branches", t);
    Ok((Explained { slice, surface, lesions, shattered, branches }, seconds))
}

/// Measures and records every run of [`todo`]; returns the lines to print.
pub fn run(
    cfg: &Config,
    runs: &[Run],
    split: &Split,
    device: Device,
    progress: &Progress,
) -> Result<Vec<String>> {
    let todo = todo(cfg, runs);
    let env = record::Environment::here(&plan::device_name(device));
    let mut lines = Vec::new();
    for run in &todo {
        let started = record::now();
        let clock = Instant::now();
        progress.line(&format!("{}: explaining (landscape, lesions, shattered gradients, branches)", run.id));
        let (e, seconds) = measure(cfg, run, split, device)?;
        let info = ExplainInfo {
            run_id: run.id.clone(),
            started,
            settings: cfg.explain.clone(),
            environment: env.clone(),
            seconds,
        };
        record::explain::write(cfg, run, &e, &info)?;
        lines.push(format!("{}: explained in {}", run.id, plan::duration(clock.elapsed().as_secs_f64())));
    }
    Ok(lines)
}
