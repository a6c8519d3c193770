//! How long the app takes to build each frame (the CPU time of `ui`, not the GPU's
//! drawing), over the last `WINDOW` frames, for the p50/p99 readout in the top bar (F12
//! toggles it) and the screenshot command's report.

use std::collections::VecDeque;
use std::time::Duration;

const WINDOW: usize = 600;

#[derive(Debug, Default)]
pub struct FrameTimes {
    recent: VecDeque<f32>,
    /// The top bar shows the readout (F12; off by default: it changes every frame).
    pub shown: bool,
}

impl FrameTimes {
    pub fn record(&mut self, took: Duration) {
        if self.recent.len() == WINDOW {
            self.recent.pop_front();
        }
        self.recent.push_back(took.as_secs_f32() * 1e3);
    }

    /// (p50, p99) in milliseconds, nearest-rank; None before any frame.
    pub fn percentiles(&self) -> Option<(f32, f32)> {
        if self.recent.is_empty() {
            return None;
        }
        let mut v: Vec<f32> = self.recent.iter().copied().collect();
        v.sort_by(f32::total_cmp);
        let rank = |p: f32| v[((p * v.len() as f32).ceil() as usize).clamp(1, v.len()) - 1];
        Some((rank(0.50), rank(0.99)))
    }

    pub fn len(&self) -> usize {
        self.recent.len()
    }

    pub fn is_empty(&self) -> bool {
        self.recent.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nearest_rank_percentiles_over_a_sliding_window() {
        let mut f = FrameTimes::default();
        assert_eq!(f.percentiles(), None);
        for ms in 1..=100 {
            f.record(Duration::from_millis(ms));
        }
        let (p50, p99) = f.percentiles().unwrap();
        assert!(
            (p50 - 50.0).abs() < 1e-3 && (p99 - 99.0).abs() < 1e-3,
            "{p50} {p99}"
        );
        // Only the last 600 frames count.
        for _ in 0..600 {
            f.record(Duration::from_millis(2));
        }
        assert_eq!(f.len(), 600);
        assert_eq!(f.percentiles(), Some((2.0, 2.0)));
    }
}
