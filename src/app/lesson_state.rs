//! Opening a lesson in the window and moving through its steps: each step shows its tab
//! and, while no run is going, sets the experiment up for its run.

use std::path::Path;

use crate::app::workbench::{Action, PRESENTING_ZOOM, Tab, WorkbenchApp};
use crate::lessons::classroom_file::{Classroom, ClassroomFile, hideable};
use crate::lessons::{LessonProgress, find};

impl WorkbenchApp {
    /// Opens lesson `id` at its first step (its experiment replaces the one being edited).
    pub fn open_lesson(&mut self, id: &str) -> Result<(), String> {
        let lesson = find(id)?;
        if self.status.is_active() {
            return Err("stop the run before opening a lesson".into());
        }
        let experiment = (lesson.start)();
        if experiment.dataset != self.experiment.dataset {
            self.apply(Action::LoadDataset(experiment.dataset.clone()));
        }
        self.experiment = experiment;
        self.lesson = Some(LessonProgress {
            lesson: lesson.id,
            step: 0,
        });
        self.enter_lesson_step();
        Ok(())
    }

    /// Moves `by` steps (1: Next, -1: Back) within the open lesson.
    pub fn move_in_lesson(&mut self, by: isize) {
        let Some(progress) = &mut self.lesson else {
            return;
        };
        let last = progress.lesson().steps.len() - 1;
        let step = progress.step.saturating_add_signed(by).min(last);
        if step != progress.step {
            progress.step = step;
            self.enter_lesson_step();
        }
    }

    /// Shows the current step's tab and applies its set-up (not under a running run: the
    /// settings are locked then, and the step says to press Start next anyway).
    fn enter_lesson_step(&mut self) {
        let Some(progress) = self.lesson else {
            return;
        };
        let step = progress.current();
        if let Some(tab) = Tab::parse(step.tab) {
            self.tab = tab;
        }
        if let Some(setup) = step.setup
            && !self.status.is_active()
        {
            setup(&mut self.experiment);
        }
    }

    /// What a classroom file of this window would hold: the experiment, the lesson step,
    /// what is hidden.
    pub fn classroom_file(&self) -> ClassroomFile {
        ClassroomFile {
            classroom: Classroom {
                lesson: self.lesson.map(|p| p.lesson.to_string()),
                step: self.lesson.map_or(0, |p| p.step),
                hide_settings: self.hide_settings,
                presenting: self.presenting,
                hidden: self.hidden.iter().map(|h| h.to_string()).collect(),
            },
            experiment: self.experiment.clone(),
        }
    }

    /// Opens a classroom file (or a plain preset): its experiment as it was saved (a
    /// step's set-up is not applied again), its lesson step, its hidden controls.
    pub fn open_classroom(&mut self, path: &Path) -> Result<(), String> {
        if self.status.is_active() {
            return Err("stop the run before opening a classroom file".into());
        }
        let file = ClassroomFile::load(path)?;
        if file.experiment.dataset != self.experiment.dataset {
            self.apply(Action::LoadDataset(file.experiment.dataset.clone()));
        }
        self.experiment = file.experiment;
        let c = file.classroom;
        self.lesson = match &c.lesson {
            Some(id) => Some(LessonProgress {
                lesson: find(id)?.id,
                step: c.step,
            }),
            None => None,
        };
        if let Some(tab) = self.lesson.and_then(|p| Tab::parse(p.current().tab)) {
            self.tab = tab;
        }
        self.hide_settings = c.hide_settings;
        self.hidden = c
            .hidden
            .iter()
            .map(|id| hideable(id))
            .collect::<Result<_, _>>()?;
        self.presenting = c.presenting;
        self.ctx()
            .set_zoom_factor(if c.presenting { PRESENTING_ZOOM } else { 1.0 });
        Ok(())
    }
}
