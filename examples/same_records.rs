//! `cargo run --example same_records -- A B`: do two results folders of one experiment hold the same
//! records? Every run's curves.parquet and layer_responses.parquet must be equal, timing columns
//! aside, its gradient_norms.parquet and branch_ratios.parquet too where either folder has one,
//! and every run.yaml must say the same status. scripts/slurm-test uses it to compare runs
//! trained by Slurm array tasks (one of them requeued mid-run) with the same sweep trained locally
//! in one process. Prints each difference and exits non-zero when there is one.

use anyhow::{Context, Result, bail};
use polars::prelude::*;
use resdeg::record::{RunInfo, Status, read_parquet};
use std::path::{Path, PathBuf};

/// Columns that measure the machine, not the training.
const TIMING: [&str; 2] = ["elapsed_s", "images_per_s"];

/// Each run's record files, and whether every run must have it. The others are compared where
/// either folder has one: gradient norms when the config asks for them, branch ratios for
/// residual nets.
const FILES: [(&str, bool); 4] = [
    ("curves.parquet", true),
    ("layer_responses.parquet", true),
    ("gradient_norms.parquet", false),
    ("branch_ratios.parquet", false),
];

fn main() -> Result<()> {
    let args: Vec<PathBuf> = std::env::args_os().skip(1).map(PathBuf::from).collect();
    let [a, b] = args.as_slice() else {
        bail!("usage: same_records RESULTS_A RESULTS_B (two results/<experiment> folders)");
    };
    let (runs_a, runs_b) = (runs(a)?, runs(b)?);
    if runs_a != runs_b {
        bail!(
            "the folders hold different runs: {runs_a:?} in {} against {runs_b:?} in {}",
            a.display(),
            b.display()
        );
    }
    if runs_a.is_empty() {
        bail!("{} holds no run folders", a.display());
    }
    let mut differences = Vec::new();
    for run in &runs_a {
        for (file, required) in FILES {
            let (pa, pb) = (a.join(run).join(file), b.join(run).join(file));
            if !required && !pa.exists() && !pb.exists() {
                continue;
            }
            let (x, y) = (frame(&pa)?, frame(&pb)?);
            if let Some(what) = difference(&x, &y) {
                differences.push(format!("{run}/{file}: {what}"));
            }
        }
        let (x, y) = (status(&a.join(run))?, status(&b.join(run))?);
        if x != y {
            differences.push(format!("{run}: status {} against {}", x.as_str(), y.as_str()));
        }
    }
    if !differences.is_empty() {
        bail!("{}", differences.join("\n"));
    }
    println!(
        "same records: {} runs (curves, layer responses, gradient norms, branch ratios, status; timing columns aside)",
        runs_a.len()
    );
    Ok(())
}

/// Which columns differ (or that the shapes do), or None when the frames are equal.
fn difference(x: &DataFrame, y: &DataFrame) -> Option<String> {
    if x.shape() != y.shape() || x.get_column_names() != y.get_column_names() {
        return Some(format!("shape {:?} against {:?}", x.shape(), y.shape()));
    }
    let columns: Vec<String> = x
        .columns()
        .iter()
        .zip(y.columns())
        .filter(|(a, b)| !a.as_materialized_series().equals_missing(b.as_materialized_series()))
        .map(|(a, _)| a.name().to_string())
        .collect();
    (!columns.is_empty()).then(|| format!("column(s) {} differ", columns.join(", ")))
}

/// The run folders (those with a run.yaml), sorted.
fn runs(dir: &Path) -> Result<Vec<String>> {
    let entries = std::fs::read_dir(dir).with_context(|| format!("cannot read {}", dir.display()))?;
    let mut names: Vec<String> = entries
        .flatten()
        .filter(|e| e.path().join("run.yaml").is_file())
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    Ok(names)
}

fn frame(path: &Path) -> Result<DataFrame> {
    let df = read_parquet(path)?;
    let keep: Vec<PlSmallStr> =
        df.get_column_names().into_iter().filter(|c| !TIMING.contains(&c.as_str())).cloned().collect();
    Ok(df.select(keep)?)
}

fn status(run_dir: &Path) -> Result<Status> {
    Ok(RunInfo::read(&run_dir.join("run.yaml"))?.status)
}
