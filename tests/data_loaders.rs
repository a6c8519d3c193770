//! Every dataset format and every bad input, on files these tests write.
#![allow(clippy::unwrap_used)] // tests fail loudly on purpose

use std::path::{Path, PathBuf};

use contrastive_workbench::data::cifar::{CifarLabels, CifarSpec, encode_records};
use contrastive_workbench::data::detect::spec_for_path;
use contrastive_workbench::data::idx::encode_idx;
use contrastive_workbench::data::image_folder::{ImageFolderSpec, ResizePolicy};
use contrastive_workbench::data::inspect::inspect;
use contrastive_workbench::data::mnist::IdxSpec;
use contrastive_workbench::data::{DataError, Dataset, DatasetSpec, LoadProgress};
use contrastive_workbench::preset::Experiment;
use image::{ImageBuffer, Luma, Rgb, Rgba};

fn solid_rgb(w: u32, h: u32, c: [u8; 3]) -> image::RgbImage {
    ImageBuffer::from_pixel(w, h, Rgb(c))
}

fn save(img: impl Into<image::DynamicImage>, path: &Path) {
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    img.into().save(path).unwrap();
}

fn load_folder(spec: ImageFolderSpec) -> Result<Dataset, DataError> {
    DatasetSpec::ImageFolder(spec).load()
}

/// Two classes in every format and pixel type the loader promises.
fn write_mixed_folder(root: &Path) {
    for i in 0..5 {
        save(
            solid_rgb(40 + i, 30, [200, 20, 20]),
            &root.join(format!("red/r{i}.png")),
        );
    }
    save(solid_rgb(64, 64, [200, 20, 20]), &root.join("red/r5.jpg"));
    save(solid_rgb(33, 17, [200, 20, 20]), &root.join("red/r6.bmp"));
    save(solid_rgb(20, 20, [200, 20, 20]), &root.join("red/r7.webp"));
    let grey: ImageBuffer<Luma<u8>, Vec<u8>> = ImageBuffer::from_pixel(32, 32, Luma([90]));
    save(grey, &root.join("grey/g0.png"));
    let rgba: ImageBuffer<Rgba<u8>, Vec<u8>> =
        ImageBuffer::from_pixel(32, 32, Rgba([90, 90, 90, 128]));
    save(rgba, &root.join("grey/g1.png"));
    let deep: ImageBuffer<Luma<u16>, Vec<u16>> = ImageBuffer::from_pixel(50, 70, Luma([90 * 257]));
    save(deep, &root.join("grey/nested/g2.png"));
    save(
        solid_rgb(300, 200, [90, 90, 90]),
        &root.join("grey/g3.jpeg"),
    );
}

#[test]
fn image_folder_reads_every_format_into_classes_and_a_seeded_split() {
    let dir = tempfile::tempdir().unwrap();
    write_mixed_folder(dir.path());
    let spec = ImageFolderSpec {
        held_out: 0.25,
        ..ImageFolderSpec::at(dir.path())
    };
    let d = load_folder(spec.clone()).unwrap();
    assert_eq!(d.class_names, vec!["grey", "red"]);
    assert_eq!(d.train.len() + d.test.len(), 12, "{:?}", d.report);
    assert!(d.report.skipped.is_empty(), "{:?}", d.report.skipped);
    // 25% of 4 grey = 1, of 8 red = 2, held out per class.
    assert_eq!(d.test.class_counts(2), vec![1, 2]);
    assert_eq!(d.image_size(), 32);
    assert_eq!(d.train.pixels.len(), d.train.len() * 32 * 32 * 3);
    // Colours survive decoding and resizing (JPEG within its loss).
    for (set, i) in [(&d.train, 0), (&d.test, 0)] {
        let px = &set.image(i)[..3];
        let want: [u8; 3] = if set.labels[i] == 0 {
            [90, 90, 90]
        } else {
            [200, 20, 20]
        };
        for c in 0..3 {
            assert!(px[c].abs_diff(want[c]) <= 6, "{px:?} vs {want:?}");
        }
    }
    let sizes = d.report.source_sizes.unwrap();
    assert_eq!(sizes.min, (20, 20));
    assert_eq!(sizes.max, (300, 200));
    // The split is a pure function of the seed.
    assert_eq!(load_folder(spec.clone()).unwrap(), d);
    let other = load_folder(ImageFolderSpec {
        split_seed: 9,
        ..spec
    })
    .unwrap();
    assert_eq!(other.train.len(), d.train.len());
}

#[test]
fn resize_policy_centre_crops_or_stretches() {
    let dir = tempfile::tempdir().unwrap();
    // 96x32: red | green | blue thirds.
    let img = ImageBuffer::from_fn(96, 32, |x, _| match x / 32 {
        0 => Rgb([255u8, 0, 0]),
        1 => Rgb([0, 255, 0]),
        _ => Rgb([0, 0, 255]),
    });
    save(img, &dir.path().join("only/a.png"));
    let spec = |resize| ImageFolderSpec {
        resize,
        held_out: 0.0,
        size: 16,
        ..ImageFolderSpec::at(dir.path())
    };
    let crop = load_folder(spec(ResizePolicy::CenterCrop)).unwrap();
    let px = crop.train.image(0);
    assert!(
        px.chunks(3).all(|p| p[1] > 200 && p[0] < 40),
        "centre crop is all green"
    );
    let stretch = load_folder(spec(ResizePolicy::Stretch)).unwrap();
    let px = stretch.train.image(0);
    assert!(px[0] > 200, "stretched left edge is red");
    assert!(px[15 * 3 + 2] > 200, "stretched right edge is blue");
}

#[test]
fn train_and_val_folders_give_the_split() {
    let dir = tempfile::tempdir().unwrap();
    for (split, n) in [("train", 3), ("val", 2)] {
        for class in ["a", "b"] {
            for i in 0..n {
                save(
                    solid_rgb(8, 8, [1, 2, 3]),
                    &dir.path().join(format!("{split}/{class}/{i}.png")),
                );
            }
        }
    }
    save(
        solid_rgb(8, 8, [1, 2, 3]),
        &dir.path().join("val/zebra/0.png"),
    );
    let d = load_folder(ImageFolderSpec::at(dir.path())).unwrap();
    assert_eq!(d.class_names, vec!["a", "b"]);
    assert_eq!((d.train.len(), d.test.len()), (6, 4));
    // Every image remembers its file (the Projector's metadata lists it).
    for (set, split) in [(&d.train, "train"), (&d.test, "val")] {
        for i in 0..set.len() {
            let class = &d.class_names[set.labels[i] as usize];
            let src = std::path::Path::new(set.source(i));
            assert!(src.is_file(), "{src:?}");
            assert!(
                src.starts_with(dir.path().join(split).join(class)),
                "{src:?}"
            );
        }
    }
    assert!(
        d.report.warnings.iter().any(|w| w.contains("zebra")),
        "{:?}",
        d.report.warnings
    );
    // A class with no folder in val/ has no held-out images, said once; nothing is an
    // unreadable file.
    for i in 0..2 {
        save(
            solid_rgb(8, 8, [1, 2, 3]),
            &dir.path().join(format!("train/c/{i}.png")),
        );
    }
    let d = load_folder(ImageFolderSpec::at(dir.path())).unwrap();
    assert_eq!(d.class_names, vec!["a", "b", "c"]);
    assert_eq!((d.train.len(), d.test.len()), (8, 4));
    assert!(d.report.skipped.is_empty(), "{:?}", d.report.skipped);
    let said: Vec<&String> = d
        .report
        .warnings
        .iter()
        .filter(|w| w.contains("no held-out images"))
        .collect();
    assert!(
        said.len() == 1 && said[0].contains("1 of the classes") && said[0].contains(": c"),
        "{:?}",
        d.report.warnings
    );
}

/// Labels are u16: a 65,537th class folder would share label 0 with the first.
#[test]
fn more_class_folders_than_labels_is_an_error_naming_the_folder() {
    let dir = tempfile::tempdir().unwrap();
    // The scan lists files by name; their contents are not read before the count.
    for class in 0..=u16::MAX as usize + 1 {
        let folder = dir.path().join(format!("c{class:05}"));
        std::fs::create_dir(&folder).unwrap();
        std::fs::write(folder.join("0.png"), b"").unwrap();
    }
    let err = load_folder(ImageFolderSpec::at(dir.path()))
        .unwrap_err()
        .to_string();
    assert!(
        err.contains(&dir.path().display().to_string())
            && err.contains("65537 class folders")
            && err.contains("at most 65536"),
        "{err}"
    );
}

#[test]
fn flat_folder_is_unlabelled_and_one_class_is_warned() {
    let dir = tempfile::tempdir().unwrap();
    for i in 0..4 {
        save(
            solid_rgb(8, 8, [9, 9, 9]),
            &dir.path().join(format!("{i}.png")),
        );
    }
    let d = load_folder(ImageFolderSpec::at(dir.path())).unwrap();
    assert_eq!(d.class_names, vec!["unlabelled"]);
    assert_eq!((d.train.len(), d.test.len()), (3, 1));
    assert!(d.report.warnings.iter().any(|w| w.contains("unlabelled")));

    let one = tempfile::tempdir().unwrap();
    for i in 0..3 {
        save(
            solid_rgb(8, 8, [9, 9, 9]),
            &one.path().join(format!("cats/{i}.png")),
        );
    }
    let d = load_folder(ImageFolderSpec::at(one.path())).unwrap();
    assert!(
        d.report
            .warnings
            .iter()
            .any(|w| w.contains("only one class (cats)")),
        "{:?}",
        d.report.warnings
    );
}

#[test]
fn an_attribute_table_gives_each_image_its_nuisance_values() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path();
    for (class, colour) in [("cats", [200, 20, 20]), ("dogs", [20, 20, 200])] {
        for i in 0..4 {
            save(
                solid_rgb(8, 8, colour),
                &root.join(format!("{class}/{i}.png")),
            );
        }
    }
    // dogs/3.png has no row; one row names a file that is not there.
    std::fs::write(
        root.join("attributes.csv"),
        "file,pose,light\ncats/0.png,left,day\ncats/1.png,right,day\ncats/2.png,left,night\n\
         cats/3.png,right,night\ndogs/0.png,left,day\ndogs/1.png,left,day\n\
         dogs/2.png,right,night\nbirds/0.png,left,day\n",
    )
    .unwrap();
    let d = load_folder(ImageFolderSpec {
        held_out: 0.25,
        ..ImageFolderSpec::at(root)
    })
    .unwrap();
    let names: Vec<&str> = d.attributes.iter().map(|a| a.name.as_str()).collect();
    assert_eq!(names, ["pose", "light"]);
    // Every image of both splits has a value of each, read from its own row.
    for set in [&d.train, &d.test] {
        assert_eq!(set.attributes.len(), 2);
        for (i, source) in set.sources.iter().enumerate() {
            let pose = &d.attributes[0].values[set.attributes[0][i] as usize];
            let expected = match Path::new(source)
                .strip_prefix(root)
                .unwrap()
                .to_str()
                .unwrap()
            {
                "cats/0.png" | "cats/2.png" | "dogs/0.png" | "dogs/1.png" => "left",
                "dogs/3.png" => "(none)",
                _ => "right",
            };
            assert_eq!(pose, expected, "{source}");
        }
    }
    assert!(
        d.report.warnings.iter().any(|w| w
            .contains("attributes.csv: 1 of its 8 rows name no loaded image (first: birds/0.png)")),
        "{:?}",
        d.report.warnings
    );
    // The table is not an image the loader skipped.
    assert!(d.report.skipped.is_empty(), "{:?}", d.report.skipped);

    // A malformed table refuses the folder, naming the file and the line.
    std::fs::write(root.join("attributes.csv"), "file,pose\ncats/0.png\n").unwrap();
    let err = load_folder(ImageFolderSpec::at(root))
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("attributes.csv") && err.contains("line 2: 1 fields, the header has 2"),
        "{err}"
    );
}

/// A PNG whose header claims `w x h` pixels, with correct CRCs and no image data.
fn png_header_only(w: u32, h: u32) -> Vec<u8> {
    let mut out = vec![0x89, b'P', b'N', b'G', 0x0d, 0x0a, 0x1a, 0x0a];
    let mut chunk = |kind: &[u8], data: &[u8]| {
        out.extend_from_slice(&(data.len() as u32).to_be_bytes());
        let mut body = kind.to_vec();
        body.extend_from_slice(data);
        out.extend_from_slice(&body);
        out.extend_from_slice(&crc32fast::hash(&body).to_be_bytes());
    };
    let mut ihdr = Vec::new();
    ihdr.extend_from_slice(&w.to_be_bytes());
    ihdr.extend_from_slice(&h.to_be_bytes());
    ihdr.extend_from_slice(&[8, 2, 0, 0, 0]);
    chunk(b"IHDR", &ihdr);
    // An empty zlib stream: decoders read the header up to the first IDAT.
    chunk(b"IDAT", &[0x78, 0x9c, 0x03, 0x00, 0x00, 0x00, 0x00, 0x01]);
    chunk(b"IEND", &[]);
    out
}

#[test]
fn bad_files_are_skipped_and_listed_with_their_problem() {
    let dir = tempfile::tempdir().unwrap();
    let class = dir.path().join("things");
    for i in 0..3 {
        save(
            solid_rgb(16, 16, [50, 60, 70]),
            &class.join(format!("good{i}.png")),
        );
    }
    let good_png = std::fs::read(class.join("good0.png")).unwrap();
    std::fs::write(class.join("truncated.png"), &good_png[..good_png.len() / 2]).unwrap();
    std::fs::write(
        class.join("corrupt.png"),
        b"\x89PNG\r\n\x1a\nthis is not a png body",
    )
    .unwrap();
    save(solid_rgb(64, 64, [1, 2, 3]), &class.join("whole.jpg"));
    let jpeg = std::fs::read(class.join("whole.jpg")).unwrap();
    std::fs::write(class.join("truncated.jpg"), &jpeg[..200]).unwrap();
    std::fs::remove_file(class.join("whole.jpg")).unwrap();
    std::fs::write(class.join("empty.png"), b"").unwrap();
    std::fs::write(class.join("notes.txt"), b"shopping list").unwrap();
    std::fs::write(class.join("huge.png"), png_header_only(20_000, 20_000)).unwrap();

    let d = load_folder(ImageFolderSpec::at(dir.path())).unwrap();
    assert_eq!(d.train.len() + d.test.len(), 3);
    let problem = |name: &str| {
        d.report
            .skipped
            .iter()
            .find(|s| s.path.ends_with(name))
            .map(|s| s.problem.clone())
            .unwrap_or_else(|| panic!("{name} not reported: {:?}", d.report.skipped))
    };
    assert!(problem("empty.png").contains("empty file"));
    assert!(problem("notes.txt").contains("not an image"));
    assert!(
        problem("huge.png").contains("20000x20000"),
        "{}",
        problem("huge.png")
    );
    for name in ["truncated.png", "corrupt.png", "truncated.jpg"] {
        let p = problem(name);
        assert!(
            p.contains("decode") || p.contains("readable"),
            "{name}: {p}"
        );
    }
    assert_eq!(d.report.skipped.len(), 6);
}

/// A FIFO named like an image (in a class folder, or nested below one) is skipped with its
/// name and never opened: reading it would block the load for ever. A FIFO as
/// `attributes.csv` is refused, naming it.
#[test]
fn fifos_are_skipped_or_refused_by_name_never_read() {
    let dir = tempfile::tempdir().unwrap();
    for class in ["a", "b"] {
        for i in 0..2 {
            save(
                solid_rgb(16, 16, [50, 60, 70]),
                &dir.path().join(format!("{class}/img{i}.png")),
            );
        }
    }
    std::fs::create_dir(dir.path().join("b/nested")).unwrap();
    for fifo in ["a/pipe.png", "b/nested/deep.png"] {
        let ok = std::process::Command::new("mkfifo")
            .arg(dir.path().join(fifo))
            .status()
            .unwrap()
            .success();
        assert!(ok, "mkfifo {fifo}");
    }
    let d = load_folder(ImageFolderSpec::at(dir.path())).unwrap();
    assert_eq!(d.train.len() + d.test.len(), 4);
    for name in ["pipe.png", "deep.png"] {
        let problem = d
            .report
            .skipped
            .iter()
            .find(|s| s.path.ends_with(name))
            .map(|s| s.problem.clone())
            .unwrap_or_else(|| panic!("{name} not reported: {:?}", d.report.skipped));
        assert!(problem.contains("FIFO"), "{name}: {problem}");
    }
    let ok = std::process::Command::new("mkfifo")
        .arg(dir.path().join("attributes.csv"))
        .status()
        .unwrap()
        .success();
    assert!(ok);
    let err = load_folder(ImageFolderSpec::at(dir.path()))
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("attributes.csv") && err.contains("FIFO"),
        "{err}"
    );
}

#[test]
fn empty_and_unreadable_folders_are_errors_naming_the_folder() {
    let dir = tempfile::tempdir().unwrap();
    let err = load_folder(ImageFolderSpec::at(dir.path()))
        .unwrap_err()
        .to_string();
    assert!(
        err.contains(&dir.path().display().to_string()) && err.contains("no images"),
        "{err}"
    );

    std::fs::write(dir.path().join("a.png"), b"junk").unwrap();
    let err = load_folder(ImageFolderSpec::at(dir.path()))
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("none of the 1 image files") && err.contains("a.png"),
        "{err}"
    );

    let missing = dir.path().join("not here");
    let err = load_folder(ImageFolderSpec::at(&missing))
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("not here") && err.contains("no such folder"),
        "{err}"
    );
}

#[cfg(unix)]
#[test]
fn paths_with_spaces_and_non_utf8_bytes_load() {
    use std::os::unix::ffi::OsStrExt;
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().join("my photos");
    let class = root.join("big cats");
    save(solid_rgb(8, 8, [5, 5, 5]), &class.join("a b.png"));
    let odd = class.join(std::ffi::OsStr::from_bytes(b"\xff\xfe odd.png"));
    std::fs::copy(class.join("a b.png"), &odd).unwrap();
    let other = root.join(std::ffi::OsStr::from_bytes(b"caf\xe9"));
    save(solid_rgb(8, 8, [5, 5, 5]), &other.join("x.png"));
    save(solid_rgb(8, 8, [5, 5, 5]), &other.join("y.png"));
    let d = load_folder(ImageFolderSpec::at(&root)).unwrap();
    assert_eq!(d.train.len() + d.test.len(), 4);
    assert_eq!(d.class_names[0], "big cats");
    assert!(d.class_names[1].starts_with("caf"), "lossy name shown");
}

fn gz(bytes: &[u8]) -> Vec<u8> {
    let mut enc = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    std::io::Write::write_all(&mut enc, bytes).unwrap();
    enc.finish().unwrap()
}

fn write_mnist(dir: &Path, n_train: usize, n_test: usize) {
    std::fs::create_dir_all(dir).unwrap();
    let pixels = |n: usize| (0..n * 784).map(|i| (i % 251) as u8).collect::<Vec<_>>();
    let labels = |n: usize| (0..n).map(|i| (i % 10) as u8).collect::<Vec<_>>();
    std::fs::write(
        dir.join("train-images-idx3-ubyte.gz"),
        gz(&encode_idx(&[n_train, 28, 28], &pixels(n_train))),
    )
    .unwrap();
    std::fs::write(
        dir.join("train-labels-idx1-ubyte.gz"),
        gz(&encode_idx(&[n_train], &labels(n_train))),
    )
    .unwrap();
    std::fs::write(
        dir.join("t10k-images-idx3-ubyte"),
        encode_idx(&[n_test, 28, 28], &pixels(n_test)),
    )
    .unwrap();
    std::fs::write(
        dir.join("t10k-labels-idx1-ubyte"),
        encode_idx(&[n_test], &labels(n_test)),
    )
    .unwrap();
}

#[test]
fn mnist_idx_folders_load_gzipped_or_plain() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().join("fashion");
    write_mnist(&root, 20, 10);
    let spec = spec_for_path(&root, 32).unwrap();
    assert!(matches!(spec, DatasetSpec::Idx(_)), "{spec:?}");
    let found = inspect(&spec).unwrap();
    assert_eq!(found.images, 30);
    let d = spec.load().unwrap();
    assert_eq!((d.train.len(), d.test.len(), d.image_size()), (20, 10, 32));
    assert_eq!(
        d.class_names[0], "T-shirt/top",
        "a folder named fashion gets its names"
    );
    assert_eq!(d.train.labels[13], 3);
    let src = d.train.source(13);
    assert!(
        src.ends_with("#13") && src.contains("train-images"),
        "{src}"
    );
    // Pixel (0,0) of image 0 lands at (2,2) after padding, grey in all channels.
    let px = &d.train.image(0)[(2 * 32 + 2) * 3..][..3];
    assert_eq!(px, &[0, 0, 0]);
    let px = &d.train.image(0)[(2 * 32 + 3) * 3..][..3];
    assert_eq!(px, &[1, 1, 1]);
    // A file inside the folder stands for the folder.
    let via_file = spec_for_path(&root.join("t10k-images-idx3-ubyte"), 32).unwrap();
    assert_eq!(via_file, spec);
}

#[test]
fn bad_idx_files_name_the_file_and_problem() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().join("mnist");
    let load = || {
        DatasetSpec::Idx(IdxSpec {
            path: root.clone(),
            ..IdxSpec::default()
        })
        .load()
    };
    write_mnist(&root, 20, 10);
    let images = root.join("t10k-images-idx3-ubyte");
    let full = std::fs::read(&images).unwrap();
    std::fs::write(&images, &full[..full.len() - 100]).unwrap();
    let err = load().unwrap_err().to_string();
    assert!(
        err.contains("t10k-images-idx3-ubyte") && err.contains("truncated"),
        "{err}"
    );

    let mut wrong = full.clone();
    wrong[0] = 0x42;
    std::fs::write(&images, &wrong).unwrap();
    let err = load().unwrap_err().to_string();
    assert!(
        err.contains("t10k-images") && err.contains("wrong magic"),
        "{err}"
    );

    std::fs::write(&images, &full).unwrap();
    std::fs::write(
        root.join("t10k-labels-idx1-ubyte"),
        encode_idx(&[9], &[0; 9]),
    )
    .unwrap();
    let err = load().unwrap_err().to_string();
    assert!(
        err.contains("t10k-labels") && err.contains("9 labels"),
        "{err}"
    );

    std::fs::remove_file(root.join("t10k-labels-idx1-ubyte")).unwrap();
    let err = load().unwrap_err().to_string();
    assert!(err.contains("no t10k-labels"), "{err}");
}

fn cifar_pixels(n: usize) -> Vec<u8> {
    (0..n * 3072).map(|i| (i % 256) as u8).collect()
}

#[test]
fn cifar_10_and_100_batches_load_with_names_and_interleaved_pixels() {
    let dir = tempfile::tempdir().unwrap();
    let ten = dir.path().join("cifar-10-batches-bin");
    std::fs::create_dir_all(&ten).unwrap();
    let labels = |n: usize| (0..n).map(|i| vec![(i % 10) as u8]).collect::<Vec<_>>();
    std::fs::write(
        ten.join("data_batch_1.bin"),
        encode_records(&labels(6), &cifar_pixels(6)),
    )
    .unwrap();
    std::fs::write(
        ten.join("data_batch_2.bin"),
        encode_records(&labels(4), &cifar_pixels(4)),
    )
    .unwrap();
    std::fs::write(
        ten.join("test_batch.bin"),
        encode_records(&labels(3), &cifar_pixels(3)),
    )
    .unwrap();
    // The parent folder (as unpacked from the tarball) is recognised too.
    let spec = spec_for_path(dir.path(), 32).unwrap();
    assert!(
        matches!(&spec, DatasetSpec::Cifar(c) if c.path == ten),
        "{spec:?}"
    );
    assert_eq!(inspect(&spec).unwrap().images, 13);
    let d = spec.load().unwrap();
    assert_eq!((d.train.len(), d.test.len()), (10, 3));
    assert_eq!(d.class_names[1], "automobile");
    assert_eq!(d.train.labels[..7], [0, 1, 2, 3, 4, 5, 0]);
    // A names file that is a FIFO, or a link to a device, is not read (it would block or
    // never end): the known names are used.
    let names = ten.join("batches.meta.txt");
    for make in ["fifo", "device"] {
        if make == "fifo" {
            let made = std::process::Command::new("mkfifo")
                .arg(&names)
                .status()
                .unwrap();
            assert!(made.success());
        } else {
            std::os::unix::fs::symlink("/dev/zero", &names).unwrap();
        }
        let d = spec.load().unwrap();
        assert_eq!(d.class_names[1], "automobile", "{make}");
        std::fs::remove_file(&names).unwrap();
    }
    // A names file is used when it has one name per class.
    let own: Vec<String> = (0..10).map(|i| format!("kind {i}\n")).collect();
    std::fs::write(&names, own.concat()).unwrap();
    assert_eq!(spec.load().unwrap().class_names[1], "kind 1");
    std::fs::remove_file(&names).unwrap();
    // Record pixels were written planar from these interleaved values: they round-trip.
    assert_eq!(d.train.image(1), &cifar_pixels(2)[3072..]);

    let hundred = dir.path().join("c100");
    std::fs::create_dir_all(&hundred).unwrap();
    let both = |n: usize| {
        (0..n)
            .map(|i| vec![(i % 20) as u8, (i * 7 % 100) as u8])
            .collect::<Vec<_>>()
    };
    std::fs::write(
        hundred.join("train.bin"),
        encode_records(&both(5), &cifar_pixels(5)),
    )
    .unwrap();
    std::fs::write(
        hundred.join("test.bin"),
        encode_records(&both(2), &cifar_pixels(2)),
    )
    .unwrap();
    let fine = DatasetSpec::Cifar(CifarSpec {
        path: hundred.clone(),
        labels: CifarLabels::Fine,
    })
    .load()
    .unwrap();
    assert_eq!(fine.class_names.len(), 100);
    assert_eq!(fine.train.labels, vec![0, 7, 14, 21, 28]);
    let coarse = DatasetSpec::Cifar(CifarSpec {
        path: hundred,
        labels: CifarLabels::Coarse,
    })
    .load()
    .unwrap();
    assert_eq!(coarse.class_names.len(), 20);
    assert_eq!(coarse.train.labels, vec![0, 1, 2, 3, 4]);
}

#[test]
fn bad_cifar_files_name_the_file_and_problem() {
    let dir = tempfile::tempdir().unwrap();
    let root: PathBuf = dir.path().to_path_buf();
    let labels = |n: usize| (0..n).map(|_| vec![1u8]).collect::<Vec<_>>();
    let good = encode_records(&labels(3), &cifar_pixels(3));
    std::fs::write(root.join("data_batch_1.bin"), &good[..good.len() - 10]).unwrap();
    std::fs::write(root.join("test_batch.bin"), &good).unwrap();
    let load = || {
        DatasetSpec::Cifar(CifarSpec {
            path: root.clone(),
            ..CifarSpec::default()
        })
        .load()
    };
    let err = load().unwrap_err().to_string();
    assert!(
        err.contains("data_batch_1.bin") && err.contains("3073-byte records"),
        "{err}"
    );

    let mut bad_label = good.clone();
    bad_label[3073] = 77;
    std::fs::write(root.join("data_batch_1.bin"), &bad_label).unwrap();
    let err = load().unwrap_err().to_string();
    assert!(err.contains("record 1 has label 77"), "{err}");

    std::fs::remove_file(root.join("test_batch.bin")).unwrap();
    std::fs::write(root.join("data_batch_1.bin"), &good).unwrap();
    let err = load().unwrap_err().to_string();
    assert!(err.contains("test_batch.bin"), "{err}");
}

#[test]
fn presets_name_missing_paths_and_fields() {
    let text = "name = \"t\"\n[dataset]\nkind = \"image_folder\"\npath = \"/no/such/photos\"\n";
    let exp = Experiment::from_toml(text, "p.toml").unwrap();
    let err = exp.dataset.load().unwrap_err().to_string();
    assert!(err.contains("/no/such/photos"), "{err}");
    // The preset round-trips the folder settings.
    let back = Experiment::from_toml(&exp.to_toml(), "again").unwrap();
    assert_eq!(back.dataset, exp.dataset);

    let err = Experiment::from_toml("[dataset]\nkind = \"image-folder\"\n", "p.toml")
        .unwrap_err()
        .to_string();
    assert!(err.contains("dataset.path is missing"), "{err}");
    let err = Experiment::from_toml(
        "[dataset]\nkind = \"image-folder\"\npath = \"x\"\nsize = 4\n",
        "p.toml",
    )
    .unwrap_err()
    .to_string();
    assert!(err.contains("dataset.size = 4"), "{err}");
    let err = Experiment::from_toml(
        "[dataset]\nkind = \"cifar\"\npath = \"x\"\nlabel = \"fine\"\n",
        "p.toml",
    )
    .unwrap_err()
    .to_string();
    assert!(err.contains("label"), "{err}");
}

#[test]
fn inspection_estimates_memory_and_a_cancelled_load_stops() {
    let dir = tempfile::tempdir().unwrap();
    write_mixed_folder(dir.path());
    std::fs::write(dir.path().join("red/readme.md"), b"hi").unwrap();
    let spec = DatasetSpec::ImageFolder(ImageFolderSpec {
        size: 64,
        ..ImageFolderSpec::at(dir.path())
    });
    let found = inspect(&spec).unwrap();
    assert_eq!((found.images, found.classes), (12, Some(2)));
    assert_eq!(found.memory_bytes, 12 * 64 * 64 * 3);
    assert!(
        found
            .notes
            .iter()
            .any(|n| n.contains("1 files are not images")),
        "{:?}",
        found.notes
    );

    let progress = LoadProgress::default();
    progress.cancel();
    assert!(matches!(
        spec.load_with(&progress),
        Err(DataError::Cancelled)
    ));
    let progress = LoadProgress::default();
    spec.load_with(&progress).unwrap();
    assert_eq!(progress.counts(), (12, 12));
}

#[cfg(unix)]
#[test]
fn links_back_into_the_folder_are_skipped_and_links_out_only_followed_when_asked() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().join("data");
    for i in 0..4 {
        save(
            solid_rgb(16, 16, [200, 20, 20]),
            &root.join(format!("red/r{i}.png")),
        );
        save(
            solid_rgb(16, 16, [20, 20, 200]),
            &root.join(format!("blue/b{i}.png")),
        );
    }
    // A mirror of the whole tree would be a third class holding every image again.
    std::os::unix::fs::symlink(".", root.join("mirror")).unwrap();
    std::os::unix::fs::symlink("../red/r0.png", root.join("blue/again.png")).unwrap();
    let outside = dir.path().join("elsewhere");
    save(solid_rgb(16, 16, [20, 200, 20]), &outside.join("g0.png"));
    std::os::unix::fs::symlink(&outside, root.join("green")).unwrap();

    let d = load_folder(ImageFolderSpec {
        held_out: 0.25,
        ..ImageFolderSpec::at(&root)
    })
    .unwrap();
    assert_eq!(d.class_names, vec!["blue", "red"]);
    assert_eq!(d.train.len() + d.test.len(), 8, "every real image once");
    let reasons: Vec<String> = d
        .report
        .skipped
        .iter()
        .map(|s| format!("{}: {}", s.path.display(), s.problem))
        .collect();
    for (link, why) in [
        ("mirror", "back into the dataset folder"),
        ("again.png", "back into the dataset folder"),
        ("green", "dataset.follow_links"),
    ] {
        assert!(
            reasons.iter().any(|r| r.contains(link) && r.contains(why)),
            "{link} not reported as {why:?}: {reasons:?}"
        );
    }

    let followed = load_folder(ImageFolderSpec {
        held_out: 0.25,
        follow_links: true,
        ..ImageFolderSpec::at(&root)
    })
    .unwrap();
    assert_eq!(followed.class_names, vec!["blue", "green", "red"]);
}
