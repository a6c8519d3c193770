//! SwAV's state besides its network, and its dashboard figures: the queues of earlier
//! embeddings whose scores join each global view's in Sinkhorn (`main_swav.py`'s `queue`),
//! and how the batch uses the prototypes.

use burn::tensor::{Device, Tensor};

use super::memory::KeyQueue;
use super::persist::Persist;
use super::state::{MethodState, StateError};
use crate::model::tensor_io::matrix_to_vec;
use crate::seeding::{Stream, rng_for};

/// One first-in first-out queue of unit embeddings per global view, or none (size 0).
/// Filled from `start` on, after each applied step; used once full, as the reference
/// starts using its queue once the last row is written.
pub struct CodeQueues {
    queues: Vec<KeyQueue>,
    start: u64,
}

impl CodeQueues {
    pub fn new(size: usize, start: usize, dim: usize, seed: u64) -> Self {
        let queues = if size == 0 {
            Vec::new()
        } else {
            // The random start rows are never read: a queue is used only once full.
            (0..2u64)
                .map(|v| KeyQueue::new(size, dim, &mut rng_for(seed, Stream::Method, &[1 + v])))
                .collect()
        };
        Self {
            queues,
            start: start as u64,
        }
    }

    /// Both views' queued embeddings `[size, dim]`, once the queues are full.
    pub fn in_use(&mut self, device: &Device) -> Option<[Tensor<2>; 2]> {
        let full = self.queues.len() == 2 && self.queues.iter().all(|q| q.fill() >= 1.0);
        full.then(|| [0, 1].map(|v| self.queues[v].tensor(device)))
    }

    /// Adds each view's unit embeddings `[N, dim]` (detached), oldest out first.
    pub fn push(&mut self, z: [Tensor<2>; 2], step: u64) {
        if step < self.start {
            return;
        }
        for (queue, z) in self.queues.iter_mut().zip(z) {
            queue.enqueue(z, step);
        }
    }

    /// How full the queues are; `None` when there are none.
    pub fn fill(&self) -> Option<f32> {
        self.queues.first().map(KeyQueue::fill)
    }
}

/// The queues as `<name>0` and `<name>1` (nothing when off).
impl Persist for CodeQueues {
    fn save(&self, name: &str, state: &mut MethodState) -> Result<(), StateError> {
        self.queues.save(name, state)
    }

    fn load(&mut self, name: &str, state: &MethodState) -> Result<(), StateError> {
        self.queues.load(name, state)
    }
}

/// How a step's embeddings use the prototypes.
#[derive(Debug, Default)]
pub struct Usage {
    /// Global-view embeddings whose nearest prototype is each prototype.
    nearest: Vec<usize>,
    /// The largest relative distance of a prototype's code total from its share B/K.
    pub marginal_error: f32,
}

impl Usage {
    /// Counts the nearest prototype of each row of `scores` (`[N, K]`).
    pub fn nearest(&mut self, scores: Tensor<2>) {
        let k = scores.dims()[1];
        self.nearest.resize(k, 0);
        let rows = scores.argmax(1).into_data();
        for r in rows.iter::<i64>() {
            self.nearest[r as usize] += 1;
        }
    }

    /// Notes how far Sinkhorn's codes `[B, K]` are from using every prototype B/K times.
    pub fn marginals(&mut self, codes: Tensor<2>) {
        let [b, k] = codes.dims();
        let share = b as f32 / k as f32;
        let totals = matrix_to_vec(codes.sum_dim(0));
        for t in totals {
            self.marginal_error = self.marginal_error.max((t - share).abs() / share);
        }
    }

    /// Entropy of the nearest-prototype counts over `k` prototypes, divided by ln k: 1 when
    /// the embeddings spread evenly, 0 when all are nearest one prototype (collapse). With
    /// fewer embeddings than prototypes it cannot reach 1. The codes' own mean is no use
    /// here: Sinkhorn makes it near uniform even for identical embeddings.
    pub fn entropy(&self, k: usize) -> f32 {
        let total: usize = self.nearest.iter().sum();
        if total == 0 || k < 2 {
            return f32::NAN;
        }
        let h: f64 = self
            .nearest
            .iter()
            .filter(|&&c| c > 0)
            .map(|&c| {
                let p = c as f64 / total as f64;
                -p * p.ln()
            })
            .sum();
        (h / (k as f64).ln()) as f32
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::losses::test_util::matrix;

    #[test]
    fn usage_counts_nearest_prototypes_and_code_totals() {
        let device = Device::flex();
        let mut u = Usage::default();
        // Four embeddings, four prototypes: two nearest prototype 0, one each 1 and 3.
        u.nearest(matrix(
            &[[0.9, 0.1, 0.0, 0.0], [0.5, 0.2, 0.1, 0.0]],
            &device,
        ));
        u.nearest(matrix(
            &[[0.0, 0.7, 0.1, 0.0], [0.0, 0.1, 0.2, 0.3]],
            &device,
        ));
        // p = (1/2, 1/4, 0, 1/4): H = 1.5 ln 2, over ln 4.
        assert!((u.entropy(4) - 0.75).abs() < 1e-6, "{}", u.entropy(4));
        // Two rows over two prototypes: each should total 1; 1.25 and 0.75 are 25% off.
        u.marginals(matrix(&[[1.0, 0.0], [0.25, 0.75]], &device));
        assert!((u.marginal_error - 0.25).abs() < 1e-6);
        // All nearest one prototype: collapse reads 0.
        let mut one = Usage::default();
        one.nearest(matrix(&[[1.0, 0.0], [0.9, 0.0], [0.8, 0.1]], &device));
        assert_eq!(one.entropy(2), 0.0);
    }

    #[test]
    fn queues_fill_from_their_start_and_are_used_once_full() {
        let device = Device::flex();
        let mut q = CodeQueues::new(3, 2, 2, 0);
        let z = || {
            [
                matrix(&[[1.0, 0.0], [0.0, 1.0]], &device),
                matrix(&[[0.6, 0.8], [0.8, 0.6]], &device),
            ]
        };
        q.push(z(), 1);
        assert_eq!(
            q.fill(),
            Some(0.0),
            "before the start step nothing is queued"
        );
        q.push(z(), 2);
        assert!(q.in_use(&device).is_none(), "two of three rows written");
        q.push(z(), 3);
        let [a, b] = q.in_use(&device).expect("full");
        // Capacity 3 after four rows: the fourth replaced the first.
        assert_eq!(matrix_to_vec(a), vec![0.0, 1.0, 0.0, 1.0, 1.0, 0.0]);
        assert_eq!(matrix_to_vec(b)[..2], [0.8, 0.6]);
        assert_eq!(CodeQueues::new(0, 0, 2, 0).fill(), None);

        let mut state = MethodState::default();
        q.save("queue", &mut state).unwrap();
        let mut back = CodeQueues::new(3, 2, 2, 1);
        back.load("queue", &state).unwrap();
        let rows = |q: &mut CodeQueues| q.in_use(&device).map(|t| t.map(matrix_to_vec));
        assert_eq!(rows(&mut back), rows(&mut q));
    }
}
