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
/// of it holds real keys. Once used, the rows live on the training device and new keys
/// are written there (`slice_assign`): a step neither reads its keys back to the host nor
/// uploads the whole queue again (a GPU would wait for both).
pub struct KeyQueue {
    dim: usize,
    rows: Rows,
    /// The step each slot was written at; `None` while it holds its random start value.
    written_at: Vec<Option<u64>>,
    /// The slot the next key goes into (the oldest one).
    next: usize,
}

/// Where a queue's `[capacity, dim]` rows are: on the host until first used (as built,
/// or loaded from a checkpoint), then on the device.
enum Rows {
    Host(Vec<f32>),
    // Boxed: a tensor handle is a few hundred bytes, the host variant a pointer.
    Device(Box<Tensor<2>>),
}

impl KeyQueue {
    pub fn new(capacity: usize, dim: usize, rng: &mut Rng) -> Self {
        Self {
            dim,
            rows: Rows::Host(random_unit_rows(capacity, dim, rng)),
            written_at: vec![None; capacity],
            next: 0,
        }
    }

    pub fn capacity(&self) -> usize {
        self.written_at.len()
    }

    /// Enqueues `keys` (`[n, dim]`, detached), each replacing the oldest entry, on the
    /// keys' device.
    pub fn enqueue(&mut self, keys: Tensor<2>, step: u64) {
        let [n, dim] = keys.dims();
        assert_eq!(
            dim, self.dim,
            "keys of width {dim} for a queue of width {}",
            self.dim
        );
        let capacity = self.capacity();
        // Of more keys than slots only the last `capacity` stay, from slot
        // `next + n - kept` on, wrapping to slot 0.
        let kept = n.min(capacity);
        let first = (self.next + n - kept) % capacity;
        let before_end = kept.min(capacity - first);
        let mut rows = self.tensor(&keys.device());
        let keys = keys.narrow(0, n - kept, kept);
        rows = rows.slice_assign(
            [first..first + before_end, 0..dim],
            keys.clone().narrow(0, 0, before_end),
        );
        if kept > before_end {
            rows = rows.slice_assign(
                [0..kept - before_end, 0..dim],
                keys.narrow(0, before_end, kept - before_end),
            );
        }
        self.rows = Rows::Device(Box::new(rows));
        for _ in 0..n {
            self.written_at[self.next] = Some(step);
            self.next = (self.next + 1) % capacity;
        }
    }

    /// The queue as a `[capacity, dim]` tensor on `device` (a constant: no gradient).
    pub fn tensor(&mut self, device: &Device) -> Tensor<2> {
        let rows = match &self.rows {
            Rows::Device(t) => (**t).clone(),
            Rows::Host(values) => tensor_2d(values.clone(), self.capacity(), self.dim, device),
        };
        self.rows = Rows::Device(Box::new(rows.clone()));
        rows
    }

    /// Every row, row-major, read back from the device when there.
    fn values(&self) -> Vec<f32> {
        match &self.rows {
            Rows::Host(values) => values.clone(),
            Rows::Device(t) => t.to_data().iter::<f32>().collect(),
        }
    }

    /// One entry, for tests and inspection.
    pub fn row(&self, slot: usize) -> Vec<f32> {
        self.values()[slot * self.dim..(slot + 1) * self.dim].to_vec()
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
        state.put_f32s(&format!("{name}.data"), &self.values());
        state.put_steps(&format!("{name}.written_at"), &self.written_at);
        state.put_f64(&format!("{name}.next"), self.next as f64);
        Ok(())
    }

    fn load(&mut self, name: &str, state: &MethodState) -> Result<(), StateError> {
        let data = state.f32s(&format!("{name}.data"), self.capacity() * self.dim)?;
        let written_at = state.steps(&format!("{name}.written_at"), self.capacity())?;
        let next = state.f64(&format!("{name}.next"))? as usize;
        if next >= self.capacity() {
            return Err(StateError::Malformed {
                section: format!("{name}.next"),
                reason: "out of range".into(),
            });
        }
        (self.rows, self.written_at, self.next) = (Rows::Host(data), written_at, next);
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
        let device = Device::flex();
        let keys = |values: Vec<f32>| tensor_2d(values, 2, 2, &device);
        let mut q = KeyQueue::new(3, 2, &mut rng_for(0, Stream::Sample, &[]));
        assert_eq!(q.fill(), 0.0);
        for r in 0..3 {
            let norm: f32 = q.row(r).iter().map(|v| v * v).sum();
            assert!((norm - 1.0).abs() < 1e-5, "start rows are unit vectors");
        }
        let start = q.row(2);
        q.enqueue(keys(vec![1.0, 0.0, 2.0, 0.0]), 0);
        assert_eq!([q.row(0)[0], q.row(1)[0]], [1.0, 2.0]);
        assert_eq!(q.row(2), start, "an unwritten slot keeps its start row");
        q.enqueue(keys(vec![3.0, 0.0, 4.0, 0.0]), 1);
        // Capacity 3: key 4 overwrote key 1, the oldest (the write wrapped to slot 0).
        assert_eq!([q.row(0)[0], q.row(1)[0], q.row(2)[0]], [4.0, 2.0, 3.0]);
        assert_eq!(q.fill(), 1.0);
        // Ages at step 1: slots written at 1, 0, 1.
        assert!((q.mean_age(1) - 1.0 / 3.0).abs() < 1e-6);
        // More keys than slots: the last three stay, in order from the next slot (1).
        let many = tensor_2d(
            (5..10).flat_map(|k| [k as f32, 0.0]).collect(),
            5,
            2,
            &device,
        );
        q.enqueue(many, 2);
        // Keys 5..=9 went to slots 1, 2, 0, 1, 2: slot 0 holds 7, slot 1 8, slot 2 9.
        assert_eq!([q.row(0)[0], q.row(1)[0], q.row(2)[0]], [7.0, 8.0, 9.0]);
        assert_eq!(q.next, 0);
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
