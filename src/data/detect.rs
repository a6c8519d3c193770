//! Which loader a user-chosen path needs: what a dropped file or folder, a dialog's choice
//! or a typed path becomes.

use std::path::{Path, PathBuf};

use super::cifar::CifarSpec;
use super::image_folder::ImageFolderSpec;
use super::mnist::IdxSpec;
use super::{DataError, DatasetSpec};

/// The dataset at `path`: an MNIST-style IDX folder, a CIFAR binary folder (or its
/// parent holding `cifar-10-batches-bin` / `cifar-100-binary`), else an image folder.
/// A file inside such a folder stands for its folder.
pub fn spec_for_path(path: &Path, image_size: usize) -> Result<DatasetSpec, DataError> {
    if !path.exists() {
        return Err(DataError::io(
            path,
            std::io::Error::new(std::io::ErrorKind::NotFound, "no such file or folder"),
        ));
    }
    let dir: PathBuf = if path.is_file() {
        let name = path
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        if !(name.contains("ubyte") || name.ends_with(".bin")) {
            return Err(DataError::format(
                path,
                "is a single file: open the folder holding the dataset (image subfolders per \
                 class, MNIST IDX files or CIFAR .bin batches)",
            ));
        }
        path.parent().map(Path::to_path_buf).unwrap_or_default()
    } else {
        path.to_path_buf()
    };
    for sub in ["cifar-10-batches-bin", "cifar-100-binary"] {
        if dir.join(sub).is_dir() {
            return Ok(cifar_at(dir.join(sub)));
        }
    }
    let names: Vec<String> = std::fs::read_dir(&dir)
        .map_err(|e| DataError::io(&dir, e))?
        .filter_map(|e| e.ok())
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .collect();
    if names
        .iter()
        .any(|n| n.starts_with("train-images") && n.contains("ubyte"))
    {
        return Ok(DatasetSpec::Idx(IdxSpec {
            path: dir,
            ..IdxSpec::default()
        }));
    }
    if names
        .iter()
        .any(|n| n == "train.bin" || n == "test_batch.bin" || n.starts_with("data_batch_"))
    {
        return Ok(cifar_at(dir));
    }
    Ok(DatasetSpec::ImageFolder(ImageFolderSpec {
        size: image_size,
        ..ImageFolderSpec::at(dir)
    }))
}

fn cifar_at(path: PathBuf) -> DatasetSpec {
    DatasetSpec::Cifar(CifarSpec {
        path,
        ..CifarSpec::default()
    })
}
