//! The loss ladder's second rung: the triplet loss (Schroff, Kalenichenko, Philbin 2015,
//! "FaceNet"). An anchor (view 1 of an image) must be closer to its positive (view 2 of the
//! same image) than to a negative (view 2 of another image) by a margin; which negative is
//! used matters, so the mining strategy is a setting.

use burn::tensor::{Int, Tensor, TensorData};
use rand::RngExt;

use super::common::{HeadNet, halves};
use super::plain::{Pairs, Scored, plain};
use super::{BuildContext, Method};
use crate::catalogue::methods::triplet::Settings;
use crate::losses::{Mining, choose_negatives, pairwise_sq_distances, triplet};
use crate::model::tensor_io::matrix_to_vec;
use crate::seeding::{Stream, rng_for};

pub fn build(ctx: &BuildContext) -> Box<dyn Method> {
    let s = Settings::read(ctx.params);
    let net = HeadNet::new(ctx, ctx.encoder.output_dim(), s.projection_dim);
    let mining = match s.mining {
        "random" => Mining::Random,
        "hard" => Mining::Hard,
        _ => Mining::SemiHard,
    };
    let (seed, margin) = (ctx.seed, s.margin);
    plain(ctx, net, move |z, pairs: &Pairs| {
        let n = pairs.images;
        let mut rng = rng_for(seed, Stream::Method, &[2, pairs.step]);
        let (z1, z2) = halves(z, n);
        let d = pairwise_sq_distances(z1, z2);
        // Mining looks at the current distances but is not differentiated through.
        let plain = matrix_to_vec(d.clone().detach());
        let picks: Vec<i64> = choose_negatives(&plain, n, mining, |k| rng.random_range(0..k))
            .into_iter()
            .map(|j| j as i64)
            .collect();
        let col =
            |v: Vec<i64>| Tensor::<2, Int>::from_data(TensorData::new(v, [n, 1]), &pairs.device);
        let ap = d
            .clone()
            .gather(1, col((0..n as i64).collect()))
            .reshape([n]);
        let an = d.gather(1, col(picks)).reshape([n]);
        let violated = (ap.clone() - an.clone() + margin)
            .detach()
            .greater_elem(0.0);
        let active = matrix_to_vec(violated.float().reshape([1, n]))
            .iter()
            .sum::<f32>();
        Scored::from(triplet(ap, an, margin)).with_signal("active triplets", active / n as f32)
    })
    .normalized()
    .boxed()
}
