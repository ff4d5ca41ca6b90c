//! `run.yaml`: what produced a run's numbers (the resolved config, the data, every sitting's
//! machine and code, the status), read by one reader whatever version of resdeg wrote it.

use super::*;

/// `run.yaml`: everything needed to know what produced a run's numbers.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RunInfo {
    pub run_id: String,
    pub arch: crate::config::Arch,
    pub depth: u32,
    pub shortcut: crate::config::Shortcut,
    pub seed: u64,
    /// running, finished or diverged.
    pub status: Status,
    /// The whole sweep's resolved config (every default filled in) that this run belongs to.
    pub config: Config,
    /// The data it trained on; absent in records made before resdeg recorded it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub data: Option<DataIdentity>,
    /// Every sitting that trained it (a resumed run appends one), in order.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub sittings: Vec<Sitting>,
    /// Records made before sittings were kept: the environment of the run's last sitting.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub environment: Option<Environment>,
    pub started: String,
    pub ended: Option<String>,
    /// For nets that warm up: after which iteration the warm-up rate ended, and why.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub warmup: Option<WarmupEnd>,
}

/// One process's stretch of training a run: where and on what code, from which iteration to which.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Sitting {
    pub started: String,
    /// None while the sitting trains; for a sitting that was stopped, when its last checkpoint was
    /// written (what it left for the next sitting).
    pub ended: Option<String>,
    pub from_iteration: u64,
    pub to_iteration: Option<u64>,
    #[serde(flatten)]
    pub environment: Environment,
}

impl RunInfo {
    /// Reads a run.yaml. Records made before `last_batch` existed trained on the epoch's partial
    /// batch, so their config reads as `partial` whatever today's default is.
    pub fn read(path: &Path) -> Result<RunInfo> {
        let text = fs::read_to_string(path).with_context(|| format!("cannot read {}", path.display()))?;
        let bad =
            || format!("{} is not a resdeg run.yaml; move it away or delete the run folder", path.display());
        let mut value: serde_norway::Value = serde_norway::from_str(&text).with_context(bad)?;
        if let Some(config) = value.get_mut("config").and_then(|c| c.as_mapping_mut())
            && !config.contains_key("last_batch")
        {
            config.insert("last_batch".into(), "partial".into());
        }
        serde_norway::from_value(value).with_context(bad)
    }

    /// The run.yaml of a run that starts now, or resumes from the checkpoint `resumed`: the
    /// earlier sittings are kept (the last one closed at the checkpoint it left) and this one
    /// is added.
    pub fn sitting(
        run: &Run,
        cfg: &Config,
        data: &DataIdentity,
        env: Environment,
        resumed: Option<Resumed>,
    ) -> RunInfo {
        let now = now();
        let earlier = resumed.as_ref().and_then(|_| RunInfo::read(&run_dir(cfg, run).join("run.yaml")).ok());
        let from = resumed.as_ref().map_or(0, |r| r.iteration);
        let mut sittings = match &earlier {
            Some(info) if info.sittings.is_empty() => info
                .environment
                .iter()
                .map(|e| Sitting {
                    started: info.started.clone(),
                    ended: None,
                    from_iteration: 0,
                    to_iteration: None,
                    environment: e.clone(),
                })
                .collect(),
            Some(info) => info.sittings.clone(),
            None => vec![],
        };
        if let (Some(last), Some(r)) = (sittings.last_mut(), &resumed)
            && last.to_iteration.is_none()
        {
            last.to_iteration = Some(r.iteration.max(last.from_iteration));
            last.ended = (r.iteration > last.from_iteration).then(|| r.written.clone());
        }
        sittings.push(Sitting {
            started: now.clone(),
            ended: None,
            from_iteration: from,
            to_iteration: None,
            environment: env,
        });
        RunInfo {
            run_id: run.id.clone(),
            arch: run.arch,
            depth: run.depth,
            shortcut: run.shortcut,
            seed: run.seed,
            status: Status::Running,
            config: cfg.clone(),
            data: Some(data.clone()),
            sittings,
            environment: None,
            started: earlier.map_or(now, |i| i.started),
            ended: None,
            warmup: None,
        }
    }
}

/// Where a resumed run picks up: its group checkpoint's iteration and when it was written.
#[derive(Debug, Clone, PartialEq)]
pub struct Resumed {
    pub iteration: u64,
    pub written: String,
}

impl Resumed {
    /// A resume from a checkpoint that holds the group after `iteration` iterations and was
    /// `written` then (`checkpoint::Position`).
    pub fn from_checkpoint(iteration: u64, written: Option<std::time::SystemTime>) -> Resumed {
        let written = written.map_or_else(now, |t| humantime::format_rfc3339_seconds(t).to_string());
        Resumed { iteration, written }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Environment {
    pub resdeg_version: String,
    /// The commit the binary was built from, `-dirty` when the tree had uncommitted changes.
    pub git_commit: String,
    #[serde(default)]
    pub git_dirty: bool,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub host: String,
    /// The host's CPU model, and whether it computes bfloat16 natively (AVX512-BF16 or AMX):
    /// what decides the speed of `bf16: true` on a CPU.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub cpu: String,
    #[serde(default)]
    pub cpu_bf16: bool,
    pub tch_version: String,
    pub libtorch_version: String,
    pub device: String,
    /// The physical GPU behind a `cuda:N` device when CUDA_VISIBLE_DEVICES renumbers them (as
    /// Slurm does): its entry N of that list.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub physical_gpu: Option<String>,
    pub threads: i32,
}

impl Environment {
    pub fn here(device: &str) -> Environment {
        let cpuinfo = fs::read_to_string("/proc/cpuinfo").unwrap_or_default();
        let field = |key: &str| {
            cpuinfo.lines().find_map(|l| l.strip_prefix(key)?.trim_start().strip_prefix(':').map(str::trim))
        };
        let flags: Vec<&str> = field("flags").unwrap_or_default().split(' ').collect();
        let commit: &str = env!("RESDEG_GIT_COMMIT");
        Environment {
            resdeg_version: env!("CARGO_PKG_VERSION").into(),
            git_commit: commit.into(),
            git_dirty: commit.ends_with("-dirty"),
            host: host(),
            cpu: field("model name").unwrap_or("unknown").to_string(),
            cpu_bf16: flags.iter().any(|f| ["avx512_bf16", "amx_bf16"].contains(f)),
            tch_version: env!("RESDEG_TCH_VERSION").into(),
            libtorch_version: env!("RESDEG_LIBTORCH_VERSION").into(),
            device: device.into(),
            physical_gpu: physical_gpu(device, std::env::var("CUDA_VISIBLE_DEVICES").ok().as_deref()),
            threads: tch::get_num_threads(),
        }
    }
}

/// This machine's name.
pub fn host() -> String {
    fs::read_to_string("/proc/sys/kernel/hostname")
        .map(|h| h.trim().to_string())
        .or_else(|_| std::env::var("HOSTNAME"))
        .unwrap_or_else(|_| "localhost".into())
}

/// This process and machine, as written in lock files and temporary-file names (`claim` tells
/// a crash's leftovers from files being written by it).
pub fn who() -> String {
    format!("{}-{}", host(), std::process::id())
}

/// Entry N of CUDA_VISIBLE_DEVICES for device `cuda:N` (libtorch numbers the visible GPUs from 0).
fn physical_gpu(device: &str, visible: Option<&str>) -> Option<String> {
    let n: usize = device.strip_prefix("cuda:")?.parse().ok()?;
    visible?.split(',').nth(n).map(|s| s.trim().to_string())
}

/// The time now as RFC 3339 UTC, to the second.
pub fn now() -> String {
    humantime::format_rfc3339_seconds(std::time::SystemTime::now()).to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn physical_gpu_follows_cuda_visible_devices() {
        assert_eq!(physical_gpu("cuda:0", Some("3,5")).as_deref(), Some("3"));
        assert_eq!(physical_gpu("cuda:1", Some("3, 5")).as_deref(), Some("5"));
        assert_eq!(physical_gpu("cuda:0", Some("GPU-8f1c")).as_deref(), Some("GPU-8f1c"));
        assert_eq!(physical_gpu("cuda:0", None), None);
        assert_eq!(physical_gpu("cpu", Some("0")), None);
    }
}
