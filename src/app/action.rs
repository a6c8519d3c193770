//! What a panel can ask of the window ([`Action`]) and the window's tabs ([`Tab`]).
//!
//! Panels draw and push actions; the frame applies them after drawing (the egui_demo_app
//! pattern). Each owning part of the window applies its own slice: [`RunAction`]s go to
//! the run, [`DatasetAction`]s to the dataset, [`ClassroomAction`]s to the classroom,
//! [`PlotAction`]s to the plot files, [`CompareAction`]s to the Compare tab's sweep. A panel pushes `RunAction::Pause.into()` and never
//! reaches into another part's state. Editing panels draw on a draft of the experiment and
//! hand it back as [`Action::EditExperiment`], so the experiment has one writer.

use std::path::PathBuf;

use eframe::egui;

use super::figure::Figure;
use crate::data::DatasetSpec;
use crate::preset::Experiment;

#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub enum Tab {
    Dataset,
    Views,
    Training,
    /// Sweeps: several runs compared.
    Compare,
    /// The NT-Xent explorer.
    Loss,
}

impl Tab {
    pub const ALL: [Tab; 5] = [
        Tab::Dataset,
        Tab::Views,
        Tab::Training,
        Tab::Compare,
        Tab::Loss,
    ];

    pub fn label(self) -> &'static str {
        match self {
            Tab::Dataset => "Dataset",
            Tab::Views => "Views",
            Tab::Training => "Training",
            Tab::Compare => "Compare",
            Tab::Loss => "Loss explorer",
        }
    }

    pub fn parse(s: &str) -> Option<Tab> {
        Tab::ALL
            .into_iter()
            .find(|t| t.label().eq_ignore_ascii_case(s))
    }
}

/// What a panel asks the window to do.
#[derive(Clone, Debug, PartialEq)]
pub enum Action {
    Run(RunAction),
    Dataset(DatasetAction),
    Classroom(ClassroomAction),
    Plot(PlotAction),
    Compare(CompareAction),
    /// The experiment as an editing panel left it (settings, views). Refused while a run
    /// is active: the run uses the settings it started with.
    EditExperiment(Box<Experiment>),
    ShowTab(Tab),
    /// Show the views of the next seed in the Views tab.
    ResampleViews,
}

/// The training run: start, steer, export, compare.
#[derive(Clone, Debug, PartialEq)]
pub enum RunAction {
    Start,
    Pause,
    Resume,
    /// One training step, then pause.
    Step,
    Stop,
    /// At most this many training steps per second (`None`: full speed).
    SpeedLimit(Option<f32>),
    /// Train a linear probe on the latest evaluation's features.
    Probe,
    Export(PathBuf),
    /// Evaluate and project the loaded dataset with an exported encoder (a run folder).
    OpenEncoder(PathBuf),
    /// Continue the run checkpointed in the export folder.
    ResumeCheckpoint,
    /// Overlay (or not) an earlier run's curves on the dashboard.
    ShowPastRun(usize, bool),
}

/// The dataset: inspect, load, cancel.
#[derive(Clone, Debug, PartialEq)]
pub enum DatasetAction {
    /// Load in the background; the current dataset stays until it succeeds.
    Load(DatasetSpec),
    /// Look at a typed, picked or dropped path: counts and memory before loading.
    Inspect(PathBuf),
    /// Open the native folder dialog (off the UI thread).
    Browse,
    /// Stop the dialog, inspection or load in flight.
    Cancel,
    /// Forget the inspected dataset without loading it.
    DismissInspection,
}

/// Lessons and the classroom view.
#[derive(Clone, Debug, PartialEq)]
pub enum ClassroomAction {
    /// Show or hide the settings panel.
    ToggleSettings,
    /// Hide or show one control (an id of `lessons::classroom_file::HIDEABLE`).
    ToggleControl(&'static str),
    /// Draw everything larger (for a projector), or back to normal.
    TogglePresenting,
    /// Write the window's classroom file (experiment, lesson step, hidden controls) as
    /// `classroom.toml` in the export folder.
    Save,
    /// Open a classroom file or a preset.
    Open(PathBuf),
    /// Open a built-in lesson by id.
    OpenLesson(&'static str),
    /// Move within the open lesson (1: Next, -1: Back).
    LessonStep(isize),
    CloseLesson,
    /// The student's answer (a choice's index) to the open step's question.
    Answer(usize),
}

/// The Compare tab's sweep.
#[derive(Clone, Debug, PartialEq)]
pub enum CompareAction {
    /// Run the sweep set up in the tab on the experiment being edited (or continue it).
    Start,
    /// Stop its running members; each writes its checkpoint.
    Stop,
}

/// A dashboard plot written into the export folder's `plots/`.
#[derive(Clone, Debug, PartialEq)]
pub enum PlotAction {
    /// The plot's data as CSV.
    SaveData(Figure),
    /// The plot at `rect` (points) as `<name>.png`.
    SaveImage { name: String, rect: egui::Rect },
}

impl From<RunAction> for Action {
    fn from(a: RunAction) -> Self {
        Action::Run(a)
    }
}

impl From<DatasetAction> for Action {
    fn from(a: DatasetAction) -> Self {
        Action::Dataset(a)
    }
}

impl From<ClassroomAction> for Action {
    fn from(a: ClassroomAction) -> Self {
        Action::Classroom(a)
    }
}

impl From<CompareAction> for Action {
    fn from(a: CompareAction) -> Self {
        Action::Compare(a)
    }
}

impl From<PlotAction> for Action {
    fn from(a: PlotAction) -> Self {
        Action::Plot(a)
    }
}
