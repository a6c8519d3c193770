//! Image folders in torchvision's ImageFolder convention.
//!
//! Layouts, recognised in this order:
//! - `root/train/<class>/...` with `root/val/<class>/...` (or `test/`, `valid/`,
//!   `validation/`): the split is given by the folders;
//! - `root/<class>/...`: the held-out split is drawn per class (`held_out` fraction, seeded);
//! - images directly in `root` (no subfolders): one "unlabelled" class.
//!
//! Files are decoded in parallel (rayon) and stored resized as `size x size` RGB `u8`:
//! resize the shorter side and centre-crop (default, torchvision's Resize + CenterCrop) or
//! stretch. Grey, RGBA and 16-bit files are converted to 8-bit RGB; alpha is dropped.
//! Files that cannot be read are skipped and listed in the report, never fatal, unless
//! none is readable.

use std::path::{Path, PathBuf};

use image::imageops::FilterType;
use image::{DynamicImage, ImageReader};
use rayon::prelude::*;
use serde::{Deserialize, Serialize};

use super::attribute_csv;
use super::{
    DataError, Dataset, ImageSet, LoadProgress, LoadReport, SizeStats, SkippedFile, folder_name,
};
use crate::seeding::{Stream, rng_for};

/// Extensions read as images (lower case); other files are listed as skipped.
pub const EXTENSIONS: [&str; 5] = ["png", "jpg", "jpeg", "bmp", "webp"];

/// The most classes (or values of an attribute) a dataset can have: labels are u16.
pub const MAX_CLASSES: usize = u16::MAX as usize + 1;
/// Largest image decoded, in pixels (8192 x 8192): a bigger header is refused before any
/// memory is allocated for it.
pub const MAX_PIXELS: u64 = 8192 * 8192;
/// Names of a held-out split folder next to `train/`.
const HELD_OUT_FOLDERS: [&str; 4] = ["val", "test", "valid", "validation"];
/// The class of images in a folder without class subfolders.
pub const UNLABELLED: &str = "unlabelled";

/// How a source image becomes `size x size`.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum ResizePolicy {
    /// Resize the shorter side to `size`, then cut the centre square.
    #[default]
    CenterCrop,
    /// Resize both sides to `size`, ignoring the aspect ratio.
    Stretch,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ImageFolderSpec {
    pub path: PathBuf,
    /// Side length images are stored and trained at.
    pub size: usize,
    pub resize: ResizePolicy,
    /// Fraction of each class held out for evaluation (without `train/` + `val/` folders).
    pub held_out: f32,
    /// Seeds that draw.
    pub split_seed: u64,
    /// Follow symbolic links that lead out of the folder (links back into it never are).
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub follow_links: bool,
}

impl Default for ImageFolderSpec {
    fn default() -> Self {
        Self {
            path: PathBuf::new(),
            size: 32,
            resize: ResizePolicy::default(),
            held_out: 0.2,
            split_seed: 0,
            follow_links: false,
        }
    }
}

impl ImageFolderSpec {
    pub fn at(path: impl Into<PathBuf>) -> Self {
        Self {
            path: path.into(),
            ..Self::default()
        }
    }

    /// Range checks; the error names the preset field.
    pub fn validate(&self) -> Result<(), String> {
        if !(8..=256).contains(&self.size) {
            return Err(format!(
                "dataset.size = {} is out of range: must be in 8..=256",
                self.size
            ));
        }
        if !(0.0..1.0).contains(&self.held_out) {
            return Err(format!(
                "dataset.held_out = {} is out of range: must be in [0, 1)",
                self.held_out
            ));
        }
        Ok(())
    }
}

/// How the folder is organised.
#[derive(Clone, Debug, PartialEq)]
pub enum Layout {
    /// `train/` and a held-out folder.
    SplitFolders { held_out: PathBuf },
    /// One subfolder per class; held-out images drawn per class.
    ClassFolders,
    /// Images directly in the folder, unlabelled.
    Flat,
}

/// What a scan found, before any image is decoded.
#[derive(Clone, Debug, PartialEq)]
pub struct FolderScan {
    pub layout: Layout,
    pub class_names: Vec<String>,
    pub train: Vec<(PathBuf, u16)>,
    pub test: Vec<(PathBuf, u16)>,
    /// Files that are not images.
    pub skipped: Vec<SkippedFile>,
    pub warnings: Vec<String>,
}

impl FolderScan {
    pub fn image_files(&self) -> usize {
        self.train.len() + self.test.len()
    }

    /// Bytes the decoded dataset will take in memory at `size x size` RGB.
    pub fn memory_estimate(&self, size: usize) -> u64 {
        (self.image_files() * size * size * 3) as u64
    }
}

fn is_hidden(path: &Path) -> bool {
    path.file_name()
        .is_some_and(|n| n.to_string_lossy().starts_with('.'))
}

fn has_image_extension(path: &Path) -> bool {
    path.extension()
        .map(|e| e.to_string_lossy().to_lowercase())
        .is_some_and(|e| EXTENSIONS.contains(&e.as_str()))
}

/// Lists a dataset folder without ever reading an image twice: symbolic links that lead
/// back into the folder (`root/mirror -> .`) are skipped and reported, as are links out of
/// it unless `dataset.follow_links` is set.
struct Walker {
    root: PathBuf,
    follow_links: bool,
    /// Folders reached through links, so links out of the tree cannot loop.
    visited: std::cell::RefCell<std::collections::HashSet<PathBuf>>,
}

impl Walker {
    fn new(root: &Path, follow_links: bool) -> Result<Self, DataError> {
        Ok(Self {
            root: root.canonicalize().map_err(|e| DataError::io(root, e))?,
            follow_links,
            visited: Default::default(),
        })
    }

    /// Why the link at `path` is not followed, or `None` to follow it.
    fn refuse_link(&self, path: &Path) -> Option<String> {
        let target = match path.canonicalize() {
            Ok(t) => t,
            Err(e) => return Some(format!("broken symbolic link: {e}")),
        };
        if target.starts_with(&self.root) || self.root.starts_with(&target) {
            return Some(format!(
                "symbolic link back into the dataset folder (-> {}): not followed, its images \
                 would be counted twice",
                target.display()
            ));
        }
        if !self.follow_links {
            return Some(format!(
                "symbolic link out of the dataset folder (-> {}): not followed; set \
                 dataset.follow_links = true to read it",
                target.display()
            ));
        }
        if target.is_dir() && !self.visited.borrow_mut().insert(target.clone()) {
            return Some(format!(
                "symbolic link to a folder already read (-> {})",
                target.display()
            ));
        }
        None
    }

    /// Visible subfolders and files of `dir`, each sorted by name.
    fn list_dir(
        &self,
        dir: &Path,
        skipped: &mut Vec<SkippedFile>,
    ) -> Result<(Vec<PathBuf>, Vec<PathBuf>), DataError> {
        let mut dirs = Vec::new();
        let mut files = Vec::new();
        for entry in std::fs::read_dir(dir).map_err(|e| DataError::io(dir, e))? {
            let entry = entry.map_err(|e| DataError::io(dir, e))?;
            let path = entry.path();
            if is_hidden(&path) {
                continue;
            }
            let is_link = entry.file_type().is_ok_and(|t| t.is_symlink());
            if is_link && let Some(problem) = self.refuse_link(&path) {
                skipped.push(SkippedFile { path, problem });
                continue;
            }
            if path.is_dir() {
                dirs.push(path);
            } else if let Some(problem) = not_a_plain_file(&path) {
                skipped.push(SkippedFile { path, problem });
            } else {
                files.push(path);
            }
        }
        dirs.sort();
        files.sort();
        Ok((dirs, files))
    }

    /// Every visible file under `dir`, recursively, sorted (as torchvision walks a class).
    fn files_under(&self, dir: &Path, skipped: &mut Vec<SkippedFile>) -> Vec<PathBuf> {
        let mut files = Vec::new();
        let walk = walkdir::WalkDir::new(dir)
            .sort_by_file_name()
            .into_iter()
            .filter_entry(|e| e.depth() == 0 || !is_hidden(e.path()));
        for entry in walk {
            let entry = match entry {
                Ok(e) => e,
                Err(e) => {
                    skipped.push(SkippedFile {
                        path: e
                            .path()
                            .map_or_else(|| dir.to_path_buf(), Path::to_path_buf),
                        problem: format!("cannot be read: {e}"),
                    });
                    continue;
                }
            };
            let t = entry.file_type();
            if t.is_file() {
                files.push(entry.into_path());
            } else if t.is_symlink() && entry.depth() > 0 {
                let path = entry.into_path();
                match self.refuse_link(&path) {
                    Some(problem) => skipped.push(SkippedFile { path, problem }),
                    None if path.is_dir() => files.extend(self.files_under(&path, skipped)),
                    None => match not_a_plain_file(&path) {
                        Some(problem) => skipped.push(SkippedFile { path, problem }),
                        None => files.push(path),
                    },
                }
            } else if !t.is_dir() {
                // A FIFO would block the load forever; a socket or device is no image.
                let path = entry.into_path();
                let problem = not_a_plain_file(&path).unwrap_or_else(|| "not read".into());
                skipped.push(SkippedFile { path, problem });
            }
        }
        files
    }
}

/// Why `path` (links followed) is not read: a FIFO, socket or device, never opened (a FIFO
/// nobody writes would block the load). `None` for a plain file.
pub fn not_a_plain_file(path: &Path) -> Option<String> {
    use std::os::unix::fs::FileTypeExt;
    let t = std::fs::metadata(path).ok()?.file_type();
    let kind = if t.is_fifo() {
        "a FIFO (named pipe)"
    } else if t.is_socket() {
        "a socket"
    } else if t.is_block_device() || t.is_char_device() {
        "a device"
    } else {
        return None;
    };
    Some(format!("{kind}, not a file: not read"))
}

/// Splits `files` into images and skipped non-images.
fn sort_files(files: Vec<PathBuf>, skipped: &mut Vec<SkippedFile>) -> Vec<PathBuf> {
    let (images, others): (Vec<_>, Vec<_>) =
        files.into_iter().partition(|p| has_image_extension(p));
    skipped.extend(others.into_iter().map(|path| SkippedFile {
        problem: format!(
            "not an image file (only {} are read)",
            EXTENSIONS.join(", ")
        ),
        path,
    }));
    images
}

/// Lists the images and classes of `spec.path` without decoding anything.
pub fn scan(spec: &ImageFolderSpec) -> Result<FolderScan, DataError> {
    let root = &spec.path;
    if !root.exists() {
        return Err(DataError::io(
            root,
            std::io::Error::new(std::io::ErrorKind::NotFound, "no such folder"),
        ));
    }
    if !root.is_dir() {
        return Err(DataError::format(
            root,
            "is a file; open the folder that holds the images (one subfolder per class)",
        ));
    }
    let walker = Walker::new(root, spec.follow_links)?;
    let mut skipped = Vec::new();
    let (dirs, mut root_files) = walker.list_dir(root, &mut skipped)?;
    // The attribute table is read by `load`, not skipped as a non-image.
    root_files.retain(|p| p.file_name() != Some(attribute_csv::ATTRIBUTES_FILE.as_ref()));
    let named = |name: &str| {
        dirs.iter()
            .find(|d| d.file_name().is_some_and(|n| n.eq_ignore_ascii_case(name)))
            .cloned()
    };
    let held_out_dir = HELD_OUT_FOLDERS.iter().find_map(|n| named(n));
    let mut scan = FolderScan {
        layout: Layout::Flat,
        class_names: Vec::new(),
        train: Vec::new(),
        test: Vec::new(),
        skipped,
        warnings: Vec::new(),
    };
    match (named("train"), held_out_dir) {
        (Some(train_dir), Some(held_dir)) => {
            scan_split_folders(&walker, &train_dir, &held_dir, &mut scan)?;
        }
        _ if !dirs.is_empty() => scan_class_folders(spec, &walker, &dirs, &root_files, &mut scan),
        _ => {
            let files = sort_files(root_files, &mut scan.skipped);
            if !files.is_empty() {
                scan.class_names.push(UNLABELLED.into());
                scan.warnings.push(
                    "no class subfolders: the images are unlabelled, so kNN accuracy means \
                     nothing here (watch the loss, alignment/uniformity and the projection)"
                        .into(),
                );
                split_by_ratio(spec, vec![files], &mut scan);
            }
        }
    }
    // Labels are u16: one more class would share label 0 with the first.
    if scan.class_names.len() > MAX_CLASSES {
        return Err(DataError::format(
            root,
            format!(
                "{} class folders: at most {MAX_CLASSES} classes are supported",
                scan.class_names.len()
            ),
        ));
    }
    if scan.image_files() == 0 {
        return Err(DataError::format(
            root,
            format!(
                "no images found (looked for {} files in class subfolders and in the folder itself)",
                EXTENSIONS.join(", ")
            ),
        ));
    }
    if scan.class_names.len() == 1 && scan.layout != Layout::Flat {
        scan.warnings.push(format!(
            "only one class ({}): kNN accuracy is 100% by construction",
            scan.class_names[0]
        ));
    }
    Ok(scan)
}

/// `train/<class>/` and a held-out folder (`test/`, `val/`, ...) of the same classes: the
/// split is the folders'.
fn scan_split_folders(
    walker: &Walker,
    train_dir: &Path,
    held_dir: &Path,
    scan: &mut FolderScan,
) -> Result<(), DataError> {
    scan.layout = Layout::SplitFolders {
        held_out: held_dir.to_path_buf(),
    };
    let (classes, _) = walker.list_dir(train_dir, &mut scan.skipped)?;
    let mut not_held_out = Vec::new();
    for class_dir in classes {
        let name = folder_name(&class_dir);
        let train = walker.files_under(&class_dir, &mut scan.skipped);
        let train = sort_files(train, &mut scan.skipped);
        // A class with no held-out folder has no held-out images (said once, below), not
        // an unreadable folder.
        let held_class = held_dir.join(&name);
        let test = if held_class.is_dir() {
            walker.files_under(&held_class, &mut scan.skipped)
        } else {
            not_held_out.push(name.clone());
            Vec::new()
        };
        let test = sort_files(test, &mut scan.skipped);
        if train.is_empty() {
            scan.warnings.push(format!(
                "class folder {} has no images; left out",
                class_dir.display()
            ));
            continue;
        }
        let label = scan.class_names.len() as u16;
        scan.class_names.push(name);
        scan.train.extend(train.into_iter().map(|p| (p, label)));
        scan.test.extend(test.into_iter().map(|p| (p, label)));
    }
    if !not_held_out.is_empty() {
        let shown: Vec<&str> = not_held_out.iter().take(5).map(String::as_str).collect();
        scan.warnings.push(format!(
            "{} of the classes in {} have no folder in {} (no held-out images): {}{}",
            not_held_out.len(),
            train_dir.display(),
            held_dir.display(),
            shown.join(", "),
            if not_held_out.len() > shown.len() {
                ", ..."
            } else {
                ""
            }
        ));
    }
    let (held_classes, _) = walker.list_dir(held_dir, &mut scan.skipped)?;
    for d in held_classes {
        if !scan.class_names.contains(&folder_name(&d)) {
            scan.warnings.push(format!(
                "{} has no matching class in {}; left out",
                d.display(),
                train_dir.display()
            ));
        }
    }
    Ok(())
}

/// One subfolder per class: each class is split by the spec's held-out ratio; loose images
/// beside the class folders are ignored with a warning.
fn scan_class_folders(
    spec: &ImageFolderSpec,
    walker: &Walker,
    dirs: &[PathBuf],
    root_files: &[PathBuf],
    scan: &mut FolderScan,
) {
    scan.layout = Layout::ClassFolders;
    let mut per_class = Vec::new();
    for class_dir in dirs {
        let files = walker.files_under(class_dir, &mut scan.skipped);
        let files = sort_files(files, &mut scan.skipped);
        if files.is_empty() {
            scan.warnings.push(format!(
                "class folder {} has no images; left out",
                class_dir.display()
            ));
            continue;
        }
        scan.class_names.push(folder_name(class_dir));
        per_class.push(files);
    }
    let loose = root_files.iter().filter(|p| has_image_extension(p)).count();
    if loose > 0 {
        scan.warnings.push(format!(
            "{loose} images directly in {} were ignored: with class subfolders, \
             images belong inside them",
            spec.path.display()
        ));
    }
    split_by_ratio(spec, per_class, scan);
}

/// Draws `held_out` of each class (at least one when a class has two or more images).
fn split_by_ratio(spec: &ImageFolderSpec, per_class: Vec<Vec<PathBuf>>, scan: &mut FolderScan) {
    for (label, mut files) in per_class.into_iter().enumerate() {
        let n = files.len();
        let held = if n < 2 || spec.held_out <= 0.0 {
            0
        } else {
            ((n as f32 * spec.held_out).round() as usize).clamp(1, n - 1)
        };
        let mut rng = rng_for(spec.split_seed, Stream::Split, &[label as u64]);
        let order = rand::seq::index::sample(&mut rng, n, n).into_vec();
        let mut test: Vec<PathBuf> = Vec::with_capacity(held);
        let mut train = Vec::with_capacity(n - held);
        let mut taken: Vec<Option<PathBuf>> = files.drain(..).map(Some).collect();
        for (rank, i) in order.into_iter().enumerate() {
            let p = taken[i].take().expect("each index once");
            if rank < held {
                test.push(p)
            } else {
                train.push(p)
            }
        }
        // Keep file order within each split, so the dataset grid reads naturally.
        train.sort();
        test.sort();
        let label = label as u16;
        scan.train.extend(train.into_iter().map(|p| (p, label)));
        scan.test.extend(test.into_iter().map(|p| (p, label)));
    }
}

/// Decodes one file to `size x size` RGB; the error is the problem, without the path.
pub fn decode(
    path: &Path,
    size: usize,
    policy: ResizePolicy,
) -> Result<(Vec<u8>, (u32, u32)), String> {
    let len = std::fs::metadata(path)
        .map_err(|e| format!("cannot read: {e}"))?
        .len();
    if len == 0 {
        return Err("empty file (0 bytes)".into());
    }
    let open = || {
        ImageReader::open(path)
            .and_then(ImageReader::with_guessed_format)
            .map_err(|e| format!("cannot read: {e}"))
    };
    let (w, h) = open()?
        .into_dimensions()
        .map_err(|e| format!("not a readable image: {e}"))?;
    if u64::from(w) * u64::from(h) > MAX_PIXELS {
        return Err(format!(
            "{w}x{h} pixels is larger than the {} megapixel limit for one image",
            MAX_PIXELS / 1_000_000
        ));
    }
    let img = open()?
        .decode()
        .map_err(|e| format!("cannot decode: {e}"))?;
    let rgb = DynamicImage::ImageRgb8(img.to_rgb8());
    let s = size as u32;
    let resized = match policy {
        ResizePolicy::CenterCrop => {
            let side = w.min(h);
            rgb.crop_imm((w - side) / 2, (h - side) / 2, side, side)
        }
        ResizePolicy::Stretch => rgb,
    };
    // Area averaging for big reductions (fast, no aliasing); a triangle filter otherwise.
    let out = if resized.width() >= 4 * s && resized.height() >= 4 * s {
        resized.thumbnail_exact(s, s)
    } else {
        resized.resize_exact(s, s, FilterType::Triangle)
    };
    Ok((out.to_rgb8().into_raw(), (w, h)))
}

/// A decoded file's RGB bytes and source size, or why it is skipped.
type DecodeOutcome = Result<(Vec<u8>, (u32, u32)), String>;

pub fn load(spec: &ImageFolderSpec, progress: &LoadProgress) -> Result<Dataset, DataError> {
    spec.validate()
        .map_err(|problem| DataError::format(&spec.path, problem))?;
    let scan = scan(spec)?;
    progress.check()?;
    let jobs: Vec<(&PathBuf, u16, bool)> = scan
        .train
        .iter()
        .map(|(p, l)| (p, *l, false))
        .chain(scan.test.iter().map(|(p, l)| (p, *l, true)))
        .collect();
    progress.set_total(jobs.len());
    // Per file: None when cancelled, else the pixels and source size, or why it was skipped.
    let decoded: Vec<Option<DecodeOutcome>> = jobs
        .par_iter()
        .map(|(path, _, _)| {
            if progress.is_cancelled() {
                return None;
            }
            let r = decode(path, spec.size, spec.resize);
            progress.tick();
            Some(r)
        })
        .collect();
    progress.check()?;
    let mut report = LoadReport {
        skipped: scan.skipped,
        warnings: scan.warnings,
        source_sizes: None,
    };
    let empty = || ImageSet {
        size: spec.size,
        ..ImageSet::default()
    };
    let (mut train, mut test) = (empty(), empty());
    let mut sizes = Vec::new();
    for ((path, label, is_test), result) in jobs.into_iter().zip(decoded) {
        match result.expect("not cancelled") {
            Ok((pixels, dims)) => {
                let set = if is_test { &mut test } else { &mut train };
                set.pixels.extend_from_slice(&pixels);
                set.labels.push(label);
                set.sources.push(path.display().to_string());
                sizes.push(dims);
            }
            Err(problem) => report.skipped.push(SkippedFile {
                path: path.clone(),
                problem,
            }),
        }
    }
    if train.is_empty() {
        let first = report
            .skipped
            .first()
            .map(|s| format!("; first problem: {}: {}", s.path.display(), s.problem))
            .unwrap_or_default();
        return Err(DataError::format(
            &spec.path,
            format!(
                "none of the {} image files could be used for training{first}",
                scan.train.len()
            ),
        ));
    }
    report.source_sizes = SizeStats::of(sizes);
    let attributes = match attribute_csv::read(&spec.path)? {
        Some(table) => table.apply(&spec.path, [&mut train, &mut test], &mut report.warnings),
        None => Vec::new(),
    };
    Ok(Dataset {
        attributes,
        name: folder_name(&spec.path),
        class_names: scan.class_names,
        train,
        test,
        report,
    })
}
