//! Datasets: labelled sets of small RGB images held in memory as compact `u8` pixels.
//!
//! Every source (procedural shapes, IDX files, ...) produces the same [`Dataset`]:
//! a train split (what the method trains on and the kNN bank) and a held-out test split
//! (the kNN queries and the projection sample).

pub mod builtin;
pub mod idx;
pub mod shapes;

use std::path::PathBuf;

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
}

impl ImageSet {
    /// Bytes in one image.
    pub fn image_len(&self) -> usize {
        self.size * self.size * 3
    }

    pub fn len(&self) -> usize {
        self.labels.len()
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
    pub train: ImageSet,
    pub test: ImageSet,
}

impl Dataset {
    pub fn image_size(&self) -> usize {
        self.train.size
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
}

impl Default for DatasetSpec {
    fn default() -> Self {
        DatasetSpec::Shapes(shapes::ShapesSpec::default())
    }
}

impl DatasetSpec {
    /// A short name for the UI and file names.
    pub fn label(&self) -> &'static str {
        match self {
            DatasetSpec::Shapes(_) => "shapes",
            DatasetSpec::FashionMnistMini(_) => "fashion-mnist-mini",
        }
    }

    /// Builds or loads the dataset.
    pub fn load(&self) -> Result<Dataset, DataError> {
        match self {
            DatasetSpec::Shapes(spec) => Ok(shapes::generate(spec)),
            DatasetSpec::FashionMnistMini(spec) => builtin::load_fashion_mnist_mini(spec),
        }
    }
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
}

impl DataError {
    pub fn format(path: impl Into<PathBuf>, problem: impl Into<String>) -> Self {
        DataError::Format {
            path: path.into(),
            problem: problem.into(),
        }
    }
}
