//! A batch's views as a plan instead of pixels: the source images and every transform's
//! drawn parameters, for `device_views` to render on the training device. Drawn from the
//! same random streams as `make_view_batch`, so a planned batch renders the views the CPU
//! would have made, and carries the same indices and geometry.

use super::batch::{ViewBatch, plain_batch};
use super::drawn::Drawn;
use super::geometry::ViewGeometry;
use super::normalize::Normalize;
use super::pipeline::{ViewPipeline, ViewsSpec, batch_indices, view_rng};
use crate::data::ImageSet;

/// What the device renders for one batch.
#[derive(Clone, Debug, PartialEq)]
pub struct ViewsPlan {
    /// Images in the batch.
    pub n: usize,
    /// Their side in pixels.
    pub size: usize,
    /// The `n` source images, CHW, values in 0..=1 (`n * 3 * size * size`).
    pub sources: Vec<f32>,
    /// The two views, then multi-crop's local crops (crop `k` is entry `2 + k`).
    pub views: Vec<PlannedView>,
    pub normalize: Normalize,
}

/// One view of every image of the batch: its steps' draws, in pipeline order.
#[derive(Clone, Debug, PartialEq)]
pub struct PlannedView {
    pub steps: Vec<PlannedStep>,
    /// The side of the finished view.
    pub out: usize,
}

/// One pipeline step over the batch.
#[derive(Clone, Debug, PartialEq)]
pub struct PlannedStep {
    /// Each image's draw (`None`: the step does nothing to it).
    pub draws: Vec<Option<Drawn>>,
    /// The side of the images the step runs on (a crop's output is `PlannedView::out`).
    pub size: usize,
}

/// The plan of training step `step`'s batch, beside the batch itself: the indices,
/// views' geometry and draws `make_view_batch` would take, with the pixels (the batch's
/// `data` and `local`, left empty) to the device.
pub fn plan_view_batch(
    images: &ImageSet,
    views: &ViewsSpec,
    seed: u64,
    step: u64,
    batch: usize,
) -> (ViewBatch, ViewsPlan) {
    let indices = batch_indices(seed, step, images.len(), batch);
    let n = indices.len();
    let size = images.size;
    let sources = plain_batch(images, &indices, &Normalize::NONE);
    let mut geometry = vec![ViewGeometry::IDENTITY; 2 * n];
    let mut planned: Vec<PlannedView> = (0..2)
        .map(|view| {
            let tracked = &mut geometry[view * n..(view + 1) * n];
            plan_view(views.pipelines()[view], size, size, tracked, |slot| {
                view_rng(seed, step, slot, view)
            })
        })
        .collect();
    let local = &views.local;
    for k in 0..local.count {
        // Local crop k is view 2 + k of each image's stream (`batch::local_crop`).
        let mut untracked = vec![ViewGeometry::IDENTITY; n];
        planned.push(plan_view(
            &local.pipeline,
            size,
            local.size,
            &mut untracked,
            |slot| view_rng(seed, step, slot, 2 + k),
        ));
    }
    let batch = ViewBatch {
        n,
        size,
        data: Vec::new(),
        indices,
        geometry,
        local: Vec::new(),
        local_count: local.count,
        local_size: local.size,
    };
    let plan = ViewsPlan {
        n,
        size,
        sources,
        views: planned,
        normalize: views.normalize,
    };
    (batch, plan)
}

/// One view of each image of a `size`-pixel batch through `pipeline` to `out` pixels, as
/// `ViewPipeline::apply_tracked` draws it: a crop resizes to `out`, and a view that no crop
/// resized is resized whole at the end.
fn plan_view(
    pipeline: &ViewPipeline,
    size: usize,
    out: usize,
    geometry: &mut [ViewGeometry],
    rng_of: impl Fn(usize) -> crate::seeding::Rng,
) -> PlannedView {
    let mut rngs: Vec<_> = (0..geometry.len()).map(rng_of).collect();
    let mut current = size;
    let mut steps = Vec::with_capacity(pipeline.steps.len() + 1);
    for t in &pipeline.steps {
        let draws: Vec<Option<Drawn>> = rngs
            .iter_mut()
            .zip(geometry.iter_mut())
            .map(|(rng, tracked)| {
                let drawn = t.draw(current, current, rng);
                if let Some(d) = drawn {
                    d.track(current, current, tracked);
                }
                drawn
            })
            .collect();
        let resized = draws.iter().any(|d| matches!(d, Some(Drawn::Crop(_))));
        steps.push(PlannedStep {
            draws,
            size: current,
        });
        if resized {
            current = out;
        }
    }
    if current != out {
        // No crop ran: the whole image, resized (geometry unchanged, as on the CPU).
        let whole = super::ops::CropBox {
            x: 0,
            y: 0,
            w: current,
            h: current,
        };
        steps.push(PlannedStep {
            draws: vec![Some(Drawn::Crop(whole)); geometry.len()],
            size: current,
        });
    }
    PlannedView { steps, out }
}
