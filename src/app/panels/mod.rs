//! One file per panel. Each reads the app and pushes [`super::Action`]s; settings widgets
//! edit the experiment directly (it is plain data the panel owns while idle).

pub mod batch_similarity;
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
