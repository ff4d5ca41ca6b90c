//! Helpers shared by the integration tests: temporary folders, running the binary, reading
//! back what it left.
#![allow(dead_code)]

use std::collections::BTreeMap;
use std::fs;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

/// A fresh folder for one test.
pub fn tmp(name: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!("resdeg-{name}-{}", std::process::id()));
    let _ = fs::remove_dir_all(&d);
    fs::create_dir_all(&d).unwrap();
    d
}

/// The binary, without any CIFAR10_DIR of the caller's environment unless `data` gives one.
pub fn command(args: &[&str], data: Option<&Path>) -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_resdeg"));
    cmd.args(args).env_remove("CIFAR10_DIR").env_remove("RESDEG_CRASH_AT").env_remove("CIFAR10_URL");
    if let Some(d) = data {
        cmd.env("CIFAR10_DIR", d);
    }
    cmd
}

/// Writes the config `<dir>/<file>`: `body` (whole YAML lines) plus results_dir and plots_dir
/// inside `dir`, so that the run writes nowhere else.
pub fn config_in(dir: &Path, file: &str, body: &str) -> PathBuf {
    let path = dir.join(file);
    let (results, plots) = (dir.join("results"), dir.join("plots"));
    // `--explain` after a sweep only where a test asks for it (it costs more than these sweeps).
    let explain = if body.contains("explain:") { "" } else { "explain: {after_sweep: false}\n" };
    fs::write(
        &path,
        format!("{body}{explain}results_dir: {}\nplots_dir: {}\n", results.display(), plots.display()),
    )
    .unwrap();
    path
}

pub fn resdeg(args: &[&str], data: Option<&Path>) -> Output {
    command(args, data).output().unwrap()
}

pub fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

/// Every file under `dir` (lock files aside: they are rewritten by whoever claims a run) with
/// its bytes, to prove that nothing was lost or overwritten.
pub fn snapshot(dir: &Path) -> BTreeMap<PathBuf, Vec<u8>> {
    let mut out = BTreeMap::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for e in fs::read_dir(&d).into_iter().flatten().flatten() {
            let p = e.path();
            if p.is_dir() {
                if p.file_name().is_some_and(|n| n != ".locks") {
                    stack.push(p);
                }
            } else {
                out.insert(p.clone(), fs::read(&p).unwrap());
            }
        }
    }
    out
}

/// Temporary files (`.<name>.tmp-<host>-<pid>`) left anywhere under `dir`.
pub fn temporaries(dir: &Path) -> Vec<PathBuf> {
    snapshot(dir).into_keys().filter(|p| p.file_name().unwrap().to_string_lossy().contains(".tmp-")).collect()
}

/// A Python that imports torch, with the PYTHONPATH that makes it do so; or why there is none.
pub fn python() -> Result<(String, Option<PathBuf>), String> {
    let python = std::env::var("PYTHON").unwrap_or_else(|_| "python3".into());
    // .cargo/config.toml points LIBTORCH at .libtorch/torch; its parent holds the torch package.
    let path = std::env::var_os("LIBTORCH").map(|l| {
        let l = PathBuf::from(l);
        let l = if l.is_relative() { Path::new(env!("CARGO_MANIFEST_DIR")).join(l) } else { l };
        l.parent().unwrap().to_path_buf()
    });
    let mut cmd = Command::new(&python);
    cmd.args(["-c", "import torch; print(torch.__version__)"]);
    if let Some(p) = &path {
        cmd.env("PYTHONPATH", p);
    }
    match cmd.output() {
        Ok(o) if o.status.success() => Ok((python, path)),
        Ok(o) => Err(format!("{python} cannot import torch: {}", String::from_utf8_lossy(&o.stderr).trim())),
        Err(e) => Err(format!("cannot run {python}: {e}")),
    }
}

/// [`python`], or None after printing why the calling test is skipped; without torch that is a
/// failure when RESDEG_REQUIRE_TORCH=1 (CI sets it).
pub fn python_or_skip() -> Option<(String, Option<PathBuf>)> {
    match python() {
        Ok(p) => Some(p),
        Err(why) if std::env::var("RESDEG_REQUIRE_TORCH").as_deref() != Ok("1") => {
            println!("skipped: {why} (run scripts/setup to install it into .libtorch/)");
            None
        }
        Err(why) => panic!("RESDEG_REQUIRE_TORCH=1 but {why}"),
    }
}
