//! A batch's views as a plan instead of pixels: the source images and every transform's
//! drawn parameters, for `device_views` to render on the training device. Drawn from the
//! same random streams as `make_view_batch`, so a planned batch renders the views the CPU
//! would have made, and carries the same indices and geometry.

use super::batch::ViewBatch;
use super::drawn::Drawn;
use super::geometry::ViewGeometry;
use super::normalize::Normalize;
use super::pipeline::{ViewsSpec, batch_indices, view_rng};
use super::transform::Transform;
use crate::data::ImageSet;

/// What the device renders for one batch.
#[derive(Clone, Debug, PartialEq)]
pub struct ViewsPlan {
    /// The `n` source images, CHW, values in 0..=1 (`n * 3 * size * size`).
    pub sources: Vec<f32>,
    /// Per view (0, 1), per pipeline step, per batch slot: the step's draw.
    pub steps: [Vec<Vec<Option<Drawn>>>; 2],
    pub normalize: Normalize,
}

/// Why `views` cannot be planned for the device, naming the first step it cannot run
/// (`None`: it can). The device renders crops, flips, colour jitter, greyscale, blur,
/// solarize and erasing; rotation, equalize and posterize, and multi-crop's local crops,
/// run on the CPU only.
pub fn device_unsupported(views: &ViewsSpec) -> Option<String> {
    if views.local.count > 0 {
        return Some("views.local: multi-crop's local crops are made on the CPU only".into());
    }
    for (v, pipeline) in views.pipelines().iter().enumerate() {
        for (i, t) in pipeline.steps.iter().enumerate() {
            let cpu_only = matches!(
                t,
                Transform::Rotation(_) | Transform::Equalize(_) | Transform::Posterize(_)
            );
            if t.enabled() && cpu_only {
                return Some(format!(
                    "views.view{}[{i}] ({}) runs on the CPU only",
                    v + 1,
                    t.op()
                ));
            }
        }
    }
    None
}

/// The plan of training step `step`'s batch: the indices, views' geometry and draws
/// `make_view_batch` would take, with the pixels left to the device.
pub fn plan_view_batch(
    images: &ImageSet,
    views: &ViewsSpec,
    seed: u64,
    step: u64,
    batch: usize,
) -> ViewBatch {
    let indices = batch_indices(seed, step, images.len(), batch);
    let n = indices.len();
    let size = images.size;
    let mut sources = vec![0.0f32; n * 3 * size * size];
    for (slot, out) in sources.chunks_exact_mut(3 * size * size).enumerate() {
        hwc_to_chw(images.image(indices[slot]), size * size, out);
    }
    let mut geometry = vec![ViewGeometry::IDENTITY; 2 * n];
    let steps = [0, 1].map(|view| {
        let pipeline = views.pipelines()[view];
        let mut rngs: Vec<_> = (0..n)
            .map(|slot| view_rng(seed, step, slot, view))
            .collect();
        pipeline
            .steps
            .iter()
            .map(|t| {
                (0..n)
                    .map(|slot| {
                        // Training views keep the source's size through every step.
                        let drawn = t.draw(size, size, &mut rngs[slot]);
                        if let Some(d) = drawn {
                            d.track(size, size, &mut geometry[view * n + slot]);
                        }
                        drawn
                    })
                    .collect()
            })
            .collect()
    });
    ViewBatch {
        n,
        size,
        data: Vec::new(),
        indices,
        geometry,
        local: Vec::new(),
        local_count: 0,
        local_size: views.local.size,
        plan: Some(Box::new(ViewsPlan {
            sources,
            steps,
            normalize: views.normalize,
        })),
    }
}

/// Interleaved 8-bit RGB to planar values in 0..=1.
fn hwc_to_chw(pixels: &[u8], plane: usize, out: &mut [f32]) {
    for (p, px) in pixels.chunks_exact(3).enumerate() {
        for c in 0..3 {
            out[c * plane + p] = f32::from(px[c]) / 255.0;
        }
    }
}
