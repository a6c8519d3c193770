//! The open lesson: which lesson and step, what to do and look at, the step's question
//! before its run and its answer after, Back / Next / Close.

use eframe::egui::{self, Color32, RichText};

use crate::app::action::{Action, ClassroomAction};
use crate::app::classroom_state::QuestionState;
use crate::app::history::{RunHistory, RunStatus};
use crate::lessons::{LessonProgress, Measured, Question};

const LESSON_COLOUR: Color32 = Color32::from_rgb(140, 190, 240);
const RIGHT: Color32 = Color32::from_rgb(120, 200, 120);
const WRONG: Color32 = Color32::from_rgb(230, 140, 90);

/// What the lesson box shows.
pub struct LessonBox<'a> {
    pub progress: &'a LessonProgress,
    pub status: &'a RunStatus,
    pub question: QuestionState,
    /// Right answers among the revealed ones: (right, revealed).
    pub tally: (usize, usize),
    /// The run that settles an answer: its last figures.
    pub history: &'a RunHistory,
}

pub fn show(ui: &mut egui::Ui, lesson_box: &LessonBox, actions: &mut Vec<Action>) {
    let progress = lesson_box.progress;
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
            let (right, asked) = lesson_box.tally;
            if asked > 0 {
                ui.label(format!("predictions: {right} of {asked} right"));
            }
        });
        ui.label(step.text);
        if step.setup.is_some() && lesson_box.status.is_active() {
            ui.label(
                RichText::new("Stop the run, then open this step again to set it up.").small(),
            );
        }
        question(ui, lesson_box, actions);
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

/// Predict, then run: the question with a button per choice; once answered, the choice
/// while the run goes; after the run, the answer, why, and what the run measured.
fn question(ui: &mut egui::Ui, lesson_box: &LessonBox, actions: &mut Vec<Action>) {
    match lesson_box.question {
        QuestionState::None => {}
        QuestionState::Open(q) => {
            ui.label(RichText::new(format!("Predict first: {}", q.prompt)).strong());
            ui.horizontal_wrapped(|ui| {
                for (i, choice) in q.choices.iter().enumerate() {
                    if ui.button(*choice).clicked() {
                        actions.push(ClassroomAction::Answer(i).into());
                    }
                }
            });
        }
        QuestionState::Answered(q, choice) => {
            ui.label(format!(
                "Your prediction: {}. Press Start (or let the run finish) to see what happens.",
                q.choices[choice]
            ));
        }
        QuestionState::Revealed(q, choice) => {
            let right = choice == q.answer;
            let verdict = if right {
                format!("Your prediction, {}, was right.", q.choices[choice])
            } else {
                format!(
                    "You predicted {}; the answer: {}.",
                    q.choices[choice], q.choices[q.answer]
                )
            };
            ui.label(
                RichText::new(verdict)
                    .strong()
                    .color(if right { RIGHT } else { WRONG }),
            );
            ui.label(q.why);
            if let Some(m) = measured(q, lesson_box.history) {
                ui.label(format!("This run measured: {m}."));
            }
        }
    }
}

/// What the finished run measured that settles `q`, in words.
fn measured(q: &Question, history: &RunHistory) -> Option<String> {
    let eval = history.log.evals.last();
    let step = history.log.steps.last();
    Some(match q.measured {
        Measured::KnnTop1 => {
            let e = eval?;
            format!(
                "class kNN {:.1}% at step {} (random network {:.1}%)",
                100.0 * e.knn_top1,
                e.step,
                100.0 * e.baseline_top1
            )
        }
        Measured::AttributeKnn(name) => {
            let e = eval?;
            let a = e.attributes.iter().find(|a| a.name == name)?;
            format!(
                "{name} kNN {:.1}% at step {} (chance {:.1}%, random network {:.1}%)",
                100.0 * a.top1,
                e.step,
                100.0 * a.chance,
                100.0 * a.baseline_top1
            )
        }
        Measured::Uniformity => {
            let s = step?;
            format!("uniformity {:.2} at step {}", s.uniform, s.step)
        }
        Measured::EmbeddingStd => {
            let s = step?;
            format!(
                "embedding std {:.3} at step {} (healthy: {:.3})",
                s.z_std, s.step, s.z_std_healthy
            )
        }
    })
}
