//! The `--explain` records of a run, beside its others in `results/<experiment>/<run_id>/`:
//! `landscape_1d.parquet`, `landscape_2d.parquet`, `lesions.parquet`, `shattered.parquet`,
//! `branches.parquet` (residual nets) and `explained.yaml` (the settings, the machine and what
//! each measurement took). Blocks are numbered from 1 in network order, as layers are.

use super::*;
use crate::config::Explain;
use crate::explain::landscape::{Slice, Surface};
use crate::explain::lesions::Lesion;
use crate::explain::shattered::Correlation;
use crate::explain::{Branch, Explained};
use std::collections::BTreeMap;

/// What made a run's explain records.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ExplainInfo {
    pub run_id: String,
    pub started: String,
    pub settings: Explain,
    pub environment: Environment,
    /// Wall seconds of each measurement, by record name.
    pub seconds: BTreeMap<String, f64>,
}

const FILES: [&str; 4] = ["landscape_1d", "landscape_2d", "lesions", "shattered"];

fn path(cfg: &Config, run: &Run, name: &str) -> PathBuf {
    run_dir(cfg, run).join(format!("{name}.parquet"))
}

/// Whether a run has its explain records (the info file is written last).
pub fn explained(cfg: &Config, run: &Run) -> bool {
    run_dir(cfg, run).join("explained.yaml").is_file()
}

/// Writes every record of `e`, then `explained.yaml`.
pub fn write(cfg: &Config, run: &Run, e: &Explained, info: &ExplainInfo) -> Result<()> {
    let id = |n: usize| vec![run.id.as_str(); n];
    let Slice { alpha, loss, error } = &e.slice;
    write_parquet(
        &path(cfg, run, "landscape_1d"),
        df!("run_id" => id(alpha.len()), "alpha" => alpha, "loss" => loss, "error" => error)?,
    )?;
    let Surface { axis, loss } = &e.surface;
    let cells: Vec<(f64, f64, f64)> = axis
        .iter()
        .zip(loss)
        .flat_map(|(&a, row)| axis.iter().zip(row).map(move |(&b, &l)| (a, b, l)))
        .collect();
    write_parquet(
        &path(cfg, run, "landscape_2d"),
        df!(
            "run_id" => id(cells.len()),
            "alpha" => cells.iter().map(|c| c.0).collect::<Vec<f64>>(),
            "beta" => cells.iter().map(|c| c.1).collect::<Vec<f64>>(),
            "loss" => cells.iter().map(|c| c.2).collect::<Vec<f64>>(),
        )?,
    )?;
    let l = &e.lesions;
    let blocks = |x: &Lesion| x.blocks.iter().map(|b| (b + 1).to_string()).collect::<Vec<_>>().join(",");
    write_parquet(
        &path(cfg, run, "lesions"),
        df!(
            "run_id" => id(l.len()),
            "k" => l.iter().map(|x| x.blocks.len() as u32).collect::<Vec<u32>>(),
            "draw" => l.iter().map(|x| x.draw).collect::<Vec<u32>>(),
            "blocks" => l.iter().map(blocks).collect::<Vec<String>>(),
            "loss" => l.iter().map(|x| x.loss).collect::<Vec<f64>>(),
            "error" => l.iter().map(|x| x.error).collect::<Vec<f64>>(),
        )?,
    )?;
    let c = &e.shattered;
    write_parquet(
        &path(cfg, run, "shattered"),
        df!(
            "run_id" => id(c.len()),
            "lag" => c.iter().map(|x| x.lag).collect::<Vec<u32>>(),
            "t" => c.iter().map(|x| x.t).collect::<Vec<f64>>(),
            "correlation" => c.iter().map(|x| x.correlation).collect::<Vec<f64>>(),
        )?,
    )?;
    if !e.branches.is_empty() {
        let b = &e.branches;
        let n = model::blocks_per_stage(run.depth) as u32;
        write_parquet(
            &path(cfg, run, "branches"),
            df!(
                "run_id" => id(b.len()),
                "block" => b.iter().map(|x| x.block + 1).collect::<Vec<u32>>(),
                "stage" => b.iter().map(|x| x.block / n + 1).collect::<Vec<u32>>(),
                "init" => b.iter().map(|x| x.init).collect::<Vec<f64>>(),
                "end" => b.iter().map(|x| x.end).collect::<Vec<f64>>(),
            )?,
        )?;
    }
    write_text(&run_dir(cfg, run).join("explained.yaml"), &serde_norway::to_string(info)?)
}

fn floats(df: &DataFrame, name: &str) -> Result<Vec<f64>> {
    let c = df.column(name)?.f64()?;
    Ok((0..c.len()).map(|i| c.get(i).unwrap_or(f64::NAN)).collect())
}

fn ints(df: &DataFrame, name: &str) -> Result<Vec<u32>> {
    let c = df.column(name)?.cast(&DataType::UInt32)?;
    let c = c.u32()?;
    Ok((0..c.len()).map(|i| c.get(i).unwrap_or(0)).collect())
}

/// A run's explain records read back; None when it has none.
pub fn read(cfg: &Config, run: &Run) -> Result<Option<(Explained, ExplainInfo)>> {
    if !explained(cfg, run) {
        return Ok(None);
    }
    let info_path = run_dir(cfg, run).join("explained.yaml");
    let info: ExplainInfo = serde_norway::from_str(&fs::read_to_string(&info_path)?).with_context(|| {
        format!("{} is not a resdeg explained.yaml; rerun --explain", info_path.display())
    })?;
    let [d1, d2, dl, ds] = FILES.map(|f| read_parquet(&path(cfg, run, f)));
    let (d1, d2, dl, ds) = (d1?, d2?, dl?, ds?);
    let slice =
        Slice { alpha: floats(&d1, "alpha")?, loss: floats(&d1, "loss")?, error: floats(&d1, "error")? };
    let (alpha, loss) = (floats(&d2, "alpha")?, floats(&d2, "loss")?);
    let side = (alpha.len() as f64).sqrt().round() as usize;
    let axis: Vec<f64> = alpha.iter().step_by(side.max(1)).copied().collect();
    let surface = Surface { axis, loss: loss.chunks(side.max(1)).map(<[f64]>::to_vec).collect() };
    let blocks = dl.column("blocks")?.str()?.clone();
    let (draws, losses, errors) = (ints(&dl, "draw")?, floats(&dl, "loss")?, floats(&dl, "error")?);
    let lesions = (0..dl.height())
        .map(|i| {
            let text = blocks.get(i).unwrap_or("");
            let blocks = text.split(',').filter(|s| !s.is_empty()).map(|s| s.parse::<u32>().map(|b| b - 1));
            Ok(Lesion {
                blocks: blocks.collect::<Result<_, _>>()?,
                draw: draws[i],
                loss: losses[i],
                error: errors[i],
            })
        })
        .collect::<Result<Vec<_>>>()?;
    let (lags, ts, cs) = (ints(&ds, "lag")?, floats(&ds, "t")?, floats(&ds, "correlation")?);
    let shattered =
        (0..lags.len()).map(|i| Correlation { lag: lags[i], t: ts[i], correlation: cs[i] }).collect();
    let bpath = path(cfg, run, "branches");
    let branches = if bpath.is_file() {
        let db = read_parquet(&bpath)?;
        let (block, init, end) = (ints(&db, "block")?, floats(&db, "init")?, floats(&db, "end")?);
        (0..block.len()).map(|i| Branch { block: block[i] - 1, init: init[i], end: end[i] }).collect()
    } else {
        vec![]
    };
    Ok(Some((Explained { slice, surface, lesions, shattered, branches }, info)))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::{Arch, Shortcut};

    /// What is written reads back equal, blocks numbered from 1 on disk and from 0 in memory;
    /// plain nets write no branches file.
    #[test]
    fn explain_records_round_trip() {
        let dir = std::env::temp_dir().join(format!("resdeg-record-explain-{}", std::process::id()));
        let cfg = Config::parse(
            &format!("depths: [8]\nresults_dir: {}\n", dir.display()),
            Path::new("e.yaml"),
            "e",
        )
        .unwrap();
        let e = Explained {
            slice: Slice {
                alpha: vec![-1.0, 0.0, 1.0],
                loss: vec![3.0, 0.5, 2.5],
                error: vec![0.6, 0.1, 0.5],
            },
            surface: Surface {
                axis: vec![-1.0, 0.0, 1.0],
                loss: (0..3).map(|i| (0..3).map(|j| (3 * i + j) as f64).collect()).collect(),
            },
            lesions: vec![
                Lesion { blocks: vec![], draw: 0, loss: 0.4, error: 0.1 },
                Lesion { blocks: vec![0], draw: 0, loss: 0.5, error: 0.12 },
                Lesion { blocks: vec![0, 2], draw: 1, loss: 0.9, error: 0.3 },
            ],
            shattered: vec![
                Correlation { lag: 1, t: 0.5, correlation: 0.9 },
                Correlation { lag: 2, t: 1.0, correlation: 0.4 },
            ],
            branches: vec![
                Branch { block: 0, init: 1.2, end: 0.3 },
                Branch { block: 2, init: 0.9, end: 0.2 },
            ],
        };
        let info = ExplainInfo {
            run_id: "residual-8-A-s0".into(),
            started: "2026-12-06T00:00:00Z".into(),
            settings: cfg.explain.clone(),
            environment: Environment::here("cpu"),
            seconds: BTreeMap::from([("lesions".into(), 1.5)]),
        };
        let res = Run::new(Arch::Residual, 8, Shortcut::A, 0);
        assert!(read(&cfg, &res).unwrap().is_none());
        write(&cfg, &res, &e, &info).unwrap();
        assert_eq!(read(&cfg, &res).unwrap(), Some((e.clone(), info.clone())));
        let blocks = read_parquet(&path(&cfg, &res, "lesions")).unwrap();
        assert_eq!(blocks.column("blocks").unwrap().str().unwrap().get(2), Some("1,3"));
        let plain = Run::new(Arch::Plain, 8, Shortcut::A, 0);
        let e = Explained { branches: vec![], ..e };
        write(&cfg, &plain, &e, &info).unwrap();
        assert!(!path(&cfg, &plain, "branches").exists());
        assert_eq!(read(&cfg, &plain).unwrap().unwrap().0, e);
        fs::remove_dir_all(dir).unwrap();
    }
}
