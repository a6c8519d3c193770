//! One file per panel. Each reads the app and pushes [`super::Action`]s; settings widgets
//! edit the experiment directly (it is plain data the panel owns while idle).

pub mod dashboard;
pub mod dataset;
pub mod drop_target;
pub mod method_diagram;
pub mod pipeline_editor;
pub mod projection;
pub mod settings;
pub mod top_bar;
pub mod training;
pub mod views;
