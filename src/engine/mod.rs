//! The engine: runs an experiment (on a background thread for the app, in the foreground
//! for the CLI) and reports progress as plain-data events.
//!
//! Invariants: no egui here; nothing in `protocol` holds a tensor.
//!
//! - `backend`: the only place that creates a device (`select_device`, `select_local`,
//!   `cpu_device`; `gpu` probes, `remote` connects to `serve`);
//! - `session`: the training session shared by the window and the CLI;
//! - `trainer`: the background thread; `event_queue`: its events to the UI, never blocking;
//! - `protocol`: the commands and events, plain data;
//! - `evaluate`: kNN (overall, per class, per nuisance attribute) and the PCA projection,
//!   with the first images' fixed pairs of augmented views in the same picture;
//! - `full_evaluation`: the published protocol on whole splits when `[eval] full_split`
//!   asks, its peak memory from `peak_memory` (Linux's resettable VmHWM);
//! - `probe_runner`: linear probes on `Worker`s, reported in order;
//! - `export`: safetensors and burnpack per encoder a method exports, preset, metrics,
//!   README (`vit_readme` for a ViT's); `MetricsLog`, the one log the session and the
//!   window's history both fold;
//! - `embeddings_export`: the held-out images' representations (CSV, NPY, Projector TSVs);
//! - `onnx_export` + `onnx_proto`: each backbone as `<name>.onnx` (opset 17, BatchNorm
//!   folded), the protobuf subset declared for prost;
//! - `tensorboard`: the metrics log as a TFRecord event file, and the projector's config;
//! - `checkpoint`: one atomically written `checkpoint.safetensors`;
//! - `run_folder`: the one writer of a run folder (`.cw-run` lock, never through a link;
//!   atomic writes); `legacy_run`: a folder from before markers, recognised by its files'
//!   names and content;
//! - `frozen_encoder`: a run folder loaded back as a `Method`; `browse`: evaluate it once
//!   and report it with a run's events;
//! - `settings_check`: settings valid alone but odd on this dataset (`Event::Warning`);
//! - `loss_explorer`: the window's NT-Xent explorer, with burn's autodiff on the CPU.
//!
//! # Threads and channels
//! - The window's "trainer" thread (`trainer`) runs `session::run_experiment_with`. The
//!   window sends `Command`s over a bounded channel (64); events come back through
//!   `event_queue`, which never blocks, and each one wakes the window
//!   (`request_repaint`). The window drains them with a time budget per frame.
//! - Commands: `Pause`, `Resume`, `Step` (one step, reported, then pause), `Stop`,
//!   `Export(dir)`, `Probe`, `SpeedLimit`. The session applies them between steps
//!   (`session::commands`); while paused it waits on the channel. After the run the thread
//!   keeps the model and serves `Export` until the window drops its handle (which sends
//!   `Stop` and detaches the thread). The same thread kind browses a frozen encoder
//!   (`spawn_browser`).
//! - A trainer thread that cannot start, and a panic on it, are reported as
//!   `Event::Failed`.
//! - Within a run, a scoped producer thread (`views::prefetch`) builds the next batches'
//!   views, fanning each out over rayon; flex uses rayon for its own work too.
//! - Events: `Started`, `Warning`, `Step`, `Eval`, `FullEval`, `Projection`, `Similarity`,
//!   `Probe`, `ProbeFailed`, `Paused`, `Resumed`, `Exported`, `ExportFailed`,
//!   `Checkpointed`, `CheckpointFailed`, `Finished`, `Failed`.
//! - The headless `train` calls the same `run_experiment_with` on the main thread. That
//!   function catches a panic inside burn (a remote server that went away, a GPU driver
//!   fault) and reports it as `Event::Failed` naming the step; what was written stays.
//! - Everything else off the UI thread is a `worker::Worker` (linear probes, t-SNE and
//!   UMAP, dataset jobs); a panic there is a failure naming the thread.

pub mod backend;
pub mod browse;
pub mod checkpoint;
pub mod embeddings_export;
pub mod evaluate;
pub mod event_queue;
pub mod export;
pub mod frozen_encoder;
pub mod full_evaluation;
mod legacy_run;
pub mod loss_explorer;
pub mod manifest;
pub mod metrics_journal;
pub mod onnx_export;
pub mod onnx_proto;
pub mod peak_memory;
pub mod probe_runner;
pub mod protocol;
#[cfg(feature = "remote")]
pub mod remote_guard;
pub mod run_folder;
pub mod session;
pub mod settings_check;
pub mod sweep_runner;
pub mod tensorboard;
pub mod trainer;
mod vit_readme;

pub use protocol::{
    BackendInfo, ClassScore, Command, EvalReport, Event, ProbeReport, ProjectionFrame,
    SHARED_SPACE, SimilarityMatrix, SpaceFigures, StepMetrics,
};
pub use trainer::{TrainerHandle, spawn_browser, spawn_trainer, spawn_trainer_with};
