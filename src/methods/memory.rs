//! Features kept across steps: MoCo's queue of keys and InstDisc's memory bank.
//! Plain `f32` storage, never parameters: no gradient reaches them, the optimiser never
//! sees them, and they are written only with detached values.

use super::persist::Persist;
use super::state::{MethodState, StateError};
use burn::tensor::{Device, Tensor};

use super::common::{random_unit_rows, tensor_2d};
use crate::seeding::Rng;

/// A first-in first-out queue of `capacity` unit vectors (MoCo, He et al. 2020, sec. 3.2).
/// It starts full of random unit vectors, as in the reference code; `fill` tells how much
/// of it holds real keys.
pub struct KeyQueue {
    dim: usize,
    data: Vec<f32>,
    /// The step each slot was written at; `None` while it holds its random start value.
    written_at: Vec<Option<u64>>,
    /// The slot the next key goes into (the oldest one).
    next: usize,
}

impl KeyQueue {
    pub fn new(capacity: usize, dim: usize, rng: &mut Rng) -> Self {
        Self {
            dim,
            data: random_unit_rows(capacity, dim, rng),
            written_at: vec![None; capacity],
            next: 0,
        }
    }

    pub fn capacity(&self) -> usize {
        self.written_at.len()
    }

    /// Enqueues `keys` (`[n, dim]` row-major), each replacing the oldest entry.
    pub fn enqueue(&mut self, keys: &[f32], step: u64) {
        for key in keys.chunks_exact(self.dim) {
            let slot = self.next;
            self.data[slot * self.dim..(slot + 1) * self.dim].copy_from_slice(key);
            self.written_at[slot] = Some(step);
            self.next = (slot + 1) % self.capacity();
        }
    }

    /// The queue as a `[capacity, dim]` tensor (a constant: no gradient).
    pub fn tensor(&self, device: &Device) -> Tensor<2> {
        tensor_2d(self.data.clone(), self.capacity(), self.dim, device)
    }

    /// One entry, for tests and inspection.
    pub fn row(&self, slot: usize) -> &[f32] {
        &self.data[slot * self.dim..(slot + 1) * self.dim]
    }

    /// Fraction of slots that hold real keys.
    pub fn fill(&self) -> f32 {
        self.written_at.iter().filter(|w| w.is_some()).count() as f32 / self.capacity() as f32
    }

    /// Mean age in steps of the real keys at `step` (how stale the negatives are).
    pub fn mean_age(&self, step: u64) -> f32 {
        mean_age(&self.written_at, step)
    }
}

impl Persist for KeyQueue {
    fn save(&self, name: &str, state: &mut MethodState) -> Result<(), StateError> {
        state.put_f32s(&format!("{name}.data"), &self.data);
        state.put_steps(&format!("{name}.written_at"), &self.written_at);
        state.put_f64(&format!("{name}.next"), self.next as f64);
        Ok(())
    }

    fn load(&mut self, name: &str, state: &MethodState) -> Result<(), StateError> {
        let data = state.f32s(&format!("{name}.data"), self.data.len())?;
        let written_at = state.steps(&format!("{name}.written_at"), self.capacity())?;
        let next = state.f64(&format!("{name}.next"))? as usize;
        if next >= self.capacity() {
            return Err(StateError::Malformed {
                section: format!("{name}.next"),
                reason: "out of range".into(),
            });
        }
        (self.data, self.written_at, self.next) = (data, written_at, next);
        Ok(())
    }
}

fn mean_age(written_at: &[Option<u64>], step: u64) -> f32 {
    let ages: Vec<u64> = written_at
        .iter()
        .flatten()
        .map(|&w| step.saturating_sub(w))
        .collect();
    if ages.is_empty() {
        f32::NAN
    } else {
        ages.iter().sum::<u64>() as f32 / ages.len() as f32
    }
}

/// One unit vector per training image (InstDisc, Wu et al. 2018, sec. 3.1), updated as
/// `v_i <- normalise(m * v_i + (1 - m) * f_i)` when image `i` is in a batch.
pub struct MemoryBank {
    dim: usize,
    data: Vec<f32>,
    written_at: Vec<Option<u64>>,
}

impl MemoryBank {
    /// A bank of `len` random unit vectors.
    pub fn new(len: usize, dim: usize, rng: &mut Rng) -> Self {
        Self {
            dim,
            data: random_unit_rows(len, dim, rng),
            written_at: vec![None; len],
        }
    }

    pub fn len(&self) -> usize {
        self.written_at.len()
    }

    pub fn is_empty(&self) -> bool {
        self.written_at.is_empty()
    }

    pub fn row(&self, i: usize) -> &[f32] {
        &self.data[i * self.dim..(i + 1) * self.dim]
    }

    /// Rows `indices` as a `[indices.len(), dim]` tensor (a constant).
    pub fn gather(&self, indices: &[usize], device: &Device) -> Tensor<2> {
        let mut values = Vec::with_capacity(indices.len() * self.dim);
        for &i in indices {
            values.extend_from_slice(self.row(i));
        }
        tensor_2d(values, indices.len(), self.dim, device)
    }

    /// The whole bank as a `[len, dim]` tensor (a constant).
    pub fn tensor(&self, device: &Device) -> Tensor<2> {
        tensor_2d(self.data.clone(), self.len(), self.dim, device)
    }

    /// The momentum update of the rows `indices` with new features (`[n, dim]` row-major).
    pub fn update(&mut self, indices: &[usize], features: &[f32], momentum: f32, step: u64) {
        for (&i, f) in indices.iter().zip(features.chunks_exact(self.dim)) {
            let row = &mut self.data[i * self.dim..(i + 1) * self.dim];
            for (v, x) in row.iter_mut().zip(f) {
                *v = momentum * *v + (1.0 - momentum) * x;
            }
            let norm = row.iter().map(|v| v * v).sum::<f32>().sqrt().max(1e-12);
            row.iter_mut().for_each(|v| *v /= norm);
            self.written_at[i] = Some(step);
        }
    }

    /// Fraction of entries written at least once.
    pub fn coverage(&self) -> f32 {
        self.written_at.iter().filter(|w| w.is_some()).count() as f32 / self.len().max(1) as f32
    }

    /// Mean age in steps of the entries `indices` at `step` (never-written ones excluded).
    pub fn mean_age_of(&self, indices: &[usize], step: u64) -> f32 {
        let written: Vec<Option<u64>> = indices.iter().map(|&i| self.written_at[i]).collect();
        mean_age(&written, step)
    }
}

impl Persist for MemoryBank {
    fn save(&self, name: &str, state: &mut MethodState) -> Result<(), StateError> {
        state.put_f32s(&format!("{name}.data"), &self.data);
        state.put_steps(&format!("{name}.written_at"), &self.written_at);
        Ok(())
    }

    fn load(&mut self, name: &str, state: &MethodState) -> Result<(), StateError> {
        let data = state.f32s(&format!("{name}.data"), self.data.len())?;
        let written_at = state.steps(&format!("{name}.written_at"), self.len())?;
        (self.data, self.written_at) = (data, written_at);
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::seeding::{Stream, rng_for};

    #[test]
    fn the_queue_replaces_its_oldest_keys_first() {
        let mut q = KeyQueue::new(3, 2, &mut rng_for(0, Stream::Sample, &[]));
        assert_eq!(q.fill(), 0.0);
        for r in 0..3 {
            let norm: f32 = q.row(r).iter().map(|v| v * v).sum();
            assert!((norm - 1.0).abs() < 1e-5, "start rows are unit vectors");
        }
        q.enqueue(&[1.0, 0.0, 2.0, 0.0], 0);
        q.enqueue(&[3.0, 0.0, 4.0, 0.0], 1);
        // Capacity 3: key 4 overwrote key 1, the oldest.
        assert_eq!([q.row(0)[0], q.row(1)[0], q.row(2)[0]], [4.0, 2.0, 3.0]);
        assert_eq!(q.fill(), 1.0);
        // Ages at step 1: slots written at 1, 0, 1.
        assert!((q.mean_age(1) - 1.0 / 3.0).abs() < 1e-6);
    }

    #[test]
    fn the_bank_update_matches_the_formula() {
        let mut b = MemoryBank::new(3, 2, &mut rng_for(1, Stream::Sample, &[]));
        let before = b.row(1).to_vec();
        b.update(&[1], &[0.0, 1.0], 0.5, 7);
        let mixed = [0.5 * before[0], 0.5 * before[1] + 0.5];
        let norm = (mixed[0] * mixed[0] + mixed[1] * mixed[1]).sqrt();
        assert!((b.row(1)[0] - mixed[0] / norm).abs() < 1e-6);
        assert!((b.row(1)[1] - mixed[1] / norm).abs() < 1e-6);
        assert!((b.coverage() - 1.0 / 3.0).abs() < 1e-6);
        assert_eq!(b.mean_age_of(&[1], 10), 3.0);
        assert!(b.mean_age_of(&[0], 10).is_nan());
    }
}
