//! contrastive-workbench: a desktop workbench for contrastive self-supervised learning.
//!
//! Modules follow the data (see ARCHITECTURE.md):
//! `data` -> `views` -> `model` -> `losses` -> `methods` -> `engine` -> `metrics` / `projection`
//! -> `app` (egui). `cli` drives the same engine headless.

pub mod allocator;
pub mod app;
pub mod catalogue;
pub mod cli;
pub mod data;
pub mod device_views;
pub mod engine;
pub mod lessons;
pub mod losses;
pub mod methods;
pub mod metrics;
pub mod model;
pub mod preset;
pub mod projection;
pub mod seeding;
pub mod sweep;
pub mod views;
pub mod worker;
