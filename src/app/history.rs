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

/// The curves and latest frames of the current run.
#[derive(Clone, Debug, Default)]
pub struct RunHistory {
    pub backend: Option<BackendInfo>,
    pub total_steps: u64,
    /// Steps, evaluations and probes: the same log a run folder's metrics are written from.
    pub log: MetricsLog,
    pub projection: Option<ProjectionFrame>,
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
                self.projection = Some(p);
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

    pub fn last_step(&self) -> u64 {
        self.log.steps.last().map_or(0, |m| m.step)
    }

    pub fn latest_knn(&self) -> Option<&EvalReport> {
        self.log.evals.last()
    }
}
