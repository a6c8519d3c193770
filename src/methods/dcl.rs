//! DCL and DCLW (Yeh et al. 2022, "Decoupled Contrastive Learning"): SimCLR's encoder, head
//! and views with the positive pair taken out of the loss's denominator, and optionally the
//! von Mises-Fisher weighting of the positive term (DCLW).

use super::common::HeadNet;
use super::plain::{Pairs, Scored, plain};
use super::{BuildContext, Method};
use crate::catalogue::methods::dcl::Settings;
use crate::losses::dcl;
use crate::losses::dcl::coupling;

pub fn build(ctx: &BuildContext) -> Box<dyn Method> {
    let s = Settings::read(ctx.params);
    let net = HeadNet::new(ctx, s.projection_hidden, s.projection_dim);
    let weighting = s.weighted.then_some(s.sigma);
    plain(ctx, net, move |z, pairs: &Pairs| {
        let t = pairs.temperature();
        let npc = coupling(z.clone(), t);
        Scored::from(dcl(z, t, weighting)).with_signal("SimCLR's coupling factor (q)", npc)
    })
    .temperature(s.temperature)
    .boxed()
}
