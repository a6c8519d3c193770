//! PixPro (Xie et al. 2021, "Propagate Yourself: Exploring Pixel-Level Consistency for
//! Unsupervised Visual Representation Learning"): contrast is moved from images to pixels.
//! Both views go through the encoder and a per-pixel projector; feature-map positions of
//! the two views that show the same place of the image (their centres, mapped back through
//! each view's crop and flips, lie within `threshold` feature-map cells) are positive
//! pairs. The online side smooths its pixel features with the pixel propagation module
//! (each pixel adds up the transformed features of the pixels similar to it) and must
//! match the momentum encoder's features of the corresponding pixels in the other view.
//! The paper's instance branch (sec. 3.4, BYOL-style: pooled features, projector,
//! predictor against the momentum branch) is added with `instance_weight`; 0 is pure PixPro.

use burn::module::Module;
use burn::nn::{Linear, LinearConfig};
use burn::tensor::{Device, Tensor, TensorData};

use super::common::halves;
use super::momentum::{Online, Schedule, Target, momentum};
use super::plain::{Pairs, Scored};
use super::{BuildContext, Method, TrainBatch};
use crate::catalogue::methods::pixpro::Settings;
use crate::losses::negative_cosine;
use crate::model::tensor_io::scalar;
use crate::model::{BnMlp, BnMlpConfig, Encoder};
use crate::views::geometry::ViewGeometry;

/// The encoder with a projector applied at every position of its last feature map, and
/// the instance branch's projector (per position, or on the pooled output).
#[derive(Module, Debug)]
pub struct PixelBackbone {
    pub encoder: Encoder,
    pub projector: BnMlp,
    pub instance_projector: BnMlp,
    /// Whether the instance heads run per position, pooled after (the reference's order).
    pub pool_after: bool,
}

/// What the backbone gives for a batch of views.
pub struct PixelOutput {
    /// The pooled representation `[B, d]`.
    pooled: Tensor<2>,
    /// Pixel features `[B, side^2, out]`, positions row-major.
    pixels: Tensor<3>,
    /// The instance branch's projection: `[B, 1, out]` pooled first, `[B, side^2, out]`
    /// per position when the heads pool after.
    instance: Tensor<3>,
    side: usize,
}

/// Each position's row of `[B, P, d]` through `mlp`, then (`pool`) the mean over positions.
fn per_position(mlp: &BnMlp, x: Tensor<3>) -> Tensor<3> {
    let [b, p, d] = x.dims();
    let y = mlp.forward(x.reshape([b * p, d]));
    let out = y.dims()[1];
    y.reshape([b, p, out])
}

/// The mean over positions of `[B, P, d]`: `[B, d]`.
fn pool_positions(x: Tensor<3>) -> Tensor<2> {
    let [b, _, d] = x.dims();
    x.mean_dim(1).reshape([b, d])
}

impl PixelBackbone {
    fn forward(&self, x: Tensor<4>) -> PixelOutput {
        // Past the end: the last stage's map.
        let (pooled, map) = self.encoder.forward_with_map(x, usize::MAX);
        let [b, c, h, w] = map.dims();
        let rows = map
            .reshape([b, c, h * w])
            .swap_dims(1, 2)
            .reshape([b * h * w, c]);
        let px = self.projector.forward(rows.clone());
        let out = px.dims()[1];
        let instance = if self.pool_after {
            per_position(&self.instance_projector, rows.reshape([b, h * w, c]))
        } else {
            self.instance_projector
                .forward(pooled.clone())
                .unsqueeze_dim(1)
        };
        PixelOutput {
            instance,
            pooled,
            pixels: px.reshape([b, h * w, out]),
            side: h,
        }
    }
}

#[derive(Module, Debug)]
pub struct PixProOnline {
    pub backbone: PixelBackbone,
    /// g of the pixel propagation module (one linear layer, the paper's best setting).
    pub transform: Linear,
    /// The instance branch's predictor.
    pub predictor: BnMlp,
}

/// The target follows the online backbone.
impl Online for PixProOnline {
    type Target = PixelBackbone;

    fn followed(&self) -> &PixelBackbone {
        &self.backbone
    }
}

/// The momentum encoder's output, detached.
impl Target for PixelBackbone {
    type Keys = PixelOutput;

    fn keys(&self, views: Tensor<4>) -> PixelOutput {
        let o = self.forward(views);
        PixelOutput {
            pooled: o.pooled.detach(),
            pixels: o.pixels.detach(),
            instance: o.instance.detach(),
            side: o.side,
        }
    }

    fn encoder(&self) -> &Encoder {
        &self.encoder
    }
}

pub fn build(ctx: &BuildContext) -> Box<dyn Method> {
    let s = Settings::read(ctx.params);
    let (hidden, out) = (s.hidden, s.projection_dim);
    let mlp = |input| {
        BnMlpConfig {
            input,
            hidden,
            output: out,
            layers: 2,
            bn_last: false,
        }
        .init(ctx.device)
    };
    let dim = ctx.encoder.output_dim();
    let backbone = || PixelBackbone {
        encoder: ctx.encoder.init(ctx.device),
        projector: mlp(dim),
        instance_projector: mlp(dim),
        pool_after: s.instance_pool_after,
    };
    let online = PixProOnline {
        backbone: backbone(),
        transform: LinearConfig::new(out, out).init(ctx.device),
        predictor: mlp(out),
    };
    let target = backbone();
    let loss = loss(s.threshold as f32, s.gamma, s.instance_weight);
    momentum(ctx, online, target, Schedule::cosine(ctx, s.tau_base), loss)
        .in_space("pooled pixel features")
        .boxed()
}

/// The pixel consistency of each view's propagated pixels with the target's matching
/// pixels of the other view, plus the instance branch at `instance_weight`.
fn loss(
    threshold: f32,
    gamma: f64,
    instance_weight: f64,
) -> impl FnMut(&PixProOnline, TrainBatch, PixelOutput, &Pairs) -> (Scored, Tensor<2>) + Send {
    move |net, batch, t, _| {
        let n = batch.images();
        let cells = t.side * t.side;
        let (t1, t2) = (t.pixels.clone().narrow(0, 0, n), t.pixels.narrow(0, n, n));
        let (z1, z2) = halves(pool_positions(t.instance), n);
        let (g1, g2) = batch.geometry.split_at(n);
        let mask = positive_pairs(g1, g2, t.side, threshold);
        let mask = tensor_3d(mask, [n, cells, cells], &batch.views.device());
        let pairs_per_image = scalar(mask.clone().sum()) / n as f32;
        let o = net.backbone.forward(batch.views);
        let px = o.pixels;
        let y = propagate(px.clone(), net.transform.forward(px), gamma);
        let (y1, y2) = (y.clone().narrow(0, 0, n), y.narrow(0, n, n));
        let mut loss = pixel_consistency(y1, t2, mask.clone())
            + pixel_consistency(y2, t1, mask.swap_dims(1, 2));
        if instance_weight > 0.0 {
            // The predictor sees what the projector gave: per position, or one vector.
            let q = pool_positions(per_position(&net.predictor, o.instance));
            let (q1, q2) = halves(q, n);
            loss = loss + (negative_cosine(q1, z2) + negative_cosine(q2, z1)) * instance_weight;
        }
        let scored =
            Scored::from(loss).with_signal("matching pixel pairs per image", pairs_per_image);
        (scored, o.pooled)
    }
}

/// Rows of `[B, P, d]` scaled to unit length.
fn unit_rows(x: Tensor<3>) -> Tensor<3> {
    let norm = x
        .clone()
        .powf_scalar(2.0)
        .sum_dim(2)
        .sqrt()
        .clamp_min(1e-12);
    x / norm
}

/// The pixel propagation module: `y_i = sum_j max(cos(x_i, x_j), 0)^gamma g_j / |g_j|`
/// within each image, `x` and `g` `[B, P, d]`. The values g are L2-normalised first, as the
/// reference `featprop` does, so no pixel weighs in by the length of its transform.
pub fn propagate(x: Tensor<3>, g: Tensor<3>, gamma: f64) -> Tensor<3> {
    let u = unit_rows(x);
    let similarity = u.clone().matmul(u.swap_dims(1, 2)).clamp_min(0.0);
    similarity.powf_scalar(gamma).matmul(unit_rows(g))
}

/// Minus the cosine of `y` `[B, P, d]` (one view) and `target` `[B, P, d]` (the other)
/// averaged over the pairs `mask` `[B, P, P]` marks within each image, then over the images
/// (the reference `regression_loss`): an image with few matching pixels counts as much as
/// one with many, and one with none adds 0.
pub fn pixel_consistency(y: Tensor<3>, target: Tensor<3>, mask: Tensor<3>) -> Tensor<1> {
    let images = mask.dims()[0];
    let cos = unit_rows(y).matmul(unit_rows(target).swap_dims(1, 2));
    let per_image = |t: Tensor<3>| t.sum_dim(2).sum_dim(1).reshape([images]);
    let pairs = per_image(mask.clone()).clamp_min(1e-6);
    -(per_image(cos * mask) / pairs).mean()
}

/// `[B, P, P]` with 1 where cell `i` of view `a` and cell `j` of view `b` of image `k` show
/// the same place: their centres in the source lie less than `threshold` cell diagonals
/// apart (the larger of the two views' diagonals). A rotated view matches nothing.
pub fn positive_pairs(
    a: &[ViewGeometry],
    b: &[ViewGeometry],
    side: usize,
    threshold: f32,
) -> Vec<f32> {
    let cells = side * side;
    let mut mask = vec![0.0f32; a.len() * cells * cells];
    for (k, (ga, gb)) in a.iter().zip(b).enumerate() {
        if ga.rotated || gb.rotated {
            continue;
        }
        let unit = ga.cell_diagonal(side).max(gb.cell_diagonal(side));
        for i in 0..cells {
            let (xa, ya) = ga.cell_centre(i / side, i % side, side);
            for j in 0..cells {
                let (xb, yb) = gb.cell_centre(j / side, j % side, side);
                if (xa - xb).hypot(ya - yb) < threshold * unit {
                    mask[(k * cells + i) * cells + j] = 1.0;
                }
            }
        }
    }
    mask
}

fn tensor_3d(values: Vec<f32>, dims: [usize; 3], device: &Device) -> Tensor<3> {
    Tensor::from_data(TensorData::new(values, dims), device)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::losses::test_util::{close, value};
    use crate::views::ops::CropBox;

    fn values(t: Tensor<3>) -> Vec<f32> {
        t.into_data()
            .convert::<f32>()
            .try_into_vec::<f32>()
            .unwrap()
    }

    #[test]
    fn the_instance_heads_pool_after_running_at_every_position_by_default() {
        let d = Device::flex();
        let encoder = crate::model::EncoderConfig {
            channels: vec![4, 8],
            ..Default::default()
        };
        let mlp = || {
            BnMlpConfig {
                input: 8,
                hidden: 16,
                output: 6,
                layers: 2,
                bn_last: false,
            }
            .init(&d)
        };
        let net = PixelBackbone {
            encoder: encoder.init(&d),
            projector: mlp(),
            instance_projector: mlp(),
            pool_after: true,
        };
        let x = Tensor::<4>::random([3, 3, 8, 8], burn::tensor::Distribution::Default, &d);
        let o = net.forward(x.clone());
        assert_eq!(o.instance.dims(), [3, 16, 6], "one projection per position");
        let (_, map) = net.encoder.forward_with_map(x, usize::MAX);
        let rows = map.reshape([3, 8, 16]).swap_dims(1, 2);
        let after = pool_positions(per_position(&net.instance_projector, rows));
        let diff = |a: Tensor<2>, b: Tensor<2>| scalar((a - b).abs().max());
        assert!(diff(pool_positions(o.instance), after) < 1e-5);
        // The order matters (the heads are not linear): positions v and -v pool to 0
        // first, while each goes through the ReLU on its own after.
        let v = Tensor::<1>::from_floats([1.0, -2.0, 0.5, 3.0, -1.0, 2.0, 0.0, 1.5], &d);
        let rows = Tensor::cat(vec![v.clone().reshape([1, 1, 8]), -v.reshape([1, 1, 8])], 1);
        let rows = Tensor::cat(vec![rows.clone(), rows * 0.5], 0);
        let after = pool_positions(per_position(&net.instance_projector, rows.clone()));
        let before = net.instance_projector.forward(pool_positions(rows));
        let gap = diff(after, before);
        assert!(gap > 1e-2, "{gap}");
    }

    #[test]
    fn propagation_ignores_the_length_of_each_value() {
        let d = Device::flex();
        let x = tensor_3d(vec![1., 0., 0.8, 0.6, 0., 1.], [1, 3, 2], &d);
        let unit = tensor_3d(vec![1., 0., 0., 1., 0.6, 0.8], [1, 3, 2], &d);
        // The same directions at lengths 1, 5 and 0.1.
        let scaled = tensor_3d(vec![1., 0., 0., 5., 0.06, 0.08], [1, 3, 2], &d);
        let (a, b) = (
            values(propagate(x.clone(), unit, 2.0)),
            values(propagate(x, scaled, 2.0)),
        );
        for (p, q) in a.iter().zip(&b) {
            assert!((p - q).abs() < 1e-5, "{a:?} vs {b:?}");
        }
    }

    #[test]
    fn the_pixel_loss_averages_within_each_image_then_over_images() {
        let d = Device::flex();
        // Image 0: one matched pair, identical (cos 1). Image 1: three matched pairs, each
        // orthogonal (cos 0). Per image: -(1 + 0) / 2; pooled over pairs it would be -1/4.
        let y = tensor_3d(vec![1., 0., 1., 0., 1., 0., 1., 0.], [2, 2, 2], &d);
        let t = tensor_3d(vec![1., 0., 0., 1., 0., 1., 0., 1.], [2, 2, 2], &d);
        let mask = tensor_3d(vec![1., 0., 0., 0., 0., 1., 1., 1.], [2, 2, 2], &d);
        close(
            value(pixel_consistency(y.clone(), t.clone(), mask)),
            -0.5,
            1e-5,
        );
        // An image with no pair adds 0 and still counts in the mean.
        let mask = tensor_3d(vec![1., 0., 0., 0., 0., 0., 0., 0.], [2, 2, 2], &d);
        close(value(pixel_consistency(y, t, mask)), -0.5, 1e-5);
    }

    #[test]
    fn identical_views_pair_each_cell_with_itself_only() {
        let g = [ViewGeometry::IDENTITY];
        let mask = positive_pairs(&g, &g, 2, 0.7);
        assert_eq!(
            mask,
            [
                1., 0., 0., 0., 0., 1., 0., 0., 0., 0., 1., 0., 0., 0., 0., 1.
            ]
        );
    }

    #[test]
    fn a_mirrored_view_pairs_cells_across_the_mirror_and_a_rotated_one_nothing() {
        let mut flipped = ViewGeometry::IDENTITY;
        flipped.flip_horizontal();
        let mask = positive_pairs(&[ViewGeometry::IDENTITY], &[flipped], 2, 0.7);
        // Cell 0 (top-left) of view a shows what cell 1 (top-right) of the mirror shows.
        assert_eq!(
            mask,
            [
                0., 1., 0., 0., 1., 0., 0., 0., 0., 0., 0., 1., 0., 0., 1., 0.
            ]
        );
        let rotated = ViewGeometry {
            rotated: true,
            ..ViewGeometry::IDENTITY
        };
        let none = positive_pairs(&[ViewGeometry::IDENTITY], &[rotated], 2, 0.7);
        assert!(none.iter().all(|&m| m == 0.0));
    }

    #[test]
    fn distant_crops_share_no_pixels_and_overlapping_ones_share_the_overlap() {
        let crop = |x, w| {
            let mut g = ViewGeometry::IDENTITY;
            g.crop(CropBox { x, y: 0, w, h: 32 }, 32, 32);
            g
        };
        // The left quarter vs the right quarter: nothing in common.
        let mask = positive_pairs(&[crop(0, 8)], &[crop(24, 8)], 4, 0.7);
        assert!(mask.iter().all(|&m| m == 0.0));
        // The left half vs the middle half (x 8..24): cell columns 4 pixels wide, so
        // column 2 of a (centre x 10) lies on column 0 of b (centre x 10), row by row.
        let mask = positive_pairs(&[crop(0, 16)], &[crop(8, 16)], 4, 0.7);
        let at = |i: usize, j: usize| mask[i * 16 + j];
        for row in 0..4 {
            assert_eq!(at(row * 4 + 2, row * 4), 1.0);
            assert_eq!(at(row * 4 + 3, row * 4 + 1), 1.0);
            // Column 0 of a (centre x 2) is 8 pixels from b's nearest centre: no pair.
            assert!((0..16).all(|j| at(row * 4, j) == 0.0));
        }
    }

    #[test]
    fn propagation_weights_by_clamped_cosine_to_the_power_gamma() {
        let d = Device::flex();
        // Three pixels: x0 = (1, 0), x1 = (1, 1), x2 = (-1, 0); g = the same features.
        let x = tensor_3d(vec![1., 0., 1., 1., -1., 0.], [1, 3, 2], &d);
        let y = values(propagate(x.clone(), x, 2.0));
        // y0 = 1 * g0 + cos(45)^2 * g1 + 0 * g2 with unit g: (1, 0) + 0.5 (1, 1) / sqrt 2.
        let h = 0.5 / 2f32.sqrt();
        assert!(
            (y[0] - (1.0 + h)).abs() < 1e-6 && (y[1] - h).abs() < 1e-6,
            "{y:?}"
        );
        // y2 = x2 only (its cosine with x0 and x1 is negative): (-1, 0).
        assert!((y[4] + 1.0).abs() < 1e-6 && y[5].abs() < 1e-6, "{y:?}");
    }

    #[test]
    fn consistency_is_minus_the_mean_cosine_over_marked_pairs() {
        let d = Device::flex();
        let y = tensor_3d(vec![1., 0., 0., 1.], [1, 2, 2], &d);
        let t = tensor_3d(vec![1., 1., 0., 3.], [1, 2, 2], &d);
        // Pairs (0, 0): cos 1/sqrt 2; (1, 1): cos 1.
        let mask = tensor_3d(vec![1., 0., 0., 1.], [1, 2, 2], &d);
        let expected = -(0.5f64.sqrt() + 1.0) / 2.0;
        close(
            value(pixel_consistency(y.clone(), t.clone(), mask)),
            expected,
            1e-6,
        );
        let none = tensor_3d(vec![0.; 4], [1, 2, 2], &d);
        close(value(pixel_consistency(y, t, none)), 0.0, 1e-9);
    }
}
