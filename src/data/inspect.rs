//! A quick look at a dataset before loading it: how many images, how many classes, and
//! how much memory the decoded set will take. Reads directory listings and headers only.

use std::io::Read;
use std::path::Path;

use super::image_folder::{self, Layout};
use super::{DataError, DatasetSpec, cifar, mnist};

/// What loading `spec` will give, as far as can be told without decoding.
#[derive(Clone, Debug, PartialEq)]
pub struct Inspection {
    /// e.g. "image folder, one subfolder per class".
    pub format: String,
    pub images: usize,
    /// `None` when only decoding would tell (never for the current formats).
    pub classes: Option<usize>,
    /// Bytes in memory once decoded (`u8` RGB at the stored size).
    pub memory_bytes: u64,
    /// Files that will be skipped and warnings, for the user to read before loading.
    pub notes: Vec<String>,
}

pub fn inspect(spec: &DatasetSpec) -> Result<Inspection, DataError> {
    match spec {
        DatasetSpec::Shapes(s) => {
            let images = (s.train_per_class + s.test_per_class) * super::shapes::CLASSES.len();
            Ok(Inspection {
                format: "built-in procedural shapes".into(),
                images,
                classes: Some(super::shapes::CLASSES.len()),
                memory_bytes: (images * s.size * s.size * 3) as u64,
                notes: Vec::new(),
            })
        }
        DatasetSpec::FashionMnistMini(_) => Ok(Inspection {
            format: "built-in Fashion-MNIST subset".into(),
            images: 6000,
            classes: Some(10),
            memory_bytes: 6000 * 32 * 32 * 3,
            notes: Vec::new(),
        }),
        DatasetSpec::ImageFolder(s) => {
            s.validate().map_err(|p| DataError::format(&s.path, p))?;
            let scan = image_folder::scan(s)?;
            let format = match &scan.layout {
                Layout::SplitFolders { held_out } => format!(
                    "image folder, train/ and {}/ split",
                    super::folder_name(held_out)
                ),
                Layout::ClassFolders => format!(
                    "image folder, one subfolder per class ({:.0}% held out per class)",
                    s.held_out * 100.0
                ),
                Layout::Flat => "image folder without class subfolders (unlabelled)".into(),
            };
            let mut notes = scan.warnings.clone();
            if !scan.skipped.is_empty() {
                notes.push(format!(
                    "{} files are not images and will be skipped (e.g. {})",
                    scan.skipped.len(),
                    scan.skipped[0].path.display()
                ));
            }
            Ok(Inspection {
                format,
                images: scan.image_files(),
                classes: Some(scan.class_names.len()),
                memory_bytes: scan.memory_estimate(s.size),
                notes,
            })
        }
        DatasetSpec::Idx(s) => {
            let files = mnist::find_files(&s.path)?;
            let images = idx_count(&files.train_images)? + idx_count(&files.test_images)?;
            let size = mnist::PADDED_SIZE;
            Ok(Inspection {
                format: "MNIST-style IDX files".into(),
                images,
                classes: Some(10),
                memory_bytes: (images * size * size * 3) as u64,
                notes: Vec::new(),
            })
        }
        DatasetSpec::Cifar(s) => {
            let files = cifar::find_files(&s.path)?;
            let record = if files.variant == 10 { 3073 } else { 3074 };
            let mut images = 0;
            for p in files.train.iter().chain(&files.test) {
                let len = std::fs::metadata(p).map_err(|e| DataError::io(p, e))?.len();
                images += len as usize / record;
            }
            let classes = match (files.variant, s.labels) {
                (10, _) => 10,
                (_, cifar::CifarLabels::Fine) => 100,
                (_, cifar::CifarLabels::Coarse) => 20,
            };
            Ok(Inspection {
                format: format!("CIFAR-{} binary batches", files.variant),
                images,
                classes: Some(classes),
                memory_bytes: (images * cifar::SIZE * cifar::SIZE * 3) as u64,
                notes: Vec::new(),
            })
        }
    }
}

/// The first dimension of an IDX file, from its header (un-gzipping only the header).
fn idx_count(path: &Path) -> Result<usize, DataError> {
    if let Some(problem) = super::image_folder::not_a_plain_file(path) {
        return Err(DataError::format(path, problem));
    }
    let file = std::fs::File::open(path).map_err(|e| DataError::io(path, e))?;
    let mut head = [0u8; 8];
    let mut raw = std::io::BufReader::new(file);
    let mut magic = [0u8; 2];
    raw.read_exact(&mut magic)
        .map_err(|e| DataError::io(path, e))?;
    let chained = std::io::Cursor::new(magic).chain(raw);
    let read = if magic == [0x1f, 0x8b] {
        flate2::read::GzDecoder::new(chained).read_exact(&mut head)
    } else {
        { chained }.read_exact(&mut head)
    };
    read.map_err(|_| DataError::format(path, "truncated: too short for the IDX header"))?;
    Ok(u32::from_be_bytes([head[4], head[5], head[6], head[7]]) as usize)
}

/// Memory the system can still give (Linux: `MemAvailable` in `/proc/meminfo`); `None`
/// where that is unknown. Read by hand: one number from one text file, where a
/// system-information crate would add a large dependency.
pub fn available_memory() -> Option<u64> {
    parse_mem_available(&std::fs::read_to_string("/proc/meminfo").ok()?)
}

/// `MemAvailable` from `/proc/meminfo` text, in bytes.
pub fn parse_mem_available(meminfo: &str) -> Option<u64> {
    let line = meminfo.lines().find(|l| l.starts_with("MemAvailable:"))?;
    let kib: u64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kib * 1024)
}

/// How a decoded size compares with the memory available.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum MemoryFit {
    /// Fits, or the available memory is unknown.
    Fits,
    /// Over 80% of what is available: loading may push the system into swap.
    Tight(String),
    /// More than is available: loading would fail or get the app killed.
    TooLarge(String),
}

pub fn memory_fit(bytes: u64, available: Option<u64>) -> MemoryFit {
    let Some(free) = available else {
        return MemoryFit::Fits;
    };
    let says = format!(
        "needs about {} and {} is available",
        human_bytes(bytes),
        human_bytes(free)
    );
    if bytes > free {
        MemoryFit::TooLarge(format!(
            "Too large to load: it {says}. Lower the stored size or load part of the folder."
        ))
    } else if bytes > free / 10 * 8 {
        MemoryFit::Tight(format!(
            "Tight: it {says}; loading may make the system swap."
        ))
    } else {
        MemoryFit::Fits
    }
}

/// `bytes` for people: "36.0 MiB".
pub fn human_bytes(bytes: u64) -> String {
    let b = bytes as f64;
    if b >= 1024.0 * 1024.0 * 1024.0 {
        format!("{:.1} GiB", b / (1024.0 * 1024.0 * 1024.0))
    } else if b >= 1024.0 * 1024.0 {
        format!("{:.1} MiB", b / (1024.0 * 1024.0))
    } else {
        format!("{:.0} KiB", b / 1024.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn available_memory_is_read_from_meminfo_and_compared() {
        let text = "MemTotal:       24000000 kB\nMemFree:         1000000 kB\nMemAvailable:   10000000 kB\n";
        assert_eq!(parse_mem_available(text), Some(10_000_000 * 1024));
        assert_eq!(parse_mem_available("MemTotal: 5 kB\n"), None);
        let gib = 1u64 << 30;
        assert_eq!(memory_fit(gib, Some(10 * gib)), MemoryFit::Fits);
        assert_eq!(memory_fit(100 * gib, None), MemoryFit::Fits);
        assert!(matches!(
            memory_fit(9 * gib, Some(10 * gib)),
            MemoryFit::Tight(_)
        ));
        let MemoryFit::TooLarge(why) = memory_fit(12 * gib, Some(10 * gib)) else {
            panic!("12 GiB fits in 10?");
        };
        assert!(
            why.contains("12.0 GiB") && why.contains("10.0 GiB"),
            "{why}"
        );
    }
}
