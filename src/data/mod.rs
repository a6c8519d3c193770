//! Datasets: labelled sets of small RGB images held in memory as compact `u8` pixels.
//!
//! Every source (procedural shapes, image folders, IDX files, CIFAR batches) produces the
//! same [`Dataset`]: a train split (what the method trains on and the kNN bank) and a
//! held-out test split (the kNN queries and the projection sample), plus a [`LoadReport`]
//! of what was skipped and why (skipped files, warnings, the source sizes). Each split is an
//! `ImageSet`: `size x size` RGB `u8` pixels (HWC) and, per image, a label, its source
//! file (none for generated images) and its nuisance attributes' values.
//!
//! - `shapes`: the procedural set; colour, background and size recorded as nuisance
//!   attributes (`backgrounds` 1..=4; with one background, no background attribute);
//! - `attribute_csv`: an image folder's `attributes.csv` (nuisance attributes per file),
//!   read with the csv crate, errors naming the line;
//! - `builtin`: the Fashion-MNIST subset shipped in `assets/`;
//! - `image_folder`: ImageFolder layouts (listed with walkdir), parallel decode with the
//!   `image` crate, the resize policy, the seeded held-out split;
//! - `mnist`: IDX folders, with `idx` the file reader (gzip through flate2);
//! - `cifar`: CIFAR-10 and CIFAR-100 binary batches;
//! - `detect`: which loader a dropped, chosen or typed path needs;
//! - `inspect`: counts and a memory estimate from listings and headers, before decoding;
//! - `progress`: `LoadProgress`, atomic counters and a cancel flag shared with the UI's
//!   and the CLI's progress bars.

pub mod attribute_csv;
pub mod builtin;
pub mod cifar;
pub mod detect;
pub mod idx;
pub mod image_folder;
pub mod inspect;
pub mod mnist;
pub mod progress;
pub mod shapes;

use std::path::{Path, PathBuf};

pub use progress::LoadProgress;

use serde::{Deserialize, Serialize};

/// Square RGB images, `size x size`, stored interleaved (HWC) as `u8`.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct ImageSet {
    /// Side length in pixels.
    pub size: usize,
    /// `len * size * size * 3` bytes, image after image, row-major, RGB interleaved.
    pub pixels: Vec<u8>,
    /// One class index per image.
    pub labels: Vec<u16>,
    /// Where each image came from: its file, or `file#record` inside an IDX or CIFAR file.
    /// Empty for generated images.
    pub sources: Vec<String>,
    /// Per nuisance attribute of the dataset (`Dataset::attributes`), one value index per
    /// image; empty when the dataset records none.
    pub attributes: Vec<Vec<u16>>,
}

impl ImageSet {
    /// Bytes in one image.
    pub fn image_len(&self) -> usize {
        self.size * self.size * 3
    }

    pub fn len(&self) -> usize {
        self.labels.len()
    }

    /// Where image `i` came from ("" for generated images).
    pub fn source(&self, i: usize) -> &str {
        self.sources.get(i).map_or("", String::as_str)
    }

    pub fn is_empty(&self) -> bool {
        self.labels.is_empty()
    }

    /// The pixels of image `i` (HWC RGB).
    pub fn image(&self, i: usize) -> &[u8] {
        let n = self.image_len();
        &self.pixels[i * n..(i + 1) * n]
    }

    /// True when every pixel has R = G = B (a grey dataset stored as RGB).
    pub fn is_grayscale(&self) -> bool {
        self.pixels
            .chunks_exact(3)
            .all(|p| p[0] == p[1] && p[1] == p[2])
    }

    /// Images per class, indexed by class.
    pub fn class_counts(&self, classes: usize) -> Vec<usize> {
        let mut counts = vec![0; classes];
        for &l in &self.labels {
            if let Some(c) = counts.get_mut(l as usize) {
                *c += 1;
            }
        }
        counts
    }
}

/// A named dataset with its class names and both splits.
#[derive(Clone, Debug, PartialEq)]
pub struct Dataset {
    pub name: String,
    pub class_names: Vec<String>,
    /// Properties of each image other than its class (the shapes' colour, background and
    /// size), so evaluation can say which of them the representation encodes.
    pub attributes: Vec<Attribute>,
    pub train: ImageSet,
    pub test: ImageSet,
    /// What the loader skipped or wants the user to know.
    pub report: LoadReport,
}

/// A nuisance attribute: its name and the names of its values.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Attribute {
    pub name: String,
    pub values: Vec<String>,
}

/// A file a loader passed over, and why.
#[derive(Clone, Debug, PartialEq)]
pub struct SkippedFile {
    pub path: PathBuf,
    pub problem: String,
}

/// Source image sizes before resizing (width x height in pixels).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct SizeStats {
    pub min: (u32, u32),
    pub median: (u32, u32),
    pub max: (u32, u32),
}

impl SizeStats {
    /// Min, median and max by area; `None` for no sizes.
    pub fn of(mut sizes: Vec<(u32, u32)>) -> Option<Self> {
        if sizes.is_empty() {
            return None;
        }
        sizes.sort_by_key(|&(w, h)| (u64::from(w) * u64::from(h), w));
        Some(Self {
            min: sizes[0],
            median: sizes[sizes.len() / 2],
            max: sizes[sizes.len() - 1],
        })
    }
}

/// The loader's account of a load: skipped files, warnings, the source sizes.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct LoadReport {
    pub skipped: Vec<SkippedFile>,
    pub warnings: Vec<String>,
    pub source_sizes: Option<SizeStats>,
}

impl Dataset {
    pub fn image_size(&self) -> usize {
        self.train.size
    }

    /// What a checkpoint records of the data it trained on: the splits' sizes and a
    /// CRC-32C of every image and label, so a resumed run notices a changed dataset.
    pub fn fingerprint(&self) -> String {
        let crc = [&self.train, &self.test].iter().fold(0, |crc, set| {
            let labels: Vec<u8> = set.labels.iter().flat_map(|l| l.to_le_bytes()).collect();
            crc32c::crc32c_append(crc32c::crc32c_append(crc, &set.pixels), &labels)
        });
        format!(
            "{} train and {} test images of {side}x{side}, CRC-32C {crc:08x}",
            self.train.len(),
            self.test.len(),
            side = self.train.size
        )
    }
}

/// Which dataset an experiment uses, as written in a preset (`[dataset] kind = "..."`).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "kebab-case")]
pub enum DatasetSpec {
    /// Procedurally generated coloured shapes (no files needed).
    Shapes(shapes::ShapesSpec),
    /// The Fashion-MNIST subset shipped in `assets/`.
    FashionMnistMini(builtin::FashionMnistMiniSpec),
    /// A folder of images, one subfolder per class (torchvision's ImageFolder).
    #[serde(alias = "image_folder")]
    ImageFolder(image_folder::ImageFolderSpec),
    /// MNIST or Fashion-MNIST IDX files (`*-ubyte`, `*-ubyte.gz`) in one folder.
    #[serde(alias = "mnist")]
    Idx(mnist::IdxSpec),
    /// CIFAR-10 or CIFAR-100 binary batches in one folder.
    Cifar(cifar::CifarSpec),
}

impl Default for DatasetSpec {
    fn default() -> Self {
        DatasetSpec::Shapes(shapes::ShapesSpec::default())
    }
}

impl DatasetSpec {
    /// The held-out fraction, for the sources that split by one (image folders).
    pub fn held_out(&self) -> Option<f32> {
        match self {
            DatasetSpec::ImageFolder(f) => Some(f.held_out),
            _ => None,
        }
    }

    /// A short name for the UI and file names: the built-in name or the folder's name.
    pub fn label(&self) -> String {
        match self {
            DatasetSpec::Shapes(_) => "shapes".into(),
            DatasetSpec::FashionMnistMini(_) => "fashion-mnist-mini".into(),
            DatasetSpec::ImageFolder(s) => folder_name(&s.path),
            DatasetSpec::Idx(s) => folder_name(&s.path),
            DatasetSpec::Cifar(s) => folder_name(&s.path),
        }
    }

    /// The folder a file-based dataset reads, `None` for the built-in ones.
    pub fn path(&self) -> Option<&Path> {
        match self {
            DatasetSpec::Shapes(_) | DatasetSpec::FashionMnistMini(_) => None,
            DatasetSpec::ImageFolder(s) => Some(&s.path),
            DatasetSpec::Idx(s) => Some(&s.path),
            DatasetSpec::Cifar(s) => Some(&s.path),
        }
    }

    /// Checks the spec's own fields (not the files); the error names the preset field.
    pub fn validate(&self) -> Result<(), String> {
        match self {
            DatasetSpec::Shapes(s) => {
                for (field, n) in [
                    ("train_per_class", s.train_per_class),
                    ("test_per_class", s.test_per_class),
                ] {
                    if !(1..=MAX_SHAPES_PER_CLASS).contains(&n) {
                        return Err(format!(
                            "dataset.{field} = {n} is out of range: must be in \
                             1..={MAX_SHAPES_PER_CLASS}"
                        ));
                    }
                }
                if !(8..=128).contains(&s.size) {
                    return Err(format!(
                        "dataset.size = {} is out of range: must be in 8..=128",
                        s.size
                    ));
                }
                let images = shapes::CLASSES.len() * (s.train_per_class + s.test_per_class);
                let bytes = (images * s.size * s.size * 3) as u64;
                if bytes > MAX_SHAPES_BYTES {
                    return Err(format!(
                        "dataset.train_per_class = {}, test_per_class = {} at size {} make \
                         {images} images of {} MiB in all, more than the {} GiB a generated \
                         dataset may hold; use fewer or smaller images",
                        s.train_per_class,
                        s.test_per_class,
                        s.size,
                        bytes >> 20,
                        MAX_SHAPES_BYTES >> 30
                    ));
                }
                if !(1..=4).contains(&s.backgrounds) {
                    return Err(format!(
                        "dataset.backgrounds = {} is out of range: must be in 1..=4",
                        s.backgrounds
                    ));
                }
                Ok(())
            }
            DatasetSpec::FashionMnistMini(_) => Ok(()),
            DatasetSpec::ImageFolder(f) => {
                require_path(&f.path)?;
                f.validate()
            }
            DatasetSpec::Idx(s) => require_path(&s.path),
            DatasetSpec::Cifar(s) => require_path(&s.path),
        }
    }

    /// Builds or loads the dataset.
    pub fn load(&self) -> Result<Dataset, DataError> {
        self.load_with(&LoadProgress::default())
    }

    /// Loads, advancing `progress` and stopping early when it is cancelled.
    pub fn load_with(&self, progress: &LoadProgress) -> Result<Dataset, DataError> {
        let dataset = match self {
            DatasetSpec::Shapes(spec) => Ok(shapes::generate(spec)),
            DatasetSpec::FashionMnistMini(spec) => builtin::load_fashion_mnist_mini(spec),
            DatasetSpec::ImageFolder(spec) => image_folder::load(spec, progress),
            DatasetSpec::Idx(spec) => mnist::load(spec, progress),
            DatasetSpec::Cifar(spec) => cifar::load(spec, progress),
        }?;
        progress.check()?;
        Ok(dataset)
    }
}

/// The most images per class and split the shapes generator makes (CIFAR-10 has 5,000).
const MAX_SHAPES_PER_CLASS: usize = 100_000;
/// The most memory a generated dataset may take (RGB bytes).
const MAX_SHAPES_BYTES: u64 = 4 << 30;

fn require_path(path: &Path) -> Result<(), String> {
    if path.as_os_str().is_empty() {
        Err("dataset.path is missing: name the folder that holds the dataset".into())
    } else {
        Ok(())
    }
}

/// The last component of `path`, for display (lossy for non-UTF-8 names).
pub fn folder_name(path: &Path) -> String {
    path.file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_else(|| path.display().to_string())
}

/// Why a dataset could not be loaded. Every variant names the file it is about.
#[derive(Debug, thiserror::Error)]
pub enum DataError {
    #[error("cannot read {path}: {source}")]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("{path}: {problem}")]
    Format { path: PathBuf, problem: String },
    #[error("loading was cancelled")]
    Cancelled,
}

impl DataError {
    pub fn format(path: impl Into<PathBuf>, problem: impl Into<String>) -> Self {
        DataError::Format {
            path: path.into(),
            problem: problem.into(),
        }
    }

    /// An I/O error about `path`.
    pub fn io(path: impl Into<PathBuf>, source: std::io::Error) -> Self {
        DataError::Io {
            path: path.into(),
            source,
        }
    }
}
