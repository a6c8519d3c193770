//! Assembling a training batch: sample images, augment two views each (in parallel),
//! normalise, and lay them out as the `[2N, 3, S, S]` block the model takes.

use rayon::prelude::*;

use super::ImageF32;
use super::geometry::ViewGeometry;
use super::normalize::Normalize;
use super::pipeline::{ViewsSpec, batch_indices, view_rng};
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
    /// Multi-crop's local crops, normalised CHW: `count * n` crops of `local_size`
    /// pixels, crop `k` of image `i` at row `k * n + i`. Empty when multi-crop is off.
    pub local: Vec<f32>,
    pub local_count: usize,
    pub local_size: usize,
}

/// View `view` (0 or 1) of the image in batch slot `slot` at training step `step`, before
/// normalisation, with where it lies in the image: the one definition that training
/// batches and the Views preview both use.
pub fn training_view(
    views: &ViewsSpec,
    src: &ImageF32,
    seed: u64,
    step: u64,
    slot: usize,
    view: usize,
) -> (ImageF32, ViewGeometry) {
    views.pipelines()[view].apply_tracked(src, src.width, &mut view_rng(seed, step, slot, view))
}

/// Multi-crop's local crop `k` of slot `slot` at step `step`, before normalisation: view
/// 2 + k of the slot's random stream, so it never changes views 0 and 1.
pub fn local_crop(
    views: &ViewsSpec,
    src: &ImageF32,
    seed: u64,
    step: u64,
    slot: usize,
    k: usize,
) -> ImageF32 {
    let local = &views.local;
    local
        .pipeline
        .apply(src, local.size, &mut view_rng(seed, step, slot, 2 + k))
}

/// Builds the batch of training step `step`: deterministic in (seed, step).
pub fn make_view_batch(
    images: &ImageSet,
    views: &ViewsSpec,
    seed: u64,
    step: u64,
    batch: usize,
) -> ViewBatch {
    let indices = batch_indices(seed, step, images.len(), batch);
    let n = indices.len();
    let size = images.size;
    let plane = 3 * size * size;
    let normalize = &views.normalize;
    let mut data = vec![0.0f32; 2 * n * plane];
    let geometry = data
        .par_chunks_mut(plane)
        .enumerate()
        .map(|(row, out)| {
            let (view, slot) = (row / n, row % n);
            let src = ImageF32::from_u8(images.image(indices[slot]), size, size);
            let (v, geometry) = training_view(views, &src, seed, step, slot, view);
            normalize.write_chw(&v, out);
            geometry
        })
        .collect();
    // Local crop k of slot i is view 2 + k of that slot: its own random stream.
    let local = &views.local;
    let local_plane = 3 * local.size * local.size;
    let mut local_data = vec![0.0f32; local.count * n * local_plane];
    local_data
        .par_chunks_mut(local_plane.max(1))
        .enumerate()
        .for_each(|(row, out)| {
            let (k, slot) = (row / n, row % n);
            let src = ImageF32::from_u8(images.image(indices[slot]), size, size);
            normalize.write_chw(&local_crop(views, &src, seed, step, slot, k), out);
        });
    ViewBatch {
        n,
        size,
        data,
        indices,
        geometry,
        local: local_data,
        local_count: local.count,
        local_size: local.size,
    }
}

/// The evaluation's fixed pairs of views of images `indices`: `[2m, 3, H, W]` normalised
/// CHW, view 1 of every image then view 2, drawn from a random stream no training step
/// uses (so the same augmentations come back at every evaluation).
pub fn held_out_pairs(
    images: &ImageSet,
    indices: &[usize],
    views: &ViewsSpec,
    seed: u64,
) -> Vec<f32> {
    let m = indices.len();
    let size = images.size;
    let plane = 3 * size * size;
    let pipelines = views.pipelines();
    let mut data = vec![0.0f32; 2 * m * plane];
    data.par_chunks_mut(plane)
        .enumerate()
        .for_each(|(row, out)| {
            let (view, slot) = (row / m, row % m);
            let src = ImageF32::from_u8(images.image(indices[slot]), size, size);
            let mut rng = view_rng(seed, EVALUATION_STEP, slot, view);
            let v = pipelines[view].apply(&src, size, &mut rng);
            views.normalize.write_chw(&v, out);
        });
    data
}

/// The "step" the evaluation's view pairs are drawn for (never a training step).
const EVALUATION_STEP: u64 = u64::MAX;

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
    fn a_batch_is_made_of_exactly_the_previewed_views() {
        let images = crate::data::DatasetSpec::default().load().unwrap().train;
        let mut views = ViewsSpec::default();
        views.local.count = 2;
        views.local.size = 12;
        let (seed, step) = (3, 7);
        let b = make_view_batch(&images, &views, seed, step, 6);
        let plane = 3 * b.size * b.size;
        let local_plane = 3 * 12 * 12;
        for slot in 0..b.n {
            let src = ImageF32::from_u8(images.image(b.indices[slot]), b.size, b.size);
            for view in 0..2 {
                let (v, geometry) = training_view(&views, &src, seed, step, slot, view);
                let mut chw = vec![0.0; plane];
                views.normalize.write_chw(&v, &mut chw);
                let row = view * b.n + slot;
                assert_eq!(&b.data[row * plane..][..plane], chw.as_slice());
                assert_eq!(b.geometry[row], geometry);
            }
            for k in 0..2 {
                let mut chw = vec![0.0; local_plane];
                views
                    .normalize
                    .write_chw(&local_crop(&views, &src, seed, step, slot, k), &mut chw);
                let row = k * b.n + slot;
                assert_eq!(&b.local[row * local_plane..][..local_plane], chw.as_slice());
            }
        }
    }

    #[test]
    fn evaluation_pairs_are_fixed_and_their_views_differ() {
        let d = crate::data::DatasetSpec::default().load().unwrap();
        let views = ViewsSpec::same(ViewPipeline::default());
        let a = held_out_pairs(&d.test, &[3, 9], &views, 0);
        assert_eq!(a, held_out_pairs(&d.test, &[3, 9], &views, 0));
        let plane = 3 * 32 * 32;
        assert_eq!(a.len(), 4 * plane);
        // Rows: image 3 view 1, image 9 view 1, image 3 view 2, image 9 view 2.
        assert_ne!(a[..plane], a[2 * plane..3 * plane]);
    }
    use crate::views::ViewPipeline;

    #[test]
    fn rows_are_pairs_of_the_same_images_and_deterministic() {
        let d = crate::data::shapes::generate(&crate::data::shapes::ShapesSpec {
            train_per_class: 4,
            test_per_class: 1,
            ..Default::default()
        });
        let p = ViewPipeline::default();
        let a = make_view_batch(&d.train, &ViewsSpec::same(p.clone()), 9, 0, 8);
        let b = make_view_batch(&d.train, &ViewsSpec::same(p.clone()), 9, 0, 8);
        assert_eq!(a, b);
        assert_eq!(a.data.len(), 16 * 3 * 32 * 32);
        assert!(a.data.iter().all(|v| (-1.0..=1.0).contains(v)));
        // The first row is exactly the pipeline applied with the preview's generator.
        let src = ImageF32::from_u8(d.train.image(a.indices[0]), 32, 32);
        let v0 = p.apply(&src, 32, &mut view_rng(9, 0, 0, 0));
        let mut row = vec![0.0; 3 * 32 * 32];
        Normalize::HALF.write_chw(&v0, &mut row);
        assert_eq!(&a.data[..row.len()], row.as_slice());
        assert!(a.local.is_empty() && a.local_count == 0);
    }

    #[test]
    fn local_crops_come_from_their_own_pipeline_and_stream() {
        let d = crate::data::shapes::generate(&crate::data::shapes::ShapesSpec {
            train_per_class: 4,
            test_per_class: 1,
            ..Default::default()
        });
        let mut views = ViewsSpec::default();
        views.local.count = 3;
        views.local.size = 12;
        let a = make_view_batch(&d.train, &views, 5, 2, 8);
        assert_eq!((a.local_count, a.local_size), (3, 12));
        let plane = 3 * 12 * 12;
        assert_eq!(a.local.len(), 3 * 8 * plane);
        // Crop k = 2 of slot 5 sits at row 2 * 8 + 5 and is view 2 + 2 of that slot.
        let src = ImageF32::from_u8(d.train.image(a.indices[5]), 32, 32);
        let crop = views
            .local
            .pipeline
            .apply(&src, 12, &mut view_rng(5, 2, 5, 4));
        let mut row = vec![0.0; plane];
        views.normalize.write_chw(&crop, &mut row);
        assert_eq!(&a.local[(2 * 8 + 5) * plane..][..plane], row.as_slice());
        // The global views do not change when local crops are added.
        views.local.count = 0;
        assert_eq!(make_view_batch(&d.train, &views, 5, 2, 8).data, a.data);
    }
}
