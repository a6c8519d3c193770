//! Dataset work off the UI thread: the native folder dialog, inspecting a path (counts and
//! a memory estimate before anything is decoded) and loading (with progress and cancel).
//! Each job is a [`Worker`] the frame loop polls; the UI never waits on disk.

use std::path::PathBuf;
use std::sync::Arc;

use crate::data::inspect::{Inspection, inspect};
use crate::data::{Dataset, DatasetSpec, LoadProgress};
use crate::worker::{Report, Worker, no_wake};

/// What a finished job hands back.
pub enum JobOutcome {
    /// The dialog closed; `None` when the user cancelled it.
    Picked(Option<PathBuf>),
    Inspected(DatasetSpec, Result<Inspection, String>),
    /// Boxed: a dataset is large next to the other outcomes.
    Loaded(DatasetSpec, Result<Box<Dataset>, String>),
}

/// A job in flight.
pub struct DatasetJob {
    pub what: JobKind,
    pub progress: Arc<LoadProgress>,
    worker: Worker<JobOutcome>,
}

#[derive(Clone, Debug, PartialEq)]
pub enum JobKind {
    Dialog,
    Inspect(DatasetSpec),
    Load(DatasetSpec),
}

impl DatasetJob {
    fn spawn(
        what: JobKind,
        work: impl FnOnce(&LoadProgress) -> JobOutcome + Send + 'static,
    ) -> Self {
        let progress = Arc::new(LoadProgress::default());
        let p = Arc::clone(&progress);
        let name = match what {
            JobKind::Dialog => "file-dialog",
            JobKind::Inspect(_) => "dataset-inspect",
            JobKind::Load(_) => "dataset-load",
        };
        // The frame loop repaints while a job is in flight, so no wake is needed.
        let worker = Worker::spawn(name, 1, no_wake(), move |out| {
            out.send(work(&p));
        });
        Self {
            what,
            progress,
            worker,
        }
    }

    /// Opens the native folder dialog (rfd) on its own thread.
    pub fn pick_folder(start_in: Option<PathBuf>) -> Self {
        Self::spawn(JobKind::Dialog, move |_| {
            let mut dialog = rfd::FileDialog::new().set_title("Open a dataset folder");
            if let Some(dir) = start_in.filter(|d| d.is_dir()) {
                dialog = dialog.set_directory(dir);
            }
            JobOutcome::Picked(dialog.pick_folder())
        })
    }

    pub fn inspect(spec: DatasetSpec) -> Self {
        let s = spec.clone();
        Self::spawn(JobKind::Inspect(spec), move |_| {
            let result = inspect(&s).map_err(|e| e.to_string());
            JobOutcome::Inspected(s, result)
        })
    }

    pub fn load(spec: DatasetSpec) -> Self {
        let s = spec.clone();
        Self::spawn(JobKind::Load(spec), move |progress| {
            let result = s
                .load_with(progress)
                .map(Box::new)
                .map_err(|e| e.to_string());
            JobOutcome::Loaded(s, result)
        })
    }

    /// The outcome once the job is done. A loader that crashed (or whose thread could not
    /// start) is an error of its job, never a job that never finishes.
    pub fn poll(&self) -> Option<JobOutcome> {
        match self.worker.poll()? {
            Report::Item(outcome) => Some(outcome),
            Report::Failed(why) => Some(match &self.what {
                JobKind::Dialog => JobOutcome::Picked(None),
                JobKind::Inspect(s) => JobOutcome::Inspected(s.clone(), Err(why)),
                JobKind::Load(s) => JobOutcome::Loaded(s.clone(), Err(why)),
            }),
        }
    }

    pub fn cancel(&self) {
        self.progress.cancel();
    }
}
