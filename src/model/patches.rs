//! CPC's patch grid on tensors: cutting a batch of images into its overlapping patches
//! (the geometry is `views::patch_grid::PatchGrid`, shared with the preview) and CPC v2's
//! per-patch augmentation (Henaff et al. 2020, sec. 4.2: random flips and colour dropping
//! on each patch on its own, so neighbouring patches cannot be matched by low-level cues).

use burn::tensor::{Device, Tensor, TensorData};
use rand::RngExt;

use crate::seeding::Rng;
use crate::views::patch_grid::PatchGrid;

/// `[B, C, H, W]` images -> `[B * grid^2, C, patch, patch]` patches, ordered by image, then
/// row, then column.
pub fn extract_patches(images: Tensor<4>, grid: &PatchGrid) -> Tensor<4> {
    let [b, c, _, _] = images.dims();
    let mut patches = Vec::with_capacity(grid.len());
    for row in 0..grid.grid {
        for col in 0..grid.grid {
            let (x0, y0) = grid.origin(row, col);
            patches.push(
                images
                    .clone()
                    .narrow(2, y0, grid.patch)
                    .narrow(3, x0, grid.patch),
            );
        }
    }
    Tensor::stack::<5>(patches, 1).reshape([b * grid.len(), c, grid.patch, grid.patch])
}

/// Per-patch augmentation: each patch is mirrored with probability 1/2 and, with
/// probability `drop_p`, keeps one of its three colour channels (the others set to 0, the
/// dataset mean after normalisation).
pub fn augment_patches(patches: Tensor<4>, drop_p: f32, rng: &mut Rng) -> Tensor<4> {
    let [n, c, _, _] = patches.dims();
    let device: Device = patches.device();
    let mut flip = Vec::with_capacity(n);
    let mut keep = Vec::with_capacity(n * c);
    for _ in 0..n {
        flip.push(if rng.random_bool(0.5) { 1.0f32 } else { 0.0 });
        let dropped = c == 3 && rng.random_range(0.0..1.0) < drop_p;
        let kept = rng.random_range(0..c);
        keep.extend((0..c).map(|ch| if !dropped || ch == kept { 1.0f32 } else { 0.0 }));
    }
    let flip = Tensor::<4>::from_data(TensorData::new(flip, [n, 1, 1, 1]), &device);
    let keep = Tensor::<4>::from_data(TensorData::new(keep, [n, c, 1, 1]), &device);
    let mirrored = patches.clone().flip([3]);
    (patches * (flip.clone().neg() + 1.0) + mirrored * flip) * keep
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::seeding::{Stream, rng_for};
    use crate::views::ImageF32;

    fn values(t: Tensor<4>) -> Vec<f32> {
        t.into_data()
            .convert::<f32>()
            .try_into_vec::<f32>()
            .unwrap()
    }

    #[test]
    fn tensor_patches_equal_the_preview_cut() {
        let d = Device::flex();
        let size = 16;
        let grid = PatchGrid::new(size, 3).unwrap();
        // Two images, CHW; pixel values encode image, channel and position.
        let chw: Vec<f32> = (0..2 * 3 * size * size).map(|i| i as f32).collect();
        let x = Tensor::<4>::from_data(TensorData::new(chw.clone(), [2, 3, size, size]), &d);
        let patches = extract_patches(x, &grid);
        assert_eq!(patches.dims(), [2 * 9, 3, 8, 8]);
        let got = values(patches);
        // The second image through the plain-pixel cut (HWC).
        let plane = size * size;
        let hwc: Vec<f32> = (0..plane)
            .flat_map(|p| (0..3).map(move |ch| (3 * plane + ch * plane + p) as f32))
            .collect();
        let img = ImageF32 {
            width: size,
            height: size,
            data: hwc,
        };
        for (i, patch) in grid.cut(&img).iter().enumerate() {
            let base = (9 + i) * 3 * 64;
            for ch in 0..3 {
                for y in 0..8 {
                    for xx in 0..8 {
                        assert_eq!(
                            got[base + ch * 64 + y * 8 + xx],
                            patch.pixel(xx, y)[ch],
                            "patch {i}"
                        );
                    }
                }
            }
        }
    }

    #[test]
    fn patch_augmentation_only_mirrors_and_drops_channels() {
        let d = Device::flex();
        let n = 64;
        let data: Vec<f32> = (0..n * 3 * 2 * 2).map(|i| (i % 7) as f32 + 1.0).collect();
        let x = Tensor::<4>::from_data(TensorData::new(data.clone(), [n, 3, 2, 2]), &d);
        let mut rng = rng_for(0, Stream::Method, &[0]);
        let out = values(augment_patches(x, 1.0, &mut rng));
        let (mut mirrored, mut kept) = (0, 0);
        for p in 0..n {
            let src = &data[p * 12..][..12];
            let got = &out[p * 12..][..12];
            let flipped: Vec<f32> = (0..12).map(|i| src[i ^ 1]).collect(); // swap x in 2x2
            let same = (0..12).all(|i| got[i] == src[i] || got[i] == 0.0);
            let flip = (0..12).all(|i| got[i] == flipped[i] || got[i] == 0.0);
            assert!(same || flip, "patch {p}: {got:?}");
            mirrored += usize::from(flip && !same);
            // drop_p = 1: exactly one channel survives.
            let alive = (0..3)
                .filter(|ch| got[ch * 4..][..4].iter().any(|&v| v != 0.0))
                .count();
            assert_eq!(alive, 1, "patch {p}");
            kept += alive;
        }
        assert_eq!(kept, n);
        assert!((16..48).contains(&mirrored), "{mirrored} of {n} mirrored");
    }
}
