//! Makes the binaries find libtorch at run time without LD_LIBRARY_PATH, keeps libtorch_cuda
//! linked so that the same build can use a GPU, and records the versions that run.yaml reports.
use std::{env, fs, path::Path};

/// The libtorch release tch 0.24 is written against; scripts/setup installs the same.
const TORCH_VERSION: &str = "2.11.0";

fn main() {
    println!("cargo:rerun-if-changed=build.rs");
    provenance();
    // torch-sys passes its libtorch lib dir to crates that depend on it directly (links = "tch").
    let Ok(lib) = env::var("DEP_TCH_LIBTORCH_LIB") else {
        println!("cargo:rustc-env=RESDEG_LIBTORCH_VERSION=unknown");
        return;
    };
    let lib = Path::new(&lib);
    // The PyPI wheel has no build-version file, so torch-sys cannot check the version: do it here.
    let version_py = lib.join("../version.py");
    println!("cargo:rerun-if-changed={}", version_py.display());
    let found = fs::read_to_string(&version_py).ok().and_then(|text| {
        text.lines()
            .find_map(|l| l.strip_prefix("__version__ = "))
            .map(|v| v.trim_matches(|c| c == '\'' || c == '"').to_string())
    });
    if let Some(found) = &found {
        let base = found.split('+').next().unwrap_or_default();
        if base != TORCH_VERSION {
            panic!(
                "libtorch in {} is {found}, resdeg needs {TORCH_VERSION}: run scripts/setup \
                 (or point LIBTORCH at a libtorch {TORCH_VERSION})",
                lib.display()
            );
        }
    }
    let version = found.unwrap_or_else(|| format!("{TORCH_VERSION} (assumed: no version.py)"));
    println!("cargo:rustc-env=RESDEG_LIBTORCH_VERSION={version}");
    println!("cargo:rustc-link-arg=-Wl,-rpath,{}", lib.display());
    // `--as-needed` would drop libtorch_cuda (nothing references its symbols directly), leaving
    // CUDA "unavailable" on a GPU machine; name it again under --no-as-needed.
    if lib.join("libtorch_cuda.so").exists() {
        println!("cargo:rustc-link-arg=-Wl,--no-as-needed,-ltorch_cuda,--as-needed");
    }
}

/// The commit and the tch version, recorded in every run's run.yaml.
fn provenance() {
    let git = |args: &[&str]| {
        std::process::Command::new("git")
            .args(args)
            .output()
            .ok()
            .filter(|o| o.status.success())
            .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_string())
    };
    let mut commit = git(&["rev-parse", "HEAD"]).unwrap_or_else(|| "unknown".into());
    if git(&["status", "--porcelain", "--untracked-files=no"]).is_some_and(|s| !s.is_empty()) {
        commit.push_str("-dirty");
    }
    println!("cargo:rustc-env=RESDEG_GIT_COMMIT={commit}");
    if let Some(dir) = git(&["rev-parse", "--git-dir"]) {
        println!("cargo:rerun-if-changed={dir}/HEAD");
        println!("cargo:rerun-if-changed={dir}/index");
    }
    let lock = fs::read_to_string("Cargo.lock").unwrap_or_default();
    let tch = lock
        .split("[[package]]")
        .find(|p| p.contains("name = \"tch\""))
        .and_then(|p| p.lines().find_map(|l| l.strip_prefix("version = ")))
        .map(|v| v.trim_matches('"').to_string())
        .unwrap_or_else(|| "unknown".into());
    println!("cargo:rustc-env=RESDEG_TCH_VERSION={tch}");
}
