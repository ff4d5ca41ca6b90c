//! The recipe: the keys of a config that change a number a run produces. Two configs with the
//! same recipe are the same experiment and may share a results folder; `--compare` lists the
//! recipe keys in which two sweeps differ.

use super::*;

impl Config {
    /// Whether two configs describe the same experiment, so that their runs may share a results
    /// folder: every key that changes a number a run produces is equal. They may differ in the
    /// machine (where and how fast runs train, where the data lies), in the seeds a sweep holds
    /// (a run's seed is in its name, so more seeds replicate the same runs) and in what is
    /// measured beside training (`train`'s tests prove the gradient norms change nothing).
    pub fn same_experiment(&self, other: &Config) -> bool {
        self.recipe() == other.recipe()
    }

    /// The recipe keys (nested ones dotted) whose values differ from `other`'s, as `key: this /
    /// other`, names aside: what separates two sweeps' runs of the same id.
    pub fn recipe_differences(&self, other: &Config) -> Vec<String> {
        let flat = |c: &Config| {
            let mut recipe = c.recipe();
            recipe.name.clear();
            let mut keys = std::collections::BTreeMap::new();
            flatten("", &serde_norway::to_value(&recipe).expect("a config serializes"), &mut keys);
            keys
        };
        let (a, b) = (flat(self), flat(other));
        let keys: std::collections::BTreeSet<&String> = a.keys().chain(b.keys()).collect();
        let show = |v: Option<&String>| v.map_or("(absent)".to_string(), String::clone);
        keys.into_iter()
            .filter(|&k| a.get(k) != b.get(k))
            .map(|k| format!("{k}: {} / {}", show(a.get(k)), show(b.get(k))))
            .collect()
    }

    /// The config with everything but the recipe cleared. It takes the config apart field by
    /// field, so that a new key does not compile until it is sorted into recipe or not here.
    fn recipe(&self) -> Config {
        let Config {
            name,
            data,
            archs,
            depths,
            shortcut,
            grids,
            batch_size,
            last_batch,
            optimizer,
            schedule,
            augment,
            eval_every,
            tf32,
            bf16,
            // Which runs, and what is measured beside them.
            seeds: _,
            layer_responses: _,
            gradient_norms: _,
            branch_ratios: _,
            explain: _,
            // The machine.
            device: _,
            devices: _,
            threads: _,
            channels_last: _,
            results_dir: _,
            plots_dir: _,
        } = self.clone();
        let Data { validation, train_subset, test_subset, dir: _, download: _ } = data;
        Config {
            name,
            data: Data { validation, train_subset, test_subset, dir: PathBuf::new(), download: false },
            archs,
            depths,
            shortcut,
            seeds: vec![],
            grids,
            batch_size,
            last_batch,
            optimizer,
            schedule,
            augment,
            eval_every,
            layer_responses: false,
            gradient_norms: false,
            branch_ratios: false,
            device: String::new(),
            devices: vec![],
            threads: None,
            tf32,
            bf16,
            channels_last: None,
            results_dir: PathBuf::new(),
            plots_dir: PathBuf::new(),
            explain: Explain::default(),
        }
    }
}

/// Every leaf of a YAML value under its dotted key, written inline.
fn flatten(prefix: &str, v: &serde_norway::Value, out: &mut std::collections::BTreeMap<String, String>) {
    match v {
        serde_norway::Value::Mapping(m) => {
            for (k, v) in m {
                let k = inline(k);
                flatten(&if prefix.is_empty() { k } else { format!("{prefix}.{k}") }, v, out);
            }
        }
        leaf => {
            out.insert(prefix.to_string(), inline(leaf));
        }
    }
}

/// A YAML value on one line: `[20, 32]`, `{archs: [plain], depths: [56]}`, `true`, `0.1`.
fn inline(v: &serde_norway::Value) -> String {
    use serde_norway::Value;
    let join = |items: Vec<String>| items.join(", ");
    match v {
        Value::Sequence(s) => format!("[{}]", join(s.iter().map(inline).collect())),
        Value::Mapping(m) => {
            format!("{{{}}}", join(m.iter().map(|(k, v)| format!("{}: {}", inline(k), inline(v))).collect()))
        }
        other => {
            serde_norway::to_string(other).map_or_else(|_| format!("{other:?}"), |s| s.trim_end().to_string())
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::path::Path;

    fn parse(text: &str) -> Result<Config, String> {
        Config::parse(text, Path::new("sweep.yaml"), "sweep").map_err(|e| e.to_string())
    }

    #[test]
    fn recipe_differences_name_each_key_that_changes_a_number() {
        let a = parse("name: a\ndepths: [20, 32]\nseeds: [0, 1]\nbf16: true\nthreads: 2\n").unwrap();
        let b =
            parse("name: b\ndepths: [20, 32]\nschedule: {iterations: 10000, milestones: [5000]}\n").unwrap();
        assert_eq!(
            a.recipe_differences(&b),
            [
                "bf16: true / false",
                "schedule.iterations: 64000 / 10000",
                "schedule.milestones: [32000, 48000] / [5000]"
            ]
        );
        // Seeds, machine keys and the name are not the recipe.
        assert!(a.recipe_differences(&parse("depths: [20, 32]\nbf16: true\n").unwrap()).is_empty());
        let g = parse("depths: [20]\ngrids: [{archs: [residual], depths: [56]}]\n").unwrap();
        assert_eq!(
            g.recipe_differences(&parse("depths: [20]\n").unwrap()),
            ["grids: [{archs: [residual], depths: [56], shortcut: null, seeds: null}] / []"]
        );
    }

    #[test]
    fn more_seeds_or_measurements_are_the_same_experiment_other_recipes_are_not() {
        let a = Config::parse("name: x\ndepths: [20]\n", Path::new("x.yaml"), "x").unwrap();
        let mut b = a.clone();
        b.seeds = vec![0, 1, 2];
        b.threads = Some(1);
        (b.gradient_norms, b.branch_ratios) = (false, false);
        assert!(a.same_experiment(&b));
        (b.device, b.results_dir, b.data.dir) = ("cuda:1".into(), "elsewhere".into(), "/data".into());
        assert!(a.same_experiment(&b));
        b.schedule.iterations += 1;
        assert!(!a.same_experiment(&b));
        let mut c = a.clone();
        c.data.train_subset = Some(100);
        assert!(!a.same_experiment(&c));
    }
}
