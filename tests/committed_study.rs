//! The CPU studies shipped in the repository (a config under experiments/ whose experiment is
//! named <study>, wherever it sits; its records in results/<study>/ and its figures in
//! plots/<study>/) are what `--report` draws from those
//! records alone: redrawn in a temporary folder, every figure, Table 6 and REPORT.md is
//! byte-identical to the committed one, and so is a committed comparison with another study
//! (`vs_<other>.md` and its figure, drawn by `--compare` from both studies' records). So the
//! figures README shows cannot drift from the records.

mod common;
use common::{command, text, tmp};
use std::fs;
use std::path::{Path, PathBuf};

fn files(dir: &Path) -> Vec<PathBuf> {
    let mut out: Vec<PathBuf> = fs::read_dir(dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .flatten()
        .map(|e| e.path())
        .filter(|p| p.is_file())
        .collect();
    out.sort();
    out
}

fn copy_dir(from: &Path, to: &Path) {
    fs::create_dir_all(to).unwrap();
    for entry in fs::read_dir(from).unwrap().flatten() {
        let p = entry.path();
        if p.is_dir() {
            copy_dir(&p, &to.join(entry.file_name()));
        } else {
            fs::copy(&p, to.join(entry.file_name())).unwrap();
        }
    }
}

/// The config of the experiment named `name`, wherever it sits under experiments/: results are
/// named by the experiment, not by its file's place.
fn config_of(name: &str) -> PathBuf {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("experiments");
    let mut dirs = vec![root.clone()];
    while let Some(d) = dirs.pop() {
        let mut entries: Vec<PathBuf> = fs::read_dir(&d).unwrap().flatten().map(|e| e.path()).collect();
        entries.sort();
        for p in entries {
            if p.is_dir() {
                dirs.push(p);
            } else if p.extension().is_some_and(|e| e == "yaml")
                && resdeg::config::Config::load(&p).is_ok_and(|c| c.name == name)
            {
                return p;
            }
        }
    }
    panic!("no config under {} names the experiment {name}", root.display())
}

/// `runs` is how many runs the study holds, so a run folder lost from the commit fails here.
fn redraws_identically(study: &str, runs: usize) {
    let repo = Path::new(env!("CARGO_MANIFEST_DIR"));
    let (results, plots) = (repo.join("results").join(study), repo.join("plots").join(study));
    let dir = tmp(&format!("committed-{study}"));
    let config = format!("{study}.yaml");
    fs::copy(config_of(study), dir.join(&config)).unwrap();
    let copy = dir.join("results").join(study);
    copy_dir(&results, &copy);
    // What --report and --compare write must come from the records, not from the copy.
    for f in ["table6.md", "table6.csv", "REPORT.md"] {
        fs::remove_file(copy.join(f)).unwrap_or_else(|e| panic!("results/{study}/{f} is not committed: {e}"));
    }
    let others: Vec<String> = files(&results)
        .iter()
        .filter_map(|p| p.file_name()?.to_str()?.strip_prefix("vs_")?.strip_suffix(".md").map(String::from))
        .collect();
    for other in &others {
        fs::remove_file(copy.join(format!("vs_{other}.md"))).unwrap();
        let config = format!("{other}.yaml");
        fs::copy(config_of(other), dir.join(&config)).unwrap();
        copy_dir(&repo.join("results").join(other), &dir.join("results").join(other));
    }
    let held = fs::read_dir(&copy).unwrap().flatten().filter(|e| e.path().join("run.yaml").is_file()).count();
    assert_eq!(held, runs, "runs in results/{study}");

    // The config's results_dir and plots_dir are relative: run from the temporary folder.
    let out = command(&[&config, "--report"], None).current_dir(&dir).output().unwrap();
    assert!(out.status.success(), "{}{}", text(&out.stdout), text(&out.stderr));
    for other in &others {
        let out = command(&[&config, "--compare", &format!("{other}.yaml")], None)
            .current_dir(&dir)
            .output()
            .unwrap();
        assert!(out.status.success(), "{}{}", text(&out.stdout), text(&out.stderr));
    }

    let mut compared = 0;
    for (committed, redrawn) in [(&results, &copy), (&plots, &dir.join("plots").join(study))] {
        let names = |d: &Path| files(d).iter().map(|p| p.file_name().unwrap().to_owned()).collect::<Vec<_>>();
        assert_eq!(
            names(committed),
            names(redrawn),
            "files in {} and the redrawn {}",
            committed.display(),
            redrawn.display()
        );
        for f in files(committed) {
            let name = f.file_name().unwrap();
            let how = match f.file_stem().and_then(|n| n.to_str()?.strip_prefix("vs_")) {
                Some(other) => {
                    format!("--compare {}", config_of(other).strip_prefix(repo).unwrap().display())
                }
                None => "--report".into(),
            };
            assert!(
                fs::read(&f).unwrap() == fs::read(redrawn.join(name)).unwrap(),
                "{} differs from what {how} draws from the committed records; redraw with `resdeg {} {how}` and commit",
                f.display(),
                config_of(study).strip_prefix(repo).unwrap().display()
            );
            compared += 1;
        }
    }
    // At least REPORT.md, Table 6 (.md, .csv) and two figures.
    assert!(compared >= 5, "compared {compared} files");
    let _ = fs::remove_dir_all(&dir);
}

#[test]
fn the_committed_study_redraws_identically_from_its_records() {
    redraws_identically("cpu_study", 4);
}

#[test]
fn the_long_study_redraws_identically_from_its_records() {
    redraws_identically("cpu_study_long", 4);
}

#[test]
fn the_bf16_study_redraws_identically_from_its_records() {
    redraws_identically("cpu_study_bf16", 12);
}

#[test]
fn the_fp32_10k_study_and_its_comparison_with_bf16_redraw_identically() {
    redraws_identically("cpu_study_10k", 4);
}

#[test]
fn the_data_copy_study_and_its_comparison_with_bf16_redraw_identically() {
    redraws_identically("data_copy_jpeg50_10k", 3);
}

#[test]
fn the_data_copy_study_of_resnet32_and_its_comparison_with_bf16_redraw_identically() {
    redraws_identically("data_copy_jpeg50_32_10k", 3);
}

/// cpu_study_bf16's ResNets of seeds 1 and 2 retrained in fp32, against their bf16 runs.
#[test]
fn the_bf16_cost_study_and_its_comparison_with_bf16_redraw_identically() {
    redraws_identically("bf16_cost_resnet_10k", 4);
}

#[test]
fn the_data_copy_study_at_the_papers_schedule_and_its_comparison_redraw_identically() {
    redraws_identically("data_copy_jpeg50", 1);
}

#[test]
fn the_papers_schedule_study_redraws_identically() {
    redraws_identically("paper_20_32", 4);
}

/// Seed 1's ResNet-20 and ResNet-32 at the paper's schedule, both finished.
#[test]
fn the_papers_schedule_second_seed_redraws_identically() {
    redraws_identically("paper_resnets_s1", 2);
}

/// Seed 0's ResNets at the paper's schedule in fp32, against paper_20_32's bf16 runs.
#[test]
fn the_papers_schedule_in_fp32_and_its_comparison_with_bf16_redraw_identically() {
    redraws_identically("paper_resnets_fp32", 2);
}

/// Seed 1's ResNets at the paper's schedule in fp32, against paper_resnets_s1's bf16 runs.
#[test]
fn the_papers_schedule_second_seed_in_fp32_and_its_comparison_with_bf16_redraw_identically() {
    redraws_identically("paper_resnets_fp32_s1", 2);
}

/// The quick experiment with its `--explain` records: REPORT.md's "why" section and the
/// landscape, lesion, shattered-gradient and branch figures redrawn from them.
#[test]
fn the_quick_experiment_explained_redraws_identically() {
    redraws_identically("quick", 4);
}
