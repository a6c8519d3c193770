//! CPC's patch grid (van den Oord et al. 2018, sec. 3.3; Henaff et al. 2020): an image cut
//! into a `grid x grid` lattice of square patches that overlap by half, e.g. 7x7 patches of
//! 8x8 pixels at stride 4 on a 32x32 image. Rows of patches are the sequence CPC predicts
//! along: the context of row `r` predicts rows `r + 1 ..= r + k`.
//!
//! This module holds the geometry, the cut on plain pixels and the preview mosaic; the
//! training path cuts tensors with the same geometry (`model::patches`), and a test there
//! checks both agree.

use super::ImageF32;

/// Where the patches of a grid lie on an image.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct PatchGrid {
    /// Patches per row and per column.
    pub grid: usize,
    /// Side of a patch in pixels (twice the stride: neighbours overlap by half).
    pub patch: usize,
    pub stride: usize,
    /// Pixels left out at the top and left when the image is not a multiple of the stride
    /// (the lattice is centred).
    pub offset: usize,
}

impl PatchGrid {
    /// The grid of `grid x grid` half-overlapping patches on a square `image`-pixel image.
    pub fn new(image: usize, grid: usize) -> Result<Self, String> {
        if grid < 2 {
            return Err(format!(
                "a patch grid needs at least 2x2 patches, not {grid}"
            ));
        }
        let stride = image / (grid + 1);
        if stride == 0 {
            return Err(format!(
                "a {grid}x{grid} patch grid does not fit a {image}x{image} image: patches \
                 would be smaller than 2 pixels"
            ));
        }
        Ok(Self {
            grid,
            patch: 2 * stride,
            stride,
            offset: (image - (grid + 1) * stride) / 2,
        })
    }

    /// Number of patches.
    pub fn len(&self) -> usize {
        self.grid * self.grid
    }

    pub fn is_empty(&self) -> bool {
        self.grid == 0
    }

    /// Top-left pixel `(x, y)` of the patch in `row`, `col`.
    pub fn origin(&self, row: usize, col: usize) -> (usize, usize) {
        (
            self.offset + col * self.stride,
            self.offset + row * self.stride,
        )
    }

    /// The patches of `img`, row by row.
    pub fn cut(&self, img: &ImageF32) -> Vec<ImageF32> {
        let p = self.patch;
        let mut out = Vec::with_capacity(self.len());
        for row in 0..self.grid {
            for col in 0..self.grid {
                let (x0, y0) = self.origin(row, col);
                let mut data = Vec::with_capacity(p * p * 3);
                for y in y0..y0 + p {
                    for x in x0..x0 + p {
                        data.extend_from_slice(&img.pixel(x, y));
                    }
                }
                out.push(ImageF32 {
                    width: p,
                    height: p,
                    data,
                });
            }
        }
        out
    }

    /// Side of [`mosaic`](Self::mosaic)'s image with `gap` pixels between patches.
    pub fn mosaic_size(&self, gap: usize) -> usize {
        self.grid * self.patch + (self.grid + 1) * gap
    }

    /// The patches laid out apart, `gap` pixels between them, for the preview. The band
    /// behind each row of patches takes `row_colour(row)`, so the caller can mark which
    /// rows are context and which are predicted.
    pub fn mosaic(
        &self,
        img: &ImageF32,
        gap: usize,
        row_colour: impl Fn(usize) -> [f32; 3],
    ) -> ImageF32 {
        let side = self.mosaic_size(gap);
        let mut data = vec![0.0; side * side * 3];
        let band = self.patch + gap;
        for y in 0..side {
            // Which row of patches this line belongs to (its band starts half a gap above).
            let row = (y.saturating_sub(gap / 2) / band).min(self.grid - 1);
            let colour = row_colour(row);
            for x in 0..side {
                data[(y * side + x) * 3..][..3].copy_from_slice(&colour);
            }
        }
        for (i, patch) in self.cut(img).iter().enumerate() {
            let (row, col) = (i / self.grid, i % self.grid);
            let (x0, y0) = (gap + col * band, gap + row * band);
            for y in 0..self.patch {
                for x in 0..self.patch {
                    let at = ((y0 + y) * side + x0 + x) * 3;
                    data[at..at + 3].copy_from_slice(&patch.pixel(x, y));
                }
            }
        }
        ImageF32 {
            width: side,
            height: side,
            data,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn seven_by_seven_on_32_pixels_is_8_pixel_patches_at_stride_4() {
        let g = PatchGrid::new(32, 7).unwrap();
        assert_eq!((g.patch, g.stride, g.offset, g.len()), (8, 4, 0, 49));
        // The last patch ends on the image's edge.
        assert_eq!(g.origin(6, 6), (24, 24));
        // A size that is not a multiple of the stride centres the lattice.
        let g = PatchGrid::new(34, 7).unwrap();
        assert_eq!((g.patch, g.offset), (8, 1));
        assert!(PatchGrid::new(32, 1).is_err());
        assert!(PatchGrid::new(8, 15).is_err());
    }

    #[test]
    fn patches_hold_the_pixels_at_their_origin_and_overlap_by_half() {
        let g = PatchGrid::new(16, 3).unwrap();
        // Pixel value encodes its position.
        let data = (0..16 * 16)
            .flat_map(|i| [(i % 16) as f32, (i / 16) as f32, 0.0])
            .collect();
        let img = ImageF32 {
            width: 16,
            height: 16,
            data,
        };
        let patches = g.cut(&img);
        assert_eq!(patches.len(), 9);
        assert_eq!(patches[0].width, 8);
        // Row 1, col 2 starts at x = 8, y = 4.
        assert_eq!(patches[5].pixel(0, 0), [8.0, 4.0, 0.0]);
        assert_eq!(patches[5].pixel(7, 7), [15.0, 11.0, 0.0]);
        // Horizontal neighbours share half their columns.
        assert_eq!(patches[0].pixel(4, 0), patches[1].pixel(0, 0));
    }

    #[test]
    fn mosaic_puts_each_patch_apart_on_its_row_colour() {
        let g = PatchGrid::new(8, 3).unwrap(); // patch 4, stride 2
        let img = ImageF32 {
            width: 8,
            height: 8,
            data: vec![0.5; 8 * 8 * 3],
        };
        let m = g.mosaic(&img, 2, |row| [row as f32, 0.0, 0.0]);
        assert_eq!(m.width, g.mosaic_size(2));
        assert_eq!(m.width, 3 * 4 + 4 * 2);
        assert_eq!(m.pixel(2, 2), [0.5; 3]); // first patch
        assert_eq!(m.pixel(0, 0), [0.0, 0.0, 0.0]); // row 0's band
        assert_eq!(m.pixel(0, m.height - 1), [2.0, 0.0, 0.0]); // row 2's band
        assert_eq!(m.pixel(7, 3), [0.0, 0.0, 0.0]); // gap between patch 0 and 1
    }
}
