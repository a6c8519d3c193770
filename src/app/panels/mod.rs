//! One file per panel. Each gets a struct of exactly what it borrows (or a `RunView`) and
//! pushes [`super::Action`]s; the settings and Views panels edit a draft of the experiment
//! that the frame hands back as `Action::EditExperiment`.

pub mod batch_similarity;
pub mod compare;
pub mod dashboard;
pub mod dataset;
pub mod drop_target;
pub mod heatmap;
pub mod lesson;
pub mod loss_explorer;
pub mod method_diagram;
pub mod pipeline_editor;
pub mod probe;
pub mod projection;
pub mod settings;
pub mod top_bar;
pub mod training;
pub mod views;
