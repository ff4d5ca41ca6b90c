//! `cargo run --release --example jpeg_copy -- SRC OUT QUALITY`: a copy of the CIFAR-10 binary
//! files in SRC with every image JPEG-encoded at QUALITY (1–100, 4:4:4) and decoded again, written
//! in the same layout and record order to OUT, with a README.md there saying what it is and how far
//! its pixels moved (PSNR and RMSE against SRC).
//!
//! Why: the only CIFAR-10 on the machines without internet is itself a JPEG copy (quality 75,
//! median PSNR 30.5 dB against the originals). How much that costs in test error cannot be measured
//! against originals nobody here has, but it can be measured in the other direction: train the
//! same net on further-degraded copies and see how test error moves with the pixels' error
//! (experiments/investigations/data_copy_jpeg50.yaml).

use anyhow::{Context, Result, bail, ensure};
use image::ImageFormat;
use image::codecs::jpeg::JpegEncoder;
use resdeg::data::{RECORD, all_files};
use std::fs;
use std::path::{Path, PathBuf};

const SIDE: usize = 32;
const PIXELS: usize = SIDE * SIDE;

fn main() -> Result<()> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let [src, out, quality] = args.as_slice() else {
        bail!(
            "usage: jpeg_copy SRC OUT QUALITY (SRC holds data_batch_1.bin … test_batch.bin; QUALITY 1–100)"
        );
    };
    let quality: u8 = quality
        .parse()
        .ok()
        .filter(|q| (1..=100).contains(q))
        .with_context(|| format!("QUALITY = {quality:?}: give a whole number from 1 to 100"))?;
    let (src, out) = (PathBuf::from(src), PathBuf::from(out));
    ensure!(
        src != out,
        "SRC and OUT are the same folder ({}): give a new folder for the copy",
        out.display()
    );
    fs::create_dir_all(&out).with_context(|| format!("cannot create {}", out.display()))?;

    let mut psnr = Vec::new();
    let (mut squared, mut values) = (0f64, 0f64);
    for name in all_files() {
        let path = src.join(name);
        let bytes = fs::read(&path).with_context(|| format!("cannot read {}", path.display()))?;
        ensure!(
            !bytes.is_empty() && bytes.len() % RECORD == 0,
            "{}: {} bytes is not a whole number of {RECORD}-byte CIFAR-10 records",
            path.display(),
            bytes.len()
        );
        let mut copy = Vec::with_capacity(bytes.len());
        for record in bytes.chunks(RECORD) {
            let (label, planes) = record.split_at(1);
            let moved =
                reencode(planes, quality).with_context(|| format!("{}: an image failed", path.display()))?;
            let sq = squared_error(planes, &moved);
            (squared, values) = (squared + sq, values + planes.len() as f64);
            psnr.push(psnr_db(sq / planes.len() as f64));
            copy.extend_from_slice(label);
            copy.extend_from_slice(&moved);
        }
        fs::write(out.join(name), &copy)
            .with_context(|| format!("cannot write {}", out.join(name).display()))?;
    }
    psnr.sort_by(f64::total_cmp);
    let median = psnr[psnr.len() / 2];
    let rmse = (squared / values).sqrt();
    let readme = describe(&src, quality, median, rmse, psnr.len());
    fs::write(out.join("README.md"), &readme).with_context(|| format!("cannot write {}", out.display()))?;
    print!("{readme}");
    Ok(())
}

/// One image's R, G and B planes through a JPEG encoder and decoder, back as planes.
fn reencode(planes: &[u8], quality: u8) -> Result<Vec<u8>> {
    let interleaved: Vec<u8> =
        (0..PIXELS).flat_map(|p| [planes[p], planes[PIXELS + p], planes[2 * PIXELS + p]]).collect();
    let mut jpeg = Vec::new();
    JpegEncoder::new_with_quality(&mut jpeg, quality).encode(
        &interleaved,
        SIDE as u32,
        SIDE as u32,
        image::ColorType::Rgb8,
    )?;
    let rgb = image::load_from_memory_with_format(&jpeg, ImageFormat::Jpeg)?.to_rgb8().into_raw();
    ensure!(rgb.len() == 3 * PIXELS, "decoded {} values, not {}", rgb.len(), 3 * PIXELS);
    Ok((0..3).flat_map(|c| (0..PIXELS).map(move |p| (c, p))).map(|(c, p)| rgb[3 * p + c]).collect())
}

/// The summed squared difference of two images' pixel values.
fn squared_error(a: &[u8], b: &[u8]) -> f64 {
    a.iter().zip(b).map(|(&x, &y)| (x as f64 - y as f64).powi(2)).sum()
}

/// Peak signal-to-noise ratio of 8-bit pixels with this mean squared error (infinite when equal).
fn psnr_db(mse: f64) -> f64 {
    10.0 * (255f64.powi(2) / mse).log10()
}

fn describe(src: &Path, quality: u8, median_psnr: f64, rmse: f64, images: usize) -> String {
    format!(
        "# CIFAR-10 re-encoded as JPEG at quality {quality}\n\n\
         Written by `cargo run --release --example jpeg_copy -- {src} OUT {quality}` (resdeg): every image of\n\
         {src} encoded as JPEG at quality {quality} (4:4:4 chroma, the `image` crate's encoder) and decoded\n\
         again; labels, record order and the train/test split unchanged. Against those files, over\n\
         {images} images: median PSNR {median_psnr:.1} dB, RMSE {rmse:.2} / 255.\n",
        src = src.display()
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A smooth image survives quality 95 nearly unchanged and quality 10 visibly worse, with the
    /// planes back in their order (a swapped channel would cost far more than JPEG does).
    #[test]
    fn reencoding_keeps_the_planes_and_loses_more_at_lower_quality() {
        let planes: Vec<u8> = (0..3)
            .flat_map(|c| (0..PIXELS).map(move |p| (40 * c + (p % SIDE) * 3 + (p / SIDE) * 2) as u8))
            .collect();
        let mse = |q| squared_error(&planes, &reencode(&planes, q).unwrap()) / planes.len() as f64;
        let (fine, coarse) = (psnr_db(mse(95)), psnr_db(mse(10)));
        assert!(fine > 38.0, "quality 95: PSNR {fine:.1} dB");
        assert!(coarse < fine - 5.0, "quality 10: PSNR {coarse:.1} dB against {fine:.1} dB at 95");
    }
}
