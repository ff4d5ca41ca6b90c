//! Expands a sweep into its runs and decides where they would train, without touching data.

use crate::config::{Arch, Config, Device, Shortcut};
use crate::model;
use anyhow::{Result, bail};
use std::fmt::Write;

/// One training run of the sweep.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Run {
    /// Names the run's results folder: `plain-20-s0`, `residual-110-A-s3`.
    pub id: String,
    pub arch: Arch,
    pub depth: u32,
    pub shortcut: Shortcut,
    pub seed: u64,
}

impl Run {
    pub fn new(arch: Arch, depth: u32, shortcut: Shortcut, seed: u64) -> Run {
        // A plain net has no shortcuts, so its id leaves the option out.
        let id = match arch {
            Arch::Plain => format!("plain-{depth}-s{seed}"),
            Arch::Residual => format!("residual-{depth}-{shortcut}-s{seed}"),
        };
        Run { id, arch, depth, shortcut, seed }
    }

    pub fn parameters(&self) -> u64 {
        model::parameters(self.arch, self.depth, self.shortcut)
    }

    pub fn flops(&self) -> u64 {
        model::flops(self.arch, self.depth, self.shortcut)
    }
}

/// Every run of the sweep, grid by grid, then by depth, seed and arch (so the twins that train in
/// lockstep sit together); a run that two grids both name appears once.
pub fn runs(cfg: &Config) -> Vec<Run> {
    let mut out: Vec<Run> = Vec::new();
    for g in cfg.grids() {
        for &depth in &g.depths {
            for &seed in &g.seeds {
                for &arch in &g.archs {
                    let run = Run::new(arch, depth, g.shortcut, seed);
                    if !out.iter().any(|r| r.id == run.id) {
                        out.push(run);
                    }
                }
            }
        }
    }
    out
}

/// A net's name in reports and figures: plain-56, ResNet-56, ResNet-56 (B) for option B.
pub fn net_name(arch: Arch, depth: u32, shortcut: Shortcut) -> String {
    match (arch, shortcut) {
        (Arch::Plain, _) => format!("plain-{depth}"),
        (Arch::Residual, Shortcut::A) => format!("ResNet-{depth}"),
        (Arch::Residual, Shortcut::B) => format!("ResNet-{depth} (B)"),
    }
}

/// Whether a run id matches a shell-style pattern (`*` any text, `?` one character), as `--only`
/// takes them: `residual-*`, `*-110-*`, `plain-20-s0`.
pub fn matches(pattern: &str, id: &str) -> bool {
    let (p, s): (Vec<char>, Vec<char>) = (pattern.chars().collect(), id.chars().collect());
    // can[j]: the pattern read so far matches the first j characters of the id.
    let mut can = vec![false; s.len() + 1];
    can[0] = true;
    for &c in &p {
        let mut next = vec![false; s.len() + 1];
        for j in 0..=s.len() {
            next[j] = match c {
                '*' => can[j] || (j > 0 && next[j - 1]),
                '?' => j > 0 && can[j - 1],
                c => j > 0 && can[j - 1] && s[j - 1] == c,
            };
        }
        can = next;
    }
    can[s.len()]
}

/// The runs that train in lockstep on identical batches: neighbours in [`runs`] that share
/// depth, shortcut option and seed.
pub fn lockstep_groups(runs: &[Run]) -> Vec<&[Run]> {
    runs.chunk_by(|a, b| (a.depth, a.shortcut, a.seed) == (b.depth, b.shortcut, b.seed)).collect()
}

/// The libtorch device for a configured one; asking for a GPU that is not there is an error.
pub fn device(d: Device) -> Result<tch::Device> {
    let gpus = if tch::Cuda::is_available() { tch::Cuda::device_count() as usize } else { 0 };
    match d {
        Device::Cpu => Ok(tch::Device::Cpu),
        Device::Auto if gpus > 0 => Ok(tch::Device::Cuda(0)),
        Device::Auto => Ok(tch::Device::Cpu),
        Device::Cuda(i) if i < gpus => Ok(tch::Device::Cuda(i)),
        Device::Cuda(i) => bail!(
            "device = cuda:{i} but libtorch sees {gpus} CUDA device(s) here; use device: auto or cpu, or run on a machine with a GPU"
        ),
    }
}

/// A device as the config spells it: cpu, cuda:0.
pub fn device_name(d: tch::Device) -> String {
    match d {
        tch::Device::Cuda(i) => format!("cuda:{i}"),
        tch::Device::Cpu => "cpu".into(),
        other => format!("{other:?}").to_lowercase(),
    }
}

/// Thousands separated by commas: 269,722.
pub fn grouped(n: u64) -> String {
    let s = n.to_string();
    let mut out = String::new();
    for (i, c) in s.chars().enumerate() {
        if i > 0 && (s.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    out
}

/// Seconds as the dry run shows them: 45 s, 12 min, 3.4 h, 2.1 days.
pub fn duration(s: f64) -> String {
    match s {
        s if s < 90.0 => format!("{s:.0} s"),
        s if s < 5400.0 => format!("{:.0} min", s / 60.0),
        s if s < 172_800.0 => format!("{:.1} h", s / 3600.0),
        s => format!("{:.1} days", s / 86_400.0),
    }
}

/// The dry run's table: one row per run, with its estimated time when given.
pub fn table(runs: &[Run], seconds: Option<&[f64]>) -> String {
    let w = runs.iter().map(|r| r.id.len()).max().unwrap_or(0).max(6);
    let mut s = format!(
        "{:<w$}  {:<8}  {:>5}  {:>8}  {:>4}  {:>12}  {:>8}{}\n",
        "run id",
        "arch",
        "depth",
        "shortcut",
        "seed",
        "parameters",
        "MFLOPs",
        if seconds.is_some() { "  est. time" } else { "" }
    );
    for (i, r) in runs.iter().enumerate() {
        let shortcut = if r.arch == Arch::Plain { "-".to_string() } else { r.shortcut.to_string() };
        let time = seconds.map_or(String::new(), |t| format!("  {:>9}", duration(t[i])));
        let _ = writeln!(
            s,
            "{:<w$}  {:<8}  {:>5}  {:>8}  {:>4}  {:>12}  {:>8.1}{time}",
            r.id,
            r.arch.to_string(),
            r.depth,
            shortcut,
            r.seed,
            grouped(r.parameters()),
            r.flops() as f64 / 1e6
        );
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::path::Path;

    #[test]
    fn expands_grids_without_duplicates() {
        let text = "depths: [20, 56]\ngrids:\n  - depths: [56]\n    seeds: [0, 1]\n  - archs: [residual]\n    depths: [1202]\n    shortcut: B\n";
        let cfg = Config::parse(text, Path::new("t.yaml"), "t").unwrap();
        let ids: Vec<String> = runs(&cfg).into_iter().map(|r| r.id).collect();
        assert_eq!(
            ids,
            [
                "plain-20-s0",
                "residual-20-A-s0",
                "plain-56-s0",
                "residual-56-A-s0",
                "plain-56-s1",
                "residual-56-A-s1",
                "residual-1202-B-s0"
            ]
        );
    }

    #[test]
    fn twins_group_together() {
        let cfg = Config::parse(
            "depths: [20, 56]\nseeds: [0, 1]\ngrids:\n  - archs: [residual]\n    shortcut: B\n",
            Path::new("t.yaml"),
            "t",
        )
        .unwrap();
        let all = runs(&cfg);
        let groups: Vec<Vec<&str>> =
            lockstep_groups(&all).iter().map(|g| g.iter().map(|r| r.id.as_str()).collect()).collect();
        assert_eq!(groups.len(), 8);
        assert_eq!(groups[0], ["plain-20-s0", "residual-20-A-s0"]);
        assert_eq!(groups[3], ["plain-56-s1", "residual-56-A-s1"]);
        assert_eq!(groups[4], ["residual-20-B-s0"]);
    }

    #[test]
    fn globs() {
        assert!(matches("residual-*", "residual-20-A-s0"));
        assert!(matches("*-110-*", "plain-110-s3"));
        assert!(matches("plain-20-s?", "plain-20-s0"));
        assert!(matches("plain-20-s0", "plain-20-s0"));
        assert!(!matches("plain-20", "plain-20-s0"));
        assert!(!matches("residual-*", "plain-20-s0"));
        assert!(matches("*", "") && !matches("?", ""));
    }

    #[test]
    fn table_rows() {
        let cfg = Config::parse("depths: [20]\n", Path::new("t.yaml"), "t").unwrap();
        let t = table(&runs(&cfg), None);
        assert_eq!(t.lines().count(), 3);
        assert!(
            t.lines()
                .nth(2)
                .unwrap()
                .contains("residual-20-A-s0  residual     20         A     0       269,722      40.6"),
            "{t}"
        );
        assert!(t.lines().nth(1).unwrap().contains("plain        20         -     0       269,722"), "{t}");
    }

    #[test]
    fn cpu_is_always_there() {
        assert_eq!(device(Device::Cpu).unwrap(), tch::Device::Cpu);
        if !tch::Cuda::is_available() {
            assert_eq!(device(Device::Auto).unwrap(), tch::Device::Cpu);
            let err = device(Device::Cuda(0)).unwrap_err().to_string();
            assert!(err.contains("cuda:0") && err.contains("device: auto or cpu"), "{err}");
        }
    }
}
