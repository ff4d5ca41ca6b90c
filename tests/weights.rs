//! Every finished run's `weights.safetensors` loads into plain PyTorch without resdeg
//! (`scripts/resdeg_net.py`, which builds the net from the file's metadata and loads it strictly)
//! and gives exactly the final test error the run recorded: plain, option A and option B nets.
//! Needs the torch Python package, as tests/equivalence.rs does (skipped without it unless
//! RESDEG_REQUIRE_TORCH=1).

mod common;

use common::{config_in, resdeg, text, tmp};
use std::process::Command;

const SCRIPT: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/scripts/resdeg_net.py");
const TEST_IMAGES: usize = 300;

#[test]
fn weights_load_in_pytorch_and_give_the_recorded_test_error() {
    let Some(python) = common::python_or_skip() else { return };
    let dir = tmp("weights");
    let data = dir.join("data");
    resdeg::testing::write_synthetic(&data, TEST_IMAGES, 5).unwrap();
    let cfg = config_in(
        &dir,
        "w.yaml",
        &format!(
            "name: w\ndepths: [8]\nbatch_size: 32\ndevice: cpu\ngrids:\n  - {{archs: [residual], shortcut: B}}\n\
             schedule: {{iterations: 60, milestones: [45]}}\ndata: {{train_subset: 480, test_subset: {TEST_IMAGES}}}\n"
        ),
    );
    let out = resdeg(&[cfg.to_str().unwrap(), "--quiet"], Some(&data));
    assert!(out.status.success(), "{}{}", text(&out.stdout), text(&out.stderr));
    for run in ["plain-8-s0", "residual-8-A-s0", "residual-8-B-s0"] {
        let run_dir = dir.join("results/w").join(run);
        let curves = resdeg::record::read_parquet(&run_dir.join("curves.parquet")).unwrap();
        let errors = curves.column("test_error").unwrap().f64().unwrap().clone();
        let recorded = errors.get(errors.len() - 1).expect("the last epoch is evaluated");
        let mut cmd = Command::new(&python.0);
        cmd.arg(SCRIPT).arg(run_dir.join("weights.safetensors")).arg("--data").arg(&data);
        cmd.args(["--images", &TEST_IMAGES.to_string()]);
        if let Some(p) = &python.1 {
            cmd.env("PYTHONPATH", p);
        }
        let o = cmd.output().unwrap();
        let said = text(&o.stdout);
        assert!(o.status.success(), "{run}: {said}{}", text(&o.stderr));
        let wrong = (recorded * TEST_IMAGES as f64).round() as usize;
        assert_eq!(
            said.trim(),
            format!("{run}: {wrong} of {TEST_IMAGES} test images wrong ({:.2}%)", 100.0 * recorded)
        );
        // A net that learned something: the comparison would not notice weights left at their init.
        assert!(recorded < 0.5, "{run}: test error {recorded}");
    }
    std::fs::remove_dir_all(dir).unwrap();
}
