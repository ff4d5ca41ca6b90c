//! `weights.safetensors`: a finished run's final weights in the format PyTorch users load without
//! resdeg (`safetensors.torch.load_file`), under PyTorch's names (`model::state_dict`), with the
//! net they belong to in the header's `__metadata__`, so that the file alone rebuilds the net
//! (`scripts/resdeg_net.py`). tch's writer takes no metadata, and the safetensors crate writes
//! metadata in hash order; this writer's header is sorted, so the same weights give the same bytes.
//!
//! The format: 8 bytes of header length (little-endian), the JSON header (padded with spaces to a
//! multiple of 8), then the tensors' bytes, little-endian and row-major, at the header's offsets.

use super::*;
use std::collections::BTreeMap;
use tch::{Kind, Tensor};

/// The safetensors dtype of a kind resdeg writes, and its size in bytes.
fn dtype(name: &str, kind: Kind) -> Result<(&'static str, usize)> {
    match kind {
        Kind::Int64 => Ok(("I64", 8)),
        Kind::Double => Ok(("F64", 8)),
        Kind::Float => Ok(("F32", 4)),
        other => anyhow::bail!("weights: {name} is {other:?}, which resdeg does not write"),
    }
}

/// What names the net: what `scripts/resdeg_net.py` builds before loading.
fn metadata(run: &Run, iterations: u64) -> BTreeMap<&'static str, String> {
    BTreeMap::from([
        ("format", "pt".to_string()),
        ("run_id", run.id.clone()),
        ("arch", run.arch.to_string()),
        ("depth", run.depth.to_string()),
        ("shortcut", run.shortcut.to_string()),
        ("iterations", iterations.to_string()),
    ])
}

/// Writes `weights` (a `model::state_dict`) of `run` after `iterations` steps to `path`, atomically.
pub fn write(path: &Path, run: &Run, iterations: u64, weights: &[(String, Tensor)]) -> Result<()> {
    // 8-byte tensors first, then by name (as the safetensors crate orders them): every tensor
    // starts aligned to its element size.
    let mut order: Vec<(&str, &Tensor, &str, usize)> = Vec::new();
    for (name, t) in weights {
        let (dt, size) = dtype(name, t.kind())?;
        order.push((name, t, dt, size));
    }
    order.sort_by(|a, b| b.3.cmp(&a.3).then(a.0.cmp(b.0)));
    let mut header = serde_json::Map::new();
    header.insert("__metadata__".into(), serde_json::to_value(metadata(run, iterations))?);
    let mut body = Vec::new();
    for (name, t, dt, size) in order {
        let t = t.to_device(tch::Device::Cpu).contiguous();
        let start = body.len();
        body.resize(start + t.numel() * size, 0);
        t.copy_data_u8(&mut body[start..], t.numel());
        let info = serde_json::json!({"dtype": dt, "shape": t.size(), "data_offsets": [start, body.len()]});
        header.insert(name.to_string(), info);
    }
    let mut head = serde_json::to_vec(&header)?;
    head.resize(head.len().next_multiple_of(8), b' ');
    write_atomic(path, |tmp| {
        let mut bytes = (head.len() as u64).to_le_bytes().to_vec();
        bytes.extend_from_slice(&head);
        bytes.extend_from_slice(&body);
        fs::write(tmp, bytes).with_context(|| format!("cannot write {}", tmp.display()))
    })
}

/// A weights file read back.
pub struct Weights {
    pub tensors: Vec<(String, Tensor)>,
    /// What names the net: `arch`, `depth`, `shortcut`, `run_id`, `iterations`.
    pub metadata: BTreeMap<String, String>,
}

/// Reads a weights file back (its tensors through tch, whose reader is the safetensors crate's).
pub fn read(path: &Path) -> Result<Weights> {
    let bad = || format!("{} is not a resdeg weights file (safetensors)", path.display());
    let raw = fs::read(path).with_context(|| format!("cannot read {}", path.display()))?;
    let len = u64::from_le_bytes(raw.get(..8).with_context(bad)?.try_into()?) as usize;
    let header: serde_json::Value =
        serde_json::from_slice(raw.get(8..8 + len).with_context(bad)?).with_context(bad)?;
    let metadata = serde_json::from_value(header["__metadata__"].clone()).with_context(bad)?;
    Ok(Weights { tensors: Tensor::read_safetensors(path).with_context(bad)?, metadata })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::{Arch, Shortcut};

    /// What is written reads back bit for bit through the safetensors crate, with the net named in
    /// the metadata, and the same weights give the same bytes.
    #[test]
    fn weights_round_trip_with_their_net_named() {
        let dir = std::env::temp_dir().join(format!("resdeg-weights-{}", std::process::id()));
        let run = Run::new(Arch::Residual, 8, Shortcut::A, 3);
        let w = vec![
            ("fc.bias".to_string(), Tensor::from_slice(&[0.5f32, -1.25, 3.0])),
            ("stem.bn.num_batches_tracked".to_string(), Tensor::from(12i64)),
            (
                "stem.conv.weight".to_string(),
                Tensor::arange(24, (Kind::Double, tch::Device::Cpu)).view([2, 3, 2, 2]),
            ),
            ("x.weight".to_string(), Tensor::arange(6, (Kind::Float, tch::Device::Cpu)).view([2, 3]).tr()),
        ];
        let (a, b) = (dir.join("a.safetensors"), dir.join("b.safetensors"));
        write(&a, &run, 12, &w).unwrap();
        write(&b, &run, 12, &w).unwrap();
        assert_eq!(fs::read(&a).unwrap(), fs::read(&b).unwrap());
        let Weights { tensors: back, metadata: meta } = read(&a).unwrap();
        assert_eq!(back.len(), 4);
        for (name, t) in &w {
            let b = &back.iter().find(|(n, _)| n == name).unwrap().1;
            assert!(t.equal(b) && b.size() == t.size(), "{name}");
        }
        let want =
            [("arch", "residual"), ("depth", "8"), ("shortcut", "A"), ("iterations", "12"), ("format", "pt")];
        for (k, v) in want {
            assert_eq!(meta[k], v, "{k}");
        }
        assert_eq!(meta["run_id"], "residual-8-A-s3");
        std::fs::remove_dir_all(dir).unwrap();
    }
}
