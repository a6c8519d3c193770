//! The classroom: the lesson being followed, the settings panel hidden, controls hidden one
//! by one, presentation mode. The toggles are its own; opening lessons and classroom files
//! changes the experiment and the tab too, so that lives with the window
//! (`lesson_state`).

use eframe::egui;

use crate::lessons::classroom_file::{Classroom, Questions};
use crate::lessons::{LessonProgress, Question};

/// How much larger presentation mode draws the window.
pub const PRESENTING_ZOOM: f32 = 1.4;

#[derive(Default)]
pub struct ClassroomState {
    /// The lesson being followed, and where.
    pub lesson: Option<LessonProgress>,
    /// Classroom view: the settings panel hidden, so the class sees the pictures.
    pub hide_settings: bool,
    /// Controls hidden one by one (ids of `lessons::classroom_file::HIDEABLE`).
    pub hidden: Vec<&'static str>,
    /// Presentation mode: everything drawn larger, for a projector.
    pub presenting: bool,
    /// Whether the lessons' questions are asked, and whether Start waits for an answer.
    pub questions: Questions,
    /// The questions answered this session, in order.
    pub answers: Vec<Answer>,
}

/// A student's answer to a lesson step's question.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Answer {
    pub lesson: &'static str,
    pub step: usize,
    pub choice: usize,
    /// Runs started before the answer: the first run after it is the one that settles it.
    pub runs_before: usize,
}

/// Where the open step's question stands.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum QuestionState {
    /// No question here, or questions are off.
    None,
    /// Asked and not answered yet.
    Open(&'static Question),
    /// Answered; the run that settles it has not finished yet.
    Answered(&'static Question, usize),
    /// Answered and run: the answer is shown.
    Revealed(&'static Question, usize),
}

impl ClassroomState {
    pub fn toggle_control(&mut self, id: &'static str) {
        match self.hidden.iter().position(|h| *h == id) {
            Some(i) => {
                self.hidden.remove(i);
            }
            None => self.hidden.push(id),
        }
    }

    pub fn set_presenting(&mut self, presenting: bool, ctx: &egui::Context) {
        self.presenting = presenting;
        ctx.set_zoom_factor(if presenting { PRESENTING_ZOOM } else { 1.0 });
    }

    /// Whether the control `id` is shown to the class.
    pub fn shows(&self, id: &str) -> bool {
        !self.hidden.contains(&id)
    }

    /// The open step's question and where it stands, given the runs started so far and
    /// whether one is going.
    pub fn question(&self, runs_started: usize, run_active: bool) -> QuestionState {
        let Some(progress) = self.lesson else {
            return QuestionState::None;
        };
        let Some(question) = progress.current().question else {
            return QuestionState::None;
        };
        if self.questions == Questions::Off {
            return QuestionState::None;
        }
        match self.answer(progress) {
            None => QuestionState::Open(question),
            Some(a) if runs_started > a.runs_before && !run_active => {
                QuestionState::Revealed(question, a.choice)
            }
            Some(a) => QuestionState::Answered(question, a.choice),
        }
    }

    /// Start waits for the open step's answer (questions required, none given yet).
    pub fn start_waits_for_answer(&self, runs_started: usize) -> bool {
        self.questions == Questions::Require
            && matches!(self.question(runs_started, false), QuestionState::Open(_))
    }

    /// Records `choice` for the open step (the first answer stays).
    pub fn answer_open_question(&mut self, choice: usize, runs_started: usize) {
        let Some(progress) = self.lesson else {
            return;
        };
        if progress.current().question.is_some() && self.answer(progress).is_none() {
            self.answers.push(Answer {
                lesson: progress.lesson,
                step: progress.step,
                choice,
                runs_before: runs_started,
            });
        }
    }

    /// Right answers among the revealed ones: (right, revealed).
    pub fn tally(&self, runs_started: usize, run_active: bool) -> (usize, usize) {
        // The newest run settles nothing while it is going.
        let settled = runs_started.saturating_sub(usize::from(run_active));
        let revealed = self.answers.iter().filter(|a| settled > a.runs_before);
        revealed.fold((0, 0), |(right, all), a| {
            let q = crate::lessons::find(a.lesson)
                .ok()
                .and_then(|l| l.steps.get(a.step))
                .and_then(|s| s.question);
            let ok = q.is_some_and(|q| q.answer == a.choice);
            (right + usize::from(ok), all + 1)
        })
    }

    fn answer(&self, progress: LessonProgress) -> Option<&Answer> {
        self.answers
            .iter()
            .find(|a| a.lesson == progress.lesson && a.step == progress.step)
    }

    /// The `[classroom]` table of a classroom file of this window.
    pub fn table(&self) -> Classroom {
        Classroom {
            lesson: self.lesson.map(|p| p.lesson.to_string()),
            step: self.lesson.map_or(0, |p| p.step),
            hide_settings: self.hide_settings,
            presenting: self.presenting,
            hidden: self.hidden.iter().map(|h| h.to_string()).collect(),
            questions: self.questions,
        }
    }
}
