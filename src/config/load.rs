//! Reading a sweep file: YAML parsed into [`Config`] (unknown keys rejected), every value
//! checked, and each error made one line naming the file, the line, the key path, the bad value
//! and what is allowed.

use super::*;
use std::path::Path;

/// A config that cannot be used: `file:line: key = value: what is allowed`, on one line.
#[derive(Debug, thiserror::Error)]
pub struct ConfigError {
    pub file: PathBuf,
    pub line: Option<usize>,
    pub message: String,
}

impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter) -> fmt::Result {
        write!(f, "{}", self.file.display())?;
        if let Some(line) = self.line {
            write!(f, ":{line}")?;
        }
        // Messages from the YAML parser may span lines; the contract is one line.
        write!(f, ": {}", self.message.replace('\n', " "))
    }
}

/// One step of a key path such as `grids[1].depths[0]`.
#[derive(Debug, Clone, PartialEq)]
enum Seg {
    Key(&'static str),
    Index(usize),
}

/// A bad value found by [`Config::check`]: where it is, and what is wrong with it.
struct Invalid {
    path: Vec<Seg>,
    message: String,
}

fn path_text(path: &[Seg]) -> String {
    let mut s = String::new();
    for seg in path {
        match seg {
            Seg::Key(k) if s.is_empty() => s.push_str(k),
            Seg::Key(k) => {
                s.push('.');
                s.push_str(k);
            }
            Seg::Index(i) => s.push_str(&format!("[{i}]")),
        }
    }
    s
}

impl Config {
    /// Reads, parses and checks a sweep file.
    pub fn load(file: &Path) -> Result<Config, ConfigError> {
        let text = std::fs::read_to_string(file).map_err(|e| ConfigError {
            file: file.to_path_buf(),
            line: None,
            message: format!("cannot read the config file ({e}); check the path"),
        })?;
        let stem = file.file_stem().and_then(|s| s.to_str()).unwrap_or("experiment");
        Config::parse(&text, file, stem)
    }

    /// Parses and checks YAML text; `file` names it in errors, `stem` is the default name.
    pub fn parse(text: &str, file: &Path, stem: &str) -> Result<Config, ConfigError> {
        let mut cfg: Config = serde_norway::from_str(text).map_err(|e| ConfigError {
            file: file.to_path_buf(),
            line: e.location().map(|l| l.line()),
            message: strip_location(&e.to_string()),
        })?;
        let named_empty = cfg.name.is_empty()
            && serde_norway::from_str::<serde_norway::Value>(text).is_ok_and(|v| v.get("name").is_some());
        if cfg.name.is_empty() && !named_empty {
            cfg.name = stem.to_string();
        }
        cfg.check().map_err(|bad| ConfigError {
            file: file.to_path_buf(),
            line: locate(text, &bad.path),
            message: format!("{} {}", path_text(&bad.path), bad.message),
        })?;
        Ok(cfg)
    }

    fn check(&self) -> Result<(), Invalid> {
        use Seg::{Index, Key};
        let bad = |path: Vec<Seg>, message: String| Err(Invalid { path, message });

        // 255 bytes is the longest file name on ext4, XFS, APFS and NTFS.
        if self.name.len() > 255 {
            return bad(
                vec![Key("name")],
                format!(
                    "is {} bytes long; a results folder name can have at most 255, use a shorter name",
                    self.name.len()
                ),
            );
        }
        if self.name.is_empty()
            || !self.name.chars().all(|c| c.is_ascii_alphanumeric() || "._-".contains(c))
            || self.name.starts_with('.')
        {
            return bad(
                vec![Key("name")],
                format!(
                    "= {:?} cannot name a results folder; use letters, digits, '.', '_' and '-'",
                    self.name
                ),
            );
        }
        check_grid(vec![], &self.archs, &self.depths, &self.seeds)?;
        for (i, g) in self.grids.iter().enumerate() {
            let at = || vec![Key("grids"), Index(i)];
            let archs = g.archs.as_ref().unwrap_or(&self.archs);
            let depths = g.depths.as_ref().unwrap_or(&self.depths);
            let seeds = g.seeds.as_ref().unwrap_or(&self.seeds);
            check_grid(at(), archs, depths, seeds)?;
        }

        if self.batch_size == 0 {
            return bad(vec![Key("batch_size")], "= 0; use a positive batch size (the paper: 128)".into());
        }
        let o = &self.optimizer;
        let at = |k| vec![Key("optimizer"), Key(k)];
        if !(o.lr > 0.0 && o.lr.is_finite()) {
            return bad(at("lr"), format!("= {} must be a positive number (the paper: 0.1)", o.lr));
        }
        if !(0.0..1.0).contains(&o.momentum) {
            return bad(at("momentum"), format!("= {} must be in [0, 1) (the paper: 0.9)", o.momentum));
        }
        if !(o.weight_decay >= 0.0 && o.weight_decay.is_finite()) {
            return bad(
                at("weight_decay"),
                format!("= {} must be zero or positive (the paper: 0.0001)", o.weight_decay),
            );
        }
        if o.nesterov && o.momentum == 0.0 {
            return bad(at("nesterov"), "= true needs a momentum above 0".into());
        }

        let s = &self.schedule;
        let at = |k| vec![Key("schedule"), Key(k)];
        if s.iterations == 0 {
            return bad(
                at("iterations"),
                "= 0; use a positive number of iterations (the paper: 64000)".into(),
            );
        }
        let mut prev = 0;
        for (i, &m) in s.milestones.iter().enumerate() {
            let at = || vec![Key("schedule"), Key("milestones"), Index(i)];
            if m <= prev {
                return bad(
                    at(),
                    format!(
                        "= {m} must be above the milestone before it ({prev}): list milestones in increasing order"
                    ),
                );
            }
            if m >= s.iterations {
                return bad(
                    at(),
                    format!(
                        "= {m} is not before the end of training (iterations = {}); remove it or raise iterations",
                        s.iterations
                    ),
                );
            }
            prev = m;
        }
        if !(s.gamma > 0.0 && s.gamma.is_finite()) {
            return bad(at("gamma"), format!("= {} must be a positive factor (the paper: 0.1)", s.gamma));
        }
        let w = &s.warmup;
        let at = |k| vec![Key("schedule"), Key("warmup"), Key(k)];
        if !(w.lr > 0.0 && w.lr.is_finite()) {
            return bad(at("lr"), format!("= {} must be a positive number (the paper: 0.01)", w.lr));
        }
        if !(w.until_train_error > 0.0 && w.until_train_error <= 1.0) {
            return bad(
                at("until_train_error"),
                format!("= {} must be a fraction in (0, 1] (the paper: 0.8)", w.until_train_error),
            );
        }
        if w.max_iterations == 0 {
            return bad(
                at("max_iterations"),
                "= 0; use a positive cap (default 800), or warmup.enabled: false for no warm-up".into(),
            );
        }

        if self.augment.pad > 32 {
            return bad(
                vec![Key("augment"), Key("pad")],
                format!("= {} is too large; use 0 to 32 pixels (the paper: 4)", self.augment.pad),
            );
        }
        if self.eval_every == 0 {
            return bad(vec![Key("eval_every")], "= 0; use a positive number of epochs".into());
        }
        if let Err(message) = self.device.parse::<Device>() {
            return bad(vec![Key("device")], message);
        }
        for (i, d) in self.devices.iter().enumerate() {
            if let Err(message) = parse_worker_device(d) {
                return bad(vec![Key("devices"), Index(i)], message);
            }
        }
        if self.threads == Some(0) {
            return bad(
                vec![Key("threads")],
                "= 0; use a positive number, or leave it out for one per core".into(),
            );
        }

        let d = &self.data;
        let at = |k| vec![Key("data"), Key(k)];
        if d.validation >= TRAIN_IMAGES {
            return bad(
                at("validation"),
                format!(
                    "= {} leaves no training images; use 0 to {} (the paper: 5000)",
                    d.validation,
                    TRAIN_IMAGES - 1
                ),
            );
        }
        let left = TRAIN_IMAGES - d.validation;
        if let Some(n) = d.train_subset
            && (n == 0 || n > left)
        {
            return bad(
                at("train_subset"),
                format!("= {n} must be 1 to {left} (the training images left after validation)"),
            );
        }
        if let Some(n) = d.test_subset
            && (n == 0 || n > TEST_IMAGES)
        {
            return bad(at("test_subset"), format!("= {n} must be 1 to {}", TEST_IMAGES));
        }
        let e = &self.explain;
        let at = |k| vec![Key("explain"), Key(k)];
        for (key, points) in [("slice_points", e.slice_points), ("grid_points", e.grid_points)] {
            if points < 3 || points.is_multiple_of(2) {
                return bad(
                    at(key),
                    format!("= {points} must be odd and at least 3, so that α = 0 is a point"),
                );
            }
        }
        if e.line_points < 2 {
            return bad(at("line_points"), format!("= {} must be at least 2 (default 128)", e.line_points));
        }
        for (key, n) in [
            ("slice_images", e.slice_images),
            ("grid_images", e.grid_images),
            ("test_images", e.test_images),
            ("lines", e.lines as usize),
        ] {
            if n == 0 {
                return bad(
                    at(key),
                    "= 0; use a positive number (README: Why residual nets are easier to optimise)".into(),
                );
            }
        }
        let train_images = d.train_subset.unwrap_or(left);
        if self.batch_size > train_images {
            return bad(
                vec![Key("batch_size")],
                format!(
                    "= {} is more than the {train_images} training images; use at most {train_images} (the paper: 128)",
                    self.batch_size
                ),
            );
        }
        Ok(())
    }
}

fn check_grid(at: Vec<Seg>, archs: &[Arch], depths: &[u32], seeds: &[u64]) -> Result<(), Invalid> {
    let key = |k: &'static str| {
        let mut p = at.clone();
        p.push(Seg::Key(k));
        p
    };
    let bad = |path: Vec<Seg>, message: String| Err(Invalid { path, message });
    if archs.is_empty() {
        return bad(key("archs"), "is empty; list plain, residual or both".into());
    }
    if let Some(i) = (1..archs.len()).find(|&i| archs[..i].contains(&archs[i])) {
        return bad(key("archs"), format!("lists {} twice; list each arch once", archs[i]));
    }
    if depths.is_empty() {
        return bad(key("depths"), "is empty; list at least one depth, e.g. [20, 56]".into());
    }
    for (i, &d) in depths.iter().enumerate() {
        if depths[..i].contains(&d) {
            let mut p = key("depths");
            p.push(Seg::Index(i));
            return bad(p, format!("= {d} is listed twice; list each depth once"));
        }
        if d < 8 || !(d - 2).is_multiple_of(6) {
            let mut p = key("depths");
            p.push(Seg::Index(i));
            return bad(
                p,
                format!(
                    "= {d} is not 6n+2 layers; use 8, 14, 20, 32, 44, 56, 110, 1202 or another 6n+2 with n >= 1"
                ),
            );
        }
    }
    if seeds.is_empty() {
        return bad(key("seeds"), "is empty; list at least one seed, e.g. [0]".into());
    }
    if let Some(i) = (1..seeds.len()).find(|&i| seeds[..i].contains(&seeds[i])) {
        let mut p = key("seeds");
        p.push(Seg::Index(i));
        return bad(p, format!("= {} is listed twice; list each seed once", seeds[i]));
    }
    Ok(())
}

/// The parser's messages end in "at line L column C"; the line is reported up front instead.
fn strip_location(msg: &str) -> String {
    match msg.rfind(" at line ") {
        Some(i) => msg[..i].to_string(),
        None => msg.to_string(),
    }
}

/// The column where a line's content starts, after indentation and any "- " item markers, and
/// the mapping key found there (if the content is `key: …`).
fn content(line: &str) -> (usize, Option<&str>) {
    let mut col = line.len() - line.trim_start().len();
    let mut rest = line.trim_start();
    while let Some(r) = rest.strip_prefix("- ") {
        col += 2 + (r.len() - r.trim_start().len());
        rest = r.trim_start();
    }
    let key = rest.split_once(':').and_then(|(k, v)| {
        let plain = !k.is_empty() && k.chars().all(|c| c.is_ascii_alphanumeric() || c == '_');
        (plain && (v.is_empty() || v.starts_with(' '))).then_some(k)
    });
    (col, key)
}

fn indent(line: &str) -> usize {
    line.len() - line.trim_start().len()
}

fn is_content(line: &str) -> bool {
    let t = line.trim_start();
    !t.is_empty() && !t.starts_with('#')
}

/// The 1-based line of a key path in block-style YAML, or of its nearest located ancestor when
/// the rest is written in flow style (`[20, 56]`, `{lr: 0.1}`); None if even the first key is absent.
fn locate(text: &str, path: &[Seg]) -> Option<usize> {
    let lines: Vec<&str> = text.lines().collect();
    let (mut lo, mut hi) = (0, lines.len());
    let mut found: Option<usize> = None;
    for seg in path {
        match *seg {
            Seg::Key(k) => {
                // Nothing below: the value is in flow style on the line already found.
                let Some(first) = (lo..hi).find(|&i| is_content(lines[i])) else {
                    return found.map(|f| f + 1);
                };
                let col = content(lines[first]).0;
                let Some(at) = (lo..hi).find(|&i| content(lines[i]) == (col, Some(k))) else {
                    return found.map(|f| f + 1);
                };
                found = Some(at);
                // The value's block: the following lines indented past the key, or items of a
                // sequence written at the key's own indentation.
                let end = (at + 1..hi)
                    .find(|&i| {
                        is_content(lines[i])
                            && (indent(lines[i]) < col
                                || (indent(lines[i]) == col && !lines[i].trim_start().starts_with('-')))
                    })
                    .unwrap_or(hi);
                (lo, hi) = (at + 1, end);
            }
            Seg::Index(n) => {
                let items: Vec<usize> = (lo..hi)
                    .filter(|&i| is_content(lines[i]) && lines[i].trim_start().starts_with('-'))
                    .collect();
                let Some(&first) = items.first() else {
                    return found.map(|f| f + 1);
                };
                let dash = indent(lines[first]);
                let items: Vec<usize> = items.into_iter().filter(|&i| indent(lines[i]) == dash).collect();
                let Some(&at) = items.get(n) else {
                    return found.map(|f| f + 1);
                };
                found = Some(at);
                let end = items.get(n + 1).copied().unwrap_or(hi);
                (lo, hi) = (at, end);
            }
        }
    }
    found.map(|f| f + 1)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn locate_finds_nested_keys_and_items() {
        let text =
            "a: 1\ngrids:\n  - depths: [1]\n    seeds: [2]\n  - seeds:\n      - 3\n      - 4\nseeds: [5]\n";
        use Seg::{Index, Key};
        assert_eq!(locate(text, &[Key("seeds")]), Some(8));
        assert_eq!(locate(text, &[Key("grids"), Index(0), Key("seeds")]), Some(4));
        assert_eq!(locate(text, &[Key("grids"), Index(1), Key("seeds"), Index(1)]), Some(7));
        assert_eq!(locate(text, &[Key("grids"), Index(1), Key("depths")]), Some(5));
        assert_eq!(locate(text, &[Key("nope")]), None);
    }
}
