//! Makes the binaries find libtorch at run time without LD_LIBRARY_PATH, and keeps libtorch_cuda
//! linked so that the same build can use a GPU.
use std::{env, fs, path::Path};

/// The libtorch release tch 0.24 is written against; scripts/setup installs the same.
const TORCH_VERSION: &str = "2.11.0";

fn main() {
    println!("cargo:rerun-if-changed=build.rs");
    // torch-sys passes its libtorch lib dir to crates that depend on it directly (links = "tch").
    let Ok(lib) = env::var("DEP_TCH_LIBTORCH_LIB") else {
        return;
    };
    let lib = Path::new(&lib);
    // The PyPI wheel has no build-version file, so torch-sys cannot check the version: do it here.
    let version_py = lib.join("../version.py");
    println!("cargo:rerun-if-changed={}", version_py.display());
    if let Ok(text) = fs::read_to_string(&version_py) {
        let found = text
            .lines()
            .find_map(|l| l.strip_prefix("__version__ = "))
            .map(|v| v.trim_matches(|c| c == '\'' || c == '"').to_string());
        if let Some(found) = found {
            let base = found.split('+').next().unwrap_or_default();
            if base != TORCH_VERSION {
                panic!(
                    "libtorch in {} is {found}, resdeg needs {TORCH_VERSION}: run scripts/setup \
                     (or point LIBTORCH at a libtorch {TORCH_VERSION})",
                    lib.display()
                );
            }
        }
    }
    println!("cargo:rustc-link-arg=-Wl,-rpath,{}", lib.display());
    // `--as-needed` would drop libtorch_cuda (nothing references its symbols directly), leaving
    // CUDA "unavailable" on a GPU machine; name it again under --no-as-needed.
    if lib.join("libtorch_cuda.so").exists() {
        println!("cargo:rustc-link-arg=-Wl,--no-as-needed,-ltorch_cuda,--as-needed");
    }
}
