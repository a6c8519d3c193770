//! The Compare tab: set up a sweep from the experiment being edited (up to three settings,
//! their values, the seeds), run it, and read the answer off one screen: each cell's kNN
//! top-1 as mean and spread over the paired seeds, a heat map for two settings, every
//! member's kNN curve coloured by the first setting's value, and the alignment-uniformity
//! plane with one point per member. A finished member opens as a run.

mod results;

use eframe::egui::{self, Color32, RichText};

use crate::app::action::{Action, CompareAction, RunAction};
use crate::app::compare_state::{AxisDraft, CompareState};
use crate::preset::Experiment;
use crate::sweep::MAX_AXES;
use crate::sweep::axis::valid_keys;
use crate::sweep::table::State;

const PROBLEM: Color32 = Color32::from_rgb(230, 90, 80);

/// What the Compare tab borrows: its own part (the sweep's set-up and results), the
/// experiment each cell starts from and whether a run is going (read-only).
pub struct ComparePanel<'a> {
    pub state: &'a mut CompareState,
    pub experiment: &'a Experiment,
    pub run_active: bool,
}

pub fn show(ui: &mut egui::Ui, panel: &mut ComparePanel, actions: &mut Vec<Action>) {
    egui::ScrollArea::vertical().show(ui, |ui| {
        let running = panel.state.is_running();
        ui.add_enabled_ui(!running, |ui| setup(ui, panel));
        controls(ui, panel, actions);
        if panel.state.rows.is_empty() {
            return;
        }
        ui.separator();
        results::table_and_pictures(ui, panel.state, |ui, state| {
            members(ui, state, panel.run_active, actions);
        });
    });
}

/// The settings to vary, their values, the seeds.
fn setup(ui: &mut egui::Ui, panel: &mut ComparePanel) {
    ui.label(
        RichText::new(
            "Vary up to three settings of the experiment in the left panel; every \
             combination runs at the same seeds, so differences are not seed noise. Values: \
             a list (0.1, 0.5) or a range (0.001..0.1:3:log).",
        )
        .small(),
    );
    let keys = valid_keys(panel.experiment);
    let state = &mut *panel.state;
    let mut remove = None;
    egui::Grid::new("sweep_axes").num_columns(4).show(ui, |ui| {
        for (i, axis) in state.axes.iter_mut().enumerate() {
            egui::ComboBox::from_id_salt(("sweep_key", i))
                .selected_text(axis.key.as_str())
                .height(500.0)
                .show_ui(ui, |ui| {
                    for k in &keys {
                        ui.selectable_value(&mut axis.key, k.clone(), k);
                    }
                });
            let label = ui.label(format!("values {}", i + 1));
            ui.add_sized(
                [240.0, 20.0],
                egui::TextEdit::singleline(&mut axis.values).hint_text("0.1, 0.5"),
            )
            .labelled_by(label.id);
            if ui.button("Remove").clicked() {
                remove = Some(i);
            }
            ui.end_row();
        }
    });
    if let Some(i) = remove {
        state.axes.remove(i);
    }
    ui.horizontal(|ui| {
        if state.axes.len() < MAX_AXES && ui.button("Vary another setting").clicked() {
            state.axes.push(AxisDraft {
                key: "train.learning_rate".into(),
                values: "0.001, 0.01".into(),
            });
        }
        ui.label("seeds");
        ui.add(egui::DragValue::new(&mut state.seeds).range(1..=10));
        ui.checkbox(&mut state.prune, "prune every").on_hover_text(
            "Successive halving: at this step the worse half of the cells (by mean kNN \
                 top-1) stops, at twice it the worse half of the rest, and so on. A multiple \
                 of eval every.",
        );
        ui.add_enabled(
            state.prune,
            egui::DragValue::new(&mut state.prune_every).range(1..=1_000_000),
        );
        ui.label("runs at once");
        ui.add(egui::DragValue::new(&mut state.parallel).range(1..=8))
            .on_hover_text(
                "Runs at once on this machine. Several share its cores and burn's generator, \
                 so they are not bit-reproducible; one at a time they are.",
            );
    });
}

/// The plan in words (or what is wrong with it), Start / Stop, and how the sweep stands.
fn controls(ui: &mut egui::Ui, panel: &ComparePanel, actions: &mut Vec<Action>) {
    let plan = panel.state.plan(panel.experiment);
    match &plan {
        Ok((spec, members)) => ui.label(format!(
            "{} cells x {} seeds = {} runs of {} steps",
            members.len() / spec.seeds.max(1) as usize,
            spec.seeds,
            members.len(),
            spec.base.train.steps
        )),
        Err(e) => ui.label(RichText::new(e).color(PROBLEM)),
    };
    ui.horizontal(|ui| {
        if panel.state.is_running() {
            if ui.button("Stop sweep").clicked() {
                actions.push(CompareAction::Stop.into());
            }
        } else {
            let ready = plan.is_ok() && !panel.run_active;
            let start = ui
                .add_enabled(ready, egui::Button::new("Start sweep"))
                .on_disabled_hover_text("Fix the settings above, or stop the run first");
            if start.clicked() {
                actions.push(CompareAction::Start.into());
            }
        }
        if let Some(message) = &panel.state.message {
            ui.label(RichText::new(message).small());
        }
    });
}

/// Every member: its cell, seed, state and kNN; a finished one opens as a run.
fn members(ui: &mut egui::Ui, state: &CompareState, run_active: bool, actions: &mut Vec<Action>) {
    egui::CollapsingHeader::new("Members: open a finished one as a run")
        .default_open(true)
        .show(ui, |ui| {
            egui::ScrollArea::vertical()
                .id_salt("sweep_members_scroll")
                .max_height(150.0)
                .show(ui, |ui| member_grid(ui, state, run_active, actions));
        });
}

fn member_grid(
    ui: &mut egui::Ui,
    state: &CompareState,
    run_active: bool,
    actions: &mut Vec<Action>,
) {
    egui::Grid::new("sweep_members")
        .striped(true)
        .num_columns(4)
        .show(ui, |ui| {
            for (i, row) in state.rows.iter().enumerate() {
                ui.label(&row.folder);
                ui.label(row.state.name());
                ui.label(
                    row.outcome
                        .knn_top1
                        .map_or("-".into(), |k| format!("kNN {:.1}%", 100.0 * k)),
                );
                let dir = state.member_dir(i);
                let can_open = dir.is_some() && !run_active && row.state == State::Finished;
                if ui
                    .add_enabled(can_open, egui::Button::new("Open"))
                    .on_hover_text("Its encoder's projection and neighbours, on the Training tab")
                    .clicked()
                    && let Some(dir) = dir
                {
                    actions.push(RunAction::OpenEncoder(dir).into());
                }
                ui.end_row();
            }
        });
}
