//! The dataset tab driven like a user: type a path, inspect, load; a bad path or a broken
//! folder leaves the loaded dataset in place; dropping a folder opens it.
#![allow(clippy::unwrap_used)]

mod common;

use std::path::{Path, PathBuf};
use std::sync::Arc;

use contrastive_workbench::app::{Action, DatasetAction, Tab, WorkbenchApp};
use contrastive_workbench::data::DatasetSpec;
use contrastive_workbench::preset::Experiment;
use eframe::egui;
use egui_kittest::Harness;
use egui_kittest::kittest::Queryable;

use common::{step_until, ui_harness};

fn write_folder(root: &Path) {
    for (class, colour) in [("apples", [200u8, 30, 30]), ("limes", [40, 200, 40])] {
        let dir = root.join(class);
        std::fs::create_dir_all(&dir).unwrap();
        for i in 0..5 {
            image::RgbImage::from_pixel(20, 24, image::Rgb(colour))
                .save(dir.join(format!("{i}.png")))
                .unwrap();
        }
    }
}

fn on_dataset_tab() -> Harness<'static, WorkbenchApp> {
    let mut h = ui_harness(Experiment::default());
    h.state_mut().apply(Action::ShowTab(Tab::Dataset));
    h.run_steps(2);
    h
}

#[test]
fn typing_a_path_inspects_then_loads_it() {
    let dir = tempfile::tempdir().unwrap();
    write_folder(dir.path());
    let mut h = on_dataset_tab();
    let field = || (egui::accesskit::Role::TextInput, "Folder:");
    h.get_by_role_and_label(field().0, field().1).click();
    h.run_steps(1);
    h.get_by_role_and_label(field().0, field().1)
        .type_text(&dir.path().display().to_string());
    h.run_steps(1);
    assert_eq!(h.state().data.path, dir.path().display().to_string());
    h.get_by_label("Open").click();
    step_until(&mut h, "the inspection", |a| a.data.inspection.is_some());
    h.run_steps(2);
    h.get_by_label_contains("10 images, 2 classes");
    h.get_by_label_contains("in memory once decoded");
    assert_eq!(
        h.state().data.dataset.name,
        "shapes",
        "nothing loads before Load"
    );
    h.get_by_label("Load").click();
    step_until(&mut h, "the load", |a| {
        a.data.dataset.class_names == ["apples", "limes"]
    });
    h.run_steps(2);
    assert!(matches!(
        h.state().settings.experiment.dataset,
        DatasetSpec::ImageFolder(_)
    ));
    assert_eq!(
        h.state().data.dataset.train.len() + h.state().data.dataset.test.len(),
        10
    );
    h.get_by_label_contains("apples: 4 / 1");
    h.get_by_label_contains("Source images: smallest 20x24");
    // The grid shows the new images, labelled.
    assert!(h.query_all_by_label("limes").count() >= 1);
}

#[test]
fn bad_paths_and_broken_folders_keep_the_loaded_dataset() {
    let dir = tempfile::tempdir().unwrap();
    let mut h = on_dataset_tab();
    let before = Arc::clone(&h.state().data.dataset);
    h.state_mut()
        .apply(DatasetAction::Inspect(dir.path().join("missing")));
    h.run_steps(2);
    h.get_by_label_contains("no such file or folder");

    let broken = dir.path().join("broken");
    std::fs::create_dir_all(broken.join("c")).unwrap();
    std::fs::write(broken.join("c/a.png"), b"not a png").unwrap();
    h.state_mut().apply(DatasetAction::Inspect(broken.clone()));
    step_until(&mut h, "the inspection", |a| a.data.inspection.is_some());
    h.run_steps(1);
    h.get_by_label("Load").click();
    step_until(&mut h, "the failed load", |a| {
        a.data.job.is_none() && a.data.error.is_some()
    });
    h.run_steps(2);
    let err = h.state().data.error.clone().unwrap();
    assert!(
        err.contains("a.png") && err.contains("none of the 1 image files"),
        "{err}"
    );
    assert!(
        Arc::ptr_eq(&before, &h.state().data.dataset),
        "the old dataset stays"
    );
    assert!(matches!(
        h.state().settings.experiment.dataset,
        DatasetSpec::Shapes(_)
    ));
}

#[derive(Debug)]
struct Dropped(PathBuf);

impl egui::DroppedFile for Dropped {
    fn path(&self) -> &Path {
        &self.0
    }
    fn bytes(&self) -> Result<Vec<u8>, String> {
        Err("a folder".into())
    }
}

#[test]
fn dropping_a_folder_opens_it() {
    let dir = tempfile::tempdir().unwrap();
    write_folder(dir.path());
    let mut h = ui_harness(Experiment::default());
    h.run_steps(1);
    h.input_mut()
        .dropped_files
        .push(Arc::new(Dropped(dir.path().to_path_buf())));
    h.run_steps(1);
    assert_eq!(h.state().settings.tab, Tab::Dataset);
    step_until(&mut h, "the inspection", |a| a.data.inspection.is_some());
}
