//! resdeg: the CIFAR-10 degradation study of He et al. (2015), plain against residual nets.
//!
//! The pipeline, one module a step: [`config`] (the sweep file) → [`plan`] (its runs) →
//! [`data`] (CIFAR-10) → [`model`] (the nets) → [`learner`] (a net with its SGD) → [`measure`]
//! (what is read off a net: test error, layer responses, gradient norms; [`explain`] what its
//! trained weights say of why residual nets optimise more easily) → [`train`] (the loop,
//! twins in lockstep; [`checkpoint`] its files) → [`record`] (Parquet and run.yaml) → [`verdict`],
//! [`gradients`] and [`table6`] (what the records say) → [`report`] (REPORT.md and the figures,
//! drawn by [`plot`]; [`compare`] sets two sweeps' runs side by side). [`sweep`] runs that pipeline for a whole sweep; [`cost`] estimates its time.
//! [`backend`] holds the libtorch settings that change speed, not results; [`claim`], [`cluster`]
//! and [`status`] let several processes share one sweep and say where it stands; [`testing`] is
//! what tests and the benchmark reach in with.

pub mod backend;
pub mod checkpoint;
pub mod claim;
pub mod cluster;
pub mod compare;
pub mod config;
pub mod cost;
pub mod data;
pub mod explain;
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
pub mod testing;
pub mod train;
pub mod verdict;
