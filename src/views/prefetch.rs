//! Building the next batches' views ahead of the trainer: a producer thread (which fans
//! each batch out over rayon) fills a bounded channel `depth` batches deep, so
//! augmentation overlaps the training step. The consumer measures how long it waited:
//! if the pipeline ever stalls the trainer, that time says so.

use std::thread::Scope;
use std::time::{Duration, Instant};

use crossbeam_channel::{Receiver, bounded};

use super::batch::{ViewBatch, make_view_batch};
use super::pipeline::ViewsSpec;
use super::plan::plan_view_batch;
use crate::data::ImageSet;

/// Batches in flight ahead of the trainer.
pub const PREFETCH_DEPTH: usize = 3;

/// The receiving end; dropping it stops the producer at its next send.
pub struct Prefetcher {
    batches: Receiver<ViewBatch>,
    /// Total time `next` spent waiting for a batch.
    pub waited: Duration,
}

impl Prefetcher {
    /// Starts producing the batches of steps `first..last` on a thread of `scope`: their
    /// views, or with `planned` their plans for the device to render (`views::plan`).
    #[allow(clippy::too_many_arguments)]
    pub fn start<'scope, 'env>(
        scope: &'scope Scope<'scope, 'env>,
        images: &'env ImageSet,
        views: &'env ViewsSpec,
        seed: u64,
        first: u64,
        last: u64,
        batch: usize,
        depth: usize,
        planned: bool,
    ) -> Self {
        let (tx, rx) = bounded(depth.max(1));
        scope.spawn(move || {
            for step in first..last {
                let b = if planned {
                    plan_view_batch(images, views, seed, step, batch)
                } else {
                    make_view_batch(images, views, seed, step, batch)
                };
                if tx.send(b).is_err() {
                    break; // the trainer stopped early
                }
            }
        });
        Self {
            batches: rx,
            waited: Duration::ZERO,
        }
    }

    /// The next step's batch (in step order), blocking until it is ready.
    pub fn next_batch(&mut self) -> Option<ViewBatch> {
        let t = Instant::now();
        let b = self.batches.recv().ok();
        self.waited += t.elapsed();
        b
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::data::shapes::{ShapesSpec, generate};

    #[test]
    fn prefetched_batches_equal_the_direct_ones_in_step_order() {
        let d = generate(&ShapesSpec {
            train_per_class: 4,
            test_per_class: 1,
            ..ShapesSpec::default()
        });
        let views = ViewsSpec::default();
        std::thread::scope(|s| {
            let mut p = Prefetcher::start(s, &d.train, &views, 3, 5, 9, 8, 2, false);
            for step in 5..9 {
                let got = p.next_batch().expect("a batch per step");
                assert_eq!(got, make_view_batch(&d.train, &views, 3, step, 8));
            }
            assert!(
                p.next_batch().is_none(),
                "the producer ends after the last step"
            );
        });
        // Dropping the receiver early ends the producer (the scope would hang otherwise).
        std::thread::scope(|s| {
            let mut p = Prefetcher::start(s, &d.train, &views, 3, 0, 1_000_000, 8, 2, false);
            p.next_batch();
        });
    }
}
