//! Bad input of every kind, against a results folder that already holds a finished experiment:
//! each case must exit with status 1 and one line that names the culprit (file, key, value) and
//! says what to do, and must leave every record as it was.

mod common;

use common::{resdeg, snapshot, temporaries, text, tmp};
use std::fs;
use std::path::{Path, PathBuf};

struct Fixture {
    dir: PathBuf,
    data: PathBuf,
    /// The finished experiment's config, as text.
    base: String,
}

/// A finished two-run experiment `exp` in `<dir>/results`, on synthetic data in `<dir>/data`.
fn fixture(name: &str) -> Fixture {
    let dir = tmp(name);
    let data = dir.join("data");
    resdeg::testing::write_synthetic(&data, 32, 11).unwrap();
    let base = format!(
        "name: exp\ndepths: [8]\nbatch_size: 16\ndevice: cpu\nthreads: 1\n\
         schedule: {{iterations: 4, milestones: [3]}}\ndata: {{dir: {}}}\nresults_dir: {}\nplots_dir: {}\n",
        data.display(),
        dir.join("results").display(),
        dir.join("plots").display()
    );
    let cfg = dir.join("sweep.yaml");
    fs::write(&cfg, &base).unwrap();
    let out = resdeg(&[cfg.to_str().unwrap()], None);
    assert!(out.status.success(), "{}{}", text(&out.stdout), text(&out.stderr));
    Fixture { dir, data, base }
}

/// A copy of the fixture's data with `damage` done to it.
fn damaged(f: &Fixture, name: &str, damage: impl Fn(&Path)) -> PathBuf {
    let d = f.dir.join(name);
    fs::create_dir_all(&d).unwrap();
    for e in fs::read_dir(&f.data).unwrap() {
        let e = e.unwrap();
        fs::copy(e.path(), d.join(e.file_name())).unwrap();
    }
    damage(&d);
    d
}

/// Runs the binary on `config_text` (written to sweep.yaml) with `args`, and checks the exit
/// status, the one line and its words, and that the records are untouched.
fn check(f: &Fixture, case: &str, config_text: &str, args: &[&str], env: &[(&str, &str)], words: &[&str]) {
    let before = snapshot(&f.dir.join("results"));
    let cfg = f.dir.join("sweep.yaml");
    fs::write(&cfg, config_text).unwrap();
    let mut all = vec![cfg.to_str().unwrap()];
    all.extend_from_slice(args);
    let mut cmd = common::command(&all, None);
    cmd.envs(env.iter().copied());
    let out = cmd.output().unwrap();
    let err = text(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{case}: exit status {:?}\n{err}", out.status);
    assert_eq!(err.trim_end().lines().count(), 1, "{case}: not one line:\n{err}");
    assert!(err.starts_with("error: "), "{case}: {err}");
    for w in words {
        assert!(err.contains(w), "{case}: {err:?} lacks {w:?}");
    }
    assert!(before == snapshot(&f.dir.join("results")), "{case}: the records changed");
    fs::write(&cfg, &f.base).unwrap();
}

#[test]
fn bad_input_fails_with_one_line_and_loses_nothing() {
    let f = fixture("bad-input");
    let base = f.base.as_str();
    let with = |from: &str, to: &str| {
        assert!(base.contains(from), "{from}");
        base.replacen(from, to, 1)
    };
    let data_dir = |d: &Path| with(&format!("dir: {}", f.data.display()), &format!("dir: {}", d.display()));

    check(&f, "malformed YAML", &with("depths: [8]", "depths: [8"), &[], &[], &["sweep.yaml:"]);
    check(&f, "wrong type", &with("batch_size: 16", "batch_size: many"), &[], &[], &["sweep.yaml:3", "many"]);
    check(&f, "unknown key", &with("depths:", "deptsh:"), &[], &[], &["sweep.yaml:2", "deptsh", "depths"]);
    check(&f, "depth 21", &with("[8]", "[21]"), &[], &[], &["sweep.yaml:2", "depths[0] = 21", "6n+2"]);
    check(&f, "empty depths", &with("[8]", "[]"), &[], &[], &["sweep.yaml:2", "depths"]);
    check(
        &f,
        "negative lr",
        &format!("{base}optimizer: {{lr: -1}}\n"),
        &[],
        &[],
        &["sweep.yaml:10", "optimizer.lr = -1"],
    );
    check(
        &f,
        "milestones out of order",
        &with("milestones: [3]", "milestones: [3, 2]"),
        &[],
        &[],
        &["sweep.yaml:6", "schedule.milestones", "increasing"],
    );
    check(
        &f,
        "unknown device",
        &with("device: cpu", "device: gpu"),
        &[],
        &[],
        &["sweep.yaml:4", "device", "gpu"],
    );
    if !tch::Cuda::is_available() {
        check(
            &f,
            "CUDA without a GPU",
            &with("device: cpu", "device: cuda:0"),
            &[],
            &[],
            &["cuda:0", "device: auto or cpu"],
        );
    }
    check(
        &f,
        "threads 0",
        &with("threads: 1", "threads: 0"),
        &[],
        &[],
        &["sweep.yaml:5", "threads", "positive"],
    );
    check(&f, "bad --devices", base, &["--devices", "gpu0"], &[], &["--devices", "gpu0", "cuda:N"]);
    check(
        &f,
        "--only matching nothing",
        base,
        &["--only", "resnet-*"],
        &[],
        &["--only resnet-*", "--dry-run"],
    );

    check(
        &f,
        "--compare with a missing file",
        base,
        &["--compare", "no-such-sweep.yaml"],
        &[],
        &["no-such-sweep.yaml", "cannot read", "check the path"],
    );

    let empty = f.dir.join("empty");
    check(
        &f,
        "missing data, download off",
        &format!(
            "{}data: {{dir: {}, download: false}}\n",
            base.replace(&format!("data: {{dir: {}}}\n", f.data.display()), ""),
            empty.display()
        ),
        &[],
        &[],
        &["no CIFAR-10 files", "empty", "CIFAR10_DIR"],
    );
    check(
        &f,
        "missing data, offline",
        &data_dir(&empty),
        &[],
        &[("CIFAR10_URL", "http://127.0.0.1:9/cifar-10-binary.tar.gz")],
        &["could not download", "CIFAR10_DIR"],
    );
    let truncated = damaged(&f, "truncated", |d| {
        let p = d.join("data_batch_3.bin");
        let bytes = fs::read(&p).unwrap();
        fs::write(&p, &bytes[..bytes.len() - 1000]).unwrap();
    });
    check(&f, "truncated batch file", &data_dir(&truncated), &[], &[], &["data_batch_3.bin", "3073"]);
    let short = damaged(&f, "short", |d| {
        // Whole records, but fewer than the other files hold.
        let p = d.join("data_batch_2.bin");
        let bytes = fs::read(&p).unwrap();
        fs::write(&p, &bytes[..3073 * 30]).unwrap();
    });
    check(&f, "wrong file size", &data_dir(&short), &[], &[], &["data_batch_2.bin", "30"]);
    let label = damaged(&f, "label", |d| {
        let p = d.join("data_batch_1.bin");
        let mut bytes = fs::read(&p).unwrap();
        bytes[3073 * 5] = 10;
        fs::write(&p, bytes).unwrap();
    });
    check(&f, "label 10", &data_dir(&label), &[], &[], &["data_batch_1.bin", "record 5", "label 10"]);

    let blocker = f.dir.join("a-file");
    fs::write(&blocker, "not a folder").unwrap();
    let unwritable = with(
        &format!("results_dir: {}", f.dir.join("results").display()),
        &format!("results_dir: {}", blocker.join("results").display()),
    );
    check(&f, "unwritable results dir", &unwritable, &[], &[], &["results_dir", "a-file", "writable"]);
    check(
        &f,
        "same name, different config",
        &with("batch_size: 16", "batch_size: 32"),
        &[],
        &[],
        &["different config", "exp", "another name", "delete"],
    );
    fs::remove_dir_all(&f.dir).unwrap();
}

/// Temporary files of a crashed process are not an error: the next run removes them (they never
/// replaced a record), says so, and goes on.
#[test]
fn stale_temporary_files_are_removed_and_the_sweep_goes_on() {
    let f = fixture("stale");
    let exp = f.dir.join("results/exp");
    let dead = {
        let mut c = std::process::Command::new("true").spawn().unwrap();
        c.wait().unwrap();
        c.id()
    };
    let host = fs::read_to_string("/proc/sys/kernel/hostname").unwrap().trim().to_string();
    let stale = [
        exp.join(format!(".curves.parquet.tmp-{host}-{dead}")),
        exp.join(format!("plain-8-s0/.run.yaml.tmp-{host}-{dead}")),
        exp.join(format!("checkpoints/.plain-8-s0+residual-8-A-s0.safetensors.tmp-{host}-{dead}")),
    ];
    fs::create_dir_all(exp.join("checkpoints")).unwrap();
    for p in &stale {
        fs::write(p, b"half a file").unwrap();
    }
    // A temporary file of another machine's process may be live: it stays.
    let foreign = exp.join(".curves.parquet.tmp-othernode-12");
    fs::write(&foreign, b"being written elsewhere").unwrap();
    let records = snapshot(&exp.join("residual-8-A-s0"));
    let out = resdeg(&[f.dir.join("sweep.yaml").to_str().unwrap()], None);
    let s = text(&out.stdout);
    assert!(out.status.success(), "{s}{}", text(&out.stderr));
    for p in &stale {
        assert!(!p.exists() && s.contains(&format!("removed {}", p.display())), "{}\n{s}", p.display());
    }
    assert!(foreign.exists());
    assert_eq!(temporaries(&exp), vec![foreign]);
    assert!(records == snapshot(&exp.join("residual-8-A-s0")));
    assert_eq!(s.matches("already done").count(), 2, "{s}");
    fs::remove_dir_all(&f.dir).unwrap();
}
