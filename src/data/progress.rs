//! Progress and cancellation shared between a loading thread and whoever watches it
//! (the UI's progress bar, the CLI's indicatif bar).

use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};

use super::DataError;

/// Counters a loader advances; all methods take `&self` so it can sit in an `Arc`.
#[derive(Debug, Default)]
pub struct LoadProgress {
    done: AtomicUsize,
    total: AtomicUsize,
    cancelled: AtomicBool,
}

impl LoadProgress {
    pub fn set_total(&self, total: usize) {
        self.done.store(0, Ordering::Relaxed);
        self.total.store(total, Ordering::Relaxed);
    }

    /// One more item (file, record) finished.
    pub fn tick(&self) {
        self.done.fetch_add(1, Ordering::Relaxed);
    }

    /// (done, total); total is 0 until the loader knows it.
    pub fn counts(&self) -> (usize, usize) {
        (
            self.done.load(Ordering::Relaxed),
            self.total.load(Ordering::Relaxed),
        )
    }

    /// Fraction done in 0..=1 (0 while the total is unknown).
    pub fn fraction(&self) -> f32 {
        let (done, total) = self.counts();
        if total == 0 {
            0.0
        } else {
            (done as f32 / total as f32).min(1.0)
        }
    }

    /// Asks the loader to stop; it returns [`DataError::Cancelled`] soon after.
    pub fn cancel(&self) {
        self.cancelled.store(true, Ordering::Relaxed);
    }

    pub fn is_cancelled(&self) -> bool {
        self.cancelled.load(Ordering::Relaxed)
    }

    /// `Err(Cancelled)` once [`cancel`](Self::cancel) was called.
    pub fn check(&self) -> Result<(), DataError> {
        if self.is_cancelled() {
            Err(DataError::Cancelled)
        } else {
            Ok(())
        }
    }
}
