//! `--explain`'s measurements against PyTorch: a small sweep (plain, option A and option B nets of
//! depth 8) trains, resdeg measures each net's final weights in fp64 (a 1D loss slice, lesions,
//! shattered gradients, branch ratios), and tests/explain_equivalence.py recomputes every one the
//! usual PyTorch way from the same weights, the same raw direction draws and the same lesion
//! choices, to 1e-10. Each of the script's flips changes one detail and must be caught.
//! Needs the torch Python package, as tests/equivalence.rs does (skipped without it unless
//! RESDEG_REQUIRE_TORCH=1).

mod common;

use common::{config_in, resdeg, text, tmp};
use resdeg::explain::{Batches, landscape, lesions, shattered};
use std::process::Command;
use tch::{Device, Kind, Tensor};

const SCRIPT: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/explain_equivalence.py");
const IMAGES: i64 = 64;
const LINES: i64 = 2;
const POINTS: i64 = 9;

/// What the script is given for one net: the images, the raw draws, and resdeg's numbers.
fn measured(
    cfg: &resdeg::config::Config,
    run: &resdeg::plan::Run,
    split: &resdeg::data::Split,
) -> (Vec<(String, Tensor)>, Vec<Vec<usize>>) {
    let (l, mean) = resdeg::sweep::explain::trained(cfg, run, Device::Cpu, Kind::Double).unwrap();
    let (train_x, train_y) =
        (split.train_images.narrow(0, 0, IMAGES), split.train_labels.narrow(0, 0, IMAGES));
    let (test_x, test_y) = (split.eval_images.narrow(0, 0, IMAGES), split.eval_labels.narrow(0, 0, IMAGES));
    let raw = landscape::draw(&l.vs, 4);
    let d = landscape::normalized(&l.vs, &raw);
    let slice = landscape::slice(
        &l.vs,
        &l.net,
        &d,
        &landscape::axis(5),
        &Batches::new(&l.net, &train_x, &train_y, &mean),
    );
    let test = Batches::new(&l.net, &test_x, &test_y, &mean);
    let deletable: Vec<usize> =
        l.net.deletable().iter().enumerate().filter(|(_, d)| **d).map(|(k, _)| k).collect();
    let choices = lesions::choices(&deletable, 2, 0);
    let les = lesions::lesions(&l.net, &test, &choices);
    let corr = shattered::shattered(&l.net, &test_x, &test_y, &mean, LINES, POINTS);
    let branches = resdeg::measure::branch_ratios(&l.vs, &l.net, &test.xs);
    let f = |v: Vec<f64>| Tensor::from_slice(&v);
    let mut out: Vec<(String, Tensor)> = raw.into_iter().map(|(n, t)| (format!("raw.{n}"), t)).collect();
    out.extend([
        ("slice_alpha".into(), f(slice.alpha)),
        ("slice_loss".into(), f(slice.loss)),
        ("slice_error".into(), f(slice.error)),
        ("lesion_loss".into(), f(les.iter().map(|x| x.loss).collect())),
        ("lesion_error".into(), f(les.iter().map(|x| x.error).collect())),
        ("shattered".into(), f(corr.iter().map(|c| c.correlation).collect())),
        ("train_images".into(), train_x),
        ("train_labels".into(), train_y),
        ("test_images".into(), test_x),
        ("test_labels".into(), test_y),
    ]);
    if !branches.is_empty() {
        out.push(("branches".into(), f(branches)));
    }
    (out, choices.into_iter().map(|c| c.0).collect())
}

#[test]
fn explain_measurements_equal_pytorchs_and_every_flip_is_caught() {
    let Some(python) = common::python_or_skip() else { return };
    let dir = tmp("explain-eq");
    let data = dir.join("data");
    resdeg::testing::write_synthetic(&data, 100, 5).unwrap();
    let cfg_path = config_in(
        &dir,
        "x.yaml",
        "name: x\ndepths: [8]\nbatch_size: 32\ndevice: cpu\ngrids:\n  - {archs: [residual], shortcut: B}\n\
         schedule: {iterations: 60, milestones: [45]}\ndata: {train_subset: 480, test_subset: 100}\n\
         explain: {after_sweep: false}\n",
    );
    let out = resdeg(&[cfg_path.to_str().unwrap(), "--quiet"], Some(&data));
    assert!(out.status.success(), "{}{}", text(&out.stdout), text(&out.stderr));
    let cfg = resdeg::config::Config::load(&cfg_path).unwrap();
    let split = resdeg::data::Cifar10::load(&data).unwrap().split(0, Some(480), Some(100)).unwrap();
    let folder = dir.join("given");
    std::fs::create_dir_all(&folder).unwrap();
    let mut lesions = serde_json::Map::new();
    let runs = resdeg::plan::runs(&cfg);
    for run in &runs {
        let (tensors, choices) = measured(&cfg, run, &split);
        Tensor::write_safetensors(&tensors, folder.join(format!("{}.explain.safetensors", run.id))).unwrap();
        let weights = resdeg::record::run_dir(&cfg, run).join("weights.safetensors");
        std::fs::copy(weights, folder.join(format!("{}.weights.safetensors", run.id))).unwrap();
        lesions.insert(run.id.clone(), serde_json::json!(choices));
    }
    let ids: Vec<&str> = runs.iter().map(|r| r.id.as_str()).collect();
    assert_eq!(ids, ["plain-8-s0", "residual-8-A-s0", "residual-8-B-s0"]);
    let meta = serde_json::json!({"runs": ids, "lesions": lesions, "lines": LINES, "points": POINTS});
    std::fs::write(folder.join("meta.json"), meta.to_string()).unwrap();

    let script = |flip: Option<&str>| {
        let mut cmd = Command::new(&python.0);
        cmd.arg(SCRIPT).arg(&folder);
        if let Some(f) = flip {
            cmd.args(["--flip", f]);
        }
        if let Some(p) = &python.1 {
            cmd.env("PYTHONPATH", p);
        }
        let o = cmd.output().unwrap();
        (o.status.success(), format!("{}{}", text(&o.stdout), text(&o.stderr)))
    };
    let (ok, said) = script(None);
    assert!(ok && said.contains("PASS"), "{said}");
    assert_eq!(said.lines().filter(|l| l.starts_with("ok")).count(), 3 * 3 + 2, "{said}");
    // Each flip must break the check it is about.
    for (flip, breaks) in [
        ("bn-perturbed", "residual-8-A-s0: slice loss"),
        ("no-filter-norm", "plain-8-s0: slice loss"),
        ("lesion-drops-shortcut", "residual-8-A-s0: lesions"),
        ("gradients-in-train-mode", "plain-8-s0: shattered"),
        ("branch-over-output", "residual-8-B-s0: branches"),
    ] {
        let (ok, said) = script(Some(flip));
        assert!(!ok && said.contains(&format!("FAIL {breaks}")), "--flip {flip} was not caught:\n{said}");
    }
    std::fs::remove_dir_all(dir).unwrap();
}
