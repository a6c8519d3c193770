//! The window's dataset: the loaded set, the job in flight (dialog, inspection, load), an
//! inspection waiting for Load, the path field and the browsing position. It applies the
//! [`DatasetAction`]s; a dataset that fails to load never replaces the loaded one.

use std::path::PathBuf;
use std::sync::Arc;

use super::action::DatasetAction;
use super::dataset_jobs::{DatasetJob, JobKind, JobOutcome};
use crate::data::detect::spec_for_path;
use crate::data::inspect::Inspection;
use crate::data::{Dataset, DatasetSpec};

/// Which images the dataset grid shows.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct BrowseState {
    pub held_out: bool,
    pub page: usize,
    /// Only this class, when set.
    pub class: Option<u16>,
}

pub struct DatasetState {
    pub dataset: Arc<Dataset>,
    /// The last dataset problem, shown until the next successful load.
    pub error: Option<String>,
    /// The dialog, inspection or load in flight (one at a time).
    pub job: Option<DatasetJob>,
    /// An inspected dataset waiting for the user's "Load".
    pub inspection: Option<(DatasetSpec, Inspection)>,
    /// The dataset tab's path field.
    pub path: String,
    /// The dataset tab's browsing position.
    pub browse: BrowseState,
}

/// What the dataset part tells the window after a poll.
pub enum DatasetChange {
    /// `spec` was loaded: the experiment trains on it from now on.
    Loaded(DatasetSpec),
}

impl DatasetState {
    /// Opens on `wanted`: built-in data loads at once; a file dataset loads in the
    /// background while the procedural set (which needs no files) is shown. Returns the
    /// state and the spec the experiment should hold until the load finishes.
    pub fn open(wanted: &DatasetSpec) -> (Self, DatasetSpec) {
        let path = wanted
            .path()
            .map(|p| p.display().to_string())
            .unwrap_or_default();
        let mut state = Self {
            dataset: Arc::new(shapes_fallback()),
            error: None,
            job: None,
            inspection: None,
            path,
            browse: BrowseState::default(),
        };
        if wanted.path().is_some() {
            state.job = Some(DatasetJob::load(wanted.clone()));
            return (state, DatasetSpec::default());
        }
        match wanted.load() {
            Ok(d) => {
                state.dataset = Arc::new(d);
                (state, wanted.clone())
            }
            Err(e) => {
                state.error = Some(format!("{e}; showing the built-in shapes instead"));
                (state, DatasetSpec::default())
            }
        }
    }

    /// Applies one dataset action. `run_active`: a run is using the dataset, so it is not
    /// replaced; `current`: the experiment's dataset (the dialog starts there).
    pub fn apply(&mut self, action: DatasetAction, run_active: bool, current: &DatasetSpec) {
        match action {
            DatasetAction::Load(spec) => self.load(spec, run_active),
            DatasetAction::Inspect(path) => self.inspect_path(path),
            DatasetAction::Browse => {
                let start = current.path().map(|p| p.to_path_buf());
                self.replace_job(DatasetJob::pick_folder(start));
            }
            DatasetAction::Cancel => {
                if let Some(job) = self.job.take() {
                    job.cancel();
                }
            }
            DatasetAction::DismissInspection => self.inspection = None,
        }
    }

    fn load(&mut self, spec: DatasetSpec, run_active: bool) {
        if run_active {
            self.error = Some("stop the run before changing the dataset".into());
            return;
        }
        self.inspection = None;
        self.replace_job(DatasetJob::load(spec));
    }

    fn inspect_path(&mut self, path: PathBuf) {
        self.path = path.display().to_string();
        match spec_for_path(&path, self.dataset.image_size()) {
            Ok(spec) => self.replace_job(DatasetJob::inspect(spec)),
            Err(e) => self.error = Some(e.to_string()),
        }
    }

    /// Starts `job`, cancelling any job in flight (its result is dropped).
    fn replace_job(&mut self, job: DatasetJob) {
        if let Some(old) = self.job.replace(job) {
            old.cancel();
        }
    }

    /// Takes a finished job's outcome in. A loaded dataset is returned so the window can
    /// point the experiment at it and forget the old images' textures.
    pub fn poll(&mut self) -> Option<DatasetChange> {
        let outcome = self.job.as_ref().and_then(DatasetJob::poll)?;
        self.job = None;
        match outcome {
            JobOutcome::Picked(Some(path)) => self.inspect_path(path),
            JobOutcome::Picked(None) => {}
            JobOutcome::Inspected(spec, Ok(found)) => {
                self.error = None;
                self.inspection = Some((spec, found));
            }
            JobOutcome::Loaded(spec, Ok(d)) => {
                self.path = spec
                    .path()
                    .map(|p| p.display().to_string())
                    .unwrap_or_default();
                self.dataset = Arc::from(d);
                self.error = None;
                self.browse = BrowseState::default();
                return Some(DatasetChange::Loaded(spec));
            }
            // The loaded dataset stays; the error is shown.
            JobOutcome::Inspected(_, Err(e)) | JobOutcome::Loaded(_, Err(e)) => {
                self.error = Some(e);
            }
        }
        None
    }

    /// Whether a dataset is being loaded (the Start button waits for it).
    pub fn is_loading(&self) -> bool {
        matches!(self.job.as_ref().map(|j| &j.what), Some(JobKind::Load(_)))
    }
}

fn shapes_fallback() -> Dataset {
    DatasetSpec::default()
        .load()
        .expect("the procedural dataset needs no files")
}
