//! Views: the augmentations that turn one image into the views a method compares.
//!
//! Pure CPU code on small `f32` images (no burn, no egui), so the trainer and the UI's
//! pair preview run the very same functions. Randomness comes from `seeding`, so view `v`
//! of batch slot `i` at step `t` is a pure function of (seed, t, i, v).

pub mod geometry;
pub mod image_f32;
pub mod lab_split;
pub mod normalize;
pub mod ops;
pub mod ops_extra;
pub mod patch_grid;
pub mod pipeline;
pub mod prefetch;
pub mod transform;

pub use image_f32::ImageF32;
pub use pipeline::{ViewPipeline, ViewsSpec};
pub use transform::Transform;
pub mod batch;
pub use batch::{ViewBatch, make_view_batch};
pub use normalize::Normalize;
