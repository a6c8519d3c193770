//! NNCLR's support set: a first-in first-out queue of embeddings from earlier batches,
//! searched for each image's nearest neighbour. Each entry remembers which training image
//! (and class) it came from, so the dashboard can say how often the neighbour is the image
//! itself (an earlier view of it) or an image of the same class.

use burn::tensor::{Device, Tensor};

use super::memory::KeyQueue;
use super::persist::Persist;
use super::state::{MethodState, StateError};
use crate::seeding::Rng;

pub struct SupportSet {
    queue: KeyQueue,
    /// The training image and class of each slot's entry; `None` while it holds its
    /// random start value. Slots are filled in the queue's order.
    owners: Vec<Option<Owner>>,
    next: usize,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Owner {
    pub image: usize,
    pub label: u16,
}

/// How the neighbours found for a batch relate to their anchors.
#[derive(Debug, PartialEq)]
pub struct NeighbourStats {
    /// Fraction of anchors whose neighbour is an earlier embedding of the same image.
    pub same_image: f32,
    /// Fraction whose neighbour is of the anchor's class; `None` while the set holds one
    /// class or fewer (an unlabelled dataset, or nothing written yet).
    pub same_class: Option<f32>,
}

impl SupportSet {
    /// `capacity` random unit vectors of `dim`, as lightly's `NNMemoryBankModule` starts.
    pub fn new(capacity: usize, dim: usize, rng: &mut Rng) -> Self {
        Self {
            queue: KeyQueue::new(capacity, dim, rng),
            owners: vec![None; capacity],
            next: 0,
        }
    }

    /// The set as a `[capacity, dim]` constant.
    pub fn tensor(&mut self, device: &Device) -> Tensor<2> {
        self.queue.tensor(device)
    }

    /// How many embeddings the set holds.
    pub fn capacity(&self) -> usize {
        self.queue.capacity()
    }

    /// Fraction of slots holding real embeddings.
    pub fn fill(&self) -> f32 {
        self.queue.fill()
    }

    /// Adds unit embeddings (`[n, dim]`, detached) of `owners`' images, oldest out first.
    pub fn push(&mut self, embeddings: Tensor<2>, owners: &[Owner], step: u64) {
        self.queue.enqueue(embeddings, step);
        for &owner in owners {
            self.owners[self.next] = Some(owner);
            self.next = (self.next + 1) % self.owners.len();
        }
    }

    /// What the neighbours at `slots` are to their `anchors`.
    pub fn stats(&self, slots: &[usize], anchors: &[Owner]) -> NeighbourStats {
        let found: Vec<Option<Owner>> = slots.iter().map(|&s| self.owners[s]).collect();
        let share = |hit: &dyn Fn(Owner, Owner) -> bool| {
            let hits = found
                .iter()
                .zip(anchors)
                .filter(|(f, a)| f.is_some_and(|f| hit(f, **a)))
                .count();
            hits as f32 / anchors.len().max(1) as f32
        };
        let mut labels = self.owners.iter().flatten().map(|o| o.label);
        let first = labels.next();
        let labelled = first.is_some_and(|f| labels.any(|l| l != f));
        NeighbourStats {
            same_image: share(&|f, a| f.image == a.image),
            same_class: labelled.then(|| share(&|f, a| f.label == a.label)),
        }
    }
}

impl Persist for SupportSet {
    fn save(&self, name: &str, state: &mut MethodState) -> Result<(), StateError> {
        self.queue.save(name, state)?;
        // An owner as one step-like number: image * 2^16 + label.
        let owners: Vec<Option<u64>> = self
            .owners
            .iter()
            .map(|o| o.map(|o| ((o.image as u64) << 16) | u64::from(o.label)))
            .collect();
        state.put_steps(&format!("{name}.owners"), &owners);
        state.put_f64(&format!("{name}.owners_next"), self.next as f64);
        Ok(())
    }

    fn load(&mut self, name: &str, state: &MethodState) -> Result<(), StateError> {
        let owners = state.steps(&format!("{name}.owners"), self.owners.len())?;
        let next = state.f64(&format!("{name}.owners_next"))? as usize;
        if next >= self.owners.len() {
            return Err(StateError::Malformed {
                section: format!("{name}.owners_next"),
                reason: "out of range".into(),
            });
        }
        self.queue.load(name, state)?;
        self.owners = owners
            .into_iter()
            .map(|o| {
                o.map(|v| Owner {
                    image: (v >> 16) as usize,
                    label: (v & 0xffff) as u16,
                })
            })
            .collect();
        self.next = next;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::seeding::{Stream, rng_for};

    /// `[2, 2]` rows on the CPU.
    fn rows2(values: [f32; 4]) -> Tensor<2> {
        super::super::common::tensor_2d(values.to_vec(), 2, 2, &Device::flex())
    }

    fn owner(image: usize, label: u16) -> Owner {
        Owner { image, label }
    }

    #[test]
    fn neighbours_are_scored_against_their_anchors_and_the_oldest_entry_goes_first() {
        let mut set = SupportSet::new(3, 2, &mut rng_for(0, Stream::Method, &[]));
        set.push(rows2([1.0, 0.0, 0.0, 1.0]), &[owner(7, 0), owner(8, 1)], 1);
        assert!((set.fill() - 2.0 / 3.0).abs() < 1e-6);
        // Slot 0 is image 7 (class 0), slot 1 image 8 (class 1).
        let stats = set.stats(&[0, 1], &[owner(7, 0), owner(9, 0)]);
        assert_eq!(stats.same_image, 0.5);
        assert_eq!(stats.same_class, Some(0.5));
        // The fourth entry replaces the first: slot 0 is now image 10.
        set.push(
            rows2([0.6, 0.8, -1.0, 0.0]),
            &[owner(9, 1), owner(10, 1)],
            2,
        );
        assert_eq!(set.stats(&[0], &[owner(7, 0)]).same_image, 0.0);
        // A slot still holding its random start value matches nothing.
        let fresh = SupportSet::new(2, 2, &mut rng_for(0, Stream::Method, &[]));
        assert_eq!(fresh.stats(&[0], &[owner(0, 0)]).same_image, 0.0);
    }

    #[test]
    fn one_class_gives_no_same_class_figure() {
        let mut set = SupportSet::new(4, 2, &mut rng_for(0, Stream::Method, &[]));
        set.push(rows2([1.0, 0.0, 0.0, 1.0]), &[owner(0, 0), owner(1, 0)], 1);
        assert_eq!(set.stats(&[0], &[owner(0, 0)]).same_class, None);
    }

    #[test]
    fn a_saved_set_loads_exactly_and_a_bad_cursor_is_refused() {
        let mut set = SupportSet::new(3, 2, &mut rng_for(0, Stream::Method, &[]));
        set.push(
            rows2([1.0, 0.0, 0.0, 1.0]),
            &[owner(70_000, 3), owner(8, 1)],
            1,
        );
        let mut state = MethodState::default();
        set.save("support", &mut state).unwrap();
        let mut back = SupportSet::new(3, 2, &mut rng_for(1, Stream::Method, &[]));
        back.load("support", &state).unwrap();
        assert_eq!(back.owners, set.owners);
        assert_eq!(back.next, 2);
        let device = Device::flex();
        let rows = |s: &mut SupportSet| {
            s.tensor(&device)
                .into_data()
                .iter::<f32>()
                .collect::<Vec<_>>()
        };
        assert_eq!(rows(&mut back), rows(&mut set));
        state.put_f64("support.owners_next", 5.0);
        assert!(back.load("support", &state).is_err());
    }
}
