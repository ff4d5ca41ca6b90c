//! What a run leaves on disk, in `results/<experiment>/<run_id>/`: `curves.parquet` (a row per
//! epoch), `layer_responses.parquet` (a row per 3x3 layer), `gradient_norms.parquet` (a row per
//! point of training and 3x3 layer), `branch_ratios.parquet` (residual nets: a row per point of
//! training and block) and `run.yaml` (the resolved config, the environment and the status). `results/<experiment>/curves.parquet` gathers every run's
//! curves. Every file appears atomically (temporary file, then rename). Only this module knows
//! Parquet.

use crate::config::Config;
use crate::data::DataIdentity;
use crate::measure::{Branches, Gradients, LayerGradient};
use crate::model;
use crate::plan::Run;
use anyhow::{Context, Result};
use polars::prelude::*;
use serde::{Deserialize, Serialize};
use std::fs;
use std::path::{Path, PathBuf};

pub mod explain;
mod run_yaml;
pub mod weights;
pub use run_yaml::{Environment, Resumed, RunInfo, Sitting, host, now, who};

// What runs produce and what is read back: the types that training, the report and this module
// share live here, below their users, so that arrows run one way.

/// One row of a run's curves: the state after an epoch (errors are fractions in [0, 1]).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct EpochRecord {
    pub epoch: u64,
    /// Iterations done so far.
    pub iteration: u64,
    /// The rate of the epoch's last iteration.
    pub lr: f64,
    /// Averaged over the epoch's batches (in train mode, augmented).
    pub train_loss: f64,
    pub train_error: f64,
    /// On the evaluation images in eval mode; None in epochs without evaluation.
    pub test_loss: Option<f64>,
    pub test_error: Option<f64>,
    /// Training time of the run so far, across resumptions.
    pub elapsed_s: f64,
    /// Training images through this net per second in this epoch.
    pub images_per_s: f64,
}

/// When and why a group's warm-up ended; recorded in each member's run.yaml.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct WarmupEnd {
    /// The last iteration trained at the warm-up rate.
    pub iteration: u64,
    /// `threshold` (a member's running training error fell below `until_train_error`) or `cap`
    /// (`max_iterations` reached first).
    pub reason: String,
    /// The running training error (last 20 batches) of the member that ended it, or the best
    /// member's at the cap.
    pub running_train_error: f64,
    pub ended_by: String,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Status {
    Running,
    Finished,
    Diverged,
}

impl Status {
    /// Finished or diverged: nothing left to train.
    pub fn ended(self) -> bool {
        self != Status::Running
    }

    /// As run.yaml writes it.
    pub fn as_str(self) -> &'static str {
        match self {
            Status::Running => "running",
            Status::Finished => "finished",
            Status::Diverged => "diverged",
        }
    }
}

/// What a run produced.
#[derive(Debug)]
pub struct Outcome {
    pub run: Run,
    pub status: Status,
    pub curves: Vec<EpochRecord>,
    /// The std of every 3x3 layer's response on the evaluation images, network order.
    pub responses: Option<Vec<model::LayerStd>>,
    /// The loss gradient at every 3x3 layer at each point measured (empty when not recorded).
    pub gradients: Vec<Gradients>,
    /// Each residual block's branch ratio at each point measured (empty when not recorded).
    pub branches: Vec<Branches>,
    /// None for nets that do not warm up, or whose warm-up has not ended.
    pub warmup: Option<WarmupEnd>,
    /// The final weights as PyTorch names them (`model::state_dict`), for a finished run.
    pub weights: Option<Vec<(String, tch::Tensor)>>,
}

/// One evaluation row of a run's curves.
#[derive(Debug, Clone, PartialEq)]
pub struct Row {
    pub iteration: u64,
    pub train_error: f64,
    pub test_error: Option<f64>,
    /// Training time of its lockstep group so far (evaluations excluded); NaN where not recorded.
    pub elapsed_s: f64,
}

/// A recorded run: its rows in order and its status from run.yaml (None without one).
#[derive(Debug, Clone, PartialEq)]
pub struct RunCurve {
    pub run: Run,
    pub status: Option<Status>,
    pub rows: Vec<Row>,
    /// What its run.yaml says it trained on, and in how many sittings.
    pub data: Option<DataIdentity>,
    pub sittings: usize,
}

impl RunCurve {
    /// Whether its run.yaml says it diverged (its numbers then count in no statistic).
    pub fn diverged(&self) -> bool {
        self.status == Some(Status::Diverged)
    }
}

/// The folder of one experiment's results.
pub fn experiment_dir(cfg: &Config) -> PathBuf {
    cfg.results_dir.join(&cfg.name)
}

/// The folder of one run's results.
pub fn run_dir(cfg: &Config, run: &Run) -> PathBuf {
    experiment_dir(cfg).join(&run.id)
}

/// The checkpoint of runs training in lockstep: one file for the group, so that its members can
/// never be resumed from different epochs.
pub fn checkpoint_path(cfg: &Config, runs: &[Run]) -> PathBuf {
    let ids: Vec<&str> = runs.iter().map(|r| r.id.as_str()).collect();
    checkpoint_dir(cfg).join(format!("{}.safetensors", ids.join("+")))
}

pub fn checkpoint_dir(cfg: &Config) -> PathBuf {
    experiment_dir(cfg).join("checkpoints")
}

/// Deletes everything recorded for `run`: its folder and any checkpoint it is part of (--fresh).
pub fn forget(cfg: &Config, run: &Run) -> Result<()> {
    let dir = run_dir(cfg, run);
    if dir.exists() {
        fs::remove_dir_all(&dir).with_context(|| format!("cannot delete {}", dir.display()))?;
    }
    for path in checkpoints_of(cfg, run) {
        fs::remove_file(&path).with_context(|| format!("cannot delete {}", path.display()))?;
    }
    Ok(())
}

/// The checkpoints that hold `run`: its group's, or its own when the twins train apart.
pub fn checkpoints_of(cfg: &Config, run: &Run) -> Vec<PathBuf> {
    let entries = fs::read_dir(checkpoint_dir(cfg)).into_iter().flatten().flatten();
    entries
        .filter(|entry| {
            let name = entry.file_name().to_string_lossy().into_owned();
            let stem = name.strip_suffix(".safetensors").unwrap_or(&name).to_string();
            stem.split('+').any(|id| id == run.id)
        })
        .map(|entry| entry.path())
        .collect()
}

/// Has `write` fill a temporary file beside `path`, then renames it into place, so that readers
/// (and a rerun after a crash) see either the old file or the whole new one. The temporary name,
/// `.<name>.tmp-<host>-<pid>`, says who wrote it, so that leftovers of a crash can be told apart
/// from files being written (`claim`).
pub fn write_atomic(path: &Path, write: impl FnOnce(&Path) -> Result<()>) -> Result<()> {
    let dir = path.parent().context("a results file has a folder")?;
    fs::create_dir_all(dir).with_context(|| format!("cannot create {}; check results_dir", dir.display()))?;
    let name = path.file_name().and_then(|n| n.to_str()).unwrap_or("file");
    let tmp = dir.join(format!(".{name}.tmp-{}", who()));
    let result = write(&tmp).and_then(|()| {
        crate::testing::crash_point(|| format!("write:{name}"));
        fs::File::open(&tmp)?.sync_all()?;
        fs::rename(&tmp, path).with_context(|| format!("cannot move {} into place", path.display()))
    });
    if result.is_err() {
        let _ = fs::remove_file(&tmp);
    }
    result
}

fn write_parquet(path: &Path, mut df: DataFrame) -> Result<()> {
    write_atomic(path, |tmp| {
        let f = fs::File::create(tmp).with_context(|| format!("cannot write {}", tmp.display()))?;
        ParquetWriter::new(f).finish(&mut df)?;
        Ok(())
    })
}

pub fn read_parquet(path: &Path) -> Result<DataFrame> {
    let f = fs::File::open(path).with_context(|| format!("cannot read {}", path.display()))?;
    ParquetReader::new(f).finish().map_err(|e| {
        anyhow::anyhow!("{} is not a readable Parquet file ({e}); delete it and rerun", path.display())
    })
}

/// A run's curves as a table with the columns of `curves.parquet`.
pub fn curves_frame(run: &Run, curves: &[EpochRecord]) -> Result<DataFrame> {
    let n = curves.len();
    let col = |f: fn(&EpochRecord) -> f64| curves.iter().map(f).collect::<Vec<f64>>();
    Ok(df!(
        "run_id" => vec![run.id.as_str(); n],
        "arch" => vec![run.arch.to_string(); n],
        "depth" => vec![run.depth; n],
        "shortcut" => vec![run.shortcut.to_string(); n],
        "seed" => vec![run.seed; n],
        "epoch" => curves.iter().map(|r| r.epoch).collect::<Vec<u64>>(),
        "iteration" => curves.iter().map(|r| r.iteration).collect::<Vec<u64>>(),
        "lr" => col(|r| r.lr),
        "train_loss" => col(|r| r.train_loss),
        "train_error" => col(|r| r.train_error),
        "test_loss" => curves.iter().map(|r| r.test_loss).collect::<Vec<Option<f64>>>(),
        "test_error" => curves.iter().map(|r| r.test_error).collect::<Vec<Option<f64>>>(),
        "elapsed_s" => col(|r| r.elapsed_s),
        "images_per_s" => col(|r| r.images_per_s),
    )?)
}

/// A run's layer responses with the columns of `layer_responses.parquet`.
pub fn responses_frame(run: &Run, stds: &[model::LayerStd]) -> Result<DataFrame> {
    let n = stds.len();
    Ok(df!(
        "run_id" => vec![run.id.as_str(); n],
        "arch" => vec![run.arch.to_string(); n],
        "depth" => vec![run.depth; n],
        "layer" => (1..=n as u32).collect::<Vec<u32>>(),
        "stage" => model::conv_stages(run.depth),
        "std" => stds.iter().map(|s| s.std).collect::<Vec<f64>>(),
        "channel_std" => stds.iter().map(|s| s.channel_std).collect::<Vec<f64>>(),
    )?)
}

/// A run's gradient norms with the columns of `gradient_norms.parquet`: a row per point of
/// training and 3x3 layer.
pub fn gradients_frame(run: &Run, points: &[Gradients]) -> Result<DataFrame> {
    let rows: Vec<(&Gradients, usize, &LayerGradient)> =
        points.iter().flat_map(|p| p.layers.iter().enumerate().map(move |(k, g)| (p, k, g))).collect();
    let n = rows.len();
    let stages = model::conv_stages(run.depth);
    let col = |f: fn(&LayerGradient) -> f64| rows.iter().map(|r| f(r.2)).collect::<Vec<f64>>();
    Ok(df!(
        "run_id" => vec![run.id.as_str(); n],
        "arch" => vec![run.arch.to_string(); n],
        "depth" => vec![run.depth; n],
        "shortcut" => vec![run.shortcut.to_string(); n],
        "seed" => vec![run.seed; n],
        "epoch" => rows.iter().map(|r| r.0.epoch).collect::<Vec<u64>>(),
        "iteration" => rows.iter().map(|r| r.0.iteration).collect::<Vec<u64>>(),
        "layer" => rows.iter().map(|r| r.1 as u32 + 1).collect::<Vec<u32>>(),
        "stage" => rows.iter().map(|r| stages[r.1]).collect::<Vec<u32>>(),
        "output_grad" => col(|g| g.output),
        "weight_grad" => col(|g| g.weight),
        "weight_norm" => col(|g| g.weight_norm),
    )?)
}

/// A recorded run's gradient norms, point by point in order; None when it has none.
pub fn gradients(cfg: &Config, run: &Run) -> Result<Option<Vec<Gradients>>> {
    let path = run_dir(cfg, run).join("gradient_norms.parquet");
    if !path.is_file() {
        return Ok(None);
    }
    let df = read_parquet(&path)?;
    let int = |name: &str| u64_column(&df, name);
    let float = |name: &str| -> Result<Vec<f64>> {
        let c = df.column(name)?.f64()?;
        Ok((0..c.len()).map(|i| c.get(i).unwrap_or(f64::NAN)).collect())
    };
    let (epochs, iterations) = (int("epoch")?, int("iteration")?);
    let (output, weight, norm) = (float("output_grad")?, float("weight_grad")?, float("weight_norm")?);
    let mut points: Vec<Gradients> = Vec::new();
    for i in 0..df.height() {
        if points.last().is_none_or(|p| p.iteration != iterations[i]) {
            points.push(Gradients { epoch: epochs[i], iteration: iterations[i], layers: vec![] });
        }
        let layer = LayerGradient { output: output[i], weight: weight[i], weight_norm: norm[i] };
        points.last_mut().expect("pushed above").layers.push(layer);
    }
    Ok(Some(points))
}

/// A run's branch ratios with the columns of `branch_ratios.parquet`: a row per point of training
/// and residual block.
pub fn branches_frame(run: &Run, points: &[Branches]) -> Result<DataFrame> {
    let rows: Vec<(&Branches, usize, f64)> =
        points.iter().flat_map(|p| p.ratios.iter().enumerate().map(move |(k, r)| (p, k, *r))).collect();
    let n = rows.len();
    let per_stage = model::blocks_per_stage(run.depth) as usize;
    Ok(df!(
        "run_id" => vec![run.id.as_str(); n],
        "depth" => vec![run.depth; n],
        "seed" => vec![run.seed; n],
        "epoch" => rows.iter().map(|r| r.0.epoch).collect::<Vec<u64>>(),
        "iteration" => rows.iter().map(|r| r.0.iteration).collect::<Vec<u64>>(),
        "block" => rows.iter().map(|r| r.1 as u32 + 1).collect::<Vec<u32>>(),
        "stage" => rows.iter().map(|r| (r.1 / per_stage) as u32 + 1).collect::<Vec<u32>>(),
        "ratio" => rows.iter().map(|r| r.2).collect::<Vec<f64>>(),
    )?)
}

/// A recorded run's branch ratios, point by point in order; None when it has none.
pub fn branches(cfg: &Config, run: &Run) -> Result<Option<Vec<Branches>>> {
    let path = run_dir(cfg, run).join("branch_ratios.parquet");
    if !path.is_file() {
        return Ok(None);
    }
    let df = read_parquet(&path)?;
    let (epochs, iterations) = (u64_column(&df, "epoch")?, u64_column(&df, "iteration")?);
    let ratio = df.column("ratio")?.f64()?;
    let mut points: Vec<Branches> = Vec::new();
    for i in 0..df.height() {
        if points.last().is_none_or(|p| p.iteration != iterations[i]) {
            points.push(Branches { epoch: epochs[i], iteration: iterations[i], ratios: vec![] });
        }
        points.last_mut().expect("pushed above").ratios.push(ratio.get(i).unwrap_or(f64::NAN));
    }
    Ok(Some(points))
}

/// An integer column as u64 (missing values 0).
fn u64_column(df: &DataFrame, name: &str) -> Result<Vec<u64>> {
    let c = df.column(name)?.cast(&DataType::UInt64)?;
    let c = c.u64()?;
    Ok((0..c.len()).map(|i| c.get(i).unwrap_or(0)).collect())
}

/// Writes a text file atomically.
pub fn write_text(path: &Path, text: &str) -> Result<()> {
    write_atomic(path, |tmp| Ok(fs::write(tmp, text)?))
}

/// Writes `run.yaml` for a run.
pub fn write_run_info(cfg: &Config, run: &Run, info: &RunInfo) -> Result<()> {
    let text = serde_norway::to_string(info)?;
    write_text(&run_dir(cfg, run).join("run.yaml"), &text)
}

/// Whether a run has already ended (finished or diverged) under this same experiment. A run
/// folder made by a different config is an error: mixing the two would corrupt the comparison.
pub fn already_done(cfg: &Config, run: &Run) -> Result<bool> {
    let path = run_dir(cfg, run).join("run.yaml");
    if !path.is_file() {
        return Ok(false);
    }
    let info = RunInfo::read(&path)?;
    anyhow::ensure!(
        info.config.same_experiment(cfg),
        "{} was made by a different config of experiment {}; give this config another name (or results_dir), \
         or delete {} to start over",
        path.display(),
        cfg.name,
        experiment_dir(cfg).display()
    );
    Ok(info.status.ended())
}

/// Refuses to train `run` on `data` when its record says it trained on other files: a resumed run
/// would mix two data sets in one curve, an extended sweep two in one comparison.
pub fn check_same_data(cfg: &Config, run: &Run, data: &DataIdentity) -> Result<()> {
    let path = run_dir(cfg, run).join("run.yaml");
    if !path.is_file() {
        return Ok(());
    }
    if let Some(d) = RunInfo::read(&path)?.data.and_then(|theirs| theirs.differs_from(data)) {
        anyhow::bail!(
            "{} was trained on other data than {} holds: {d}; point CIFAR10_DIR (or data.dir) at the data it was \
             trained on, or give this config another name (or results_dir), or rerun with --fresh",
            path.display(),
            data.dir.display()
        );
    }
    Ok(())
}

/// Writes a finished (or diverged) run's records and its `run.yaml`.
pub fn write_outcome(cfg: &Config, o: &Outcome, mut info: RunInfo) -> Result<()> {
    let dir = run_dir(cfg, &o.run);
    write_parquet(&dir.join("curves.parquet"), curves_frame(&o.run, &o.curves)?)?;
    if let Some(stds) = &o.responses {
        write_parquet(&dir.join("layer_responses.parquet"), responses_frame(&o.run, stds)?)?;
    }
    if !o.gradients.is_empty() {
        write_parquet(&dir.join("gradient_norms.parquet"), gradients_frame(&o.run, &o.gradients)?)?;
    }
    if !o.branches.is_empty() {
        write_parquet(&dir.join("branch_ratios.parquet"), branches_frame(&o.run, &o.branches)?)?;
    }
    if let Some(w) = &o.weights {
        let iterations = o.curves.last().map_or(0, |r| r.iteration);
        weights::write(&dir.join("weights.safetensors"), &o.run, iterations, w)?;
    }
    info.status = o.status;
    info.ended = Some(now());
    if let Some(last) = info.sittings.last_mut() {
        last.ended = info.ended.clone();
        last.to_iteration = o.curves.last().map(|r| r.iteration);
    }
    info.warmup = o.warmup.clone();
    write_run_info(cfg, &o.run, &info)
}

/// Every recorded run's curve, read from the run folders (so a study stopped mid-sweep, whose
/// gathered file is only written when a group ends, reports what it holds), with its status from
/// its run.yaml; empty when nothing has been recorded yet.
pub fn curves(cfg: &Config) -> Result<Vec<RunCurve>> {
    use crate::config::{Arch, Shortcut};
    let Some(df) = stacked_curves(cfg)? else {
        return Ok(vec![]);
    };
    let n = df.height();
    let strs = |c: &str| -> Result<Vec<String>> {
        let ca = df.column(c)?.str()?;
        Ok((0..n).map(|i| ca.get(i).unwrap_or_default().to_string()).collect())
    };
    let (ids, archs, shortcuts) = (strs("run_id")?, strs("arch")?, strs("shortcut")?);
    let depth = df.column("depth")?.u32()?;
    let seed = df.column("seed")?.u64()?;
    let iteration = df.column("iteration")?.u64()?;
    let train = df.column("train_error")?.f64()?;
    let test = df.column("test_error")?.f64()?;
    let elapsed = df.column("elapsed_s").ok().and_then(|c| c.f64().ok());
    let mut out: Vec<RunCurve> = Vec::new();
    for i in 0..n {
        if out.last().is_none_or(|c| c.run.id != ids[i]) {
            let arch = match archs[i].as_str() {
                "plain" => Arch::Plain,
                "residual" => Arch::Residual,
                other => anyhow::bail!(
                    "{}: unknown arch {other:?}; delete the run's folder and rerun it",
                    experiment_dir(cfg).join(&ids[i]).join("curves.parquet").display()
                ),
            };
            let shortcut = if shortcuts[i] == "B" { Shortcut::B } else { Shortcut::A };
            let run = Run {
                id: ids[i].clone(),
                arch,
                depth: depth.get(i).unwrap_or(0),
                shortcut,
                seed: seed.get(i).unwrap_or(0),
            };
            let info = RunInfo::read(&run_dir(cfg, &run).join("run.yaml")).ok();
            let status = info.as_ref().map(|i| i.status);
            let (data, sittings) = info.map_or((None, 0), |i| (i.data, i.sittings.len()));
            out.push(RunCurve { run, status, rows: vec![], data, sittings });
        }
        let row = Row {
            iteration: iteration.get(i).unwrap_or(0),
            train_error: train.get(i).unwrap_or(f64::NAN),
            test_error: test.get(i),
            elapsed_s: elapsed.and_then(|c| c.get(i)).unwrap_or(f64::NAN),
        };
        out.last_mut().expect("pushed above").rows.push(row);
    }
    Ok(out)
}

/// A recorded run's layer-response stds, network order; None when it has none.
pub fn responses(cfg: &Config, run: &Run) -> Result<Option<Vec<f64>>> {
    let path = run_dir(cfg, run).join("layer_responses.parquet");
    if !path.is_file() {
        return Ok(None);
    }
    let df = read_parquet(&path)?;
    let std = df.column("std")?.f64()?;
    Ok(Some((0..df.height()).map(|i| std.get(i).unwrap_or(f64::NAN)).collect()))
}

/// Every run folder's curves stacked in run-folder order (what the gathered file holds); `None`
/// when no run has curves yet.
fn stacked_curves(cfg: &Config) -> Result<Option<DataFrame>> {
    let dir = experiment_dir(cfg);
    if !dir.is_dir() {
        return Ok(None);
    }
    let mut runs: Vec<PathBuf> = fs::read_dir(&dir)
        .with_context(|| format!("cannot list {}", dir.display()))?
        .filter_map(|e| e.ok().map(|e| e.path().join("curves.parquet")))
        .filter(|p| p.is_file())
        .collect();
    runs.sort();
    let mut all: Option<DataFrame> = None;
    for p in &runs {
        let df = read_parquet(p)?;
        match &mut all {
            None => all = Some(df),
            Some(a) => {
                a.vstack_mut(&df).map_err(|e| {
                    anyhow::anyhow!("{} does not stack with the runs before it ({e})", p.display())
                })?;
            }
        }
    }
    Ok(all)
}

/// Rewrites `results/<experiment>/curves.parquet` from every run folder that has curves.
pub fn gather_curves(cfg: &Config) -> Result<()> {
    match stacked_curves(cfg)? {
        Some(df) => write_parquet(&experiment_dir(cfg).join("curves.parquet"), df),
        None => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::{Arch, Shortcut};

    fn run() -> Run {
        Run { id: "residual-8-A-s3".into(), arch: Arch::Residual, depth: 8, shortcut: Shortcut::A, seed: 3 }
    }

    #[test]
    fn curves_round_trip_with_the_schema() {
        let dir = std::env::temp_dir().join(format!("resdeg-record-{}", std::process::id()));
        let rec = |epoch, test: Option<f64>| EpochRecord {
            epoch,
            iteration: 5 * epoch,
            lr: 0.1,
            train_loss: 2.0 / epoch as f64,
            train_error: 0.5,
            test_loss: test.map(|t| t * 2.0),
            test_error: test,
            elapsed_s: epoch as f64,
            images_per_s: 100.0,
        };
        let p = dir.join("c.parquet");
        write_parquet(&p, curves_frame(&run(), &[rec(1, None), rec(2, Some(0.25))]).unwrap()).unwrap();
        let df = read_parquet(&p).unwrap();
        let names: Vec<String> = df.get_column_names().iter().map(|s| s.to_string()).collect();
        assert_eq!(
            names,
            [
                "run_id",
                "arch",
                "depth",
                "shortcut",
                "seed",
                "epoch",
                "iteration",
                "lr",
                "train_loss",
                "train_error",
                "test_loss",
                "test_error",
                "elapsed_s",
                "images_per_s"
            ]
        );
        assert_eq!(df.height(), 2);
        assert_eq!(df.column("run_id").unwrap().str().unwrap().get(1), Some("residual-8-A-s3"));
        assert_eq!(df.column("test_error").unwrap().f64().unwrap().get(0), None);
        assert_eq!(df.column("test_error").unwrap().f64().unwrap().get(1), Some(0.25));
        assert_eq!(df.column("iteration").unwrap().u64().unwrap().get(1), Some(10));
        assert!(!dir.read_dir().unwrap().any(|e| e.unwrap().file_name().to_string_lossy().contains(".tmp")));

        let r = read_parquet(&{
            let p = dir.join("r.parquet");
            write_parquet(
                &p,
                responses_frame(&run(), &[model::LayerStd { std: 1.0, channel_std: 1.0 }; 7]).unwrap(),
            )
            .unwrap();
            p
        })
        .unwrap();
        let stage: Vec<Option<u32>> =
            (0..7).map(|i| r.column("stage").unwrap().u32().unwrap().get(i)).collect();
        assert_eq!(stage, [0, 1, 1, 2, 2, 3, 3].map(Some));
        fs::remove_dir_all(dir).unwrap();
    }
}
