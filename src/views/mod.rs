//! Views: the augmentations that turn one image into the views a method compares.
//!
//! Pure CPU code on small `f32` images (no burn, no egui), so the trainer and the UI's
//! pair preview run the very same functions. Randomness comes from `seeding`, so view `v`
//! of batch slot `i` at step `t` is a pure function of (seed, t, i, v).

pub mod image_f32;
pub mod ops;
pub mod pipeline;

pub use image_f32::ImageF32;
pub use pipeline::{BlurParams, CropParams, JitterParams, ViewPipeline};
pub mod batch;
pub use batch::{NORMALIZE_MEAN, NORMALIZE_STD, ViewBatch, make_view_batch};
