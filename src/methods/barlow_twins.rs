//! Barlow Twins (Zbontar et al. 2021, "Barlow Twins: Self-Supervised Learning via
//! Redundancy Reduction"): the cross-correlation matrix of the two views' projections is
//! pushed toward the identity. Invariance on the diagonal, decorrelation off it; no
//! negatives, no momentum encoder, no stop-gradient.

use super::common::{Backbone, halves};
use super::plain::{Pairs, plain};
use super::{BuildContext, Method};
use crate::catalogue::methods::barlow_twins::Settings;
use crate::losses::barlow_twins;

pub fn build(ctx: &BuildContext) -> Box<dyn Method> {
    let s = Settings::read(ctx.params);
    let net = Backbone::new(ctx, s.hidden, s.projection_dim, 3);
    plain(ctx, net, move |z, pairs: &Pairs| {
        let (z1, z2) = halves(z, pairs.images);
        barlow_twins(z1, z2, s.lambda).into()
    })
    .boxed()
}
