//! The window, driven like a user would (egui_kittest: no display, no GPU needed except
//! for the image snapshot, which uses a software Vulkan adapter).
#![allow(clippy::unwrap_used)] // tests fail loudly on purpose

mod common;

use contrastive_workbench::app::{RunStatus, Tab, WorkbenchApp};
use contrastive_workbench::preset::Experiment;
use eframe::egui;
use egui_kittest::Harness;
use egui_kittest::kittest::Queryable;

use common::step_until;

/// The default experiment with method `id` at its default settings.
fn experiment_with(id: &str) -> Experiment {
    Experiment {
        method: contrastive_workbench::methods::MethodSpec::with_defaults(
            contrastive_workbench::methods::find(id).unwrap(),
        ),
        ..Experiment::default()
    }
}
use common::ui_harness as harness;

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
fn pipeline_editor_adds_reorders_removes_and_the_preview_follows() {
    use contrastive_workbench::app::panels::views::preview_key;
    let mut h = harness(Experiment::default());
    h.get_by_label("Views").click();
    h.run_steps(2);
    let ops = |h: &Harness<'static, WorkbenchApp>| -> Vec<&'static str> {
        h.state()
            .experiment
            .views
            .view1
            .steps
            .iter()
            .map(|t| t.op())
            .collect()
    };
    let before = ops(&h);
    assert_eq!(before[0], "random-resized-crop");
    let shown = |h: &Harness<'static, WorkbenchApp>| {
        let key = preview_key(&h.state().experiment.views);
        h.state().textures.count_prefix(&format!("view/0/{key}/"))
    };
    assert_eq!(shown(&h), 24);

    // Add a rotation to view 1 (the first "Add transform" menu).
    h.get_all_by_label("Add").next().unwrap().click();
    h.run_steps(2);
    h.get_by_label("rotation").click();
    h.run_steps(2);
    assert_eq!(ops(&h).last(), Some(&"rotation"));
    assert_eq!(
        h.state().experiment.views.view2.steps.len(),
        before.len(),
        "view 2 untouched"
    );
    // The preview was redrawn for the new pipeline.
    assert_eq!(shown(&h), 24);

    // Move it up one place: the last "Up" of view 1 belongs to the new step.
    let n = ops(&h).len();
    h.get_all_by_label("Up").nth(n - 1).unwrap().click();
    h.run_steps(2);
    assert_eq!(ops(&h)[n - 2], "rotation");

    // Remove the crop (view 1's first "Remove").
    h.get_all_by_label("Remove").next().unwrap().click();
    h.run_steps(2);
    assert_eq!(ops(&h)[0], "horizontal-flip");
    assert_eq!(ops(&h).len(), before.len());
    assert_eq!(shown(&h), 24);

    // The edited pipeline round-trips through the preset.
    let exp = &h.state().experiment;
    let back = Experiment::from_toml(&exp.to_toml(), "mem").unwrap();
    assert_eq!(back.views, exp.views);
}

#[test]
fn cmc_preview_shows_the_lab_split() {
    let mut h = harness(experiment_with("cmc"));
    h.get_by_label("Views").click();
    h.run_steps(2);
    assert!(h.query_all_by_label("L of view 1").count() >= 1);
    assert!(h.query_all_by_label("ab of view 1").count() >= 1);
    h.get_by_label_contains("split into its L channel");
}

#[test]
fn cpc_preview_shows_each_views_patch_grid() {
    let mut h = harness(experiment_with("cpc"));
    h.get_by_label("Views").click();
    h.run_steps(2);
    assert!(h.query_all_by_label("patches of view 1").count() >= 1);
    assert!(h.query_all_by_label("patches of view 2").count() >= 1);
    h.get_by_label_contains("3x3 patches of 16x16 pixels at stride 8");
    // 3 patches of 16 pixels with 2-pixel gaps around them: 3 * 16 + 4 * 2 = 56.
    let sizes = h.state().textures.sizes_containing("patches of view");
    assert!(!sizes.is_empty());
    assert!(sizes.iter().all(|&s| s == [56, 56]), "{sizes:?}");
    // The paper's finer grid, set in the method settings, changes the preview.
    h.state_mut()
        .experiment
        .method
        .params
        .insert("grid".into(), toml::Value::Integer(7));
    h.run_steps(2);
    h.get_by_label_contains("7x7 patches of 8x8 pixels at stride 4");
    assert!(
        h.state()
            .textures
            .sizes_containing("patches of view")
            .contains(&[72, 72])
    );
}

#[test]
fn normalisation_is_edited_in_the_views_tab_and_saved_in_the_preset() {
    use contrastive_workbench::views::Normalize;
    let mut h = harness(Experiment::default());
    h.get_by_label("Views").click();
    h.run_steps(2);
    assert_eq!(h.state().experiment.views.normalize, Normalize::HALF);
    h.get_by_label("ImageNet").click();
    h.run_steps(2);
    assert_eq!(h.state().experiment.views.normalize, Normalize::IMAGENET);
    h.get_by_label("From dataset").click();
    h.run_steps(2);
    let from_data = Normalize::of_images(&h.state().dataset.train);
    assert_eq!(h.state().experiment.views.normalize, from_data);
    assert_ne!(from_data, Normalize::HALF);
    let exp = &h.state().experiment;
    let back = Experiment::from_toml(&exp.to_toml(), "mem").unwrap();
    assert_eq!(back.views.normalize, from_data);
}

#[test]
fn local_crops_appear_in_the_preview_when_switched_on() {
    let mut h = harness(experiment_with("byol"));
    h.get_by_label("Views").click();
    h.run_steps(2);
    assert!(h.query_all_by_label("local crop 1").next().is_none());
    assert!(h.query_all_by_label("Local crop pipeline").next().is_none());
    h.state_mut().experiment.views.local.count = 2;
    h.run_steps(2);
    assert!(h.query_all_by_label("local crop 2").count() >= 1);
    h.get_by_label_contains("2 local crops of 16x16 pixels per image, each predicting");
    // The local crops' own pipeline is in the editor.
    h.get_by_label("Local crop pipeline");
    let sizes = h.state().textures.sizes_containing("local crop");
    assert!(
        !sizes.is_empty() && sizes.iter().all(|&s| s == [16, 16]),
        "{sizes:?}"
    );
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

#[test]
fn clicking_a_projected_point_lists_its_nearest_neighbours() {
    use contrastive_workbench::app::panels::projection::PLOT_LABEL;
    use contrastive_workbench::engine::{Event, ProjectionFrame};
    let mut h = harness(Experiment::default());
    h.run_steps(1);
    // Five held-out images laid out symmetrically, so image 12 sits at the plot's centre.
    // Embeddings: image 12 = (1, 0); 10 is closest to it (cos 0.8), then 13 (cos 0), ...
    let frame = ProjectionFrame {
        step: 7,
        points: vec![[-1.0, 0.0], [1.0, 0.0], [0.0, 0.0], [0.0, -1.0], [0.0, 1.0]],
        labels: vec![0, 1, 0, 1, 0],
        indices: vec![10, 11, 12, 13, 14],
        explained: [0.5, 0.3],
        embeddings: vec![0.8, 0.6, -1.0, 0.0, 1.0, 0.0, 0.0, 1.0, -0.6, 0.8],
        dim: 2,
        knn_correct: vec![true; 5],
    };
    h.state_mut().history.apply(Event::Projection(frame));
    h.run_steps(2);
    h.get_by_label_contains("Hover a point");
    h.get_by_label(PLOT_LABEL).click();
    h.run_steps(2);
    assert_eq!(h.state().projection_view.selected, Some(12));
    h.get_by_label_contains("Nearest neighbours of held-out image 12");
    // The four others, most similar first, each with its cosine.
    let first = h.get_by_label_contains("0.800").rect();
    let second = h.get_by_label_contains("0.000").rect();
    assert!(first.left() < second.left(), "most similar is listed first");
    h.get_by_label_contains("-1.000");
    for idx in [10, 11, 13, 14] {
        assert_eq!(h.state().textures.count_prefix(&format!("test/{idx}")), 1);
    }
    // Like a user: move onto the button, then click.
    h.get_by_label("Clear").hover();
    h.run_steps(1);
    h.get_by_label("Clear").click();
    h.run_steps(2);
    assert_eq!(h.state().projection_view.selected, None);
}

#[test]
fn an_exported_encoder_opens_for_browsing_without_training() {
    use contrastive_workbench::engine::session::{export_and_report, run_experiment};
    // A real run folder: a short run on the same built-in shapes the window shows.
    let exp = common::tiny_experiment(8, 16, 4);
    let dataset = Experiment::default().dataset.load().unwrap();
    let (_tx, rx) = crossbeam_channel::unbounded();
    let result = run_experiment(&exp, &dataset, &rx, &mut |_| {});
    let run = tempfile::tempdir().unwrap();
    export_and_report(run.path(), &exp, &dataset, &result, &mut |_| {});

    let mut h = harness(Experiment::default());
    h.run_steps(1);
    let field = || (egui::accesskit::Role::TextInput, "run folder");
    // The section sits at the bottom of the scrolling settings: focus and type, as the
    // keyboard would.
    h.get_by_role_and_label(field().0, field().1).focus();
    h.run_steps(1);
    h.get_by_role_and_label(field().0, field().1)
        .type_text(&run.path().display().to_string());
    h.run_steps(1);
    h.get_by_label("Open encoder").click_accesskit();
    step_until(&mut h, "the encoder's evaluation", |a| {
        a.status == RunStatus::Finished { stopped: false }
    });
    h.run_steps(2);
    let history = &h.state().history;
    assert_eq!(history.evals.len(), 1);
    let eval = &history.evals[0];
    assert_ne!(eval.knn_top1, eval.baseline_top1, "trained vs random init");
    assert!(history.projection.is_some());
    assert_eq!(history.probes.len(), 1);
    assert!(history.steps.is_empty(), "nothing was trained");
    h.get_by_label_contains("browsing the frozen encoder");

    // A folder that is not a run says so and the app carries on.
    let empty = tempfile::tempdir().unwrap();
    h.get_by_role_and_label(field().0, field().1).focus();
    h.run_steps(1);
    h.key_press_modifiers(egui::Modifiers::COMMAND, egui::Key::A);
    h.get_by_role_and_label(field().0, field().1)
        .type_text(&empty.path().display().to_string());
    h.run_steps(1);
    h.get_by_label("Open encoder").click_accesskit();
    step_until(&mut h, "the refusal", |a| {
        matches!(a.status, RunStatus::Failed(_))
    });
    match &h.state().status {
        RunStatus::Failed(m) => assert!(m.contains("has no preset.toml"), "{m}"),
        other => panic!("{other:?}"),
    }
}

#[test]
fn a_second_run_can_be_compared_with_the_first() {
    let mut h = harness(common::tiny_experiment(8, 16, 3));
    h.run_steps(1);
    for _ in 0..2 {
        h.get_by_label("Start").click();
        h.run_steps(1);
        step_until(&mut h, "the run to finish", |a| {
            a.status == RunStatus::Finished { stopped: false }
        });
        h.run_steps(1);
    }
    let past = &h.state().past_runs;
    assert_eq!(past.len(), 1);
    assert_eq!(past[0].label, "run 1: SimCLR (test)");
    assert_eq!(past[0].steps.len(), 3);
    assert_eq!(h.state().run_label, "run 2: SimCLR (test)");
    h.get_by_label_contains("alignment vs uniformity");
    // Overlaid by default; the switch above the plots (the legends below name the run
    // too) takes it off.
    let role = egui::accesskit::Role::CheckBox;
    h.get_all_by_role_and_label(role, "run 1: SimCLR (test)")
        .next()
        .unwrap()
        .click();
    h.run_steps(2);
    assert!(!h.state().past_runs[0].shown);
}
