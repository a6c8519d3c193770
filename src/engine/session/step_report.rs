//! A step's output turned into the dashboard's metrics, with the throughput of the steps
//! since the last report (evaluation time is not training time).

use std::time::{Duration, Instant};

use super::super::protocol::{SpaceFigures, StepMetrics};
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
    /// For a remote device: one value's trip to the server and back, in milliseconds.
    pub round_trip_ms: Option<f32>,
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
            round_trip_ms: None,
        }
    }
}

/// The metrics of one logged step: the shared figures on `h` (the encoder output of the
/// batch's views, `[2N, h_dim]`) and the method's own space (`own_z`, `out`'s embeddings
/// read back) as `own`.
pub fn step_metrics(
    step: u64,
    out: &StepOutput,
    own_z: &[f32],
    (z, dim): (&[f32], usize),
    lr: f64,
    rates: Rates,
) -> StepMetrics {
    let own_dim = out.dim;
    let z_std = normalized_std(z, dim);
    let rank = effective_rank(z, dim);
    let pairs = pair_similarity(z, dim);
    let own_std = normalized_std(own_z, own_dim);
    let own_rank = effective_rank(own_z, own_dim);
    StepMetrics {
        step,
        loss: out.loss,
        align: alignment(z, dim),
        uniform: uniformity(z, dim),
        z_std,
        z_std_healthy: collapse::healthy_std(dim),
        effective_rank: rank,
        // Either space collapsing is a collapse (a projector can collapse before h does).
        collapsing: collapse::is_collapsing(z_std, dim)
            || rank_collapsed(rank, dim)
            || collapse::is_collapsing(own_std, own_dim)
            || rank_collapsed(own_rank, own_dim),
        pos_sim: pairs.pos_mean,
        neg_sim: pairs.neg_mean,
        pos_hist: pairs.pos_hist,
        neg_hist: pairs.neg_hist,
        own: Some(SpaceFigures {
            space: out.space.to_string(),
            dim: own_dim,
            align: alignment(own_z, own_dim),
            uniform: uniformity(own_z, own_dim),
            z_std: own_std,
            effective_rank: own_rank,
        }),
        signals: out
            .signals
            .iter()
            .map(|s| (s.name.to_string(), s.value))
            .collect(),
        lr,
        steps_per_sec: rates.steps_per_sec,
        views_per_sec: rates.views_per_sec,
        data_wait: rates.data_wait,
        round_trip_ms: rates.round_trip_ms,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::methods::common::tensor_2d;
    use crate::metrics::alignment;

    #[test]
    fn shared_figures_are_on_h_and_the_methods_space_is_its_own_series() {
        // The loss's space: each positive pair identical (alignment 0), 3-d.
        let z = vec![1.0, 0.0, 0.0, 0.0, 1.0, 0.0, 1.0, 0.0, 0.0, 0.0, 1.0, 0.0];
        let device = burn::tensor::Device::flex();
        let out =
            StepOutput::new(1.0, tensor_2d(z.clone(), 4, 3, &device), 3).in_space("projection z");
        // Kept on the device; read back as it went in.
        assert_eq!(out.read_embeddings(), z);
        // h: the pairs point apart, 2-d.
        let h = [1.0, 0.0, 0.0, 1.0, 0.0, 1.0, 1.0, 0.0];
        let rates = Rates {
            steps_per_sec: 1.0,
            views_per_sec: 1.0,
            data_wait: 0.0,
            round_trip_ms: None,
        };
        let m = step_metrics(3, &out, &out.read_embeddings(), (&h, 2), 1e-3, rates);
        assert_eq!(m.align, alignment(&h, 2));
        assert!(m.align > 1.0, "{}", m.align);
        assert_eq!(m.z_std_healthy, collapse::healthy_std(2));
        let own = m.own.unwrap();
        assert_eq!((own.space.as_str(), own.dim), ("projection z", 3));
        assert!(own.align.abs() < 1e-6, "{}", own.align);
    }
}
