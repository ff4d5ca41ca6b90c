//! What tests and the benchmark reach into the product with, gathered in one place: synthetic
//! CIFAR-format files (tests never need the real data set), the crash points of tests/crash.rs,
//! and the lock on libtorch's global generator. The training loop's own test handles
//! (`train::Control`'s `observe`, `stop_after_epoch` and `kind`) are fields of its control and say
//! so there; `Progress::silent` is the benchmark's.

use crate::data::{CLASSES, RECORD, Rng, all_files};
use anyhow::Result;
use std::fs;
use std::path::Path;

/// Fault injection for the crash-safety tests (tests/crash.rs): when the environment variable
/// `RESDEG_CRASH_AT` equals the point's name (`iteration:7`, `write:curves.parquet`, …), the process
/// kills itself with SIGKILL right there, as `kill -9`, the OOM killer or a lost node would.
pub fn crash_point(point: impl FnOnce() -> String) {
    static AT: std::sync::OnceLock<Option<String>> = std::sync::OnceLock::new();
    if let Some(at) = AT.get_or_init(|| std::env::var("RESDEG_CRASH_AT").ok())
        && *at == point()
    {
        unsafe extern "C" {
            fn kill(pid: i32, sig: i32) -> i32;
        }
        // SAFETY: sends SIGKILL (9) to this very process.
        unsafe { kill(std::process::id() as i32, 9) };
    }
}

/// libtorch has one global random generator and the test harness runs tests on several threads:
/// tests that draw from it (or need its draws to be reproducible) hold this lock.
#[cfg(test)]
pub(crate) fn torch_rng_lock() -> std::sync::MutexGuard<'static, ()> {
    static LOCK: std::sync::Mutex<()> = std::sync::Mutex::new(());
    LOCK.lock().unwrap_or_else(|e| e.into_inner())
}

/// Writes CIFAR-shaped files for tests: `per_file` records in each of the six files, a learnable
/// task (each class tints the image and brightens one band of rows) with noise, from `seed`.
pub fn write_synthetic(dir: &Path, per_file: usize, seed: u64) -> Result<()> {
    fs::create_dir_all(dir)?;
    let mut rng = Rng::new(seed, 0);
    for (k, name) in all_files().enumerate() {
        let mut bytes = Vec::with_capacity(per_file * RECORD);
        for i in 0..per_file {
            let label = ((i + k) % CLASSES as usize) as u8;
            bytes.push(label);
            for ch in 0..3 {
                for px in 0..1024 {
                    let row = px / 32;
                    let tint = if (label as usize + ch).is_multiple_of(3) { 60 } else { 0 };
                    let band = if row / 3 == label as usize { 80 } else { 0 };
                    let noise = rng.below(96) as usize;
                    bytes.push((40 + tint + band + noise).min(255) as u8);
                }
            }
        }
        fs::write(dir.join(name), bytes)?;
    }
    Ok(())
}
