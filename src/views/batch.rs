//! Assembling a training batch: sample images, augment two views each (in parallel),
//! normalise, and lay them out as the `[2N, 3, S, S]` block the model takes.

use rayon::prelude::*;

use super::ImageF32;
use super::geometry::ViewGeometry;
use super::normalize::Normalize;
use super::pipeline::{ViewPipeline, batch_indices, view_rng};
use crate::data::ImageSet;

/// Two views of `n` images, normalised, CHW. Rows `0..n` are view 0, rows `n..2n` view 1,
/// so row `i` and row `i + n` are a positive pair.
#[derive(Clone, Debug, PartialEq)]
pub struct ViewBatch {
    pub n: usize,
    pub size: usize,
    /// `2n * 3 * size * size` values.
    pub data: Vec<f32>,
    /// The dataset indices of the `n` images.
    pub indices: Vec<usize>,
    /// Where each of the `2n` views lies in its source image (crops and flips).
    pub geometry: Vec<ViewGeometry>,
}

/// Builds the batch of training step `step`: deterministic in (seed, step).
pub fn make_view_batch(
    images: &ImageSet,
    pipelines: [&ViewPipeline; 2],
    normalize: &Normalize,
    seed: u64,
    step: u64,
    batch: usize,
) -> ViewBatch {
    let indices = batch_indices(seed, step, images.len(), batch);
    let n = indices.len();
    let size = images.size;
    let plane = 3 * size * size;
    let mut data = vec![0.0f32; 2 * n * plane];
    let geometry = data
        .par_chunks_mut(plane)
        .enumerate()
        .map(|(row, out)| {
            let (view, slot) = (row / n, row % n);
            let src = ImageF32::from_u8(images.image(indices[slot]), size, size);
            let (v, geometry) =
                pipelines[view].apply_tracked(&src, size, &mut view_rng(seed, step, slot, view));
            normalize.write_chw(&v, out);
            geometry
        })
        .collect();
    ViewBatch {
        n,
        size,
        data,
        indices,
        geometry,
    }
}

/// Un-augmented images `indices` of `images`, normalised CHW (for embedding / evaluation).
pub fn plain_batch(images: &ImageSet, indices: &[usize], normalize: &Normalize) -> Vec<f32> {
    let size = images.size;
    let plane = 3 * size * size;
    let mut data = vec![0.0f32; indices.len() * plane];
    data.par_chunks_mut(plane)
        .zip(indices.par_iter())
        .for_each(|(out, &i)| {
            normalize.write_chw(&ImageF32::from_u8(images.image(i), size, size), out);
        });
    data
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rows_are_pairs_of_the_same_images_and_deterministic() {
        let d = crate::data::shapes::generate(&crate::data::shapes::ShapesSpec {
            train_per_class: 4,
            test_per_class: 1,
            ..Default::default()
        });
        let p = ViewPipeline::default();
        let a = make_view_batch(&d.train, [&p, &p], &Normalize::HALF, 9, 0, 8);
        let b = make_view_batch(&d.train, [&p, &p], &Normalize::HALF, 9, 0, 8);
        assert_eq!(a, b);
        assert_eq!(a.data.len(), 16 * 3 * 32 * 32);
        assert!(a.data.iter().all(|v| (-1.0..=1.0).contains(v)));
        // The first row is exactly the pipeline applied with the preview's generator.
        let src = ImageF32::from_u8(d.train.image(a.indices[0]), 32, 32);
        let v0 = p.apply(&src, 32, &mut view_rng(9, 0, 0, 0));
        let mut row = vec![0.0; 3 * 32 * 32];
        Normalize::HALF.write_chw(&v0, &mut row);
        assert_eq!(&a.data[..row.len()], row.as_slice());
    }
}
