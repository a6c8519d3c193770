//! The engine: runs an experiment (on a background thread for the app, in the foreground
//! for the CLI) and reports progress as plain-data events.
//!
//! Invariants: no egui here; nothing in `protocol` holds a tensor.

pub mod backend;
pub mod browse;
pub mod checkpoint;
pub mod embeddings_export;
pub mod evaluate;
pub mod event_queue;
pub mod export;
pub mod frozen_encoder;
pub mod full_evaluation;
pub mod loss_explorer;
pub mod onnx_export;
pub mod onnx_proto;
pub mod peak_memory;
pub mod probe_runner;
pub mod protocol;
pub mod run_folder;
pub mod session;
pub mod settings_check;
pub mod tensorboard;
pub mod trainer;

pub use protocol::{
    BackendInfo, ClassScore, Command, EvalReport, Event, ProbeReport, ProjectionFrame,
    SHARED_SPACE, SimilarityMatrix, SpaceFigures, StepMetrics,
};
pub use trainer::{TrainerHandle, spawn_browser, spawn_trainer, spawn_trainer_with};
