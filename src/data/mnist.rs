//! MNIST and Fashion-MNIST from their IDX files in one folder: `train-images-idx3-ubyte`,
//! `train-labels-idx1-ubyte`, `t10k-images-idx3-ubyte`, `t10k-labels-idx1-ubyte`, each
//! optionally gzipped (`.gz`) and also accepted with Kaggle's `.idx3-ubyte` spelling.
//! Images are 28x28 grey, zero-padded to 32x32 and repeated over three channels so the
//! same encoder serves every dataset.

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use super::builtin::FASHION_CLASSES;
use super::idx::read_idx;
use super::{DataError, Dataset, ImageSet, LoadProgress, folder_name};

/// Side length images are padded to.
pub const PADDED_SIZE: usize = 32;

/// Which class names the labels 0..10 get.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum IdxClasses {
    /// Fashion-MNIST's names when the folder path mentions "fashion", else digits.
    #[default]
    Auto,
    Digits,
    Fashion,
}

#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct IdxSpec {
    /// The folder holding the four IDX files.
    pub path: PathBuf,
    pub classes: IdxClasses,
}

/// The four files of a split pair, found by their standard name prefixes.
#[derive(Clone, Debug, PartialEq)]
pub struct IdxFiles {
    pub train_images: PathBuf,
    pub train_labels: PathBuf,
    pub test_images: PathBuf,
    pub test_labels: PathBuf,
}

/// Where Debian's dataset packages (`dataset-fashion-mnist`) put their files.
const DEBIAN_DATASETS: &str = "/usr/share/datasets";

/// Finds the four files in `dir`; the error names the folder and the missing file.
pub fn find_files(dir: &Path) -> Result<IdxFiles, DataError> {
    if !dir.exists() && dir.starts_with(DEBIAN_DATASETS) {
        return Err(DataError::format(
            dir,
            "does not exist: Debian installs the full Fashion-MNIST there with \
             `apt-get install dataset-fashion-mnist`",
        ));
    }
    let entries: Vec<PathBuf> = std::fs::read_dir(dir)
        .map_err(|e| DataError::io(dir, e))?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .collect();
    let find = |prefix: &str| {
        let mut hits: Vec<&PathBuf> = entries
            .iter()
            .filter(|p| {
                let name = p
                    .file_name()
                    .map(|n| n.to_string_lossy())
                    .unwrap_or_default();
                name.starts_with(prefix) && name.contains("ubyte")
            })
            .collect();
        // Prefer the uncompressed file when both are present (no decompression).
        hits.sort_by_key(|p| p.extension().is_some_and(|e| e == "gz"));
        hits.first().map(|p| p.to_path_buf()).ok_or_else(|| {
            DataError::format(
                dir,
                format!("no {prefix}-*-ubyte[.gz] file here (an MNIST-style folder needs train-images, train-labels, t10k-images and t10k-labels)"),
            )
        })
    };
    Ok(IdxFiles {
        train_images: find("train-images")?,
        train_labels: find("train-labels")?,
        test_images: find("t10k-images")?,
        test_labels: find("t10k-labels")?,
    })
}

pub fn load(spec: &IdxSpec, progress: &LoadProgress) -> Result<Dataset, DataError> {
    let files = find_files(&spec.path)?;
    progress.set_total(2);
    let mut warnings = Vec::new();
    let train = load_idx_pair(&files.train_images, &files.train_labels, 10, &mut warnings)?;
    progress.tick();
    progress.check()?;
    let test = load_idx_pair(&files.test_images, &files.test_labels, 10, &mut warnings)?;
    progress.tick();
    let fashion = match spec.classes {
        IdxClasses::Fashion => true,
        IdxClasses::Digits => false,
        IdxClasses::Auto => spec
            .path
            .to_string_lossy()
            .to_lowercase()
            .contains("fashion"),
    };
    let class_names = if fashion {
        FASHION_CLASSES.iter().map(|s| s.to_string()).collect()
    } else {
        (0..10).map(|d| d.to_string()).collect()
    };
    Ok(Dataset {
        attributes: Vec::new(),
        name: folder_name(&spec.path),
        class_names,
        train,
        test,
        report: super::LoadReport {
            warnings,
            ..Default::default()
        },
    })
}

/// The most images one IDX file may hold here: 4 million is 12 GiB once padded to 32x32
/// RGB (MNIST has 70,000, EMNIST's largest split 800,000).
pub const MAX_IDX_IMAGES: usize = 4_000_000;

/// Loads an images/labels IDX pair as 32x32 RGB (zero-padded, grey repeated).
/// Warnings about the files (data past the declared counts) go into `warnings`, naming
/// the file.
pub fn load_idx_pair(
    images: &Path,
    labels: &Path,
    classes: usize,
    warnings: &mut Vec<String>,
) -> Result<ImageSet, DataError> {
    let img = read_idx(images)?;
    let lab = read_idx(labels)?;
    for (path, array) in [(images, &img), (labels, &lab)] {
        warnings.extend(
            array
                .warnings
                .iter()
                .map(|w| format!("{}: {w}", path.display())),
        );
    }
    if img.dims.len() != 3 {
        return Err(DataError::format(
            images,
            format!(
                "expected 3 dimensions (count, rows, cols), found {:?}",
                img.dims
            ),
        ));
    }
    if lab.dims.len() != 1 {
        return Err(DataError::format(
            labels,
            format!("expected 1 dimension (count), found {:?}", lab.dims),
        ));
    }
    let (n, rows, cols) = (img.dims[0], img.dims[1], img.dims[2]);
    if lab.dims[0] != n {
        return Err(DataError::format(
            labels,
            format!(
                "{} labels but {} has {n} images",
                lab.dims[0],
                images.display()
            ),
        ));
    }
    let size = PADDED_SIZE;
    if n > MAX_IDX_IMAGES {
        return Err(DataError::format(
            images,
            format!(
                "{n} images is more than the {MAX_IDX_IMAGES} this workbench holds in memory \
                 (each takes {} bytes once padded to {size}x{size} RGB)",
                size * size * 3
            ),
        ));
    }
    if rows > size || cols > size {
        return Err(DataError::format(
            images,
            format!("images are {rows}x{cols}; at most {size}x{size} is supported here"),
        ));
    }
    if let Some(bad) = lab.data.iter().find(|&&l| l as usize >= classes) {
        return Err(DataError::format(
            labels,
            format!("label {bad} is outside 0..{classes}"),
        ));
    }
    let (top, left) = ((size - rows) / 2, (size - cols) / 2);
    let mut pixels = vec![0u8; n * size * size * 3];
    for i in 0..n {
        let src = &img.data[i * rows * cols..(i + 1) * rows * cols];
        let dst = &mut pixels[i * size * size * 3..(i + 1) * size * size * 3];
        for y in 0..rows {
            for x in 0..cols {
                let v = src[y * cols + x];
                let o = ((y + top) * size + x + left) * 3;
                dst[o..o + 3].fill(v);
            }
        }
    }
    Ok(ImageSet {
        size,
        pixels,
        labels: lab.data.iter().map(|&l| l as u16).collect(),
        sources: (0..n)
            .map(|i| format!("{}#{i}", images.display()))
            .collect(),
        attributes: Vec::new(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_missing_debian_dataset_says_which_package_brings_it() {
        let err = find_files(Path::new("/usr/share/datasets/no-such-dataset"))
            .err()
            .map(|e| e.to_string())
            .unwrap_or_default();
        assert!(
            err.contains("apt-get install dataset-fashion-mnist"),
            "{err}"
        );
    }
}
