//! Dataset work off the UI thread: the native folder dialog, inspecting a path (counts and
//! a memory estimate before anything is decoded) and loading (with progress and cancel).
//! Each job is a thread and a channel the frame loop polls; the UI never waits on disk.

use std::path::PathBuf;
use std::sync::Arc;

use crossbeam_channel::{Receiver, bounded};

use crate::data::inspect::{Inspection, inspect};
use crate::data::{Dataset, DatasetSpec, LoadProgress};

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
    outcome: Receiver<JobOutcome>,
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
        let (tx, rx) = bounded(1);
        let p = Arc::clone(&progress);
        let on_panic = what.clone();
        let name = match what {
            JobKind::Dialog => "file-dialog",
            JobKind::Inspect(_) => "dataset-inspect",
            JobKind::Load(_) => "dataset-load",
        };
        let spawned = std::thread::Builder::new()
            .name(name.into())
            .spawn(move || {
                // A panicking loader must not take the window down: report it as an error.
                let outcome = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| work(&p)))
                    .unwrap_or_else(|_| {
                        let crashed = "the loader crashed (a bug: please report it)".to_string();
                        match on_panic {
                            JobKind::Dialog => JobOutcome::Picked(None),
                            JobKind::Inspect(s) => JobOutcome::Inspected(s, Err(crashed)),
                            JobKind::Load(s) => JobOutcome::Loaded(s, Err(crashed)),
                        }
                    });
                let _ = tx.send(outcome);
            });
        if spawned.is_err() {
            tracing::error!("cannot start a {name} thread");
        }
        Self {
            what,
            progress,
            outcome: rx,
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

    /// The outcome once the job is done.
    pub fn poll(&self) -> Option<JobOutcome> {
        self.outcome.try_recv().ok()
    }

    pub fn cancel(&self) {
        self.progress.cancel();
    }
}
