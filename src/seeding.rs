//! Deterministic seeding: every random choice in a run derives from the experiment seed
//! and a few coordinates (step, slot, view), so any piece can be recomputed in isolation.
//! The view preview uses this to show exactly what training step 0 sees.
//!
//! A generator is a hash of (seed, stream, coordinates) (`rng_for`): each `Stream` (batch,
//! view, dataset, sample, method, split, backend) is independent of the others, and burn's
//! own generator is re-seeded from (seed, step) before every training step (`backend_seed`),
//! so a resumed run draws what the uninterrupted one would have.

use rand::SeedableRng;
use rand::rngs::Xoshiro256PlusPlus;

/// The generator used everywhere: portable and reproducible across platforms.
pub type Rng = Xoshiro256PlusPlus;

/// What a derived stream of randomness is for; keeps streams independent.
#[derive(Clone, Copy, Debug)]
#[repr(u64)]
pub enum Stream {
    /// Which images form a batch.
    Batch = 1,
    /// The augmentation of one view of one image.
    View = 2,
    /// Generating a procedural dataset image.
    Dataset = 3,
    /// Picking the fixed sample shown in projections and kNN banks.
    Sample = 4,
    /// A method's own random choices (sampled negatives, queue and memory-bank start values).
    Method = 5,
    /// Splitting a loaded image folder into train and held-out images.
    Split = 6,
    /// burn's own generator, re-seeded before every training step (so a resumed run draws
    /// what the uninterrupted one would have).
    Backend = 7,
}

/// The seed burn's generator gets before training step `step`.
pub fn backend_seed(seed: u64, step: u64) -> u64 {
    use rand::RngExt;
    rng_for(seed, Stream::Backend, &[step]).random()
}

/// SplitMix64 finaliser: a cheap, well-mixed hash of a 64-bit value.
fn mix(mut z: u64) -> u64 {
    z = z.wrapping_add(0x9E37_79B9_7F4A_7C15);
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

/// A generator for `stream` at coordinates `coords` under `seed`.
pub fn rng_for(seed: u64, stream: Stream, coords: &[u64]) -> Rng {
    let mut h = mix(seed ^ mix(stream as u64));
    for &c in coords {
        h = mix(h ^ c);
    }
    Rng::seed_from_u64(h)
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::RngExt;

    #[test]
    fn same_coordinates_same_stream_and_different_coordinates_differ() {
        let a: u64 = rng_for(7, Stream::View, &[0, 1, 0]).random();
        let b: u64 = rng_for(7, Stream::View, &[0, 1, 0]).random();
        let c: u64 = rng_for(7, Stream::View, &[0, 1, 1]).random();
        let d: u64 = rng_for(7, Stream::Batch, &[0, 1, 0]).random();
        assert_eq!(a, b);
        assert_ne!(a, c);
        assert_ne!(a, d);
    }
}
