//! Lessons and classroom files in the window: they change the experiment, the dataset, the
//! tab and the classroom at once, so they live with the frame rather than in one part.
//! Opening a lesson shows its first step; each step shows its tab and, while no run is
//! going, sets the experiment up for its run.

use std::path::{Path, PathBuf};

use crate::app::action::{DatasetAction, Tab};
use crate::app::workbench::WorkbenchApp;
use crate::lessons::classroom_file::{ClassroomFile, hideable};
use crate::lessons::{LessonProgress, find};
use crate::preset::Experiment;

impl WorkbenchApp {
    /// Opens lesson `id` at its first step (its experiment replaces the one being edited).
    pub fn open_lesson(&mut self, id: &str) -> Result<(), String> {
        let lesson = find(id)?;
        if self.run.is_active() {
            return Err("stop the run before opening a lesson".into());
        }
        self.edit_experiment((lesson.start)());
        self.classroom.lesson = Some(LessonProgress {
            lesson: lesson.id,
            step: 0,
        });
        self.enter_lesson_step();
        Ok(())
    }

    /// Moves `by` steps (1: Next, -1: Back) within the open lesson.
    pub fn move_in_lesson(&mut self, by: isize) {
        let Some(progress) = &mut self.classroom.lesson else {
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
        let Some(progress) = self.classroom.lesson else {
            return;
        };
        let step = progress.current();
        if let Some(tab) = Tab::parse(step.tab) {
            self.settings.tab = tab;
        }
        if let Some(setup) = step.setup
            && !self.run.is_active()
        {
            setup(&mut self.settings.experiment);
        }
    }

    /// What a classroom file of this window would hold: the experiment, the lesson step,
    /// what is hidden.
    pub fn classroom_file(&self) -> ClassroomFile {
        ClassroomFile {
            classroom: self.classroom.table(),
            experiment: self.settings.experiment.clone(),
        }
    }

    /// Writes the classroom file as `classroom.toml` in the export folder; the outcome
    /// shows where exports' do.
    pub fn save_classroom(&mut self) {
        let path = PathBuf::from(&self.settings.export_dir).join("classroom.toml");
        let saved = self.classroom_file().save(&path);
        let h = &mut self.run.history;
        h.export_failed = saved.is_err();
        h.export_message = Some(match saved {
            Ok(()) => format!("classroom file saved: {}", path.display()),
            Err(e) => format!("classroom file not saved: {e}"),
        });
    }

    /// Opens a classroom file (or a plain preset): its experiment as it was saved (a
    /// step's set-up is not applied again), its lesson step, its hidden controls.
    pub fn open_classroom(&mut self, path: &Path) -> Result<(), String> {
        if self.run.is_active() {
            return Err("stop the run before opening a classroom file".into());
        }
        let file = ClassroomFile::load(path)?;
        let c = file.classroom;
        let lesson = match &c.lesson {
            Some(id) => Some(LessonProgress {
                lesson: find(id)?.id,
                step: c.step,
            }),
            None => None,
        };
        let hidden = c
            .hidden
            .iter()
            .map(|id| hideable(id))
            .collect::<Result<_, _>>()?;
        self.edit_experiment(file.experiment);
        if let Some(tab) = lesson.and_then(|p| Tab::parse(p.current().tab)) {
            self.settings.tab = tab;
        }
        self.classroom.lesson = lesson;
        self.classroom.hide_settings = c.hide_settings;
        self.classroom.hidden = hidden;
        self.classroom.questions = c.questions;
        let ctx = self.ctx().clone();
        self.classroom.set_presenting(c.presenting, &ctx);
        Ok(())
    }

    /// Makes `experiment` the one being edited, loading its dataset when it differs.
    fn edit_experiment(&mut self, experiment: Experiment) {
        if experiment.dataset != self.settings.experiment.dataset {
            let active = self.run.is_active();
            self.data.apply(
                DatasetAction::Load(experiment.dataset.clone()),
                active,
                &self.settings.experiment.dataset,
            );
        }
        self.settings.experiment = experiment;
    }
}
