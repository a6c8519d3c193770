//! Rotation about the image centre, as `ops_extra::rotate`: each output pixel's source
//! position by the inverse map, its four neighbours gathered and blended bilinearly,
//! black outside the source. Not a separable map (unlike crops and blurs), so the
//! neighbours are gathered by index rather than multiplied in as matrices.

use burn::tensor::{Device, Int, Tensor, TensorData};

use super::{blend, drawn_mask, per_image};
use crate::views::drawn::Drawn;

/// Rotates each image whose draw is `Some` by its drawn angle (`size`-pixel images).
pub fn rotate(x: Tensor<4>, draws: &[Option<Drawn>], size: usize, device: &Device) -> Tensor<4> {
    let n = draws.len();
    let [_, c, _, _] = x.dims();
    let (sin, cos): (Vec<f32>, Vec<f32>) = draws
        .iter()
        .map(|d| match d {
            Some(Drawn::Rotate { degrees }) => degrees.to_radians().sin_cos(),
            _ => (0.0, 1.0),
        })
        .unzip();
    // One value per image, `[n, 1]`.
    let column = |v: Vec<f32>| per_image(v.into_iter(), device).reshape([n, 1]);
    let (sin, cos) = (column(sin), column(cos));
    // Each output pixel's offset from the centre, `[1, size * size]` in row-major order.
    let centre = (size as f32 - 1.0) / 2.0;
    let offsets = |of: fn(usize, usize) -> usize| {
        let values = (0..size * size)
            .map(|p| of(p, size) as f32 - centre)
            .collect::<Vec<_>>();
        Tensor::<2>::from_data(TensorData::new(values, [1, size * size]), device)
    };
    let dx = offsets(|p, s| p % s);
    let dy = offsets(|p, s| p / s);
    // The inverse map, term by term in ops_extra::rotate's order.
    let sx = (cos.clone() * dx.clone() - sin.clone() * dy.clone()).add_scalar(centre);
    let sy = (sin * dx + cos * dy).add_scalar(centre);
    let last = (size - 1) as f32;
    let edge = size as f32 - 0.5;
    let inside = sx.clone().greater_equal_elem(-0.5).float()
        * sy.clone().greater_equal_elem(-0.5).float()
        * sx.clone().lower_equal_elem(edge).float()
        * sy.clone().lower_equal_elem(edge).float();
    let (x0, x1, tx) = neighbours(sx.clamp(0.0, last), last);
    let (y0, y1, ty) = neighbours(sy.clamp(0.0, last), last);
    let flat = x.clone().reshape([n, c, size * size]);
    let at = |yy: &Tensor<2>, xx: &Tensor<2>| {
        let index: Tensor<2, Int> = (yy.clone().mul_scalar(size as f32) + xx.clone()).int();
        let index = index.unsqueeze_dim::<3>(1).expand([n, c, size * size]);
        flat.clone().gather(2, index)
    };
    let per_pixel = |t: Tensor<2>| t.unsqueeze_dim::<3>(1);
    let (tx, ty) = (per_pixel(tx), per_pixel(ty));
    let one_minus = |t: &Tensor<3>| t.clone().neg().add_scalar(1.0);
    let top = at(&y0, &x0) * one_minus(&tx) + at(&y0, &x1) * tx.clone();
    let bottom = at(&y1, &x0) * one_minus(&tx) + at(&y1, &x1) * tx;
    let rotated = (top * one_minus(&ty) + bottom * ty) * per_pixel(inside);
    blend(
        x,
        rotated.reshape([n, c, size, size]),
        drawn_mask(draws, device),
    )
}

/// The lower neighbour, the upper one (clamped to `last`) and the fraction between them,
/// of clamped positions `s`.
fn neighbours(s: Tensor<2>, last: f32) -> (Tensor<2>, Tensor<2>, Tensor<2>) {
    let lower = s.clone().floor();
    let upper = lower.clone().add_scalar(1.0).clamp_max(last);
    let fraction = s - lower.clone();
    (lower, upper, fraction)
}
