//! A step's output turned into the dashboard's metrics, with the throughput of the steps
//! since the last report (evaluation time is not training time).

use std::time::{Duration, Instant};

use super::super::protocol::StepMetrics;
use crate::methods::StepOutput;
use crate::metrics::{
    alignment, collapse, effective_rank, normalized_std, pair_similarity, rank_collapsed,
    uniformity,
};

/// Steps and data-loading wait since the window was last restarted.
pub struct Throughput {
    start: Instant,
    steps: u64,
    waited_before: Duration,
}

/// Rates over one window.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Rates {
    pub steps_per_sec: f32,
    pub views_per_sec: f32,
    /// Fraction of the window spent waiting for views.
    pub data_wait: f32,
}

impl Throughput {
    /// A window starting now; `waited` is the prefetcher's total wait so far.
    pub fn new(waited: Duration) -> Self {
        Self {
            start: Instant::now(),
            steps: 0,
            waited_before: waited,
        }
    }

    pub fn count_step(&mut self) {
        self.steps += 1;
    }

    /// The rates of this window (`batch` images per step, two views each).
    pub fn rates(&self, batch: usize, waited: Duration) -> Rates {
        let secs = self.start.elapsed().as_secs_f32().max(1e-6);
        Rates {
            steps_per_sec: self.steps as f32 / secs,
            views_per_sec: (self.steps as usize * 2 * batch) as f32 / secs,
            data_wait: ((waited - self.waited_before).as_secs_f32() / secs).min(1.0),
        }
    }
}

/// The metrics of one logged step.
pub fn step_metrics(step: u64, out: &StepOutput, lr: f64, rates: Rates) -> StepMetrics {
    let (z, dim) = (&out.embeddings, out.dim);
    let z_std = normalized_std(z, dim);
    let rank = effective_rank(z, dim);
    let pairs = pair_similarity(z, dim);
    StepMetrics {
        step,
        loss: out.loss,
        align: alignment(z, dim),
        uniform: uniformity(z, dim),
        z_std,
        z_std_healthy: collapse::healthy_std(dim),
        effective_rank: rank,
        collapsing: collapse::is_collapsing(z_std, dim) || rank_collapsed(rank, dim),
        pos_sim: pairs.pos_mean,
        neg_sim: pairs.neg_mean,
        pos_hist: pairs.pos_hist,
        neg_hist: pairs.neg_hist,
        signals: out
            .signals
            .iter()
            .map(|s| (s.name.to_string(), s.value))
            .collect(),
        lr,
        steps_per_sec: rates.steps_per_sec,
        views_per_sec: rates.views_per_sec,
        data_wait: rates.data_wait,
    }
}
