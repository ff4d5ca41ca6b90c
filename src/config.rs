//! The one config type: a sweep file in YAML, with the paper's recipe as every default so that a
//! file lists only what differs. Loading (`config/load.rs`) rejects unknown keys and checks every
//! value; each error is one line naming the file, the line, the key path, the bad value and what
//! is allowed. What makes two runs the same experiment is `config/recipe.rs`.

use serde::{Deserialize, Serialize};
use std::fmt;
use std::path::PathBuf;

mod load;
mod recipe;
pub use load::ConfigError;

/// CIFAR-10's training and test images: what `data` subsets and splits are checked against when a
/// config is loaded, before any file is read (`data` reads these too).
pub const TRAIN_IMAGES: usize = 50_000;
pub const TEST_IMAGES: usize = 10_000;

/// Plain nets stack conv pairs; residual nets add a shortcut around every pair.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Arch {
    Plain,
    Residual,
}

/// How a residual block's shortcut matches shapes where a stage halves the map and doubles the
/// channels: A subsamples and pads with zeros (no parameters), B projects with 1x1 conv + BN.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub enum Shortcut {
    A,
    B,
}

/// What an epoch does with the images left over when the batch size does not divide the training
/// set: train on them as a smaller batch (`partial`, PyTorch's `drop_last=False`), leave them out
/// (`drop`), or let the batch run on into the next epoch's order (`wrap`, Caffe's data layers, so
/// every step sees `batch_size` images).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum LastBatch {
    Partial,
    Drop,
    Wrap,
}

/// Where to train: `auto` takes the first GPU when libtorch sees one, else the CPU.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Device {
    Auto,
    Cpu,
    Cuda(usize),
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Config {
    /// Names the results folder; defaults to the file name without extension.
    #[serde(default)]
    pub name: String,
    #[serde(default)]
    pub data: Data,
    /// The main grid: every arch at every depth with every seed.
    #[serde(default = "default_archs")]
    pub archs: Vec<Arch>,
    pub depths: Vec<u32>,
    #[serde(default = "default_shortcut")]
    pub shortcut: Shortcut,
    #[serde(default = "default_seeds")]
    pub seeds: Vec<u64>,
    /// Further grids (e.g. more seeds at one depth); keys left out are taken from the main grid.
    #[serde(default)]
    pub grids: Vec<Grid>,
    #[serde(default = "default_batch_size")]
    pub batch_size: usize,
    /// The epoch's last batch; `wrap` is what the paper's Caffe-era data layer did (README). Run
    /// records made before this key existed read as `partial`, which is how they were trained.
    #[serde(default = "default_last_batch")]
    pub last_batch: LastBatch,
    #[serde(default)]
    pub optimizer: Optimizer,
    #[serde(default)]
    pub schedule: Schedule,
    #[serde(default)]
    pub augment: Augment,
    /// Evaluate on the test (or validation) images every this many epochs, and after the last.
    #[serde(default = "one")]
    pub eval_every: u32,
    /// Record the std of every 3x3 conv's response on the test set at the end (the paper's Fig. 7).
    #[serde(default = "yes")]
    pub layer_responses: bool,
    /// Record the loss gradient at every 3x3 layer on one fixed training batch at initialisation,
    /// after the first step and at every evaluation (`measure::gradient_norms`).
    #[serde(default = "yes")]
    pub gradient_norms: bool,
    /// Residual nets: record each block's ‖F(x)‖ / ‖x‖ on the first `explain.test_images`
    /// evaluation images at initialisation and at every evaluation (`measure::branch_ratios`).
    /// A run resumed from a checkpoint written without them goes on without, so that a record
    /// never starts mid-run.
    #[serde(default = "yes")]
    pub branch_ratios: bool,
    /// auto | cpu | cuda | cuda:N; kept as written and parsed by [`Config::device`] once checked.
    #[serde(default = "default_device")]
    pub device: String,
    /// Several devices (`[cuda:0, cuda:1]`; a bare number N means cuda:N): one worker process
    /// each, training different runs at once. Empty or one entry: one process on `device`.
    #[serde(default)]
    pub devices: Vec<String>,
    /// libtorch intra-op threads; absent means libtorch's own choice (one per core).
    #[serde(default)]
    pub threads: Option<usize>,
    /// GPU only: let cuDNN convolutions use TF32 (faster on Ampere and later, 10-bit mantissa
    /// products). The paper trained in fp32, and so does resdeg unless this is true.
    #[serde(default)]
    pub tf32: bool,
    /// Forward passes in bfloat16 under libtorch's autocast, as `torch.autocast(device,
    /// torch.bfloat16)`: convolutions and the classifier in bf16, the loss in fp32; weights,
    /// gradients, SGD and BN statistics stay fp32. Fast only where the hardware computes bf16
    /// (CPUs with AVX512-BF16 or AMX, Ampere and later GPUs); elsewhere slower than fp32.
    #[serde(default)]
    pub bf16: bool,
    /// Lay conv weights and inputs out channels-last; absent: the measured faster choice for the
    /// device (see BENCHMARKS.md).
    #[serde(default)]
    pub channels_last: Option<bool>,
    #[serde(default = "default_results_dir")]
    pub results_dir: PathBuf,
    /// Where the figures go (`<plots_dir>/<name>/`).
    #[serde(default = "default_plots_dir")]
    pub plots_dir: PathBuf,
    /// What `--explain` measures of every finished run's final weights (`crate::explain`).
    #[serde(default)]
    pub explain: Explain,
}

/// The sizes of `--explain`'s measurements. The defaults finish a 56-layer pair in about 15
/// minutes on 2 CPU cores (BENCHMARKS.md); the cost of each grows as written beside it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Explain {
    /// Measure every newly finished run at the end of a sweep (else only `--explain` does).
    #[serde(default = "yes")]
    pub after_sweep: bool,
    /// Points of the 1D loss slices on α ∈ [−1, 1]; odd, so that α = 0 is one (cost: points ×
    /// images).
    #[serde(default = "default_slice_points")]
    pub slice_points: u32,
    /// Training images (the first ones, un-augmented) whose eval-mode loss the slices take.
    #[serde(default = "default_slice_images")]
    pub slice_images: usize,
    /// Points per axis of the 2D loss surfaces on [−1, 1]²; odd (cost: points² × images).
    #[serde(default = "default_grid_points")]
    pub grid_points: u32,
    /// Training images whose loss the surfaces take.
    #[serde(default = "default_grid_images")]
    pub grid_images: usize,
    /// Test images (the first ones) for the lesions and the branch ratios (cost: lesions ×
    /// images).
    #[serde(default = "default_test_images")]
    pub test_images: usize,
    /// Random sets of k deleted blocks for each k = 2, 4, … (the single blocks come first).
    #[serde(default = "default_lesion_draws")]
    pub lesion_draws: u32,
    /// Lines between pairs of test images for the shattered gradients, and points on each
    /// (cost: lines × points forward and backward passes).
    #[serde(default = "default_lines")]
    pub lines: u32,
    #[serde(default = "default_line_points")]
    pub line_points: u32,
    /// Seeds the landscape's directions (this one and the next) and the lesion draws.
    #[serde(default)]
    pub seed: u64,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Data {
    /// Folder with data_batch_1.bin … test_batch.bin; the environment variable CIFAR10_DIR wins.
    #[serde(default = "default_data_dir")]
    pub dir: PathBuf,
    /// Fetch the official archive (md5-checked) when the folder holds no CIFAR-10 files.
    #[serde(default = "yes")]
    pub download: bool,
    /// Images held out from the end of the training set for validation (the paper's 45k/5k: 5000).
    #[serde(default)]
    pub validation: usize,
    /// Train on only the first this many of the remaining training images.
    #[serde(default)]
    pub train_subset: Option<usize>,
    /// Evaluate on only the first this many test images.
    #[serde(default)]
    pub test_subset: Option<usize>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Grid {
    pub archs: Option<Vec<Arch>>,
    pub depths: Option<Vec<u32>>,
    pub shortcut: Option<Shortcut>,
    pub seeds: Option<Vec<u64>>,
}

/// A grid with every key given: each arch at each depth with each seed.
#[derive(Debug, Clone, PartialEq)]
pub struct FullGrid {
    pub archs: Vec<Arch>,
    pub depths: Vec<u32>,
    pub shortcut: Shortcut,
    pub seeds: Vec<u64>,
}

/// SGD with momentum, PyTorch semantics (weight decay added to the gradient).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Optimizer {
    #[serde(default = "default_lr")]
    pub lr: f64,
    #[serde(default = "default_momentum")]
    pub momentum: f64,
    #[serde(default = "default_weight_decay")]
    pub weight_decay: f64,
    #[serde(default)]
    pub nesterov: bool,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Schedule {
    /// Total training iterations (mini-batches).
    #[serde(default = "default_iterations")]
    pub iterations: u64,
    /// Iterations at which the learning rate is multiplied by `gamma`.
    #[serde(default = "default_milestones")]
    pub milestones: Vec<u64>,
    #[serde(default = "default_gamma")]
    pub gamma: f64,
    #[serde(default)]
    pub warmup: Warmup,
}

/// The paper's rule for 110 layers and deeper: start at a small lr until training gets going.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Warmup {
    #[serde(default = "yes")]
    pub enabled: bool,
    /// Nets at least this deep warm up.
    #[serde(default = "default_warmup_min_depth")]
    pub min_depth: u32,
    #[serde(default = "default_warmup_lr")]
    pub lr: f64,
    /// Warm-up ends once the running training error falls below this fraction…
    #[serde(default = "default_warmup_until")]
    pub until_train_error: f64,
    /// …or after this many iterations at the latest, so that a net that never gets there still
    /// trains at the paper's rate.
    #[serde(default = "default_warmup_max_iterations")]
    pub max_iterations: u64,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Augment {
    /// Zero pixels padded on each side (of the mean-subtracted image) before a random 32x32 crop;
    /// 0 turns cropping off.
    #[serde(default = "default_pad")]
    pub pad: u32,
    /// Horizontal flip with probability 0.5.
    #[serde(default = "yes")]
    pub flip: bool,
}

fn yes() -> bool {
    true
}
fn one() -> u32 {
    1
}
fn default_archs() -> Vec<Arch> {
    vec![Arch::Plain, Arch::Residual]
}
fn default_shortcut() -> Shortcut {
    Shortcut::A
}
fn default_seeds() -> Vec<u64> {
    vec![0]
}
fn default_batch_size() -> usize {
    128
}
fn default_last_batch() -> LastBatch {
    LastBatch::Wrap
}
fn default_results_dir() -> PathBuf {
    PathBuf::from("results")
}
fn default_device() -> String {
    "auto".into()
}
fn default_plots_dir() -> PathBuf {
    PathBuf::from("plots")
}
fn default_data_dir() -> PathBuf {
    PathBuf::from("data/cifar10")
}
fn default_lr() -> f64 {
    0.1
}
fn default_momentum() -> f64 {
    0.9
}
fn default_weight_decay() -> f64 {
    1e-4
}
fn default_iterations() -> u64 {
    64_000
}
fn default_milestones() -> Vec<u64> {
    vec![32_000, 48_000]
}
fn default_gamma() -> f64 {
    0.1
}
fn default_warmup_min_depth() -> u32 {
    110
}
fn default_warmup_lr() -> f64 {
    0.01
}
fn default_warmup_until() -> f64 {
    0.8
}
/// The paper's ResNet-110 needed "about 400 iterations"; twice that bounds a stuck net to ~1% of
/// the 64k schedule while leaving the threshold in charge of any net that is merely slow.
fn default_warmup_max_iterations() -> u64 {
    800
}
fn default_slice_points() -> u32 {
    25
}
fn default_slice_images() -> usize {
    1000
}
fn default_grid_points() -> u32 {
    15
}
fn default_grid_images() -> usize {
    256
}
fn default_test_images() -> usize {
    1000
}
fn default_lesion_draws() -> u32 {
    4
}
fn default_lines() -> u32 {
    8
}
fn default_line_points() -> u32 {
    128
}
fn default_pad() -> u32 {
    4
}

impl Default for Data {
    fn default() -> Self {
        Data { dir: default_data_dir(), download: true, validation: 0, train_subset: None, test_subset: None }
    }
}

impl Default for Optimizer {
    fn default() -> Self {
        Optimizer {
            lr: default_lr(),
            momentum: default_momentum(),
            weight_decay: default_weight_decay(),
            nesterov: false,
        }
    }
}

impl Default for Schedule {
    fn default() -> Self {
        Schedule {
            iterations: default_iterations(),
            milestones: default_milestones(),
            gamma: default_gamma(),
            warmup: Warmup::default(),
        }
    }
}

impl Default for Warmup {
    fn default() -> Self {
        Warmup {
            enabled: true,
            min_depth: default_warmup_min_depth(),
            lr: default_warmup_lr(),
            until_train_error: default_warmup_until(),
            max_iterations: default_warmup_max_iterations(),
        }
    }
}

impl Default for Explain {
    fn default() -> Explain {
        serde_norway::from_str("{}").expect("every key has a default")
    }
}

impl Default for Augment {
    fn default() -> Self {
        Augment { pad: default_pad(), flip: true }
    }
}

impl fmt::Display for Arch {
    fn fmt(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str(match self {
            Arch::Plain => "plain",
            Arch::Residual => "residual",
        })
    }
}

impl fmt::Display for LastBatch {
    fn fmt(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str(match self {
            LastBatch::Partial => "partial",
            LastBatch::Drop => "drop",
            LastBatch::Wrap => "wrap",
        })
    }
}

impl fmt::Display for Shortcut {
    fn fmt(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str(match self {
            Shortcut::A => "A",
            Shortcut::B => "B",
        })
    }
}

/// One entry of `devices` / `--devices`: cpu, cuda:N or a bare N, as the device it names.
pub fn parse_worker_device(s: &str) -> Result<Device, String> {
    match s.parse::<usize>() {
        Ok(i) => Ok(Device::Cuda(i)),
        Err(_) => match s.parse::<Device>() {
            Ok(Device::Auto) => Err("= \"auto\" cannot name a worker's device; use cpu, cuda:N or N".into()),
            other => other,
        },
    }
}

impl std::str::FromStr for Device {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        match s {
            "auto" => Ok(Device::Auto),
            "cpu" => Ok(Device::Cpu),
            "cuda" => Ok(Device::Cuda(0)),
            other => {
                other.strip_prefix("cuda:").and_then(|i| i.parse().ok()).map(Device::Cuda).ok_or_else(|| {
                    format!("= {s:?} is not a device; use auto, cpu, cuda or cuda:N (N = 0, 1, …)")
                })
            }
        }
    }
}

impl fmt::Display for Device {
    fn fmt(&self, f: &mut fmt::Formatter) -> fmt::Result {
        match self {
            Device::Auto => f.write_str("auto"),
            Device::Cpu => f.write_str("cpu"),
            Device::Cuda(i) => write!(f, "cuda:{i}"),
        }
    }
}

impl Config {
    /// The configured device (checked when the config was loaded).
    pub fn device(&self) -> Device {
        self.device.parse().expect("device checked by Config::check")
    }

    /// Every grid of the sweep with the main grid's values filled in, the main grid first.
    pub fn grids(&self) -> Vec<FullGrid> {
        let main = Grid { archs: None, depths: None, shortcut: None, seeds: None };
        std::iter::once(&main)
            .chain(&self.grids)
            .map(|g| FullGrid {
                archs: g.archs.clone().unwrap_or_else(|| self.archs.clone()),
                depths: g.depths.clone().unwrap_or_else(|| self.depths.clone()),
                shortcut: g.shortcut.unwrap_or(self.shortcut),
                seeds: g.seeds.clone().unwrap_or_else(|| self.seeds.clone()),
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::path::Path;

    fn parse(text: &str) -> Result<Config, String> {
        Config::parse(text, Path::new("sweep.yaml"), "sweep").map_err(|e| e.to_string())
    }

    #[test]
    fn defaults_are_the_papers_recipe() {
        let c = parse("depths: [20, 56]\n").unwrap();
        assert_eq!(c.name, "sweep");
        assert_eq!(c.archs, vec![Arch::Plain, Arch::Residual]);
        assert_eq!(c.shortcut, Shortcut::A);
        assert_eq!(c.batch_size, 128);
        assert_eq!(c.optimizer, Optimizer { lr: 0.1, momentum: 0.9, weight_decay: 1e-4, nesterov: false });
        assert_eq!(c.schedule.iterations, 64_000);
        assert_eq!(c.schedule.milestones, vec![32_000, 48_000]);
        assert_eq!(c.schedule.gamma, 0.1);
        assert_eq!(
            c.schedule.warmup,
            Warmup { enabled: true, min_depth: 110, lr: 0.01, until_train_error: 0.8, max_iterations: 800 }
        );
        assert_eq!(c.augment, Augment { pad: 4, flip: true });
        assert_eq!(c.last_batch, LastBatch::Wrap);
        assert_eq!(c.device(), Device::Auto);
        assert!(c.layer_responses && c.gradient_norms && c.branch_ratios);
        assert_eq!(c.data.validation, 0);
    }

    #[test]
    fn devices_parse() {
        for (s, d) in [
            ("auto", Device::Auto),
            ("cpu", Device::Cpu),
            ("cuda", Device::Cuda(0)),
            ("cuda:3", Device::Cuda(3)),
        ] {
            assert_eq!(parse(&format!("depths: [20]\ndevice: {s}\n")).unwrap().device(), d);
            assert_eq!(d.to_string().parse(), Ok(d));
        }
    }

    #[test]
    fn extra_grids_inherit_the_main_grid() {
        let c = parse("depths: [20]\nseeds: [7]\ngrids:\n  - depths: [110]\n    seeds: [1, 2]\n  - archs: [residual]\n    shortcut: B\n").unwrap();
        let g = c.grids();
        assert_eq!(g.len(), 3);
        assert_eq!(
            (g[1].archs.clone(), g[1].depths.clone(), g[1].shortcut, g[1].seeds.clone()),
            (vec![Arch::Plain, Arch::Residual], vec![110], Shortcut::A, vec![1, 2])
        );
        assert_eq!(
            (g[2].archs.clone(), g[2].depths.clone(), g[2].shortcut, g[2].seeds.clone()),
            (vec![Arch::Residual], vec![20], Shortcut::B, vec![7])
        );
    }

    /// Each bad input gives one line naming the file, the line, the key path, the bad value and
    /// what is allowed.
    #[test]
    fn errors_name_file_line_key_value_and_remedy() {
        let cases: &[(&str, &[&str])] = &[
            ("depths: [20, 21]\n", &["sweep.yaml:1:", "depths[1] = 21", "6n+2"]),
            ("name: x\ndepths:\n  - 20\n  - 22\n", &["sweep.yaml:4:", "depths[1] = 22"]),
            ("depths: []\n", &["sweep.yaml:1:", "depths is empty"]),
            (
                "depths: [20]\noptimizer:\n  momentum: 0.9\n  lr: -1\n",
                &["sweep.yaml:4:", "optimizer.lr = -1", "positive"],
            ),
            ("depths: [20]\nbatch_size: 0\n", &["sweep.yaml:2:", "batch_size = 0"]),
            (
                "depths: [20]\nschedule:\n  milestones: [48000, 32000]\n",
                &["sweep.yaml:3:", "milestones[1] = 32000", "increasing"],
            ),
            (
                "depths: [20]\nschedule:\n  iterations: 1000\n  milestones:\n    - 500\n    - 2000\n",
                &["sweep.yaml:6:", "milestones[1] = 2000", "iterations = 1000"],
            ),
            (
                "depths: [20]\narchs: [plain, resnet]\n",
                &["sweep.yaml:2:", "archs", "resnet", "plain", "residual"],
            ),
            ("depths: [20]\nshortcut: C\n", &["sweep.yaml:2:", "shortcut", "`C`", "`A`", "`B`"]),
            ("depths: [20]\ndevice: gpu\n", &["sweep.yaml:2:", "device", "gpu", "cuda:N"]),
            ("depths: [20]\noptimiser:\n  lr: 0.1\n", &["sweep.yaml:2:", "optimiser", "expected one of"]),
            ("depths: [20]\noptimizer:\n  lr: fast\n", &["sweep.yaml:3:", "optimizer.lr", "fast"]),
            (
                "depths: [20]\ngrids:\n  - depths: [110]\n  - seeds: []\n",
                &["sweep.yaml:4:", "grids[1].seeds is empty"],
            ),
            ("depths: [20]\ndata:\n  validation: 50000\n", &["sweep.yaml:3:", "data.validation = 50000"]),
            ("depths: [20]\ndata: {train_subset: 0}\n", &["sweep.yaml:2:", "data.train_subset = 0"]),
            ("name: a/b\ndepths: [20]\n", &["sweep.yaml:1:", "name", "a/b"]),
            ("depths: [20]\nname: \"\"\n", &["sweep.yaml:2:", "name = \"\"", "letters"]),
            (
                "depths: [20]\nbatch_size: 2000\ndata: {train_subset: 1000}\n",
                &["sweep.yaml:2:", "batch_size = 2000", "1000 training images"],
            ),
            (
                "depths: [110]\nschedule:\n  warmup: {max_iterations: 0}\n",
                &["sweep.yaml:3:", "schedule.warmup.max_iterations = 0", "enabled: false"],
            ),
            ("archs: [plain]\n", &["sweep.yaml", "missing field `depths`"]),
            ("depths: [20, 56, 20]\n", &["sweep.yaml:1:", "depths[2] = 20", "twice"]),
            (
                "depths: [20]\ngrids:\n  - seeds: [1, 2, 1]\n",
                &["sweep.yaml:3:", "grids[0].seeds[2] = 1", "twice"],
            ),
            ("depths: [20]\nlast_batch: refill\n", &["sweep.yaml:2:", "last_batch", "refill", "wrap"]),
            ("depths: [20\n", &["sweep.yaml"]),
        ];
        for (text, wants) in cases {
            let err = parse(text).expect_err(text);
            assert_eq!(err.lines().count(), 1, "{err}");
            for want in *wants {
                assert!(err.contains(want), "{text:?}: error {err:?} lacks {want:?}");
            }
        }
        // A name longer than a file name may be is refused at load, not when the folder is made.
        let err = parse(&format!("depths: [20]\nname: {}\n", "n".repeat(256))).unwrap_err();
        assert!(err.contains("sweep.yaml:2: name is 256 bytes long") && err.contains("255"), "{err}");
        assert!(parse(&format!("depths: [20]\nname: {}\n", "n".repeat(255))).is_ok());
    }
}
