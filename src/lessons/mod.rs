//! Guided lessons for teaching: each is an experiment to start from and a short sequence
//! of steps (what to do, what to look at, what it shows). A step may set the experiment up
//! for the next run (turn colour jitter back on, change the temperature), so a class
//! compares runs without typing a setting. Burn-free data: the window shows it, and
//! `--lesson NAME` opens it.
//!
//! A `Lesson` is an experiment to start from and its `LessonStep`s (title, text, the tab it
//! is about, an optional set-up of the step's run). Like `catalogue`, this module names
//! neither burn nor `methods` (`tests/architecture.rs` checks).
//! - `content`: the seven built-in lessons' texts and set-ups;
//! - `classroom_file`: a preset plus a `[classroom]` table (lesson step, hidden controls;
//!   `HIDEABLE` lists the controls that hide one by one), saved atomically, parse errors
//!   naming the file.

pub mod classroom_file;
mod content;

use crate::preset::Experiment;

pub use content::LESSONS;

/// One step of a lesson.
pub struct LessonStep {
    pub title: &'static str,
    /// What to do, what to look at, and what it shows.
    pub text: &'static str,
    /// The tab the step is about ("dataset", "views" or "training").
    pub tab: &'static str,
    /// Changes the experiment for this step's run, applied when the step opens while no
    /// run is going.
    pub setup: Option<fn(&mut Experiment)>,
    /// Asked before the step's run: predict, then run.
    pub question: Option<&'static Question>,
}

/// A question a step asks before its run ("predict, then run"): the student picks one of
/// `choices`, runs, and the step then shows the answer beside what the run measured.
#[derive(Debug, PartialEq, Eq)]
pub struct Question {
    pub prompt: &'static str,
    pub choices: &'static [&'static str],
    /// The index of the right choice.
    pub answer: usize,
    /// Why, shown with the answer after the run.
    pub why: &'static str,
    /// The figure of the run that settles it, shown with the answer.
    pub measured: Measured,
}

/// A figure of a finished run a question's answer points to.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Measured {
    /// The last evaluation's class kNN top-1.
    KnnTop1,
    /// The last evaluation's kNN top-1 of predicting a nuisance attribute (by name).
    AttributeKnn(&'static str),
    /// The last logged step's uniformity (log mean exp(-2 d^2): lower is more uniform).
    Uniformity,
    /// The last logged step's std of the normalised embeddings (collapse: near 0).
    EmbeddingStd,
}

pub struct Lesson {
    /// What `--lesson` takes.
    pub id: &'static str,
    pub title: &'static str,
    /// The experiment the lesson starts from (the window's default, changed).
    pub start: fn() -> Experiment,
    pub steps: &'static [LessonStep],
}

/// Every built-in lesson, in teaching order.
pub fn lessons() -> &'static [Lesson] {
    LESSONS
}

/// The lesson `id`, or an error listing the ones there are.
pub fn find(id: &str) -> Result<&'static Lesson, String> {
    LESSONS.iter().find(|l| l.id == id).ok_or_else(|| {
        let ids: Vec<&str> = LESSONS.iter().map(|l| l.id).collect();
        format!(
            "no lesson named {id:?}; the lessons are: {}",
            ids.join(", ")
        )
    })
}

/// Where a class is in a lesson.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct LessonProgress {
    pub lesson: &'static str,
    pub step: usize,
}

impl LessonProgress {
    pub fn lesson(&self) -> &'static Lesson {
        find(self.lesson).expect("progress is made from a listed lesson")
    }

    pub fn current(&self) -> &'static LessonStep {
        &self.lesson().steps[self.step]
    }

    pub fn is_last(&self) -> bool {
        self.step + 1 >= self.lesson().steps.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_lesson_starts_from_a_valid_experiment_and_every_step_keeps_it_valid() {
        assert_eq!(lessons().len(), 7);
        for lesson in lessons() {
            let mut exp = (lesson.start)();
            exp.validate()
                .unwrap_or_else(|e| panic!("lesson {}: {e}", lesson.id));
            assert!(!lesson.steps.is_empty(), "{}", lesson.id);
            for step in lesson.steps {
                assert!(
                    ["dataset", "views", "training"].contains(&step.tab),
                    "{}: {}",
                    lesson.id,
                    step.tab
                );
                if let Some(setup) = step.setup {
                    setup(&mut exp);
                    exp.validate()
                        .unwrap_or_else(|e| panic!("lesson {} at {}: {e}", lesson.id, step.title));
                }
            }
        }
    }

    #[test]
    fn an_unknown_lesson_is_refused_with_the_list() {
        let e = find("nope").err().unwrap();
        assert!(e.contains("what-is-a-positive-pair"), "{e}");
    }
}
