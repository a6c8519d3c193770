//! What the UI knows about a run: folded from the trainer's events, plain data only.

use crate::engine::export::MetricsLog;
use crate::engine::{BackendInfo, EvalReport, Event, ProjectionFrame, SimilarityMatrix};

#[derive(Clone, Debug, PartialEq, Default)]
pub enum RunStatus {
    #[default]
    Idle,
    Running,
    Paused,
    Finished {
        stopped: bool,
    },
    Failed(String),
}

impl RunStatus {
    pub fn is_active(&self) -> bool {
        matches!(self, RunStatus::Running | RunStatus::Paused)
    }

    pub fn label(&self) -> String {
        match self {
            RunStatus::Idle => "idle".into(),
            RunStatus::Running => "running".into(),
            RunStatus::Paused => "paused".into(),
            RunStatus::Finished { stopped: true } => "stopped".into(),
            RunStatus::Finished { stopped: false } => "finished".into(),
            RunStatus::Failed(_) => "failed".into(),
        }
    }
}

/// How much memory the kept projection frames may hold (about 80 evaluations of 800
/// points in 256 dimensions) before every other one is dropped.
pub const FRAMES_BUDGET_BYTES: usize = 64 << 20;

/// The curves and latest frames of the current run.
#[derive(Clone, Debug, Default)]
pub struct RunHistory {
    pub backend: Option<BackendInfo>,
    pub total_steps: u64,
    /// Steps, evaluations and probes: the same log a run folder's metrics are written from.
    pub log: MetricsLog,
    /// Every evaluation's frame, oldest first (the latest too), for scrubbing back through
    /// the run; thinned to every other one past [`FRAMES_BUDGET_BYTES`], step 0 kept.
    pub frames: Vec<ProjectionFrame>,
    /// The latest logged step's batch similarity matrix.
    pub similarity: Option<SimilarityMatrix>,
    /// A probe that could not run, for the status line.
    pub probe_error: Option<String>,
    /// The last checkpoint's outcome, for the status line.
    pub checkpoint_message: Option<String>,
    /// The last export's outcome, for the status line.
    pub export_message: Option<String>,
    /// Whether the last checkpoint / export failed: shown in red until one succeeds.
    pub checkpoint_failed: bool,
    pub export_failed: bool,
    /// Settings that will not do what they seem to (from the run's start).
    pub warnings: Vec<String>,
}

impl RunHistory {
    /// Folds one event in; returns the new status when the event changes it.
    pub fn apply(&mut self, ev: Event) -> Option<RunStatus> {
        self.log.record(&ev);
        match ev {
            Event::Started {
                backend,
                total_steps,
            } => {
                self.backend = Some(backend);
                self.total_steps = total_steps;
                Some(RunStatus::Running)
            }
            Event::Step(_) | Event::Eval(_) | Event::Probe(_) | Event::FullEval(_) => None,
            Event::Similarity(s) => {
                self.similarity = Some(s);
                None
            }
            Event::ProbeFailed { step, message } => {
                self.probe_error = Some(format!("linear probe at step {step}: {message}"));
                None
            }
            Event::Projection(p) => {
                self.keep_frame(p);
                None
            }
            Event::Paused { .. } => Some(RunStatus::Paused),
            Event::Resumed { .. } => Some(RunStatus::Running),
            Event::Exported { dir, files } => {
                self.export_failed = false;
                self.export_message = Some(format!(
                    "exported {} files to {}",
                    files.len(),
                    dir.display()
                ));
                None
            }
            Event::Checkpointed { step, path } => {
                self.checkpoint_failed = false;
                self.checkpoint_message =
                    Some(format!("checkpoint at step {step}: {}", path.display()));
                None
            }
            Event::CheckpointFailed { message } => {
                self.checkpoint_failed = true;
                self.checkpoint_message = Some(format!("checkpoint failed: {message}"));
                None
            }
            Event::ExportFailed { message } => {
                self.export_failed = true;
                self.export_message = Some(format!("export failed: {message}"));
                None
            }
            Event::Warning { message } => {
                self.warnings.push(message);
                None
            }
            Event::Finished { stopped, .. } => Some(RunStatus::Finished { stopped }),
            Event::Failed { message, .. } => Some(RunStatus::Failed(message)),
        }
    }

    /// Keeps `frame` for scrubbing, thinning the older ones when they outgrow the budget.
    fn keep_frame(&mut self, frame: ProjectionFrame) {
        // A frame of another sample (a resumed run's new dataset) starts the film again.
        if self
            .frames
            .last()
            .is_some_and(|f| f.indices != frame.indices)
        {
            self.frames.clear();
        }
        self.frames.push(frame);
        let bytes = |f: &ProjectionFrame| 4 * (f.embeddings.len() + 2 * f.points.len());
        while self.frames.len() > 2
            && self.frames.iter().map(bytes).sum::<usize>() > FRAMES_BUDGET_BYTES
        {
            // Every other frame between the first and the latest goes.
            let last = self.frames.len() - 1;
            let mut index = 0;
            self.frames.retain(|_| {
                let keep = index == last || index % 2 == 0;
                index += 1;
                keep
            });
        }
    }

    /// The newest evaluation's frame.
    pub fn projection(&self) -> Option<&ProjectionFrame> {
        self.frames.last()
    }

    pub fn last_step(&self) -> u64 {
        self.log.steps.last().map_or(0, |m| m.step)
    }

    pub fn latest_knn(&self) -> Option<&EvalReport> {
        self.log.evals.last()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn frame(step: u64, floats: usize) -> Event {
        Event::Projection(ProjectionFrame {
            step,
            indices: vec![1, 2, 3],
            embeddings: vec![0.0; floats],
            ..ProjectionFrame::default()
        })
    }

    #[test]
    fn every_frame_is_kept_until_the_budget_then_every_other_with_step_zero_and_the_latest() {
        let mut h = RunHistory::default();
        for step in 0..5 {
            h.apply(frame(step, 10));
        }
        let steps = |h: &RunHistory| h.frames.iter().map(|f| f.step).collect::<Vec<_>>();
        assert_eq!(steps(&h), [0, 1, 2, 3, 4]);
        // Frames of a tenth of the budget each: the eleventh thins them.
        let mut h = RunHistory::default();
        for step in 0..11 {
            h.apply(frame(step, FRAMES_BUDGET_BYTES / 40));
        }
        let kept = steps(&h);
        assert_eq!(kept.first(), Some(&0));
        assert_eq!(kept.last(), Some(&10));
        assert!(kept.len() < 11 && kept.len() >= 5, "{kept:?}");
        assert_eq!(h.projection().map(|f| f.step), Some(10));
    }

    #[test]
    fn a_frame_of_other_images_starts_the_film_again() {
        let mut h = RunHistory::default();
        h.apply(frame(0, 4));
        h.apply(frame(10, 4));
        h.apply(Event::Projection(ProjectionFrame {
            step: 20,
            indices: vec![7],
            ..ProjectionFrame::default()
        }));
        assert_eq!(h.frames.len(), 1);
    }
}
