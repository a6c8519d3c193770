//! The window, driven like a user would (egui_kittest: no display, no GPU needed except
//! for the image snapshot, which uses a software Vulkan adapter).
#![allow(clippy::unwrap_used)] // tests fail loudly on purpose

mod common;

use contrastive_workbench::app::{RunStatus, Tab, WorkbenchApp};
use contrastive_workbench::preset::{BackendChoice, Experiment};
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
    // A new user sees the images first, with a hint of what to press.
    assert_eq!(h.state().settings.tab, Tab::Dataset);
    h.get_by_label_contains("New here?");
    h.get_by_label("Training").click();
    h.run_steps(2);
    h.get_by_label_contains("Press Start");
    assert_eq!(h.state().run.status, RunStatus::Idle);
}

#[test]
fn start_then_stop_changes_the_run_state() {
    let mut h = harness(common::tiny_experiment(8, 16, 100_000));
    h.run_steps(1);
    h.get_by_label("Start").click();
    h.run_steps(1);
    assert_eq!(h.state().run.status, RunStatus::Running);
    step_until(&mut h, "a logged step", |a| {
        !a.run.history.log.steps.is_empty()
    });
    // While running the settings are locked and the controls change.
    h.get_by_label("Pause");
    h.get_by_label("Stop").click();
    step_until(&mut h, "the run to stop", |a| {
        a.run.status == RunStatus::Finished { stopped: true }
    });
    h.run_steps(1);
    h.get_by_label("Start");
    assert!(
        h.state().run.history.projection().is_some(),
        "the projection arrived"
    );
}

#[test]
fn the_experiment_changes_only_while_no_run_is_active() {
    use contrastive_workbench::app::Action;
    let mut h = harness(common::tiny_experiment(8, 16, 100_000));
    h.run_steps(1);
    // An editing panel's proposal is taken while idle...
    let mut edited = h.state().settings.experiment.clone();
    edited.train.learning_rate = 0.0123;
    h.state_mut()
        .apply(Action::EditExperiment(Box::new(edited.clone())));
    assert_eq!(h.state().settings.experiment.train.learning_rate, 0.0123);
    h.get_by_label("Start").click();
    h.run_steps(1);
    assert_eq!(h.state().run.status, RunStatus::Running);
    // ...and refused while the run uses the settings it started with.
    edited.train.learning_rate = 0.5;
    h.state_mut()
        .apply(Action::EditExperiment(Box::new(edited)));
    assert_eq!(h.state().settings.experiment.train.learning_rate, 0.0123);
    h.run_steps(1);
    h.get_by_label("Stop").click();
    step_until(&mut h, "the run to stop", |a| !a.run.status.is_active());
}

#[test]
fn the_views_panel_shows_pairs_and_resamples() {
    let mut h = harness(Experiment::default());
    h.get_by_label("Views").click();
    h.run_steps(2);
    assert_eq!(h.state().settings.tab, Tab::Views);
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
            .settings
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
        let key = preview_key(&h.state().settings.experiment.views);
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
        h.state().settings.experiment.views.view2.steps.len(),
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
    let exp = &h.state().settings.experiment;
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
        .settings
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
    assert_eq!(
        h.state().settings.experiment.views.normalize,
        Normalize::HALF
    );
    h.get_by_label("ImageNet").click();
    h.run_steps(2);
    assert_eq!(
        h.state().settings.experiment.views.normalize,
        Normalize::IMAGENET
    );
    h.get_by_label("From dataset").click();
    h.run_steps(2);
    let from_data = Normalize::of_images(&h.state().data.dataset.train);
    assert_eq!(h.state().settings.experiment.views.normalize, from_data);
    assert_ne!(from_data, Normalize::HALF);
    let exp = &h.state().settings.experiment;
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
    h.state_mut().settings.experiment.views.local.count = 2;
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
    // A folder nothing writes to: "Resume from checkpoint" stays disabled.
    h.state_mut().settings.export_dir = "runs/snapshot".into();
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
    assert_eq!(h.state().settings.experiment.method.kind, "simsiam");
    assert!(shown(&h, "predictor bottleneck"));
    assert!(!shown(&h, "temperature t"));

    // A switch is a checkbox, written to the preset as a boolean.
    h.get_by_label("stop-gradient").click();
    h.run_steps(2);
    assert_eq!(
        h.state()
            .settings
            .experiment
            .method
            .params
            .get("stop_gradient"),
        Some(&toml::Value::Boolean(false))
    );

    // A choice is a drop-down, written as the option's name. (A tall window, so the
    // settings below the method diagram are on screen without scrolling.)
    h.set_size(egui::Vec2::new(1360.0, 1600.0));
    h.get_by_label("method").click();
    h.run_steps(3);
    h.get_by_label("Triplet loss").click();
    h.run_steps(2);
    assert_eq!(h.state().settings.experiment.method.kind, "triplet");
    h.get_by_label("negative mining").click();
    h.run_steps(3);
    h.get_by_label("hard").click();
    h.run_steps(2);
    assert_eq!(
        h.state().settings.experiment.method.params.get("mining"),
        Some(&toml::Value::String("hard".into()))
    );
    contrastive_workbench::methods::resolve(&h.state().settings.experiment.method).unwrap();
}

#[test]
fn clicking_a_projected_point_lists_its_nearest_neighbours() {
    use contrastive_workbench::app::panels::projection::PLOT_LABEL;
    use contrastive_workbench::engine::{Event, ProjectionFrame};
    let mut h = harness(Experiment::default());
    h.state_mut().settings.tab = Tab::Training;
    h.run_steps(1);
    // Five held-out images laid out so image 12 sits at the plot's centre: the picture
    // reaches past the rightmost point to leave its legend room, so the centre is there.
    // Embeddings: image 12 = (1, 0); 10 is closest to it (cos 0.8), then 13 (cos 0), ...
    let right =
        contrastive_workbench::app::panels::projection::legend_room(&[[-1.0, 0.0], [1.0, 0.0]])
            .unwrap();
    let centre = ((right - 1.0) / 2.0) as f32;
    let frame = ProjectionFrame {
        step: 7,
        points: vec![
            [-1.0, 0.0],
            [1.0, 0.0],
            [centre, 0.0],
            [0.0, -1.0],
            [0.0, 1.0],
        ],
        labels: vec![0, 1, 0, 1, 0],
        indices: vec![10, 11, 12, 13, 14],
        explained: [0.5, 0.3],
        embeddings: vec![0.8, 0.6, -1.0, 0.0, 1.0, 0.0, 0.0, 1.0, -0.6, 0.8],
        dim: 2,
        space: Default::default(),
        knn_correct: vec![true; 5],
        view_pairs: vec![],
        attributes: Vec::new(),
    };
    h.state_mut().run.history.apply(Event::Projection(frame));
    h.run_steps(2);
    h.get_by_label_contains("Hover a point");
    h.get_by_label(PLOT_LABEL).click();
    h.run_steps(2);
    assert_eq!(h.state().projection.selected, Some(12));
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
    assert_eq!(h.state().projection.selected, None);
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
    export_and_report(run.path(), &exp, &dataset, &result, &mut |_| {}).unwrap();

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
        a.run.status == RunStatus::Finished { stopped: false }
    });
    h.run_steps(2);
    let history = &h.state().run.history;
    assert_eq!(history.log.evals.len(), 1);
    let eval = &history.log.evals[0];
    assert_ne!(eval.knn_top1, eval.baseline_top1, "trained vs random init");
    assert!(history.projection().is_some());
    assert_eq!(history.log.probes.len(), 1);
    assert!(history.log.steps.is_empty(), "nothing was trained");
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
        matches!(a.run.status, RunStatus::Failed(_))
    });
    match &h.state().run.status {
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
            a.run.status == RunStatus::Finished { stopped: false }
        });
        h.run_steps(1);
    }
    let past = &h.state().run.past_runs;
    assert_eq!(past.len(), 1);
    assert_eq!(past[0].label, "run 1: SimCLR (test)");
    assert_eq!(past[0].steps.len(), 3);
    assert_eq!(h.state().run.label, "run 2: SimCLR (test)");
    h.get_by_role_and_label(
        egui::accesskit::Role::Canvas,
        "alignment vs uniformity, lower left is better (h: encoder output)",
    );
    // The earlier run's curves are in the loss, kNN and alignment/uniformity legends.
    let role = egui::accesskit::Role::CheckBox;
    assert!(
        h.get_all_by_role_and_label(role, "run 1: SimCLR (test)")
            .count()
            >= 4,
        "compare switch + loss + kNN + plane"
    );
    h.get_by_role_and_label(role, "align, run 1: SimCLR (test)");
    h.get_by_role_and_label(role, "uniform, run 1: SimCLR (test)");
    // Overlaid by default; the switch above the plots (the legends below name the run
    // too) takes it off.
    let role = egui::accesskit::Role::CheckBox;
    h.get_all_by_role_and_label(role, "run 1: SimCLR (test)")
        .next()
        .unwrap()
        .click();
    h.run_steps(2);
    assert!(!h.state().run.past_runs[0].shown);
}

#[test]
fn a_plots_data_saves_as_csv_from_its_context_menu() {
    let mut h = harness(common::tiny_experiment(8, 16, 3));
    let out = tempfile::tempdir().unwrap();
    h.state_mut().settings.export_dir = out.path().display().to_string();
    h.run_steps(1);
    h.get_by_label("Start").click();
    h.run_steps(1);
    step_until(&mut h, "the run to finish", |a| {
        a.run.status == RunStatus::Finished { stopped: false }
    });
    h.run_steps(2);
    h.get_by_role_and_label(egui::accesskit::Role::Canvas, "loss")
        .click_secondary();
    h.run_steps(2);
    h.get_by_label("Save data (CSV)").click();
    h.run_steps(2);
    let csv = std::fs::read_to_string(out.path().join("plots/loss.csv")).unwrap();
    let lines: Vec<&str> = csv.lines().collect();
    assert_eq!(lines[0], "series,step,loss");
    // One row per logged step, with the loss the history holds.
    let losses: Vec<f32> = h
        .state()
        .run
        .history
        .log
        .steps
        .iter()
        .map(|m| m.loss)
        .collect();
    assert_eq!(lines.len(), 1 + losses.len());
    let first: f32 = lines[1].split(',').nth(2).unwrap().parse().unwrap();
    assert_eq!(first, losses[0]);
    h.get_by_label_contains("plots/loss.csv");
}

/// The synthetic run's start and its 20 logged steps.
fn synthetic_steps() -> Vec<contrastive_workbench::engine::Event> {
    use contrastive_workbench::engine::{BackendInfo, Event, StepMetrics};
    let mut events = vec![Event::Started {
        backend: BackendInfo {
            name: "CPU (flex)".into(),
            reason: "synthetic".into(),
        },
        total_steps: 100,
    }];
    let hist = |centre: f32| -> Vec<u32> {
        (0..40)
            .map(|b| {
                let x = -1.0 + (b as f32 + 0.5) * 0.05;
                (100.0 * (-(x - centre).powi(2) / 0.02).exp()) as u32
            })
            .collect()
    };
    for i in 1..=20u64 {
        let t = i as f32 / 20.0;
        events.push(Event::Step(StepMetrics {
            step: 5 * i,
            loss: 5.0 - 1.5 * t,
            align: 1.2 - 0.6 * t,
            uniform: -1.0 - 1.5 * t,
            z_std: 0.05 + 0.03 * t,
            z_std_healthy: 0.088,
            effective_rank: 10.0 + 20.0 * t,
            collapsing: false,
            pos_sim: 0.5 + 0.4 * t,
            neg_sim: 0.4 - 0.3 * t,
            pos_hist: hist(0.5 + 0.4 * t),
            neg_hist: hist(0.4 - 0.3 * t),
            own: Some(contrastive_workbench::engine::SpaceFigures {
                space: "projection z".into(),
                dim: 128,
                align: 1.0 - 0.7 * t,
                uniform: -0.8 - 2.0 * t,
                z_std: 0.04 + 0.04 * t,
                effective_rank: 5.0 + 30.0 * t,
            }),
            signals: vec![],
            lr: 1e-3,
            steps_per_sec: 1.0,
            views_per_sec: 256.0,
            data_wait: 0.0,
            round_trip_ms: None,
        }));
    }
    events
}

/// A run's events made up by formula (no trainer thread), so the picture is the same on
/// every machine: 20 logged steps, five evaluations, a projection, a batch similarity
/// matrix and two probes.
fn synthetic_run() -> Vec<contrastive_workbench::engine::Event> {
    use contrastive_workbench::engine::{
        EvalReport, Event, ProbeReport, ProjectionFrame, SimilarityMatrix,
    };
    let mut events = synthetic_steps();
    for k in 0..5u64 {
        events.push(Event::Eval(EvalReport {
            step: 25 * k,
            knn_top1: 0.3 + 0.05 * k as f32,
            baseline_top1: 0.3,
            attributes: vec![contrastive_workbench::engine::protocol::AttributeScore {
                name: "colour".into(),
                top1: 0.5 - 0.05 * k as f32,
                baseline_top1: 0.5,
                chance: 0.2,
            }],
            per_class: vec![],
        }));
    }
    let n = 40;
    events.push(Event::Projection(ProjectionFrame {
        step: 100,
        points: (0..n)
            .map(|i| {
                let a = i as f32 * 0.7;
                let r = 1.0 + (i % 8) as f32;
                [r * a.cos(), r * a.sin()]
            })
            .collect(),
        labels: (0..n).map(|i| (i % 8) as u16).collect(),
        indices: (0..n).collect(),
        explained: [0.4, 0.2],
        embeddings: (0..n * 4).map(|v| ((v * 7) % 11) as f32).collect(),
        dim: 4,
        space: Default::default(),
        knn_correct: (0..n).map(|i| i % 3 != 0).collect(),
        view_pairs: (0..10)
            .map(|i| {
                let a = i as f32 * 0.7;
                [
                    [a.cos() * 4.0, a.sin() * 4.0],
                    [a.cos() * 5.0, a.sin() * 5.5],
                ]
            })
            .collect(),
        attributes: Vec::new(),
    }));
    // 40 x 40 cells: drawn through the texture path.
    let m = 20;
    events.push(Event::Similarity(SimilarityMatrix {
        step: 100,
        pairs: m,
        cosines: (0..4 * m * m)
            .map(|k| {
                let (r, c) = (k / (2 * m), k % (2 * m));
                if r == c || r.abs_diff(c) == m {
                    0.9
                } else {
                    0.1 * ((r + c) % 5) as f32 - 0.2
                }
            })
            .collect(),
        temperature: Some(0.2),
    }));
    let classes: Vec<String> = ["circle", "square", "triangle"]
        .iter()
        .map(|s| s.to_string())
        .collect();
    for (step, acc) in [(0, 0.4), (100, 0.7)] {
        events.push(Event::Probe(ProbeReport {
            step,
            accuracy: acc,
            baseline: 0.4,
            confusion: vec![7, 2, 1, 1, 8, 1, 2, 2, 6],
            class_names: classes.clone(),
        }));
    }
    events
}

#[test]
fn dashboard_snapshot() {
    let mut h = Harness::builder()
        .with_size([1360.0, 1400.0])
        .wgpu()
        .build_eframe(|cc| WorkbenchApp::new(cc.egui_ctx.clone(), Experiment::default()));
    h.state_mut().settings.export_dir = "runs/snapshot".into();
    h.state_mut().settings.tab = Tab::Training;
    h.run_steps(1);
    for ev in synthetic_run() {
        h.state_mut().run.history.apply(ev);
    }
    h.run_steps(3);
    h.get_by_label_contains("70.0% top-1 (random init 40.0%)");
    h.snapshot("dashboard");
}

#[test]
fn a_checkpointed_run_resumes_from_the_export_folder() {
    let mut h = harness(common::tiny_experiment(8, 16, 4));
    let out = tempfile::tempdir().unwrap();
    h.state_mut().settings.export_dir = out.path().display().to_string();
    h.state_mut().settings.checkpoint_every = 2;
    h.run_steps(1);
    h.get_by_label("Start").click();
    h.run_steps(1);
    step_until(&mut h, "the first run", |a| {
        a.run.status == RunStatus::Finished { stopped: false }
    });
    h.run_steps(1);
    h.get_by_label_contains("checkpoint at step 4");
    // More steps asked for in the window extend the checkpointed run, on the device
    // chosen in the window (the checkpoint's was the CPU).
    h.state_mut().settings.experiment.train.steps = 6;
    h.state_mut().settings.experiment.train.backend = BackendChoice::Auto;
    h.get_by_label("Resume from checkpoint").click_accesskit();
    step_until(&mut h, "the resumed run", |a| {
        a.run.status == RunStatus::Finished { stopped: false } && a.run.history.last_step() == 6
    });
    assert_eq!(
        h.state().settings.experiment.train.backend,
        BackendChoice::Auto
    );
    let steps: Vec<u64> = h
        .state()
        .run
        .history
        .log
        .steps
        .iter()
        .map(|m| m.step)
        .collect();
    assert_eq!(steps, vec![1, 2, 3, 4, 5, 6], "the curve continues");
    assert_eq!(h.state().run.history.log.evals.first().unwrap().step, 0);
}

#[test]
fn a_checkpoint_folder_that_cannot_be_written_fails_the_run_in_the_window() {
    let mut h = harness(common::tiny_experiment(8, 16, 1000));
    let dir = tempfile::tempdir().unwrap();
    // A file where the checkpoint folder should be: nothing can be written there.
    let blocked = dir.path().join("not-a-folder");
    std::fs::write(&blocked, "x").unwrap();
    h.state_mut().settings.export_dir = blocked.display().to_string();
    h.state_mut().settings.checkpoint_every = 2;
    h.run_steps(1);
    h.get_by_label("Start").click();
    h.run_steps(1);
    step_until(&mut h, "the run to fail", |a| {
        matches!(a.run.status, RunStatus::Failed(_))
    });
    h.run_steps(2);
    let RunStatus::Failed(message) = &h.state().run.status else {
        unreachable!()
    };
    assert!(message.contains("is a file, not a folder"), "{message}");
    assert!(h.state().run.history.last_step() < 1000, "it stopped");
    // Shown in the window, not only in a log.
    h.get_by_label_contains("is a file, not a folder");
}

#[test]
fn a_setting_that_will_not_do_what_it_seems_is_shown_as_a_warning() {
    // 64 training images, a batch of 512: each step uses all 64, and the window says so.
    let mut h = harness(common::tiny_experiment(8, 512, 3));
    h.run_steps(1);
    h.get_by_label("Start").click();
    h.run_steps(1);
    step_until(&mut h, "the run to finish", |a| {
        a.run.status == RunStatus::Finished { stopped: false }
    });
    h.run_steps(1);
    h.get_by_label_contains("warning: train.batch_size = 512");
}

/// eframe's storage, in memory.
#[derive(Default)]
struct MemoryStorage(std::collections::HashMap<String, String>);

impl eframe::Storage for MemoryStorage {
    fn get_string(&self, key: &str) -> Option<String> {
        self.0.get(key).cloned()
    }
    fn set_string(&mut self, key: &str, value: String) {
        self.0.insert(key.into(), value);
    }
    fn remove_string(&mut self, key: &str) {
        self.0.remove(key);
    }
    fn flush(&mut self) {}
}

#[test]
fn the_window_reopens_with_the_last_experiment_tab_and_projection() {
    use contrastive_workbench::app::persisted::{KEY, Settings};
    use eframe::App;

    let mut h = harness(Experiment::default());
    h.run_steps(1);
    h.get_by_label("method").click();
    h.run_steps(3);
    h.get_by_label("SimSiam").click();
    h.run_steps(2);
    h.get_by_label("Views").click();
    h.run_steps(2);
    h.state_mut().settings.projection.mode =
        contrastive_workbench::app::projection_view::ProjectionMode::Umap;
    // What eframe does on exit and every 30 s.
    let mut storage = MemoryStorage::default();
    h.state_mut().save(&mut storage);
    let text = eframe::Storage::get_string(&storage, KEY).expect("saved");

    let settings = Settings::parse(&text).unwrap();
    let mut reopened = Harness::builder()
        .with_size([1360.0, 860.0])
        .build_eframe(move |cc| WorkbenchApp::restored(cc.egui_ctx.clone(), settings));
    reopened.run_steps(2);
    let app = reopened.state();
    assert_eq!(app.settings.experiment.method.kind, "simsiam");
    assert_eq!(app.settings.tab, Tab::Views);
    assert_eq!(
        app.settings.projection.mode,
        contrastive_workbench::app::projection_view::ProjectionMode::Umap
    );
    reopened.get_by_label("Resample");
}

#[test]
fn step_takes_one_training_step_from_a_pause() {
    let mut h = harness(common::tiny_experiment(8, 16, 100_000));
    h.run_steps(1);
    h.get_by_label("Start").click();
    h.run_steps(1);
    step_until(&mut h, "a logged step", |a| {
        !a.run.history.log.steps.is_empty()
    });
    h.get_by_label("Pause").click();
    step_until(&mut h, "the pause", |a| a.run.status == RunStatus::Paused);
    let before = h.state().run.history.last_step();
    h.get_by_label("Step").click();
    step_until(&mut h, "one step", |a| {
        a.run.history.last_step() == before + 1
    });
    step_until(&mut h, "the pause again", |a| {
        a.run.status == RunStatus::Paused
    });
    h.run_steps(5);
    assert_eq!(
        h.state().run.history.last_step(),
        before + 1,
        "more than one step"
    );
    h.get_by_label("Stop").click();
    step_until(&mut h, "the stop", |a| {
        a.run.status == RunStatus::Finished { stopped: true }
    });
}

#[test]
fn the_speed_limit_slows_a_running_class_demo_and_lifts_again() {
    let mut h = harness(common::tiny_experiment(8, 16, 100_000));
    h.run_steps(1);
    h.get_by_label("speed").click();
    h.run_steps(3);
    h.get_by_label("2 steps/s").click();
    h.run_steps(1);
    assert_eq!(h.state().run.speed_limit, Some(2.0));
    h.get_by_label("Start").click();
    h.run_steps(1);
    step_until(&mut h, "a logged step", |a| {
        !a.run.history.log.steps.is_empty()
    });
    // Steps start at least 1/2 s apart: five more take 2.5 s, less how late the harness
    // saw the first (its polling under a loaded machine has cost 0.35 s); at full speed
    // they take a small fraction of a second.
    let first = h.state().run.history.last_step();
    let since = std::time::Instant::now();
    step_until(&mut h, "five more steps", |a| {
        a.run.history.last_step() >= first + 5
    });
    let took = since.elapsed().as_secs_f32();
    assert!(took > 1.7, "five steps in {took} s under a 2 steps/s limit");
    h.get_by_label("speed").click();
    h.run_steps(3);
    h.get_by_label("full speed").click();
    h.run_steps(1);
    assert_eq!(h.state().run.speed_limit, None);
    h.get_by_label("Stop").click();
    step_until(&mut h, "the stop", |a| {
        a.run.status == RunStatus::Finished { stopped: true }
    });
}

#[test]
fn a_lesson_opens_from_the_menu_sets_up_each_step_and_closes() {
    let mut h = harness(Experiment::default());
    h.run_steps(1);
    h.get_by_label("Lessons").click();
    h.run_steps(2);
    h.get_by_label("3. Why colour jitter matters").click();
    h.run_steps(2);
    let jitter_on = |app: &WorkbenchApp| {
        app.settings
            .experiment
            .views
            .view1
            .steps
            .iter()
            .any(|t| t.op() == "color-jitter" && t.enabled())
    };
    assert!(
        !jitter_on(h.state()),
        "the lesson starts without colour jitter"
    );
    assert_eq!(h.state().settings.tab, Tab::Training);
    h.get_by_label_contains("step 1 of 2: Without colour jitter");
    h.get_by_label("Next").click();
    h.run_steps(2);
    assert!(jitter_on(h.state()), "step 2 turns it back on");
    h.get_by_label_contains("step 2 of 2");
    h.get_by_label("Close lesson").click();
    h.run_steps(2);
    assert!(h.state().classroom.lesson.is_none());
}

/// The lesson's classroom run, cut to a test's size (the step's own settings stay), once
/// the lesson's dataset (simclr-clusters: one background) has loaded.
fn cut_to_test_size(h: &mut Harness<'static, WorkbenchApp>) {
    let exp = &mut h.state_mut().settings.experiment;
    exp.train.steps = 3;
    exp.train.warmup_steps = 0;
    exp.train.batch_size = 16;
    exp.eval.every = 3;
    exp.eval.bank_size = 200;
    exp.eval.query_size = 100;
    step_until(h, "the lesson's dataset to load", |a| !a.data.is_loading());
}

/// Steps the window until its run has finished or failed.
fn until_the_run_ends(h: &mut Harness<'static, WorkbenchApp>) {
    step_until(h, "the lesson's run to finish", |a| {
        matches!(
            a.run.status,
            RunStatus::Finished { .. } | RunStatus::Failed(_)
        )
    });
}

#[test]
fn every_lesson_runs_start_to_end_in_the_window() {
    for lesson in contrastive_workbench::lessons::lessons() {
        let mut h = harness(Experiment::default());
        h.run_steps(1);
        h.state_mut().open_lesson(lesson.id).unwrap();
        for k in 0..lesson.steps.len() {
            h.run_steps(1);
            h.get_by_label_contains(&format!("step {} of {}", k + 1, lesson.steps.len()));
            cut_to_test_size(&mut h);
            h.get_by_label("Start").click();
            h.run_steps(1);
            until_the_run_ends(&mut h);
            assert_eq!(
                h.state().run.status,
                RunStatus::Finished { stopped: false },
                "{} step {}",
                lesson.id,
                k + 1
            );
            if k + 1 < lesson.steps.len() {
                h.get_by_label("Next").click();
                h.run_steps(1);
            }
        }
    }
}

/// Predict, then run: a class must answer before Start, sees its prediction while the run
/// goes, and the answer with the run's figure after it; the tally counts it.
#[test]
fn a_lesson_asks_before_its_run_and_answers_after_it() {
    use contrastive_workbench::lessons::classroom_file::Questions;
    let mut h = harness(Experiment::default());
    h.run_steps(1);
    h.state_mut().classroom.questions = Questions::Require;
    h.state_mut().open_lesson("simclr-clusters").unwrap();
    cut_to_test_size(&mut h);
    h.run_steps(2);
    h.get_by_label_contains("Predict first:");
    h.get_by_label("Start").click();
    h.run_steps(2);
    assert_eq!(
        h.state().run.runs_started(),
        0,
        "Start waits for the answer"
    );
    h.get_by_label("its colour").click();
    h.run_steps(2);
    h.get_by_label_contains("Your prediction: its colour.");
    h.get_by_label("Start").click();
    h.run_steps(1);
    until_the_run_ends(&mut h);
    h.run_steps(2);
    h.get_by_label_contains("You predicted its colour; the answer: its shape.");
    h.get_by_label_contains("This run measured: class kNN");
    h.get_by_label_contains("predictions: 0 of 1 right");
    // A teacher's demo: no question, Start at once.
    h.state_mut().classroom.questions = Questions::Off;
    h.get_by_label("Next").click();
    h.run_steps(2);
    assert!(h.query_by_label_contains("Predict first:").is_none());
}

#[test]
fn the_classroom_view_hides_the_settings_and_presents_larger() {
    let mut h = harness(Experiment::default());
    h.run_steps(2);
    h.get_by_label("method");
    h.get_by_label("Hide settings").click();
    h.run_steps(2);
    assert!(
        h.query_by_label("method").is_none(),
        "the settings panel is hidden"
    );
    h.get_by_label("Show settings").click();
    h.run_steps(2);
    h.get_by_label("method");
    h.get_by_label("Present").click();
    h.run_steps(2);
    assert!(h.state().classroom.presenting);
    assert!(
        (h.ctx.zoom_factor() - 1.4).abs() < 1e-6,
        "{}",
        h.ctx.zoom_factor()
    );
    h.get_by_label("Present").click();
    h.run_steps(2);
    assert_eq!(h.ctx.zoom_factor(), 1.0);
}

#[test]
fn the_loss_explorer_drags_a_point_and_the_loss_follows() {
    use contrastive_workbench::app::panels::loss_explorer::CIRCLE_LABEL;
    use contrastive_workbench::engine::loss_explorer::nt_xent_probe;
    let mut h = harness(Experiment::default());
    h.run_steps(1);
    h.get_by_label("Loss explorer").click();
    h.run_steps(2);
    let start = h.state().loss_explorer.points();
    let loss = nt_xent_probe(&start, 0.5).loss;
    h.get_by_label_contains(&format!("loss {loss:.4}"));
    // Drag image 1's first view (angle -0.25) onto its second view (angle 0.25).
    let rect = h.get_by_label(CIRCLE_LABEL).rect();
    let (centre, radius) = (rect.center(), rect.width() * 0.32);
    let at = |a: f32| egui::pos2(centre.x + radius * a.cos(), centre.y - radius * a.sin());
    h.drag_at(at(-0.25));
    h.run_steps(1);
    for k in 1..=5 {
        h.hover_at(at(-0.25 + 0.1 * k as f32));
        h.run_steps(1);
    }
    h.drop_at(at(0.24));
    h.run_steps(2);
    let moved = h.state().loss_explorer.angles[0];
    assert!((moved - 0.24).abs() < 0.05, "point 0 at {moved}");
    let after = nt_xent_probe(&h.state().loss_explorer.points(), 0.5).loss;
    assert!(
        after < loss,
        "bringing a positive pair together lowers the loss: {loss} -> {after}"
    );
    h.get_by_label_contains(&format!("loss {after:.4}"));
    h.get_by_label_contains("(positive)");
}

/// A file dropped on the window, as the native integration hands it over.
#[derive(Debug)]
struct DroppedPath(std::path::PathBuf);

impl egui::DroppedFile for DroppedPath {
    fn path(&self) -> &std::path::Path {
        &self.0
    }

    fn bytes(&self) -> Result<Vec<u8>, String> {
        std::fs::read(&self.0).map_err(|e| e.to_string())
    }
}

#[test]
fn a_teachers_classroom_file_opens_where_it_was_saved_when_dropped() {
    let dir = tempfile::tempdir().unwrap();
    let mut teacher = harness(Experiment::default());
    teacher.state_mut().settings.export_dir = dir.path().display().to_string();
    teacher.run_steps(1);
    teacher.state_mut().open_lesson("temperature").unwrap();
    teacher.run_steps(1);
    teacher.get_by_label("Next").click();
    teacher.run_steps(2);
    teacher.get_by_label("Hide settings").click();
    teacher.run_steps(2);
    teacher.get_by_label("Save classroom file").click();
    teacher.run_steps(2);
    let path = dir.path().join("classroom.toml");
    assert!(
        path.exists(),
        "{:?}",
        teacher.state().run.history.export_message
    );
    let saved = teacher.state().settings.experiment.clone();

    // A student's window: the file dropped on it.
    let mut student = harness(Experiment::default());
    student.run_steps(1);
    student
        .input_mut()
        .dropped_files
        .push(std::sync::Arc::new(DroppedPath(path)));
    student.run_steps(3);
    let app = student.state();
    assert_eq!(
        app.settings.experiment, saved,
        "the experiment as the teacher left it"
    );
    assert_eq!(
        app.classroom.lesson.map(|p| (p.lesson, p.step)),
        Some(("temperature", 1))
    );
    assert!(app.classroom.hide_settings);
    student.get_by_label_contains("step 2 of 3: t = 0.2");
    assert!(
        student.query_by_label("method").is_none(),
        "settings hidden"
    );
}

#[test]
fn the_remote_backend_asks_for_its_server_and_a_silent_one_fails_clearly() {
    let mut exp = common::tiny_experiment(8, 16, 2);
    exp.train.backend = BackendChoice::Remote;
    // A port that was just free: nothing answers there.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    exp.train.remote = format!("ws://127.0.0.1:{port}");
    let mut h = harness(exp);
    h.run_steps(2);
    h.get_by_label("server");
    h.get_by_label("token file");
    h.get_by_label("Start").click();
    h.run_steps(1);
    step_until(&mut h, "the run to fail", |a| {
        matches!(a.run.status, RunStatus::Failed(_))
    });
    h.run_steps(2);
    h.get_by_label_contains("nothing answers at ws://127.0.0.1:");
    // The window goes on: the user can pick the CPU and train.
    h.state_mut().settings.experiment.train.backend = BackendChoice::Cpu;
    h.run_steps(1);
    h.get_by_label("Start").click();
    h.run_steps(1);
    step_until(&mut h, "the CPU run to finish", |a| {
        a.run.status == RunStatus::Finished { stopped: false }
    });
}

#[test]
fn the_projection_says_how_much_its_clusters_are_the_colouring() {
    use contrastive_workbench::engine::protocol::PointAttribute;
    use contrastive_workbench::engine::{Event, ProjectionFrame};
    use contrastive_workbench::metrics::silhouette;
    let mut h = harness(Experiment::default());
    h.state_mut().settings.tab = Tab::Training;
    h.run_steps(1);
    // Two tight clusters that are the classes; the colour alternates within each.
    let x = [-5.0, -5.1, -4.9, -5.05, 5.0, 5.1, 4.9, 5.05];
    let frame = ProjectionFrame {
        step: 3,
        points: x.iter().map(|&x| [x, 0.0]).collect(),
        labels: vec![0, 0, 0, 0, 1, 1, 1, 1],
        indices: (0..8).collect(),
        explained: [0.9, 0.1],
        embeddings: x.iter().flat_map(|&x| [x, 1.0]).collect(),
        dim: 2,
        space: Default::default(),
        knn_correct: vec![true; 8],
        view_pairs: vec![],
        attributes: vec![PointAttribute {
            name: "colour".into(),
            values: vec!["red".into(), "blue".into()],
            of_point: vec![0, 1, 0, 1, 0, 1, 0, 1],
        }],
    };
    let points = frame.points.clone();
    let by_class = silhouette(&points, &frame.labels).unwrap();
    let by_colour = silhouette(&points, &frame.attributes[0].of_point).unwrap();
    assert!(by_class > 0.9 && by_colour < 0.1, "{by_class} {by_colour}");
    h.state_mut().run.history.apply(Event::Projection(frame));
    h.run_steps(2);
    h.get_by_label(&format!("Silhouette by class: {by_class:.2}"));
    h.get_by_label("colour").click();
    h.run_steps(2);
    h.get_by_label(&format!("Silhouette by colour: {by_colour:.2}"));
}

#[test]
fn a_picture_of_the_head_space_says_so_under_it() {
    use contrastive_workbench::engine::{Event, ProjectionFrame};
    use contrastive_workbench::preset::PictureSpace;
    let mut h = harness(Experiment::default());
    h.state_mut().settings.tab = Tab::Training;
    h.state_mut().settings.projection.mode =
        contrastive_workbench::app::projection_view::ProjectionMode::Pca;
    h.run_steps(1);
    let frame = |space| ProjectionFrame {
        step: 5,
        points: vec![[0.0, 0.0], [1.0, 1.0]],
        labels: vec![0, 1],
        indices: vec![0, 1],
        embeddings: vec![1.0, 0.0, 0.0, 1.0],
        dim: 2,
        space,
        knn_correct: vec![true; 2],
        ..ProjectionFrame::default()
    };
    h.state_mut()
        .run
        .history
        .apply(Event::Projection(frame(PictureSpace::Encoder)));
    h.run_steps(2);
    assert!(
        h.query_by_label_contains("projection head's space z")
            .is_none()
    );
    h.state_mut()
        .run
        .history
        .apply(Event::Projection(frame(PictureSpace::Head)));
    h.run_steps(2);
    h.get_by_label_contains("PCA at step 5: 2 held-out images in the projection head's space z");
}

#[test]
fn the_projection_scrubs_back_to_step_zero_and_replays_the_run() {
    use contrastive_workbench::engine::{Event, ProjectionFrame};
    let mut h = harness(Experiment::default());
    h.state_mut().settings.tab = Tab::Training;
    h.run_steps(1);
    for step in [0, 50, 100] {
        let spread = 1.0 + step as f32 / 10.0;
        h.state_mut()
            .run
            .history
            .apply(Event::Projection(ProjectionFrame {
                step,
                points: vec![[0.0, 0.0], [spread, 0.0], [0.0, spread]],
                labels: vec![0, 1, 1],
                indices: vec![4, 5, 6],
                embeddings: vec![1.0, 0.0, 0.0, 1.0, 0.6, 0.8],
                dim: 2,
                knn_correct: vec![true; 3],
                ..ProjectionFrame::default()
            }));
    }
    h.run_steps(2);
    h.get_by_label_contains("PCA at step 100:");
    h.get_by_label_contains("step 100 (3 of 3 evaluations)");
    assert!(h.query_by_label("Latest").is_none(), "following the run");
    // Play starts the film from the random network.
    h.get_by_label("Play").click();
    h.run_steps(2);
    h.get_by_label_contains("PCA at step 0:");
    h.get_by_label_contains("step 0 (1 of 3 evaluations)");
    // Paused (after at most one more evaluation: a harness step is a quarter second), the
    // picture stays where it was.
    h.get_by_label("Pause").click();
    h.run_steps(8);
    h.get_by_label("Play");
    assert!(h.query_by_label_contains("PCA at step 100:").is_none());
    h.get_by_label("Latest").click();
    h.run_steps(2);
    h.get_by_label_contains("PCA at step 100:");
    // Before / after: the random network's picture beside the latest.
    assert!(h.query_by_label_contains("Before: step 0").is_none());
    h.get_by_label("step 0 beside").click();
    h.run_steps(2);
    h.get_by_label_contains("Before: step 0 (the random network), PCA");
    h.get_by_label_contains("PCA at step 100:");
}

#[test]
fn a_teacher_hides_controls_one_by_one_and_the_class_file_keeps_them_hidden() {
    let dir = tempfile::tempdir().unwrap();
    let mut teacher = harness(Experiment::default());
    teacher.state_mut().settings.export_dir = dir.path().display().to_string();
    teacher.run_steps(1);
    teacher.get_by_label("Method");
    teacher.get_by_label("Lessons");
    teacher.get_by_label("Controls").click();
    teacher.run_steps(2);
    teacher.get_by_label("Method and its settings").click();
    teacher.run_steps(2);
    teacher.get_by_label("Lessons menu").click();
    teacher.run_steps(2);
    assert_eq!(teacher.state().classroom.hidden, ["method", "lessons"]);
    // Close the menu, as a user would, and look.
    teacher.key_press(egui::Key::Escape);
    teacher.run_steps(2);
    assert!(teacher.query_by_label("Method").is_none(), "method hidden");
    assert!(
        teacher.query_by_label("Lessons").is_none(),
        "lessons hidden"
    );
    teacher.get_by_label("Optimisation");
    teacher.get_by_label("Save classroom file").click();
    teacher.run_steps(2);
    let path = dir.path().join("classroom.toml");
    let text = std::fs::read_to_string(&path).unwrap();
    assert!(
        text.contains("hidden = [\"method\", \"lessons\"]"),
        "{text}"
    );

    let mut student = harness(Experiment::default());
    student.run_steps(1);
    student.state_mut().open_classroom(&path).unwrap();
    student.run_steps(2);
    assert_eq!(student.state().classroom.hidden, ["method", "lessons"]);
    assert!(student.query_by_label("Method").is_none());
    student.get_by_label("Optimisation");
    // Shown again from the same menu.
    student.get_by_label("Controls").click();
    student.run_steps(2);
    student.get_by_label("Method and its settings").click();
    student.run_steps(2);
    assert_eq!(student.state().classroom.hidden, ["lessons"]);
}

#[test]
fn a_sweep_built_in_the_compare_tab_runs_and_fills_its_table_and_heat_map() {
    use contrastive_workbench::sweep::table::State;
    let out = tempfile::tempdir().unwrap();
    let mut h = harness(common::tiny_experiment(8, 16, 3));
    h.state_mut().settings.export_dir = out.path().join("run").display().to_string();
    h.run_steps(1);
    h.get_by_label("Compare").click();
    h.run_steps(2);
    // Temperature (the default first setting) against a second one added here.
    h.get_by_label("Vary another setting").click();
    h.run_steps(2);
    h.state_mut().compare.seeds = 1;
    h.run_steps(1);
    h.get_by_label_contains("4 cells x 1 seeds");
    // A third value for the second setting, as typed in its field.
    h.get_by_label("values 2");
    h.state_mut().compare.axes[1].values = "0.001, 0.01, 0.1".into();
    h.run_steps(2);
    h.get_by_label_contains("6 cells x 1 seeds = 6 runs of 3 steps");
    h.get_by_label("Start sweep").click();
    h.run_steps(1);
    // One training job at a time: a run does not start beside the sweep.
    h.state_mut()
        .apply(contrastive_workbench::app::RunAction::Start);
    assert_eq!(h.state().run.status, RunStatus::Idle);
    let refused = h.state().data.error.clone().unwrap_or_default();
    assert!(refused.contains("a sweep is running"), "{refused}");
    step_until(&mut h, "every member to finish", |a| {
        !a.compare.is_running()
            && a.compare.rows.len() == 6
            && a.compare.rows.iter().all(|r| r.state == State::Finished)
    });
    h.run_steps(3);
    h.get_by_label_contains("kNN top-1 mean");
    h.get_by_label_contains("Parallel coordinates");
    h.get_by_label_contains("loss of every member");
    h.get_by_label_contains("(rows) x train.learning_rate (columns)");
    let rows = &h.state().compare.rows;
    assert!(rows.iter().all(|r| r.outcome.knn_top1.is_some()));
    // Each member is an ordinary run folder under the sweep's, beside the export folder.
    let (_, dir) = h.state().compare.sweep.clone().unwrap();
    assert!(dir.starts_with(out.path().join("sweeps")));
    for r in &h.state().compare.rows {
        assert!(dir.join(&r.folder).join("encoder.safetensors").is_file());
    }
    assert!(dir.join("sweep.csv").is_file());
    // A finished member opens as a run.
    h.get_all_by_label("Open").next().unwrap().click();
    h.run_steps(1);
    assert_eq!(h.state().settings.tab, Tab::Training);
}

#[test]
fn closing_the_window_stops_a_run_and_a_sweep_with_their_checkpoints_written() {
    use contrastive_workbench::app::{CompareAction, RunAction};
    use eframe::App;
    let out = tempfile::tempdir().unwrap();
    let mut h = harness(common::tiny_experiment(8, 16, 100_000));
    h.state_mut().settings.export_dir = out.path().join("run").display().to_string();
    h.state_mut().settings.checkpoint_every = 1_000_000;
    h.run_steps(1);
    h.state_mut().apply(RunAction::Start);
    step_until(&mut h, "a logged step", |a| {
        !a.run.history.log.steps.is_empty()
    });
    h.state_mut().on_exit();
    assert_eq!(h.state().run.status, RunStatus::Finished { stopped: true });
    assert!(out.path().join("run/checkpoint.safetensors").is_file());

    // A sweep whose first member is running when the window closes.
    h.state_mut().compare.seeds = 1;
    h.state_mut().apply(CompareAction::Start);
    let running_member = |a: &WorkbenchApp| {
        let (_, dir) = a.compare.sweep.clone()?;
        let first = a.compare.rows.first()?;
        let member = dir.join(&first.folder);
        (first.state == contrastive_workbench::sweep::table::State::Running
            && member.join("metrics.csv").is_file())
        .then_some(member)
    };
    step_until(&mut h, "the first member running", |a| {
        running_member(a).is_some()
    });
    let member = running_member(h.state()).unwrap();
    h.state_mut().on_exit();
    assert!(!h.state().compare.is_running());
    assert!(member.join("checkpoint.safetensors").is_file());
    let table = std::fs::read_to_string(member.parent().unwrap().join("sweep.csv")).unwrap();
    assert!(table.contains(",stopped,"), "{table}");
}

/// The ViT is chosen in the window: its shape's fields appear, pooling is a drop-down, and
/// the experiment it writes validates as a preset does.
#[test]
fn choosing_the_vit_shows_its_shape_and_writes_a_valid_preset() {
    use contrastive_workbench::model::{EncoderKind, Pooling};
    let mut h = harness(Experiment::default());
    h.set_size(egui::Vec2::new(1360.0, 1600.0));
    h.run_steps(1);
    assert!(h.query_by_label("ViT heads").is_none());
    h.get_by_label("encoder").click();
    h.run_steps(3);
    h.get_by_label("ViT").click();
    h.run_steps(2);
    assert_eq!(h.state().settings.experiment.encoder.kind, EncoderKind::Vit);
    for field in ["ViT patch", "ViT heads", "ViT width per head", "ViT depth"] {
        assert!(h.query_by_label(field).is_some(), "{field} not shown");
    }
    assert!(h.query_by_label_contains("token width 128").is_some());
    h.get_by_label("ViT pooling").click();
    h.run_steps(3);
    h.get_by_label("mean of patches").click();
    h.run_steps(2);
    let exp = &h.state().settings.experiment;
    assert_eq!(exp.encoder.pooling, Pooling::Mean);
    exp.validate().unwrap();
    assert!(
        exp.to_toml().contains("kind = \"vit\""),
        "{}",
        exp.to_toml()
    );
}

#[test]
fn the_views_can_be_made_on_the_training_device() {
    use contrastive_workbench::preset::AugmentOn;
    let mut h = harness(Experiment::default());
    h.set_size(egui::Vec2::new(1360.0, 1600.0));
    h.run_steps(1);
    assert_eq!(
        h.state().settings.experiment.train.augment_on,
        AugmentOn::Cpu
    );
    h.get_by_label("views made on").click();
    h.run_steps(3);
    h.get_by_label("Training device").click();
    h.run_steps(2);
    assert_eq!(
        h.state().settings.experiment.train.augment_on,
        AugmentOn::Device
    );
}
