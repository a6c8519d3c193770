//! Where a view's pixels come from in its source image, tracked through the geometric
//! steps of a pipeline (crops and flips), so methods that match pixels across views
//! (PixPro) can tell which positions of two views show the same place of the image.
//!
//! The map is affine per axis: a point at fraction `u` of the view's width lies at
//! fraction `origin[0] + scale[0] * u` of the source's width (a negative scale is a
//! mirror); the same for `v` and heights. A rotation cannot be expressed this way and
//! marks the view `rotated` instead.

use super::ops::CropBox;

#[derive(Clone, Copy, Debug, PartialEq)]
pub struct ViewGeometry {
    pub origin: [f32; 2],
    pub scale: [f32; 2],
    /// A rotation ran: positions no longer map to the source by the affine map.
    pub rotated: bool,
}

impl Default for ViewGeometry {
    fn default() -> Self {
        Self::IDENTITY
    }
}

impl ViewGeometry {
    /// The whole source, unmirrored.
    pub const IDENTITY: Self = Self {
        origin: [0.0, 0.0],
        scale: [1.0, 1.0],
        rotated: false,
    };

    /// Source fractions `(x, y)` of the view point at fractions `(u, v)`.
    pub fn to_source(&self, u: f32, v: f32) -> (f32, f32) {
        (
            self.origin[0] + self.scale[0] * u,
            self.origin[1] + self.scale[1] * v,
        )
    }

    /// The view was cropped to `b` (pixels of the current `width x height` view).
    pub fn crop(&mut self, b: CropBox, width: usize, height: usize) {
        let (w, h) = (width as f32, height as f32);
        self.origin[0] += self.scale[0] * b.x as f32 / w;
        self.origin[1] += self.scale[1] * b.y as f32 / h;
        self.scale[0] *= b.w as f32 / w;
        self.scale[1] *= b.h as f32 / h;
    }

    /// The view was mirrored left-right.
    pub fn flip_horizontal(&mut self) {
        self.origin[0] += self.scale[0];
        self.scale[0] = -self.scale[0];
    }

    /// The view was mirrored top-bottom.
    pub fn flip_vertical(&mut self) {
        self.origin[1] += self.scale[1];
        self.scale[1] = -self.scale[1];
    }

    /// Source fractions of the centre of cell `(row, col)` of a `side x side` feature map.
    pub fn cell_centre(&self, row: usize, col: usize, side: usize) -> (f32, f32) {
        let s = side as f32;
        self.to_source((col as f32 + 0.5) / s, (row as f32 + 0.5) / s)
    }

    /// Length of a `side x side` feature-map cell's diagonal, in source fractions.
    pub fn cell_diagonal(&self, side: usize) -> f32 {
        let s = side as f32;
        (self.scale[0] / s).hypot(self.scale[1] / s)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn crop_then_flip_maps_view_corners_to_the_crop_mirrored() {
        let mut g = ViewGeometry::IDENTITY;
        // A 32x32 image cropped to its right half, top quarter... (x 16..32, y 0..8).
        g.crop(
            CropBox {
                x: 16,
                y: 0,
                w: 16,
                h: 8,
            },
            32,
            32,
        );
        assert_eq!(g.to_source(0.0, 0.0), (0.5, 0.0));
        assert_eq!(g.to_source(1.0, 1.0), (1.0, 0.25));
        g.flip_horizontal();
        // The view's left edge now shows the crop's right edge.
        assert_eq!(g.to_source(0.0, 0.0), (1.0, 0.0));
        assert_eq!(g.to_source(1.0, 0.5), (0.5, 0.125));
        g.flip_vertical();
        assert_eq!(g.to_source(0.0, 0.0), (1.0, 0.25));
    }

    #[test]
    fn flip_before_crop_crops_the_mirrored_image() {
        let mut g = ViewGeometry::IDENTITY;
        g.flip_horizontal();
        // The view's left quarter of the mirrored image is the source's right quarter.
        g.crop(
            CropBox {
                x: 0,
                y: 0,
                w: 8,
                h: 32,
            },
            32,
            32,
        );
        assert_eq!(g.to_source(0.0, 0.0), (1.0, 0.0));
        assert_eq!(g.to_source(1.0, 0.0), (0.75, 0.0));
    }

    #[test]
    fn cell_centres_and_diagonal_follow_the_scale() {
        let g = ViewGeometry {
            origin: [0.5, 0.0],
            scale: [0.5, 0.5],
            rotated: false,
        };
        assert_eq!(g.cell_centre(0, 0, 2), (0.625, 0.125));
        assert!((g.cell_diagonal(2) - (0.25f32).hypot(0.25)).abs() < 1e-7);
    }
}
