//! `fashion-mnist-mini`: a class-balanced subset of Fashion-MNIST shipped in `assets/`
//! (500 train and 100 test images per class; MIT licence, see `assets/fashion-mnist-mini/`).
//! Images are 28x28 grey, zero-padded to 32x32 and repeated over three channels so the
//! same encoder serves every dataset.

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use super::mnist::load_idx_pair;
use super::{DataError, Dataset};

pub const FASHION_CLASSES: [&str; 10] = [
    "T-shirt/top",
    "Trouser",
    "Pullover",
    "Dress",
    "Coat",
    "Sandal",
    "Shirt",
    "Sneaker",
    "Bag",
    "Ankle boot",
];

/// Where the subset lives; defaults to the shipped assets.
#[derive(Clone, Debug, PartialEq, Default, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct FashionMnistMiniSpec {
    /// Folder with the four IDX files; empty means `<assets>/fashion-mnist-mini`.
    pub path: Option<PathBuf>,
}

/// The assets folder: `$CW_ASSETS_DIR` if set, else the one in the source tree.
pub fn assets_dir() -> PathBuf {
    std::env::var_os("CW_ASSETS_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| Path::new(env!("CARGO_MANIFEST_DIR")).join("assets"))
}

pub fn load_fashion_mnist_mini(spec: &FashionMnistMiniSpec) -> Result<Dataset, DataError> {
    let dir = spec
        .path
        .clone()
        .unwrap_or_else(|| assets_dir().join("fashion-mnist-mini"));
    let train = load_idx_pair(
        &dir.join("train-images-idx3-ubyte.gz"),
        &dir.join("train-labels-idx1-ubyte.gz"),
        FASHION_CLASSES.len(),
        &mut Vec::new(),
    )?;
    let test = load_idx_pair(
        &dir.join("t10k-images-idx3-ubyte.gz"),
        &dir.join("t10k-labels-idx1-ubyte.gz"),
        FASHION_CLASSES.len(),
        &mut Vec::new(),
    )?;
    Ok(Dataset {
        attributes: Vec::new(),
        name: "fashion-mnist-mini".into(),
        class_names: FASHION_CLASSES.iter().map(|s| s.to_string()).collect(),
        train,
        test,
        report: Default::default(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::data::idx::encode_idx;
    use crate::data::mnist::load_idx_pair;

    #[test]
    fn shipped_subset_loads_balanced() {
        let d = load_fashion_mnist_mini(&FashionMnistMiniSpec::default()).unwrap();
        assert_eq!(d.train.len(), 5000);
        assert_eq!(d.test.len(), 1000);
        assert_eq!(d.train.class_counts(10), vec![500; 10]);
        assert_eq!(d.test.class_counts(10), vec![100; 10]);
        assert_eq!(d.image_size(), 32);
        // Padding stays black, the centre has ink somewhere.
        assert!(d.train.image(0)[..32 * 3].iter().all(|&p| p == 0));
        assert!(d.train.pixels.iter().any(|&p| p > 200));
    }

    #[test]
    fn mismatched_counts_and_missing_files_are_named() {
        let dir = tempfile::tempdir().unwrap();
        let images = dir.path().join("imgs-ubyte");
        let labels = dir.path().join("labs-ubyte");
        std::fs::write(&images, encode_idx(&[3, 28, 28], &[0; 3 * 784])).unwrap();
        std::fs::write(&labels, encode_idx(&[2], &[0, 1])).unwrap();
        let err = load_idx_pair(&images, &labels, 10, &mut Vec::new())
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("labs-ubyte") && err.contains("2 labels"),
            "{err}"
        );

        let missing = FashionMnistMiniSpec {
            path: Some(dir.path().join("nowhere")),
        };
        let err = load_fashion_mnist_mini(&missing).unwrap_err().to_string();
        assert!(
            err.contains("nowhere") && err.contains("train-images"),
            "{err}"
        );
    }
}
