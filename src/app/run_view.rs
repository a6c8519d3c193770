//! The read-only view of the run that drawing code gets (rerun's borrowing view context):
//! panels read the run from it and change nothing but their own UI state, returning
//! [`super::Action`]s for the rest.

use super::history::{RunHistory, RunStatus};
use super::run_archive::PastRun;
use crate::data::Dataset;

#[derive(Clone, Copy)]
pub struct RunView<'a> {
    pub history: &'a RunHistory,
    pub status: &'a RunStatus,
    /// Earlier runs of this session, for comparison.
    pub past_runs: &'a [PastRun],
    /// The current run's legend label.
    pub run_label: &'a str,
    pub dataset: &'a Dataset,
}
