//! Building the next batches' views ahead of the trainer: a producer thread (which fans
//! each batch out over rayon) fills a bounded channel `depth` batches deep, so
//! augmentation overlaps the training step. The consumer measures how long it waited:
//! if the pipeline ever stalls the trainer, that time says so. What a batch is, is the
//! caller's: the CPU's views (`start`), or anything `start_with` makes per step (the
//! session renders planned views on the training device there, off the trainer's thread).

use std::thread::Scope;
use std::time::{Duration, Instant};

use crossbeam_channel::{Receiver, bounded};

use super::batch::{ViewBatch, make_view_batch};
use super::pipeline::ViewsSpec;
use crate::data::ImageSet;

/// Batches in flight ahead of the trainer.
pub const PREFETCH_DEPTH: usize = 3;

/// The receiving end; dropping it stops the producer at its next send.
pub struct Prefetcher<T = ViewBatch> {
    batches: Receiver<T>,
    /// Total time `next` spent waiting for a batch.
    pub waited: Duration,
}

impl Prefetcher<ViewBatch> {
    /// Starts producing the views of steps `first..last` on a thread of `scope`.
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
    ) -> Self {
        Self::start_with(scope, first..last, depth, move |step| {
            make_view_batch(images, views, seed, step, batch)
        })
    }
}

impl<T: Send> Prefetcher<T> {
    /// Starts producing `make(step)` for each of `steps`, in order, on a thread of `scope`.
    pub fn start_with<'scope, 'env>(
        scope: &'scope Scope<'scope, 'env>,
        steps: std::ops::Range<u64>,
        depth: usize,
        make: impl Fn(u64) -> T + Send + 'scope,
    ) -> Self
    where
        T: 'scope,
    {
        let (tx, rx) = bounded(depth.max(1));
        scope.spawn(move || {
            for step in steps {
                if tx.send(make(step)).is_err() {
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
    pub fn next_batch(&mut self) -> Option<T> {
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
            let mut p = Prefetcher::start(s, &d.train, &views, 3, 5, 9, 8, 2);
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
            let mut p = Prefetcher::start(s, &d.train, &views, 3, 0, 1_000_000, 8, 2);
            p.next_batch();
        });
    }
}
