//! CIFAR-10 in the official binary layout: the files read and checked, the splits the recipe asks
//! for and the per-pixel mean image. Where the files come from and what they are (download,
//! checksums) is `files`; each epoch's batches and the paper's augmentation is `batches`.
//!
//! tch's own `vision::cifar` reader assumes exactly 10,000 records a file and copies one image at
//! a time; this one reads each file with one tensor op, checks it first, and also accepts the small
//! CIFAR-shaped files that tests write.

use crate::config::LastBatch;
pub use crate::config::{TEST_IMAGES, TRAIN_IMAGES};

mod batches;
mod files;
use anyhow::{Context, Result, bail, ensure};
pub use batches::{Augmentation, EpochDraw, Rng, Segment, epoch_batches, iterations_per_epoch};
pub use files::{
    DataFile, DataIdentity, MANIFEST, OFFICIAL_MD5, OFFICIAL_URL, all_files, ensure_present, fetch_archive,
    identify, resolve_dir,
};
use serde::{Deserialize, Serialize};
use std::fs;
use std::path::{Path, PathBuf};
use tch::{Device, Kind, Tensor};

pub const TRAIN_FILES: [&str; 5] =
    ["data_batch_1.bin", "data_batch_2.bin", "data_batch_3.bin", "data_batch_4.bin", "data_batch_5.bin"];
pub const TEST_FILE: &str = "test_batch.bin";
const RECORDS_PER_FILE: usize = 10_000;
/// One label byte, then 1024 red, 1024 green and 1024 blue bytes, each plane row-major 32x32.
pub const RECORD: usize = 1 + 3 * 32 * 32;
pub const CLASSES: u8 = 10;

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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::write_synthetic;

    pub(super) fn tmp(name: &str) -> PathBuf {
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
}
