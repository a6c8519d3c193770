//! Title, dataset choice, run controls, status and backend line.

use eframe::egui::{self, Color32, RichText};

use crate::app::history::RunStatus;
use crate::app::workbench::{Action, WorkbenchApp};
use crate::data::DatasetSpec;
use crate::data::builtin::FashionMnistMiniSpec;
use crate::data::shapes::ShapesSpec;
use crate::lessons::classroom_file::HIDEABLE;

pub fn show(ui: &mut egui::Ui, app: &WorkbenchApp, actions: &mut Vec<Action>) {
    ui.add_space(4.0);
    ui.horizontal(|ui| {
        ui.heading("contrastive-workbench");
        ui.separator();
        let current = app.experiment.dataset.label();
        let idle = !app.status.is_active();
        ui.add_enabled_ui(idle, |ui| {
            egui::ComboBox::from_label("dataset")
                .selected_text(current.as_str())
                .show_ui(ui, |ui| {
                    for (label, spec) in [
                        ("shapes", DatasetSpec::Shapes(ShapesSpec::default())),
                        (
                            "fashion-mnist-mini",
                            DatasetSpec::FashionMnistMini(FashionMnistMiniSpec::default()),
                        ),
                    ] {
                        if ui.selectable_label(current == label, label).clicked()
                            && current != label
                        {
                            actions.push(Action::LoadDataset(spec));
                        }
                    }
                    ui.separator();
                    if ui.button("Open folder...").clicked() {
                        actions.push(Action::BrowseDataset);
                        actions.push(Action::ShowTab(crate::app::Tab::Dataset));
                    }
                });
        });
        ui.separator();
        run_controls(ui, app, actions);
        ui.separator();
        status_line(ui, app);
    });
    // Wrapped: warnings and failed writes must stay readable, not run off the edge.
    ui.horizontal_wrapped(|ui| {
        let round_trip = app.history.log.steps.last().and_then(|m| m.round_trip_ms);
        let backend = match (&app.history.backend, round_trip) {
            (Some(b), Some(ms)) => {
                format!(
                    "Backend: {}: {}; now {ms:.1} ms round trip",
                    b.name, b.reason
                )
            }
            (Some(b), None) => format!("Backend: {}: {}", b.name, b.reason),
            (None, _) => "Backend: chosen when training starts (a GPU if this build and machine \
                          have one, else the CPU)"
                .into(),
        };
        ui.label(RichText::new(backend).small());
        if let Some((p50, p99)) = app
            .frame_times
            .percentiles()
            .filter(|_| app.show_frame_times)
        {
            ui.separator();
            ui.label(
                RichText::new(format!("UI frame build p50 {p50:.1} ms, p99 {p99:.1} ms")).small(),
            )
            .on_hover_text(format!(
                "CPU time to build each of the last {} frames (drawing excluded)",
                app.frame_times.len()
            ));
        }
        let h = &app.history;
        for (msg, failed) in [
            (&h.checkpoint_message, h.checkpoint_failed),
            (&h.export_message, h.export_failed),
        ] {
            if let Some(msg) = msg {
                ui.separator();
                if failed {
                    // A failed write is where the user looks, in the colour of failure.
                    ui.label(RichText::new(msg).strong().color(FAILURE));
                } else {
                    ui.label(RichText::new(msg).small());
                }
            }
        }
        for warning in &h.warnings {
            ui.separator();
            ui.label(
                RichText::new(format!("warning: {warning}"))
                    .small()
                    .color(Color32::from_rgb(230, 160, 60)),
            );
        }
        if let Some(err) = &app.dataset_error {
            ui.separator();
            ui.label(
                RichText::new(err)
                    .small()
                    .color(Color32::from_rgb(230, 120, 60)),
            );
        }
    });
    if !app.has_run() && !app.status.is_active() {
        ui.label(
            RichText::new(
                "New here? These are the training images. The Views tab shows the pairs of \
                 augmented views a method learns from; press Start to train and watch it learn \
                 on the Training tab, or open a guided lesson from Lessons.",
            )
            .small()
            .color(Color32::from_rgb(140, 190, 240)),
        );
    }
    ui.add_space(2.0);
}

/// The speed limits offered (steps per second; `None` is full speed).
const SPEEDS: [(Option<f32>, &str); 5] = [
    (None, "full speed"),
    (Some(10.0), "10 steps/s"),
    (Some(2.0), "2 steps/s"),
    (Some(1.0), "1 step/s"),
    (Some(0.2), "1 step / 5 s"),
];

fn speed_control(ui: &mut egui::Ui, app: &WorkbenchApp, actions: &mut Vec<Action>) {
    let name = |limit: Option<f32>| {
        SPEEDS.iter().find(|(l, _)| *l == limit).map_or_else(
            || format!("{:.1} steps/s", limit.unwrap_or(0.0)),
            |(_, n)| n.to_string(),
        )
    };
    egui::ComboBox::from_label("speed")
        .selected_text(name(app.speed_limit))
        .show_ui(ui, |ui| {
            for (limit, text) in SPEEDS {
                if ui
                    .selectable_label(app.speed_limit == limit, text)
                    .clicked()
                {
                    actions.push(Action::SpeedLimit(limit));
                }
            }
        })
        .response
        .on_hover_text("Slow training down so a class can follow each step; applies at once");
}

/// The built-in lessons, each opened at its first step.
fn lessons_menu(ui: &mut egui::Ui, app: &WorkbenchApp, actions: &mut Vec<Action>) {
    ui.add_enabled_ui(!app.status.is_active(), |ui| {
        ui.menu_button("Lessons", |ui| {
            for (k, lesson) in crate::lessons::lessons().iter().enumerate() {
                if ui.button(format!("{}. {}", k + 1, lesson.title)).clicked() {
                    actions.push(Action::OpenLesson(lesson.id));
                    ui.close();
                }
            }
        });
    });
}

/// The classroom toggles: hide the settings, draw larger.
fn classroom_controls(ui: &mut egui::Ui, app: &WorkbenchApp, actions: &mut Vec<Action>) {
    let settings = if app.hide_settings {
        "Show settings"
    } else {
        "Hide settings"
    };
    if ui
        .button(settings)
        .on_hover_text("Classroom view: the settings panel out of the way")
        .clicked()
    {
        actions.push(Action::ToggleSettings);
    }
    // Stays open while boxes are ticked, so several controls hide in one visit.
    let stay_open = egui::containers::menu::MenuConfig::new()
        .close_behavior(egui::PopupCloseBehavior::CloseOnClickOutside);
    let (button, _) = egui::containers::menu::MenuButton::new("Controls")
        .config(stay_open)
        .ui(ui, |ui| {
            ui.label("Shown to the class:");
            for (id, label) in HIDEABLE {
                let mut shown = !app.hidden.contains(id);
                if ui.checkbox(&mut shown, *label).changed() {
                    actions.push(Action::ToggleControl(id));
                }
            }
        });
    button.on_hover_text("Hide controls one by one; a classroom file keeps the choice");
    if ui
        .selectable_label(app.presenting, "Present")
        .on_hover_text("Larger type and plots, for a projector")
        .clicked()
    {
        actions.push(Action::TogglePresenting);
    }
    if ui
        .button("Save classroom file")
        .on_hover_text(
            "classroom.toml in the export folder: this experiment, the lesson step and what \
             is hidden; students drop it on the window or run --classroom FILE",
        )
        .clicked()
    {
        actions.push(Action::SaveClassroom);
    }
}

fn run_controls(ui: &mut egui::Ui, app: &WorkbenchApp, actions: &mut Vec<Action>) {
    if !app.hidden.contains(&"lessons") {
        lessons_menu(ui, app, actions);
    }
    classroom_controls(ui, app, actions);
    if !app.hidden.contains(&"speed") {
        speed_control(ui, app, actions);
    }
    match app.status {
        RunStatus::Running => {
            if ui.button("Pause").clicked() {
                actions.push(Action::Pause);
            }
            if ui.button("Stop").clicked() {
                actions.push(Action::Stop);
            }
        }
        RunStatus::Paused => {
            if ui.button("Resume").clicked() {
                actions.push(Action::Resume);
            }
            if ui
                .button("Step")
                .on_hover_text("One training step, then pause again")
                .clicked()
            {
                actions.push(Action::Step);
            }
            if ui.button("Stop").clicked() {
                actions.push(Action::Stop);
            }
        }
        _ => {
            let loading = app.is_loading_dataset();
            let start = ui
                .add_enabled(!loading, egui::Button::new("Start"))
                .on_disabled_hover_text("The dataset is still loading");
            if start.clicked() {
                actions.push(Action::Start);
            }
        }
    }
    let enabled = app.can_export();
    let export = ui
        .add_enabled(enabled, egui::Button::new("Export"))
        .on_hover_text("Write the encoder (burnpack + safetensors), preset and metrics")
        .on_disabled_hover_text("Train first: there is no model to export yet");
    if export.clicked() {
        actions.push(Action::Export(app.export_dir.clone().into()));
    }
}

/// The colour of a failed run or write.
const FAILURE: Color32 = Color32::from_rgb(230, 90, 80);

fn status_line(ui: &mut egui::Ui, app: &WorkbenchApp) {
    let h = &app.history;
    let mut text = app.status.label();
    if h.total_steps > 0 {
        text += &format!("  step {}/{}", h.last_step(), h.total_steps);
    }
    if let Some(m) = h.log.steps.last() {
        text += &format!(
            "  {:.1} steps/s, {:.0} views/s",
            m.steps_per_sec, m.views_per_sec
        );
    }
    if let Some(e) = h.latest_knn() {
        text += &format!(
            "  kNN {:.1}% (random init {:.1}%)",
            100.0 * e.knn_top1,
            100.0 * e.baseline_top1
        );
    }
    let colour = match app.status {
        RunStatus::Failed(_) => FAILURE,
        RunStatus::Running => Color32::from_rgb(120, 200, 120),
        _ => ui.visuals().text_color(),
    };
    ui.label(RichText::new(text).color(colour));
    if let RunStatus::Failed(msg) = &app.status {
        ui.label(RichText::new(msg).color(FAILURE));
    }
}
