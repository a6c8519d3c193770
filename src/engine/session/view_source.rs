//! Where a run's views come from: the CPU's prefetching producer, or, with
//! `train.augment_on = "device"`, a producer that draws them and queues their rendering
//! on the training device (`device_views`), off the trainer's thread.

use burn::tensor::Device;

use crate::data::Dataset;
use crate::device_views;
use crate::preset::Experiment;
use crate::views::plan::plan_view_batch;
use crate::views::prefetch::{PREFETCH_DEPTH, Prefetcher};
use crate::views::{ViewBatch, ViewsSpec, make_view_batch};

/// A step's views as the producer thread left them: the batch (with its pixels, or for the
/// device without them) and, for the device, the views it rendered there.
pub struct ReadyViews {
    pub batch: ViewBatch,
    pub made: Option<device_views::Rendered>,
}

/// The producer of the views of `steps`, a thread of `scope`: the CPU's views, or with a
/// device their draws, whose rendering (`device_views`) it queues on that device itself,
/// off the trainer's thread.
pub fn prefetch_views<'scope, 'env>(
    scope: &'scope std::thread::Scope<'scope, 'env>,
    exp: &'env Experiment,
    dataset: &'env Dataset,
    views: &'env ViewsSpec,
    steps: std::ops::Range<u64>,
    on_device: Option<Device>,
) -> Prefetcher<ReadyViews> {
    let (images, seed) = (&dataset.train, exp.seed);
    let batch = exp.train.batch_size.min(images.len());
    Prefetcher::start_with(scope, steps, PREFETCH_DEPTH, move |step| match &on_device {
        None => ReadyViews {
            batch: make_view_batch(images, views, seed, step, batch),
            made: None,
        },
        Some(device) => {
            let (batch, plan) = plan_view_batch(images, views, seed, step, batch);
            ReadyViews {
                batch,
                made: Some(device_views::render(&plan, device)),
            }
        }
    })
}
