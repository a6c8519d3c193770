//! Opening a lesson in the window and moving through its steps: each step shows its tab
//! and, while no run is going, sets the experiment up for its run.

use crate::app::workbench::{Action, Tab, WorkbenchApp};
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
}
