//! The binary as a user meets it: dry run, a few bad configs, and tiny sweeps on synthetic data
//! (tests/bad_input.rs has every kind of bad input; tests/crash.rs crashes and concurrent workers).

mod common;

use common::{config_in, resdeg, text, tmp};
use std::fs;

#[test]
fn dry_run_lists_the_papers_sweep() {
    let out = resdeg(&["experiments/cifar_depth.yaml", "--dry-run"], None);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let s = text(&out.stdout);
    // 5 plain, 5 residual at seed 0, 4 more ResNet-110, ResNet-1202: 15 runs.
    assert!(s.contains("15 runs"), "{s}");
    assert_eq!(s.lines().filter(|l| l.starts_with("residual-110-A-s")).count(), 5, "{s}");
    assert!(s.contains("residual-1202-A-s0  residual   1202         A     0    19,421,274"), "{s}");
    assert!(!s.contains("plain-1202"), "{s}");
    // Every run gets an estimated time, and the sweep a total.
    let times: Vec<&str> =
        s.lines().filter(|l| l.contains("-s")).map(|l| l.rsplit("  ").next().unwrap()).collect();
    assert_eq!(times.len(), 15, "{s}");
    assert!(
        times.iter().all(|t| ["s", "min", "h", "days"].iter().any(|u| t.trim().ends_with(u))),
        "{times:?}"
    );
    assert!(s.contains("estimated: ") && s.contains("scaled by multiply-adds"), "{s}");
}

#[test]
fn bad_configs_fail_with_one_line() {
    let dir = tmp("bad");
    for (body, want) in [
        ("depths: [21]\n", "bad.yaml:1: depths[0] = 21 is not 6n+2"),
        ("depths: [20]\noptimizer: {lr: -1}\n", "bad.yaml:2: optimizer.lr = -1"),
        ("depths: [20]\nwhat: 1\n", "unknown field `what`"),
        ("depths: [20]\nexplain: {grid_points: 4}\n", "bad.yaml:2: explain.grid_points = 4 must be odd"),
    ] {
        let f = dir.join("bad.yaml");
        fs::write(&f, body).unwrap();
        let out = resdeg(&[f.to_str().unwrap(), "--dry-run"], None);
        assert_eq!(out.status.code(), Some(1));
        let err = text(&out.stderr);
        assert_eq!(err.trim_end().lines().count(), 1, "{err}");
        assert!(err.contains(want), "{err} lacks {want}");
    }
    let out = resdeg(&["no/such.yaml", "--dry-run"], None);
    assert!(text(&out.stderr).contains("no/such.yaml: cannot read"), "{}", text(&out.stderr));
    fs::remove_dir_all(dir).unwrap();
}

#[test]
fn missing_data_offline_says_what_to_do() {
    let dir = tmp("nodata");
    let body =
        format!("depths: [8]\ndevice: cpu\ndata: {{dir: {}, download: false}}\n", dir.join("d").display());
    let cfg = config_in(&dir, "x.yaml", &body);
    let out = resdeg(&[cfg.to_str().unwrap()], None);
    assert_eq!(out.status.code(), Some(1));
    let err = text(&out.stderr);
    assert!(err.contains("no CIFAR-10 files") && err.contains("CIFAR10_DIR"), "{err}");
    fs::remove_dir_all(dir).unwrap();
}

#[test]
fn tiny_sweep_trains_plain_and_residual_twins() {
    let dir = tmp("tiny");
    let data = dir.join("data");
    resdeg::testing::write_synthetic(&data, 64, 5).unwrap();
    let cfg = config_in(
        &dir,
        "tiny.yaml",
        "depths: [8, 14]\nbatch_size: 32\ndevice: cpu\nthreads: 1\nschedule: {iterations: 12, milestones: [8]}\n\
         data: {train_subset: 160}\n",
    );
    let results = dir.join("results");
    let out = resdeg(&[cfg.to_str().unwrap()], Some(data.as_path()));
    let s = text(&out.stdout);
    assert!(out.status.success(), "{s}\n{}", text(&out.stderr));
    assert!(s.contains("160 training images, evaluating on 64 test images"), "{s}");
    // On a CPU the sweep first says how long it should take and that stopping is safe, and each
    // group says when its first step is done, long before its first epoch's line.
    let first = s.lines().next().unwrap_or_default();
    assert!(
        first.starts_with("4 run(s) to train: about ")
            && first.contains("on this CPU at 1 thread(s)")
            && first.ends_with("Ctrl-C is safe: the same command resumes after the last finished epoch."),
        "{s}"
    );
    let line = |pred: &dyn Fn(&str) -> bool| s.lines().position(pred).unwrap_or_else(|| panic!("{s}"));
    for (group, run) in
        [("plain-8-s0 + residual-8-A-s0", "plain-8-s0"), ("plain-14-s0 + residual-14-A-s0", "plain-14-s0")]
    {
        let step = line(&|l| l.starts_with(&format!("{group}: training, iteration 1 of 12 done after ")));
        let epoch = line(&|l| l.starts_with(&format!("{run:<18} epoch   1 ")));
        assert!(step < epoch, "{s}");
    }
    // 5 batches an epoch: epochs end at iterations 5, 10 and 12, the last with the lr divided by 10.
    for (run, layers) in
        [("plain-8-s0", 7), ("residual-8-A-s0", 7), ("plain-14-s0", 13), ("residual-14-A-s0", 13)]
    {
        assert!(s.contains(&format!("{run:<18} epoch   3  it     12/12  lr 0.0100")), "{s}");
        assert!(s.lines().any(|l| l.starts_with(run) && l.contains("finished")), "{s}");
        let d = results.join("tiny").join(run);
        let info = fs::read_to_string(d.join("run.yaml")).unwrap();
        assert!(info.contains("status: finished") && info.contains("libtorch_version: 2.11.0"), "{info}");
        let curves = resdeg::record::read_parquet(&d.join("curves.parquet")).unwrap();
        assert_eq!(curves.height(), 3);
        let table = resdeg::record::read_parquet(&d.join("layer_responses.parquet")).unwrap();
        assert_eq!(table.height(), layers);
        let names: Vec<String> = table.get_column_names().iter().map(|c| c.to_string()).collect();
        assert_eq!(names, ["run_id", "arch", "depth", "layer", "stage", "std", "channel_std"]);
    }
    let all = resdeg::record::read_parquet(&results.join("tiny").join("curves.parquet")).unwrap();
    assert_eq!(all.height(), 12);
    // The gathered table has the per-run schema (pinned in record's own tests).
    let one = resdeg::record::read_parquet(&results.join("tiny/plain-8-s0/curves.parquet")).unwrap();
    assert_eq!(all.schema(), one.schema());
    assert!(s.contains("What the records of tiny say:") && s.contains("depth 14: ResNet-14 is"), "{s}");

    // The same command again finds both runs done and trains nothing.
    let again = resdeg(&[cfg.to_str().unwrap()], Some(data.as_path()));
    let s = text(&again.stdout);
    assert!(again.status.success() && s.matches("already done").count() == 4 && !s.contains("epoch"), "{s}");

    // A different config under the same name is refused, and nothing is overwritten.
    let before = fs::read(results.join("tiny/plain-8-s0/curves.parquet")).unwrap();
    let changed = fs::read_to_string(&cfg).unwrap().replace("batch_size: 32", "batch_size: 16");
    fs::write(&cfg, changed).unwrap();
    let out = resdeg(&[cfg.to_str().unwrap()], Some(data.as_path()));
    assert_eq!(out.status.code(), Some(1));
    assert!(text(&out.stderr).contains("different config"), "{}", text(&out.stderr));
    assert_eq!(fs::read(results.join("tiny/plain-8-s0/curves.parquet")).unwrap(), before);
    fs::remove_dir_all(dir).unwrap();
}

/// After training, a sweep measures each finished run's weights (`explain`), REPORT.md answers
/// why the residual net is easier to optimise, and the figures are drawn; `--explain` skips runs
/// measured before and measures a run again, to the same bytes, once its explained.yaml is gone.
#[test]
fn a_sweep_explains_its_finished_runs() {
    let dir = tmp("explain");
    let data = dir.join("data");
    resdeg::testing::write_synthetic(&data, 64, 5).unwrap();
    let cfg = config_in(
        &dir,
        "why.yaml",
        "depths: [8]\nbatch_size: 32\ndevice: cpu\nthreads: 1\nschedule: {iterations: 12, milestones: [8]}\n\
         data: {train_subset: 160}\nexplain: {slice_points: 5, slice_images: 64, grid_points: 5, grid_images: 32, \
         test_images: 64, lesion_draws: 1, lines: 2, line_points: 8}\n",
    );
    let out = resdeg(&[cfg.to_str().unwrap(), "--quiet"], Some(data.as_path()));
    let s = text(&out.stdout);
    assert!(out.status.success(), "{s}\n{}", text(&out.stderr));
    let runs = dir.join("results/why");
    for run in ["plain-8-s0", "residual-8-A-s0"] {
        assert!(s.contains(&format!("{run}: explained in ")), "{s}");
        for file in [
            "landscape_1d.parquet",
            "landscape_2d.parquet",
            "lesions.parquet",
            "shattered.parquet",
            "explained.yaml",
        ] {
            assert!(runs.join(run).join(file).is_file(), "{run}/{file}");
        }
    }
    assert!(
        runs.join("residual-8-A-s0/branches.parquet").is_file()
            && !runs.join("plain-8-s0/branches.parquet").exists()
    );
    // Training recorded the residual net's branch ratios on the same images and batches: its
    // first point is explain's initialisation, bit for bit, and its last explain's end.
    assert!(!runs.join("plain-8-s0/branch_ratios.parquet").exists());
    let column = |file: &str, name: &str| -> Vec<f64> {
        let df = resdeg::record::read_parquet(&runs.join("residual-8-A-s0").join(file)).unwrap();
        df.column(name).unwrap().f64().unwrap().into_no_null_iter().collect()
    };
    let (ratio, explained) = (column("branch_ratios.parquet", "ratio"), column("branches.parquet", "init"));
    let blocks = explained.len();
    assert_eq!(ratio.len(), 4 * blocks, "at the start and after each of the 3 epochs");
    assert_eq!(ratio[..blocks], explained[..]);
    assert_eq!(ratio[3 * blocks..], column("branches.parquet", "end")[..]);
    let surface = resdeg::record::read_parquet(&runs.join("plain-8-s0/landscape_2d.parquet")).unwrap();
    assert_eq!(surface.height(), 25);
    let report = fs::read_to_string(runs.join("REPORT.md")).unwrap();
    assert!(report.contains("## Why residual nets are easier to optimise"), "{report}");
    assert!(
        report.contains("- Landscape: ResNet-8 (seed 0) lies in")
            && report.contains("- Lesions: deleting one middle block")
            && report.contains("at initialisation; recorded through training, largest "),
        "{report}"
    );
    for png in [
        "explain_landscape_1d",
        "explain_landscape_2d_8",
        "explain_lesions",
        "explain_shattered",
        "explain_branches",
    ] {
        assert!(dir.join(format!("plots/why/{png}.png")).is_file(), "{png}");
        assert!(report.contains(&format!("{png}.png")), "{png} not linked");
    }

    let again = resdeg(&[cfg.to_str().unwrap(), "--explain"], Some(data.as_path()));
    assert!(
        text(&again.stdout).contains("explain: nothing to measure (2 of 2 runs ended"),
        "{}",
        text(&again.stdout)
    );
    let before = common::snapshot(&runs.join("plain-8-s0"));
    fs::remove_file(runs.join("plain-8-s0/explained.yaml")).unwrap();
    let redo = resdeg(&[cfg.to_str().unwrap(), "--explain", "--quiet"], Some(data.as_path()));
    let s = text(&redo.stdout);
    assert!(s.contains("plain-8-s0: explained in ") && !s.contains("residual-8-A-s0: explained"), "{s}");
    let after = common::snapshot(&runs.join("plain-8-s0"));
    for (file, bytes) in before.iter().filter(|(f, _)| f.extension().is_some_and(|e| e == "parquet")) {
        assert!(after[file] == *bytes, "{} changed when measured again", file.display());
    }
    fs::remove_dir_all(dir).unwrap();
}

#[test]
fn diverged_runs_are_marked_and_the_sweep_completes() {
    let dir = tmp("diverge");
    let data = dir.join("data");
    resdeg::testing::write_synthetic(&data, 16, 2).unwrap();
    let cfg = config_in(
        &dir,
        "boom.yaml",
        "depths: [8]\nbatch_size: 16\ndevice: cpu\nthreads: 1\noptimizer: {lr: 1.0e12}\n\
         schedule: {iterations: 10, milestones: []}\n",
    );
    let out = resdeg(&[cfg.to_str().unwrap()], Some(data.as_path()));
    let s = text(&out.stdout);
    assert!(out.status.success(), "{s}\n{}", text(&out.stderr));
    assert!(s.contains("DIVERGED"), "{s}");
    for run in ["plain-8-s0", "residual-8-A-s0"] {
        assert!(s.lines().any(|l| l.starts_with(run) && l.contains("diverged")), "{s}");
        let info = fs::read_to_string(dir.join("results/boom").join(run).join("run.yaml")).unwrap();
        assert!(info.contains("status: diverged"), "{info}");
    }
    fs::remove_dir_all(dir).unwrap();
}

#[test]
fn only_selects_runs_and_fresh_starts_them_over() {
    let dir = tmp("only");
    let data = dir.join("data");
    resdeg::testing::write_synthetic(&data, 16, 3).unwrap();
    let cfg = config_in(
        &dir,
        "sel.yaml",
        "depths: [8]\nbatch_size: 16\ndevice: cpu\nthreads: 1\nschedule: {iterations: 6, milestones: []}\n",
    );
    let c = cfg.to_str().unwrap();
    let out = resdeg(&[c, "--only", "residual-*"], Some(data.as_path()));
    let s = text(&out.stdout);
    assert!(out.status.success() && s.contains("1 runs"), "{s}\n{}", text(&out.stderr));
    assert!(dir.join("results/sel/residual-8-A-s0/run.yaml").is_file());
    assert!(!dir.join("results/sel/plain-8-s0").exists());

    let out = resdeg(&[c, "--only", "resnet-*"], Some(data.as_path()));
    assert_eq!(out.status.code(), Some(1));
    assert!(
        text(&out.stderr).contains("--only resnet-* matches none of the 2 run ids"),
        "{}",
        text(&out.stderr)
    );

    let out = resdeg(&[c, "--only", "residual-*"], Some(data.as_path()));
    assert!(text(&out.stdout).contains("already done"));
    let out = resdeg(&[c, "--only", "residual-*", "--fresh"], Some(data.as_path()));
    let s = text(&out.stdout);
    assert!(!s.contains("already done") && s.contains("residual-8-A-s0    epoch"), "{s}");
    fs::remove_dir_all(dir).unwrap();
}

/// `--slurm` writes a job-array script with one task per lockstep group (or per run): every run
/// id of the sweep exactly once, an array of the same size, each task resuming its runs with
/// `--only`.
#[test]
fn slurm_script_has_one_array_task_per_group() {
    let dir = tmp("slurm");
    let sweep = fs::read_to_string("experiments/cifar_depth.yaml").unwrap();
    let cfg = config_in(&dir, "cifar_depth.yaml", &format!("{sweep}\n"));
    let c = cfg.to_str().unwrap();
    let script = dir.join("job.sh");
    let out =
        resdeg(&[c, "--slurm", script.to_str().unwrap(), "--partition", "gpu", "--time", "8:00:00"], None);
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert!(text(&out.stdout).contains("sbatch"), "{}", text(&out.stdout));
    let ids: Vec<String> = text(&resdeg(&[c, "--dry-run"], None).stdout)
        .lines()
        .skip(2)
        .filter(|l| !l.starts_with("estimated:"))
        .map(|l| l.split_whitespace().next().unwrap().to_string())
        .collect();
    assert_eq!(ids.len(), 15);
    let s = fs::read_to_string(&script).unwrap();
    let tasks = |s: &str| -> Vec<String> {
        s.lines()
            .skip_while(|l| *l != "runs=(")
            .skip(1)
            .take_while(|l| *l != ")")
            .map(|l| l.trim().into())
            .collect()
    };
    // By default a task per lockstep group: 5 plain/residual pairs, 4 more ResNet-110, ResNet-1202.
    let listed = tasks(&s);
    assert_eq!(listed.len(), 10, "{s}");
    assert!(listed.contains(&"plain-56-s0,residual-56-A-s0".to_string()), "{s}");
    let flat: Vec<&str> = listed.iter().flat_map(|t| t.split(',')).collect();
    assert_eq!(flat, ids, "every run exactly once, in sweep order:\n{s}");
    for must in
        ["#SBATCH --array=0-9\n", "#SBATCH --partition=gpu\n", "#SBATCH --time=8:00:00\n", "--requeue"]
    {
        assert!(s.contains(must), "{must:?} missing:\n{s}");
    }
    assert!(s.contains(&format!("'{}' --only \"${{runs[$SLURM_ARRAY_TASK_ID]}}\"", cfg.display())), "{s}");
    // --slurm-per run: a task per run.
    let per_run = dir.join("per-run.sh");
    let out = resdeg(&[c, "--slurm", per_run.to_str().unwrap(), "--slurm-per", "run"], None);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let s = fs::read_to_string(&per_run).unwrap();
    assert_eq!(tasks(&s), ids, "{s}");
    assert!(s.contains("#SBATCH --array=0-14\n"), "{s}");
    let syntax = std::process::Command::new("bash").arg("-n").arg(&script).status().unwrap();
    assert!(syntax.success());
    fs::remove_dir_all(dir).unwrap();
}

/// Without `threads`, a process uses no more CPUs than it may: its affinity mask (`taskset`) and
/// Slurm's `SLURM_CPUS_PER_TASK` cap libtorch's default.
#[test]
fn threads_follow_the_allocation() {
    let dir = tmp("threads");
    let cfg = dir.join("t.yaml");
    fs::write(&cfg, "depths: [8]\nbatch_size: 16\ndevice: cpu\n").unwrap();
    let c = cfg.to_str().unwrap();
    let threads = |out: std::process::Output| -> String {
        let s = text(&out.stdout);
        assert!(out.status.success(), "{}", text(&out.stderr));
        s.lines().next().unwrap().rsplit("on cpu ").next().unwrap().to_string()
    };
    let mut slurm = common::command(&[c, "--dry-run"], None);
    slurm.env("SLURM_CPUS_PER_TASK", "1");
    assert_eq!(threads(slurm.output().unwrap()), "(1 threads)");
    if std::process::Command::new("taskset").arg("-V").output().is_ok() {
        let mut taskset = std::process::Command::new("taskset");
        taskset
            .args(["-c", "0", env!("CARGO_BIN_EXE_resdeg"), c, "--dry-run"])
            .env_remove("SLURM_CPUS_PER_TASK");
        assert_eq!(threads(taskset.output().unwrap()), "(1 threads)");
    } else {
        println!("taskset not found: the affinity half of this test is skipped");
    }
    // The config's threads win over the allocation.
    fs::write(&cfg, "depths: [8]\nbatch_size: 16\ndevice: cpu\nthreads: 3\n").unwrap();
    let mut set = common::command(&[c, "--dry-run"], None);
    set.env("SLURM_CPUS_PER_TASK", "1");
    assert_eq!(threads(set.output().unwrap()), "(3 threads)");
    fs::remove_dir_all(dir).unwrap();
}

/// `--status` on a sweep in progress: a finished group, a group being trained (who, epoch k of K),
/// then, once its worker is killed, stalled; nothing blocks the worker meanwhile.
#[test]
fn status_shows_a_live_sweep() {
    let dir = tmp("status");
    let data = dir.join("data");
    resdeg::testing::write_synthetic(&data, 32, 5).unwrap();
    let cfg = config_in(
        &dir,
        "st.yaml",
        "depths: [8, 14]\nbatch_size: 16\ndevice: cpu\nthreads: 1\nlayer_responses: false\n\
         schedule: {iterations: 3000, milestones: []}\ndata: {train_subset: 160}\neval_every: 1000\n",
    );
    let c = cfg.to_str().unwrap();
    let status = || text(&resdeg(&[c, "--status"], None).stdout);
    let s = status();
    assert!(s.contains("4 runs: 4 pending"), "{s}");

    // Depth 8 trained by a worker in the background; depth 14 not started.
    let mut worker = common::command(&[c, "--only", "*-8-*,*-8", "--quiet"], Some(data.as_path()))
        .stdout(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(120);
    let s = loop {
        let s = status();
        let ready = s.contains("2 running") && s.matches("of 300, iteration").count() == 2;
        if ready || std::time::Instant::now() > deadline {
            break s;
        }
        std::thread::sleep(std::time::Duration::from_millis(300));
    };
    let line = |s: &str, id: &str| {
        s.lines().find(|l| l.starts_with(&format!("{id} "))).unwrap_or_default().to_string()
    };
    for id in ["plain-8-s0", "residual-8-A-s0"] {
        let l = line(&s, id);
        assert!(l.contains(" running ") && l.contains("of 300, iteration") && l.contains("left"), "{s}");
        assert!(l.contains(&format!("by {}-{}", resdeg::record::host(), worker.id())), "{s}");
    }
    assert!(line(&s, "plain-14-s0").contains(" pending"), "{s}");
    assert!(s.contains("4 runs: 2 running, 2 pending"), "{s}");

    // Killed: the lock is gone, the checkpoint stays: stalled, and resumable.
    worker.kill().unwrap();
    worker.wait().unwrap();
    let s = status();
    assert!(line(&s, "residual-8-A-s0").contains(" stalled ") && s.contains("else rerun the command"), "{s}");
    // Each run's line carries its own latest training error, read from the group's checkpoint.
    let ck = dir.join("results/st/checkpoints/plain-8-s0+residual-8-A-s0.safetensors");
    for (id, curves) in resdeg::checkpoint::position(&ck).unwrap().curves {
        let e = format!("training error {:.2}%", 100.0 * curves.last().unwrap().train_error);
        assert!(line(&s, &id).contains(&e), "{id}: {e}\n{s}");
    }
    // The time left: the pair's at its own pace, split by multiply-adds; a run not started, all its
    // iterations at that pace per multiply-add; their sum on the last line.
    let config = resdeg::config::Config::load(&cfg).unwrap();
    let runs = resdeg::plan::runs(&config);
    let lines = resdeg::status::lines(&config, &runs);
    let left = |id: &str| lines.iter().find(|l| l.run_id == id).and_then(|l| l.left_s).unwrap();
    let run = |id: &str| runs.iter().find(|r| r.id == id).unwrap();
    let its_left = 3000 - resdeg::checkpoint::position(&ck).unwrap().iteration;
    let per_flop = |id: &str| left(id) / run(id).flops() as f64;
    assert!((per_flop("plain-8-s0") / per_flop("residual-8-A-s0") - 1.0).abs() < 1e-12, "{lines:?}");
    for id in ["plain-14-s0", "residual-14-A-s0"] {
        let ratio = per_flop(id) / per_flop("plain-8-s0");
        assert!((ratio - 3000.0 / its_left as f64).abs() < 1e-9, "{id}: {ratio}, {its_left} left\n{lines:?}");
    }
    let sum: f64 = lines.iter().filter_map(|l| l.left_s).sum();
    let last = s.lines().last().unwrap();
    assert!(last.contains(&format!("about {} of training left", resdeg::plan::duration(sum))), "{sum}: {s}");
    // Copied or checked out elsewhere, the checkpoint's file time is new or old; its age is the
    // time it says it was written.
    for ck in fs::read_dir(dir.join("results/st/checkpoints")).unwrap() {
        let f = fs::File::options().write(true).open(ck.unwrap().path()).unwrap();
        f.set_modified(std::time::UNIX_EPOCH + std::time::Duration::from_secs(946_684_800)).unwrap();
    }
    let l = line(&status(), "plain-8-s0");
    assert!(l.contains("last record") && (l.contains(" s ago") || l.contains(" min ago")), "{l}");
    fs::remove_dir_all(dir).unwrap();
}

/// run.yaml names the data by checksum and keeps every sitting: a run killed after its first
/// epoch and resumed lists two, the first closed at the checkpoint it left. A run resumed, or a
/// sweep extended, on other files is refused with one line, and nothing recorded is touched.
#[test]
fn run_records_name_their_data_and_every_sitting() {
    let dir = tmp("sittings");
    let data = dir.join("data");
    resdeg::testing::write_synthetic(&data, 32, 4).unwrap();
    let body = "depths: [8]\nbatch_size: 16\ndevice: cpu\nthreads: 1\nschedule: {iterations: 15, milestones: [10]}\n\
                data: {train_subset: 96}\n";
    let cfg = config_in(&dir, "sit.yaml", body);
    // Killed during iteration 9 (epoch 2), after epoch 1's checkpoint (6 iterations).
    let only = [cfg.to_str().unwrap(), "--only", "plain-8-s0"];
    let out = common::command(&only, Some(&data)).env("RESDEG_CRASH_AT", "iteration:9").output().unwrap();
    assert!(!out.status.success());
    // The checkpoint copied or checked out elsewhere: its file time no longer says when it was
    // written, and the first sitting's end must not come from it.
    for ck in fs::read_dir(dir.join("results/sit/checkpoints")).unwrap() {
        let f = fs::File::options().write(true).open(ck.unwrap().path()).unwrap();
        f.set_modified(std::time::UNIX_EPOCH + std::time::Duration::from_secs(946_684_800)).unwrap();
    }
    let out = resdeg(&only, Some(&data));
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert!(
        text(&out.stdout).contains("data: not confirmed as the official CIFAR-10"),
        "{}",
        text(&out.stdout)
    );
    let yaml = dir.join("results/sit/plain-8-s0/run.yaml");
    let info = resdeg::record::RunInfo::read(&yaml).unwrap();
    let id = info.data.as_ref().expect("data recorded");
    assert_eq!(id.dir, std::path::absolute(&data).unwrap());
    assert_eq!(id.files.len(), 6);
    assert!(!id.official);
    assert_eq!(id, &resdeg::data::identify(&data).unwrap());
    let s = &info.sittings;
    assert_eq!(s.len(), 2, "{s:?}");
    assert_eq!(
        (s[0].from_iteration, s[0].to_iteration, s[1].from_iteration, s[1].to_iteration),
        (0, Some(6), 6, Some(15))
    );
    assert!(s[0].ended.is_some() && s[1].ended == info.ended);
    let ended = s[0].ended.as_deref().unwrap();
    assert!(ended >= s[0].started.as_str() && ended <= s[1].started.as_str(), "{s:?}");
    assert!(s[1].environment.host == resdeg::record::host() && !s[1].environment.cpu.is_empty());
    let status = resdeg(&[cfg.to_str().unwrap(), "--status"], None);
    // The wall time of its two sittings, the pause between them left out: seconds here.
    assert!(text(&status.stdout).contains(" s of wall time in 2 sittings"), "{}", text(&status.stdout));
    // An ended run's line gives its final errors, as its curves recorded them.
    let df = resdeg::record::read_parquet(&dir.join("results/sit/plain-8-s0/curves.parquet")).unwrap();
    let last = |c: &str| 100.0 * df.column(c).unwrap().f64().unwrap().get(df.height() - 1).unwrap();
    let e =
        format!("final training error {:.2}%, test error {:.2}%", last("train_error"), last("test_error"));
    assert!(text(&status.stdout).contains(&e), "{e}\n{}", text(&status.stdout));
    let report = fs::read_to_string(dir.join("results/sit/REPORT.md")).unwrap();
    assert!(
        report.contains("plain-8-s0 in 2 sittings") && report.contains("Data: not confirmed"),
        "{report}"
    );

    // The rest of the sweep, on changed files: refused before anything is trained.
    let before = common::snapshot(&dir.join("results"));
    let mut bytes = fs::read(data.join("data_batch_2.bin")).unwrap();
    bytes[5] ^= 1;
    fs::write(data.join("data_batch_2.bin"), bytes).unwrap();
    let out = resdeg(&[cfg.to_str().unwrap()], Some(&data));
    assert_eq!(out.status.code(), Some(1));
    let err = text(&out.stderr);
    assert_eq!(err.trim_end().lines().count(), 1, "{err}");
    assert!(
        err.contains("plain-8-s0/run.yaml was trained on other data")
            && err.contains("data_batch_2.bin (SHA-256 "),
        "{err}"
    );
    assert_eq!(common::snapshot(&dir.join("results")), before);
    fs::remove_dir_all(dir).unwrap();
}
