//! resdeg: the CIFAR-10 degradation study of He et al. (2015), plain against residual nets.
//!
//! The pipeline, one module a step: [`config`] (the sweep file) → [`plan`] (its runs) →
//! [`data`] (CIFAR-10) → [`model`] (the nets) → [`train`] (the recipe, twins in lockstep)
//! → [`record`] (Parquet and run.yaml) → [`report`] (what the records say, drawn by [`plot`]).

pub mod config;
pub mod data;
pub mod model;
pub mod plan;
pub mod plot;
pub mod progress;
pub mod record;
pub mod report;
pub mod train;

/// libtorch has one global random generator and the test harness runs tests on several threads:
/// tests that draw from it (or need its draws to be reproducible) hold this lock.
#[cfg(test)]
pub(crate) fn torch_rng_lock() -> std::sync::MutexGuard<'static, ()> {
    static LOCK: std::sync::Mutex<()> = std::sync::Mutex::new(());
    LOCK.lock().unwrap_or_else(|e| e.into_inner())
}
