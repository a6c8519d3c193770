//! Views: the augmentations that turn one image into the views a method compares.
//!
//! Pure CPU code on small `f32` images (no burn, no egui), so the trainer and the UI's
//! pair preview run the very same functions. Randomness comes from `seeding`, so view `v`
//! of batch slot `i` at step `t` is a pure function of (seed, t, i, v).
//!
//! - `ops`, `ops_extra`: the augmentations on `ImageF32` (`image_f32`), as torchvision
//!   defines them;
//! - `transform`: one tagged `Transform` per torchvision op, with its parameters,
//!   validation and `apply`;
//! - `drawn`: a transform's random draws (`Transform::draw`) apart from applying them
//!   (`Drawn::apply`), so `device_views` applies the very draws the CPU would;
//! - `pipeline`: `ViewPipeline` (an ordered list of transforms per view) and `ViewsSpec`
//!   (view 1, view 2, the final `normalize` and multi-crop's `LocalCrops`), as `[views]`
//!   in a preset;
//! - `normalize`: the editable final per-channel normalisation;
//! - `geometry`: where a view lies in its image through crops and flips, carried in the
//!   batch for PixPro;
//! - `lab_split`: CMC's L / ab split on pixels, for the preview;
//! - `patch_grid`: CPC's grid geometry, the cut on pixels and the preview mosaic;
//! - `batch`: `make_view_batch`, the `[2N, 3, H, W]` block of paired views (row `i` and
//!   row `i + N` are a positive pair), with each view's geometry and the local crops;
//! - `plan`: a batch as source images plus every step's draws (`plan_view_batch`), for
//!   `device_views` to render on the training device;
//! - `prefetch`: a producer thread building the next batches ahead of the trainer.
//!
//! Multi-crop: local crop `k` of a slot is view `2 + k` of that slot's random stream, so it
//! never changes views 0 and 1 and the preview shows exactly what training uses. The
//! session makes local crops only for a method whose `MethodInfo::needs.local_crops` says it
//! uses them; they reach it as `TrainBatch::local`.

pub mod drawn;
pub mod geometry;
pub mod image_f32;
pub mod lab_split;
pub mod normalize;
pub mod ops;
pub mod ops_extra;
pub mod patch_grid;
pub mod pipeline;
pub mod plan;
pub mod prefetch;
pub mod transform;

pub use image_f32::ImageF32;
pub use pipeline::{ViewPipeline, ViewsSpec};
pub use transform::Transform;
pub mod batch;
pub use batch::{ViewBatch, make_view_batch};
pub use normalize::Normalize;
