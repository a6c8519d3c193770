//! The window, driven like a user would (egui_kittest: no display, no GPU needed except
//! for the image snapshot, which uses a software Vulkan adapter).
#![allow(clippy::unwrap_used)] // tests fail loudly on purpose

mod common;

use std::time::{Duration, Instant};

use contrastive_workbench::app::{RunStatus, Tab, WorkbenchApp};
use contrastive_workbench::preset::Experiment;
use eframe::egui;
use egui_kittest::Harness;
use egui_kittest::kittest::Queryable;

use common::ui_harness as harness;

/// Steps the UI until `pred` holds (the trainer runs on its own thread meanwhile).
fn step_until(
    h: &mut Harness<'static, WorkbenchApp>,
    what: &str,
    pred: impl Fn(&WorkbenchApp) -> bool,
) {
    let deadline = Instant::now() + Duration::from_secs(120);
    while !pred(h.state()) {
        assert!(
            Instant::now() < deadline,
            "timed out waiting for {what}; status {:?}",
            h.state().status
        );
        std::thread::sleep(Duration::from_millis(30));
        h.run_steps(1);
    }
}

#[test]
fn the_main_window_builds_with_its_panels() {
    let mut h = harness(Experiment::default());
    h.run_steps(2);
    h.get_by_label("Start");
    h.get_by_label("Dataset");
    h.get_by_label("Views");
    h.get_by_label("Training");
    h.get_by_label_contains("Press Start");
    assert_eq!(h.state().status, RunStatus::Idle);
}

#[test]
fn start_then_stop_changes_the_run_state() {
    let mut h = harness(common::tiny_experiment(8, 16, 100_000));
    h.run_steps(1);
    h.get_by_label("Start").click();
    h.run_steps(1);
    assert_eq!(h.state().status, RunStatus::Running);
    step_until(&mut h, "a logged step", |a| !a.history.steps.is_empty());
    // While running the settings are locked and the controls change.
    h.get_by_label("Pause");
    h.get_by_label("Stop").click();
    step_until(&mut h, "the run to stop", |a| {
        a.status == RunStatus::Finished { stopped: true }
    });
    h.run_steps(1);
    h.get_by_label("Start");
    assert!(
        h.state().history.projection.is_some(),
        "the projection arrived"
    );
}

#[test]
fn the_views_panel_shows_pairs_and_resamples() {
    let mut h = harness(Experiment::default());
    h.get_by_label("Views").click();
    h.run_steps(2);
    assert_eq!(h.state().tab, Tab::Views);
    h.get_by_label("Seed 0");
    // 12 images, two views each, for seed 0.
    assert_eq!(h.state().textures.count_prefix("view/0/"), 24);
    h.get_by_label("Resample").click();
    h.run_steps(2);
    h.get_by_label("Seed 1");
    assert_eq!(h.state().textures.count_prefix("view/1/"), 24);
}

#[test]
fn dataset_panel_snapshot() {
    let mut h = Harness::builder()
        .with_size([1360.0, 860.0])
        .wgpu()
        .build_eframe(|cc| WorkbenchApp::new(cc.egui_ctx.clone(), Experiment::default()));
    h.get_by_label("Dataset").click();
    h.run_steps(3);
    h.snapshot("dataset_panel");
}

#[test]
fn choosing_another_method_swaps_its_settings() {
    let mut h = harness(Experiment::default());
    h.run_steps(1);
    // A setting's label and its slider share the name.
    let shown = |h: &Harness<'static, WorkbenchApp>, name: &str| {
        h.query_all_by_label(name).next().is_some()
    };
    assert!(shown(&h, "temperature t"));
    h.get_by_label("method").click();
    h.run_steps(3);
    h.get_by_label("SimSiam").click();
    h.run_steps(2);
    assert_eq!(h.state().experiment.method.kind, "simsiam");
    assert!(shown(&h, "predictor bottleneck"));
    assert!(!shown(&h, "temperature t"));

    // A switch is a checkbox, written to the preset as a boolean.
    h.get_by_label("stop-gradient").click();
    h.run_steps(2);
    assert_eq!(
        h.state().experiment.method.params.get("stop_gradient"),
        Some(&toml::Value::Boolean(false))
    );

    // A choice is a drop-down, written as the option's name. (A tall window, so the
    // settings below the method diagram are on screen without scrolling.)
    h.set_size(egui::Vec2::new(1360.0, 1600.0));
    h.get_by_label("method").click();
    h.run_steps(3);
    h.get_by_label("Triplet loss").click();
    h.run_steps(2);
    assert_eq!(h.state().experiment.method.kind, "triplet");
    h.get_by_label("negative mining").click();
    h.run_steps(3);
    h.get_by_label("hard").click();
    h.run_steps(2);
    assert_eq!(
        h.state().experiment.method.params.get("mining"),
        Some(&toml::Value::String("hard".into()))
    );
    contrastive_workbench::methods::resolve(&h.state().experiment.method).unwrap();
}
