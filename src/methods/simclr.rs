//! SimCLR (Chen, Kornblith, Norouzi, Hinton 2020): two augmented views of each image pass
//! through a shared encoder f and projection head g; NT-Xent pulls each pair together
//! against the other 2N-2 views of the batch. The representation is h = f(x).

use super::common::HeadNet;
use super::plain::{Pairs, plain};
use super::{BuildContext, Method};
use crate::catalogue::methods::simclr::Settings;
use crate::losses::nt_xent;

pub fn build(ctx: &BuildContext) -> Box<dyn Method> {
    let s = Settings::read(ctx.params);
    let net = HeadNet::new(ctx, s.projection_hidden, s.projection_dim);
    plain(ctx, net, |z, pairs: &Pairs| {
        nt_xent(z, pairs.temperature() as f32).into()
    })
    .temperature(s.temperature)
    .boxed()
}
