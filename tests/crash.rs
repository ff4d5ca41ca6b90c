//! Crash safety and concurrent workers. The binary is killed with SIGKILL at chosen points (the
//! `RESDEG_CRASH_AT` hook makes it kill itself exactly there); the same command run again must
//! complete the sweep with records equal to those of an uninterrupted run. Two workers on one
//! sweep must never train the same run.

mod common;

use common::{command, snapshot, temporaries, text, tmp};
use std::fs;
use std::os::unix::process::ExitStatusExt;
use std::path::{Path, PathBuf};

const RUNS: [&str; 2] = ["plain-8-s0", "residual-8-A-s0"];

/// Synthetic data and a config whose results go to `<dir>/<results>`: 96 training images in
/// batches of 16, so epochs end at iterations 6, 12 and 15.
fn setup(dir: &Path, results: &str, depths: &str) -> PathBuf {
    let data = dir.join("data");
    if !data.exists() {
        resdeg::testing::write_synthetic(&data, 24, 3).unwrap();
    }
    let cfg = dir.join(format!("{results}.yaml"));
    fs::write(
        &cfg,
        format!(
            "name: crash\ndepths: {depths}\nbatch_size: 16\ndevice: cpu\nthreads: 1\n\
             schedule: {{iterations: 15, milestones: [10]}}\ndata: {{dir: {}, train_subset: 96}}\n\
             results_dir: {}\nplots_dir: {}\n",
            data.display(),
            dir.join(results).display(),
            dir.join(format!("{results}-plots")).display()
        ),
    )
    .unwrap();
    cfg
}

/// A table's rows as text, without the columns that measure time.
fn rows(path: &Path) -> String {
    let mut df = resdeg::record::read_parquet(path).unwrap();
    for c in ["elapsed_s", "images_per_s"] {
        if df.get_column_names().iter().any(|n| n.as_str() == c) {
            df = df.drop(c).unwrap();
        }
    }
    format!("{df:?}")
}

/// What a finished experiment's records say, timing and dates aside.
fn records(results: &Path) -> Vec<String> {
    let exp = results.join("crash");
    let mut out = vec![rows(&exp.join("curves.parquet"))];
    for run in RUNS {
        out.push(rows(&exp.join(run).join("curves.parquet")));
        out.push(rows(&exp.join(run).join("layer_responses.parquet")));
        // The final weights, byte for byte (the file's header is sorted: same weights, same bytes).
        out.push(format!("{:?}", fs::read(exp.join(run).join("weights.safetensors")).unwrap()));
        let info = fs::read_to_string(exp.join(run).join("run.yaml")).unwrap();
        assert!(info.contains("status: finished"), "{info}");
    }
    out
}

#[test]
fn killed_anywhere_the_rerun_completes_with_the_same_records() {
    let dir = tmp("crash");
    let reference = setup(&dir, "reference", "[8]");
    let out = command(&[reference.to_str().unwrap()], None).output().unwrap();
    assert!(out.status.success(), "{}", text(&out.stderr));
    let want = records(&dir.join("reference"));

    for (k, point) in [
        "iteration:9",                                  // mid-epoch (epoch 2 of 6..12)
        "write:plain-8-s0+residual-8-A-s0.safetensors", // writing the first checkpoint
        "write:curves.parquet",                         // writing the first run's curves
        "write:layer_responses.parquet",
        "write:run.yaml", // the very first file
    ]
    .iter()
    .enumerate()
    {
        let name = format!("killed{k}");
        let cfg = setup(&dir, &name, "[8]");
        let c = cfg.to_str().unwrap();
        let out = command(&[c], None).env("RESDEG_CRASH_AT", point).output().unwrap();
        assert_eq!(out.status.signal(), Some(9), "{point}: {:?}\n{}", out.status, text(&out.stderr));
        if point.starts_with("write:") {
            assert!(!temporaries(&dir.join(&name)).is_empty(), "{point}: no half-written file left");
        }
        let again = command(&[c], None).output().unwrap();
        let s = text(&again.stdout);
        assert!(again.status.success(), "{point}: {s}{}", text(&again.stderr));
        assert_eq!(records(&dir.join(&name)), want, "{point}");
        assert!(temporaries(&dir.join(&name)).is_empty(), "{point}: {:?}", temporaries(&dir.join(&name)));
        let checkpoints = dir.join(&name).join("crash/checkpoints");
        assert!(fs::read_dir(&checkpoints).map_or(true, |mut d| d.next().is_none()), "{point}");
        if *point == "iteration:9" {
            assert!(s.contains("resumed after epoch 1 (iteration 6)"), "{s}");
        }
    }
    fs::remove_dir_all(dir).unwrap();
}

/// A run resumed by a process with other threads trains at the thread count it started with (a
/// different count changes libtorch's reductions, so the bits), says so, and records it in its
/// sittings; its records are those of an uninterrupted run at that count.
#[test]
fn a_resumed_run_keeps_the_thread_count_it_started_with() {
    let dir = tmp("threads");
    let reference = setup(&dir, "reference", "[8]");
    let out = command(&[reference.to_str().unwrap()], None).output().unwrap();
    assert!(out.status.success(), "{}", text(&out.stderr));
    let cfg = setup(&dir, "stopped", "[8]");
    let c = cfg.to_str().unwrap();
    let out = command(&[c], None).env("RESDEG_CRASH_AT", "iteration:9").output().unwrap();
    assert_eq!(out.status.signal(), Some(9), "{}", text(&out.stderr));
    let again = command(&[c, "--threads", "2", "--quiet"], None).output().unwrap();
    let s = text(&again.stdout);
    assert!(again.status.success(), "{s}{}", text(&again.stderr));
    assert!(
        s.contains(
            "plain-8-s0 + residual-8-A-s0: resumes at 1 thread(s), as it started (this process has 2)"
        ),
        "{s}"
    );
    for run in RUNS {
        let info =
            resdeg::record::RunInfo::read(&dir.join("stopped/crash").join(run).join("run.yaml")).unwrap();
        let threads: Vec<i32> = info.sittings.iter().map(|s| s.environment.threads).collect();
        assert_eq!(threads, [1, 1], "{run}");
    }
    assert_eq!(records(&dir.join("stopped")), records(&dir.join("reference")));
    fs::remove_dir_all(dir).unwrap();
}

/// Which process trained a run: the one that printed its first epoch.
fn trainers(outputs: &[String], run: &str) -> usize {
    outputs.iter().filter(|s| s.lines().any(|l| l.starts_with(run) && l.contains(" epoch   1 "))).count()
}

#[test]
fn two_workers_on_one_sweep_never_train_the_same_run() {
    let dir = tmp("workers");
    let cfg = setup(&dir, "shared", "[8, 14]");
    let c = cfg.to_str().unwrap();
    let a = command(&[c, "--quiet"], None).stdout(std::process::Stdio::piped()).spawn().unwrap();
    let b = command(&[c, "--quiet"], None).stdout(std::process::Stdio::piped()).spawn().unwrap();
    let outputs: Vec<String> = [a, b]
        .into_iter()
        .map(|p| {
            let out = p.wait_with_output().unwrap();
            assert!(out.status.success(), "{}", text(&out.stderr));
            text(&out.stdout)
        })
        .collect();
    for run in ["plain-8-s0", "residual-8-A-s0", "plain-14-s0", "residual-14-A-s0"] {
        assert_eq!(trainers(&outputs, run), 1, "{run}:\n{}\n---\n{}", outputs[0], outputs[1]);
        let info = fs::read_to_string(dir.join("shared/crash").join(run).join("run.yaml")).unwrap();
        assert!(info.contains("status: finished"), "{info}");
    }
    assert!(temporaries(&dir.join("shared")).is_empty());
    fs::remove_dir_all(dir).unwrap();
}

/// `--devices cpu,cpu`: two worker processes from one command split the sweep, the cores split
/// between them, and the report covers every run.
#[test]
fn devices_run_one_worker_each_and_report_once() {
    let dir = tmp("devices");
    let cfg = setup(&dir, "multi", "[8, 14]");
    let out = command(&[cfg.to_str().unwrap(), "--devices", "cpu,cpu"], None).output().unwrap();
    let s = text(&out.stdout);
    assert!(out.status.success(), "{s}{}", text(&out.stderr));
    for run in ["plain-8-s0", "residual-8-A-s0", "plain-14-s0", "residual-14-A-s0"] {
        let trained: Vec<&str> =
            s.lines().filter(|l| l.contains(&format!("] {run}")) && l.contains(" epoch   1 ")).collect();
        assert_eq!(trained.len(), 1, "{run}:\n{s}");
    }
    assert!(s.contains("[0:cpu]") && s.contains("[1:cpu]"), "{s}");
    assert_eq!(s.matches("What the records of crash say:").count(), 1, "{s}");
    assert!(snapshot(&dir.join("multi-plots/crash")).keys().any(|p| p.ends_with("fig1.png")));
    fs::remove_dir_all(dir).unwrap();
}
