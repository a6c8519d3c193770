//! CIFAR-10 and CIFAR-100 in their binary form (the `*-binary.tar.gz` downloads, unpacked).
//!
//! CIFAR-10: `data_batch_1.bin` .. `data_batch_5.bin` and `test_batch.bin`, records of
//! 1 label byte + 3072 pixel bytes; names in `batches.meta.txt`.
//! CIFAR-100: `train.bin` and `test.bin`, records of a coarse and a fine label byte + 3072
//! pixel bytes; names in `fine_label_names.txt` / `coarse_label_names.txt`.
//! Pixels are planar: 1024 red, 1024 green, 1024 blue, each row-major 32x32.

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use super::{DataError, Dataset, ImageSet, LoadProgress, folder_name};

pub const SIZE: usize = 32;
const PIXELS: usize = SIZE * SIZE * 3;

pub const CIFAR10_CLASSES: [&str; 10] = [
    "airplane",
    "automobile",
    "bird",
    "cat",
    "deer",
    "dog",
    "frog",
    "horse",
    "ship",
    "truck",
];

/// Which CIFAR-100 label to use (CIFAR-10 has one).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum CifarLabels {
    /// The 100 fine classes.
    #[default]
    Fine,
    /// The 20 superclasses.
    Coarse,
}

#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct CifarSpec {
    /// The folder holding the `.bin` batches (e.g. `cifar-10-batches-bin`).
    pub path: PathBuf,
    pub labels: CifarLabels,
}

/// Which of the two datasets a folder holds, with its files.
#[derive(Clone, Debug, PartialEq)]
pub struct CifarFiles {
    /// 10 or 100.
    pub variant: usize,
    pub train: Vec<PathBuf>,
    pub test: Vec<PathBuf>,
}

/// Recognises the folder's layout; the error says what was expected.
pub fn find_files(dir: &Path) -> Result<CifarFiles, DataError> {
    if !dir.is_dir() {
        return Err(DataError::io(
            dir,
            std::io::Error::new(std::io::ErrorKind::NotFound, "no such folder"),
        ));
    }
    let ten: Vec<PathBuf> = (1..=5)
        .map(|i| dir.join(format!("data_batch_{i}.bin")))
        .filter(|p| p.is_file())
        .collect();
    if !ten.is_empty() {
        return Ok(CifarFiles {
            variant: 10,
            train: ten,
            test: vec![dir.join("test_batch.bin")],
        });
    }
    if dir.join("train.bin").is_file() {
        return Ok(CifarFiles {
            variant: 100,
            train: vec![dir.join("train.bin")],
            test: vec![dir.join("test.bin")],
        });
    }
    Err(DataError::format(
        dir,
        "no CIFAR batches here: expected data_batch_1.bin .. data_batch_5.bin and \
         test_batch.bin (CIFAR-10) or train.bin and test.bin (CIFAR-100)",
    ))
}

pub fn load(spec: &CifarSpec, progress: &LoadProgress) -> Result<Dataset, DataError> {
    let files = find_files(&spec.path)?;
    let (label_bytes, label_at, classes) = match (files.variant, spec.labels) {
        (10, _) => (1, 0, 10),
        (_, CifarLabels::Coarse) => (2, 0, 20),
        (_, CifarLabels::Fine) => (2, 1, 100),
    };
    progress.set_total(files.train.len() + files.test.len());
    let read = |paths: &[PathBuf]| -> Result<ImageSet, DataError> {
        let mut set = ImageSet {
            size: SIZE,
            ..ImageSet::default()
        };
        for p in paths {
            progress.check()?;
            read_batch(p, label_bytes, label_at, classes, &mut set)?;
            progress.tick();
        }
        Ok(set)
    };
    let train = read(&files.train)?;
    let test = read(&files.test)?;
    let class_names = class_names(&spec.path, files.variant, spec.labels, classes);
    Ok(Dataset {
        attributes: Vec::new(),
        name: folder_name(&spec.path),
        class_names,
        train,
        test,
        report: Default::default(),
    })
}

/// The largest batch file read: CIFAR-100's train.bin is 150 MiB, CIFAR-10's batches 30 MiB.
const MAX_BATCH_BYTES: u64 = 512 << 20;

/// Appends one batch file's records to `set` (planar RGB to interleaved).
fn read_batch(
    path: &Path,
    label_bytes: usize,
    label_at: usize,
    classes: usize,
    set: &mut ImageSet,
) -> Result<(), DataError> {
    let meta = std::fs::metadata(path).map_err(|e| DataError::io(path, e))?;
    if !meta.is_file() {
        return Err(DataError::format(
            path,
            "not a regular file (a device, pipe or folder); CIFAR batches are read from disk",
        ));
    }
    if meta.len() > MAX_BATCH_BYTES {
        return Err(DataError::format(
            path,
            format!(
                "{} bytes is larger than any CIFAR batch file (at most {} MiB here)",
                meta.len(),
                MAX_BATCH_BYTES >> 20
            ),
        ));
    }
    let bytes = std::fs::read(path).map_err(|e| DataError::io(path, e))?;
    let record = label_bytes + PIXELS;
    if bytes.is_empty() {
        return Err(DataError::format(path, "empty file (0 bytes)"));
    }
    if bytes.len() % record != 0 {
        return Err(DataError::format(
            path,
            format!(
                "truncated or not a CIFAR batch: {} bytes is not a whole number of \
                 {record}-byte records",
                bytes.len()
            ),
        ));
    }
    let plane = SIZE * SIZE;
    for (i, r) in bytes.chunks_exact(record).enumerate() {
        let label = r[label_at] as usize;
        if label >= classes {
            return Err(DataError::format(
                path,
                format!("record {i} has label {label}, outside 0..{classes}"),
            ));
        }
        set.labels.push(label as u16);
        set.sources.push(format!("{}#{i}", path.display()));
        let px = &r[label_bytes..];
        set.pixels
            .extend((0..plane).flat_map(|p| [px[p], px[plane + p], px[2 * plane + p]]));
    }
    Ok(())
}

/// The class-names file's text, or `None` when it is missing, unreadable, not a plain
/// file (a FIFO would block the load, a link to a device would never end) or larger than
/// any names file (CIFAR-100's is under 1 KiB): the known names are used then.
fn read_names_file(path: &Path) -> Option<String> {
    use std::io::Read;
    const LARGEST: u64 = 1 << 20;
    if super::image_folder::not_a_plain_file(path).is_some() {
        return None;
    }
    let mut text = String::new();
    std::fs::File::open(path)
        .ok()?
        .take(LARGEST + 1)
        .read_to_string(&mut text)
        .ok()?;
    (text.len() as u64 <= LARGEST).then_some(text)
}

/// Names from the meta file when it is there, else CIFAR-10's known names or "class N".
fn class_names(dir: &Path, variant: usize, labels: CifarLabels, classes: usize) -> Vec<String> {
    let meta = match (variant, labels) {
        (10, _) => "batches.meta.txt",
        (_, CifarLabels::Fine) => "fine_label_names.txt",
        (_, CifarLabels::Coarse) => "coarse_label_names.txt",
    };
    let from_file: Vec<String> = read_names_file(&dir.join(meta))
        .map(|t| {
            t.lines()
                .map(str::trim)
                .filter(|l| !l.is_empty())
                .map(String::from)
                .collect()
        })
        .unwrap_or_default();
    if from_file.len() == classes {
        from_file
    } else if variant == 10 {
        CIFAR10_CLASSES.iter().map(|s| s.to_string()).collect()
    } else {
        (0..classes).map(|c| format!("class {c}")).collect()
    }
}

/// Encodes records in the CIFAR binary layout (tests and tools): `labels` per image,
/// `pixels` interleaved RGB 32x32.
pub fn encode_records(labels: &[Vec<u8>], pixels: &[u8]) -> Vec<u8> {
    let plane = SIZE * SIZE;
    let mut out = Vec::new();
    for (i, l) in labels.iter().enumerate() {
        out.extend_from_slice(l);
        let img = &pixels[i * PIXELS..(i + 1) * PIXELS];
        for c in 0..3 {
            out.extend((0..plane).map(|p| img[p * 3 + c]));
        }
    }
    out
}
