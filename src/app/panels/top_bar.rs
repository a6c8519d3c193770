//! Title, dataset choice, run controls, status and backend line.

use eframe::egui::{self, Color32, RichText};

use crate::app::action::{Action, ClassroomAction, DatasetAction, RunAction, Tab};
use crate::app::classroom_state::ClassroomState;
use crate::app::frame_times::FrameTimes;
use crate::app::history::RunStatus;
use crate::app::run_state::RunState;
use crate::data::DatasetSpec;
use crate::data::builtin::FashionMnistMiniSpec;
use crate::data::shapes::ShapesSpec;
use crate::lessons::classroom_file::HIDEABLE;

/// What the top bar reads: the run, the classroom toggles, the dataset's name and
/// problem, the export folder, the frame times. It changes nothing itself.
pub struct TopBar<'a> {
    /// The experiment's dataset, as the combo box names it.
    pub dataset_label: String,
    pub export_dir: &'a str,
    pub run: &'a RunState,
    pub classroom: &'a ClassroomState,
    /// The last dataset problem.
    pub dataset_error: Option<&'a str>,
    /// A dataset is loading: Start waits for it.
    pub loading_dataset: bool,
    pub frame_times: &'a FrameTimes,
}

const WARNING: Color32 = Color32::from_rgb(230, 160, 60);
const DATASET_PROBLEM: Color32 = Color32::from_rgb(230, 120, 60);
const HINT: Color32 = Color32::from_rgb(140, 190, 240);

pub fn show(ui: &mut egui::Ui, bar: &TopBar, actions: &mut Vec<Action>) {
    ui.add_space(4.0);
    ui.horizontal(|ui| {
        ui.heading("contrastive-workbench");
        ui.separator();
        ui.add_enabled_ui(!bar.run.is_active(), |ui| dataset_menu(ui, bar, actions));
        ui.separator();
        run_controls(ui, bar, actions);
        ui.separator();
        status_line(ui, bar.run);
    });
    // Wrapped: warnings and failed writes must stay readable, not run off the edge.
    ui.horizontal_wrapped(|ui| messages(ui, bar));
    if !bar.run.has_run() && !bar.run.is_active() {
        ui.label(
            RichText::new(
                "New here? These are the training images. The Views tab shows the pairs of \
                 augmented views a method learns from; press Start to train and watch it learn \
                 on the Training tab, or open a guided lesson from Lessons.",
            )
            .small()
            .color(HINT),
        );
    }
    ui.add_space(2.0);
}

fn dataset_menu(ui: &mut egui::Ui, bar: &TopBar, actions: &mut Vec<Action>) {
    let current = bar.dataset_label.as_str();
    egui::ComboBox::from_label("dataset")
        .selected_text(current)
        .show_ui(ui, |ui| {
            for (label, spec) in [
                ("shapes", DatasetSpec::Shapes(ShapesSpec::default())),
                (
                    "fashion-mnist-mini",
                    DatasetSpec::FashionMnistMini(FashionMnistMiniSpec::default()),
                ),
            ] {
                if ui.selectable_label(current == label, label).clicked() && current != label {
                    actions.push(DatasetAction::Load(spec).into());
                }
            }
            ui.separator();
            if ui.button("Open folder...").clicked() {
                actions.push(DatasetAction::Browse.into());
                actions.push(Action::ShowTab(Tab::Dataset));
            }
        });
}

/// The second line: backend, frame times, write outcomes, warnings, dataset problems.
fn messages(ui: &mut egui::Ui, bar: &TopBar) {
    let h = &bar.run.history;
    let round_trip = h.log.steps.last().and_then(|m| m.round_trip_ms);
    let backend = match (&h.backend, round_trip) {
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
    let times = bar.frame_times;
    if let Some((p50, p99)) = times.percentiles().filter(|_| times.shown) {
        ui.separator();
        ui.label(RichText::new(format!("UI frame build p50 {p50:.1} ms, p99 {p99:.1} ms")).small())
            .on_hover_text(format!(
                "CPU time to build each of the last {} frames (drawing excluded)",
                times.len()
            ));
    }
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
                .color(WARNING),
        );
    }
    if let Some(err) = bar.dataset_error {
        ui.separator();
        ui.label(RichText::new(err).small().color(DATASET_PROBLEM));
    }
}

/// The speed limits offered (steps per second; `None` is full speed).
const SPEEDS: [(Option<f32>, &str); 5] = [
    (None, "full speed"),
    (Some(10.0), "10 steps/s"),
    (Some(2.0), "2 steps/s"),
    (Some(1.0), "1 step/s"),
    (Some(0.2), "1 step / 5 s"),
];

fn speed_control(ui: &mut egui::Ui, speed_limit: Option<f32>, actions: &mut Vec<Action>) {
    let name = |limit: Option<f32>| {
        SPEEDS.iter().find(|(l, _)| *l == limit).map_or_else(
            || format!("{:.1} steps/s", limit.unwrap_or(0.0)),
            |(_, n)| n.to_string(),
        )
    };
    egui::ComboBox::from_label("speed")
        .selected_text(name(speed_limit))
        .show_ui(ui, |ui| {
            for (limit, text) in SPEEDS {
                if ui.selectable_label(speed_limit == limit, text).clicked() {
                    actions.push(RunAction::SpeedLimit(limit).into());
                }
            }
        })
        .response
        .on_hover_text("Slow training down so a class can follow each step; applies at once");
}

/// The built-in lessons, each opened at its first step.
fn lessons_menu(ui: &mut egui::Ui, idle: bool, actions: &mut Vec<Action>) {
    ui.add_enabled_ui(idle, |ui| {
        ui.menu_button("Lessons", |ui| {
            for (k, lesson) in crate::lessons::lessons().iter().enumerate() {
                if ui.button(format!("{}. {}", k + 1, lesson.title)).clicked() {
                    actions.push(ClassroomAction::OpenLesson(lesson.id).into());
                    ui.close();
                }
            }
        });
    });
}

/// The classroom toggles: hide the settings, draw larger.
fn classroom_controls(ui: &mut egui::Ui, classroom: &ClassroomState, actions: &mut Vec<Action>) {
    let settings = if classroom.hide_settings {
        "Show settings"
    } else {
        "Hide settings"
    };
    if ui
        .button(settings)
        .on_hover_text("Classroom view: the settings panel out of the way")
        .clicked()
    {
        actions.push(ClassroomAction::ToggleSettings.into());
    }
    // Stays open while boxes are ticked, so several controls hide in one visit.
    let stay_open = egui::containers::menu::MenuConfig::new()
        .close_behavior(egui::PopupCloseBehavior::CloseOnClickOutside);
    let (button, _) = egui::containers::menu::MenuButton::new("Controls")
        .config(stay_open)
        .ui(ui, |ui| {
            ui.label("Shown to the class:");
            for (id, label) in HIDEABLE {
                let mut shown = classroom.shows(id);
                if ui.checkbox(&mut shown, *label).changed() {
                    actions.push(ClassroomAction::ToggleControl(id).into());
                }
            }
        });
    button.on_hover_text("Hide controls one by one; a classroom file keeps the choice");
    if ui
        .selectable_label(classroom.presenting, "Present")
        .on_hover_text("Larger type and plots, for a projector")
        .clicked()
    {
        actions.push(ClassroomAction::TogglePresenting.into());
    }
    if ui
        .button("Save classroom file")
        .on_hover_text(
            "classroom.toml in the export folder: this experiment, the lesson step and what \
             is hidden; students drop it on the window or run --classroom FILE",
        )
        .clicked()
    {
        actions.push(ClassroomAction::Save.into());
    }
}

fn run_controls(ui: &mut egui::Ui, bar: &TopBar, actions: &mut Vec<Action>) {
    let (run, classroom) = (bar.run, bar.classroom);
    if classroom.shows("lessons") {
        lessons_menu(ui, !run.is_active(), actions);
    }
    classroom_controls(ui, classroom, actions);
    if classroom.shows("speed") {
        speed_control(ui, run.speed_limit, actions);
    }
    match run.status {
        RunStatus::Running => {
            if ui.button("Pause").clicked() {
                actions.push(RunAction::Pause.into());
            }
            if ui.button("Stop").clicked() {
                actions.push(RunAction::Stop.into());
            }
        }
        RunStatus::Paused => {
            if ui.button("Resume").clicked() {
                actions.push(RunAction::Resume.into());
            }
            if ui
                .button("Step")
                .on_hover_text("One training step, then pause again")
                .clicked()
            {
                actions.push(RunAction::Step.into());
            }
            if ui.button("Stop").clicked() {
                actions.push(RunAction::Stop.into());
            }
        }
        _ => {
            let waits = bar.classroom.start_waits_for_answer(bar.run.runs_started());
            let start = ui
                .add_enabled(!bar.loading_dataset && !waits, egui::Button::new("Start"))
                .on_disabled_hover_text(if waits {
                    "Answer the lesson's question first"
                } else {
                    "The dataset is still loading"
                });
            if start.clicked() {
                actions.push(RunAction::Start.into());
            }
        }
    }
    let enabled = run.can_export();
    let export = ui
        .add_enabled(enabled, egui::Button::new("Export"))
        .on_hover_text("Write the encoder (burnpack + safetensors), preset and metrics")
        .on_disabled_hover_text("Train first: there is no model to export yet");
    if export.clicked() {
        actions.push(RunAction::Export(bar.export_dir.into()).into());
    }
}

/// The colour of a failed run or write.
const FAILURE: Color32 = Color32::from_rgb(230, 90, 80);

fn status_line(ui: &mut egui::Ui, run: &RunState) {
    let h = &run.history;
    let mut text = run.status.label();
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
    let colour = match run.status {
        RunStatus::Failed(_) => FAILURE,
        RunStatus::Running => Color32::from_rgb(120, 200, 120),
        _ => ui.visuals().text_color(),
    };
    ui.label(RichText::new(text).color(colour));
    if let RunStatus::Failed(msg) = &run.status {
        ui.label(RichText::new(msg).color(FAILURE));
    }
}
