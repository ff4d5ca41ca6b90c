//! A lockstep group's checkpoint: one safetensors file holding every member's variables (weights
//! and BN statistics) and momentum buffers, taken from and restored into their learners here, and
//! the group's state (position in the schedule, warm-up, each member's curves so far) as YAML in a
//! byte tensor named `state`. One file for the
//! group, so that twins can never resume from different epochs; written after every epoch by
//! temporary name and rename, so that a crash leaves the previous one whole. The format is
//! what resumes running studies: a change here must still read the files written before.

use crate::learner::Learner;
use crate::measure::{Branches, Gradients};
use crate::record::{EpochRecord, Status, WarmupEnd, write_atomic};
use anyhow::{Context, Result, ensure};
use serde::{Deserialize, Serialize};
use std::path::Path;
use tch::Tensor;

/// The part of a member's state that is not tensors.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct MemberState {
    pub run_id: String,
    pub status: Status,
    /// The last batch errors while the group warms up.
    pub window: Vec<f64>,
    pub curves: Vec<EpochRecord>,
    /// Absent from checkpoints written before gradient norms were recorded.
    #[serde(default)]
    pub gradients: Vec<Gradients>,
    /// Absent from checkpoints of runs that do not record them, and from those written before
    /// branch ratios were recorded (such a run goes on without).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub branches: Vec<Branches>,
}

/// Where the group stands after an epoch.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct GroupState {
    pub epoch: u64,
    pub iteration: u64,
    pub elapsed_s: f64,
    /// Twins share one schedule, so the warm-up is the group's (see `train::train_lockstep`).
    pub warming: bool,
    pub warmup_end: Option<WarmupEnd>,
    pub members: Vec<MemberState>,
    /// When the file was written (RFC 3339): where the sitting that wrote it ended. Kept inside,
    /// not read from the file's time, which a copy or a git checkout resets. Absent from
    /// checkpoints written before it was recorded.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub written: Option<String>,
}

/// The name of member `k`'s variable `name` in the file.
fn var_key(k: usize, name: &str) -> String {
    format!("m{k}.var.{name}")
}

/// The name of member `k`'s momentum buffer for variable `name` in the file.
fn momentum_key(k: usize, name: &str) -> String {
    format!("m{k}.momentum.{name}")
}

/// Writes the group state and the members' tensors (named by [`var_key`] and [`momentum_key`]).
pub fn save(path: &Path, g: &GroupState, mut named: Vec<(String, Tensor)>) -> Result<()> {
    let state = serde_norway::to_string(g)?;
    named.push(("state".into(), Tensor::from_slice(state.as_bytes())));
    write_atomic(path, |tmp| {
        Tensor::write_safetensors(&named, tmp)
            .with_context(|| format!("cannot write checkpoint {}", tmp.display()))
    })
}

/// The group state and every named tensor of a checkpoint.
pub fn load(path: &Path) -> Result<(GroupState, Vec<(String, Tensor)>)> {
    let bad = || {
        format!(
            "checkpoint {} is unreadable; delete it (or rerun with --fresh) to start over",
            path.display()
        )
    };
    let named = Tensor::read_safetensors(path).with_context(bad)?;
    let state = named.iter().find(|(n, _)| n == "state").map(|(_, t)| t).with_context(bad)?;
    let g: GroupState = serde_norway::from_slice(&Vec::<u8>::try_from(state)?).with_context(bad)?;
    Ok((g, named))
}

/// Writes the group state `g` with every member's state, variables and momentum buffers.
pub fn save_group(path: &Path, mut g: GroupState, members: &[(&MemberState, &Learner)]) -> Result<()> {
    g.written = Some(crate::record::now());
    let mut named: Vec<(String, Tensor)> = Vec::new();
    for (k, (state, learner)) in members.iter().enumerate() {
        g.members.push((*state).clone());
        for (name, t) in learner.vs.variables() {
            // safetensors stores contiguous tensors; loading copies back into the live layout.
            named.push((var_key(k, &name), t.contiguous()));
        }
        for (name, b) in learner.momentum_buffers() {
            named.push((momentum_key(k, name), b.contiguous()));
        }
    }
    save(path, &g, named)
}

/// Restores every member's learner (given with its run id, in the group's order) from the group's
/// checkpoint; returns the group state, each member's state inside.
pub fn load_group(path: &Path, members: &mut [(&str, &mut Learner)]) -> Result<GroupState> {
    let (g, named) = load(path)?;
    let ids: Vec<&str> = g.members.iter().map(|m| m.run_id.as_str()).collect();
    ensure!(
        ids == members.iter().map(|m| m.0).collect::<Vec<_>>(),
        "checkpoint {} holds runs {ids:?}, not this group; delete it (or rerun with --fresh)",
        path.display()
    );
    let find = |name: String| {
        named.iter().find(|(n, _)| *n == name).map(|(_, t)| t).with_context(|| {
            format!(
                "checkpoint {} lacks {name}; delete it (or rerun with --fresh) to start over",
                path.display()
            )
        })
    };
    tch::no_grad(|| -> Result<()> {
        for (k, (_, learner)) in members.iter_mut().enumerate() {
            for (name, mut t) in learner.vs.variables() {
                t.copy_(find(var_key(k, &name))?);
            }
            for (name, b) in learner.momentum_buffers_mut() {
                b.copy_(find(momentum_key(k, name))?);
            }
        }
        Ok(())
    })?;
    Ok(g)
}

/// Where a group stands, from its checkpoint's state alone (`--status`).
#[derive(Debug, Clone, PartialEq)]
pub struct Position {
    pub epoch: u64,
    pub iteration: u64,
    pub elapsed_s: f64,
    /// Training images per second through each net in the last epoch.
    pub images_per_s: f64,
    /// When the checkpoint was written: what it says ([`GroupState::written`]), else, for one
    /// written before it said, the file's time.
    pub written: Option<std::time::SystemTime>,
    /// Each member's run id and its epoch records so far.
    pub curves: Vec<(String, Vec<EpochRecord>)>,
}

/// Reads a group checkpoint's state without loading its tensors: the safetensors header (JSON,
/// which the YAML parser reads) gives the state's byte range, and only those bytes are read.
pub fn position(path: &Path) -> Result<Position> {
    use std::io::{Read, Seek, SeekFrom};
    let mut f = std::fs::File::open(path)?;
    let mut len = [0u8; 8];
    f.read_exact(&mut len)?;
    let len = u64::from_le_bytes(len);
    ensure!(len < 1 << 30, "{} is not a safetensors file", path.display());
    let mut header = vec![0u8; len as usize];
    f.read_exact(&mut header)?;
    let header: serde_norway::Value = serde_norway::from_slice(&header)?;
    let offsets = header["state"]["data_offsets"].as_sequence().context("checkpoint without state")?;
    let (a, b) = (offsets[0].as_u64().unwrap_or(0), offsets[1].as_u64().unwrap_or(0));
    let mut state = vec![0u8; b.saturating_sub(a) as usize];
    f.seek(SeekFrom::Start(8 + len + a))?;
    f.read_exact(&mut state)?;
    let g: GroupState = serde_norway::from_slice(&state)?;
    let images_per_s =
        g.members.iter().filter_map(|m| m.curves.last()).map(|r| r.images_per_s).fold(0.0, f64::max);
    Ok(Position {
        epoch: g.epoch,
        iteration: g.iteration,
        elapsed_s: g.elapsed_s,
        images_per_s,
        written: g
            .written
            .and_then(|w| humantime::parse_rfc3339(&w).ok())
            .or_else(|| std::fs::metadata(path).and_then(|m| m.modified()).ok()),
        curves: g.members.into_iter().map(|m| (m.run_id, m.curves)).collect(),
    })
}
