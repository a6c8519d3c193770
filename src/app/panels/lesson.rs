//! The open lesson: which lesson and step, what to do and look at, Back / Next / Close.

use eframe::egui::{self, Color32, RichText};

use crate::app::action::{Action, ClassroomAction};
use crate::app::history::RunStatus;
use crate::lessons::LessonProgress;

const LESSON_COLOUR: Color32 = Color32::from_rgb(140, 190, 240);

pub fn show(
    ui: &mut egui::Ui,
    progress: &LessonProgress,
    status: &RunStatus,
    actions: &mut Vec<Action>,
) {
    let lesson = progress.lesson();
    let step = progress.current();
    egui::Frame::group(ui.style()).show(ui, |ui| {
        ui.horizontal_wrapped(|ui| {
            ui.label(
                RichText::new(format!(
                    "Lesson: {} - step {} of {}: {}",
                    lesson.title,
                    progress.step + 1,
                    lesson.steps.len(),
                    step.title
                ))
                .strong()
                .color(LESSON_COLOUR),
            );
        });
        ui.label(step.text);
        if step.setup.is_some() && status.is_active() {
            ui.label(
                RichText::new("Stop the run, then open this step again to set it up.").small(),
            );
        }
        ui.horizontal(|ui| {
            if ui
                .add_enabled(progress.step > 0, egui::Button::new("Back"))
                .clicked()
            {
                actions.push(ClassroomAction::LessonStep(-1).into());
            }
            if ui
                .add_enabled(!progress.is_last(), egui::Button::new("Next"))
                .clicked()
            {
                actions.push(ClassroomAction::LessonStep(1).into());
            }
            if ui.button("Close lesson").clicked() {
                actions.push(ClassroomAction::CloseLesson.into());
            }
        });
    });
    ui.add_space(4.0);
}
