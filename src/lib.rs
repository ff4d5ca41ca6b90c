//! resdeg: the CIFAR-10 degradation study of He et al. (2015), plain against residual nets.
//!
//! The pipeline, one module a step: [`config`] (the sweep file) → [`plan`] (its runs) →
//! [`data`] (CIFAR-10) → [`model`] (the nets) → [`train`] (the recipe, twins in lockstep;
//! [`checkpoint`] its files)
//! → [`record`] (Parquet and run.yaml) → [`verdict`] and [`table6`] (what the records say) →
//! [`report`] (REPORT.md and the figures, drawn by [`plot`]).
//! [`sweep`] runs that pipeline for a whole sweep. [`backend`] holds the libtorch settings that change speed, not results; [`claim`],
//! [`cluster`] and [`status`] let several processes share one sweep and say where it stands.

pub mod backend;
pub mod checkpoint;
pub mod claim;
pub mod cluster;
pub mod config;
pub mod cost;
pub mod data;
pub mod gradients;
pub mod learner;
pub mod measure;
pub mod model;
pub mod plan;
pub mod plot;
pub mod progress;
pub mod record;
pub mod report;
pub mod status;
pub mod sweep;
pub mod table6;
pub mod train;
pub mod verdict;

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
