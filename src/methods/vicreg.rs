//! VICReg (Bardes, Ponce, LeCun 2022, "VICReg: Variance-Invariance-Covariance
//! Regularization for Self-Supervised Learning"): the two views' projections are pulled
//! together (invariance) while each dimension keeps its standard deviation above 1 over the
//! batch (variance) and different dimensions stay decorrelated (covariance).

use super::common::{Backbone, halves};
use super::plain::{Pairs, Scored, plain};
use super::{BuildContext, Method};
use crate::catalogue::methods::vicreg::Settings;
use crate::losses::vicreg;
use crate::model::tensor_io::scalar;

pub fn build(ctx: &BuildContext) -> Box<dyn Method> {
    let s = Settings::read(ctx.params);
    let net = Backbone::new(ctx, s.hidden, s.projection_dim, 3);
    plain(ctx, net, move |z, pairs: &Pairs| {
        let (z1, z2) = halves(z, pairs.images);
        let t = vicreg(z1, z2, s.sim_weight, s.var_weight, s.cov_weight);
        let value = |term: burn::tensor::Tensor<1>| scalar(term.detach());
        let (inv, var, cov) = (value(t.invariance), value(t.variance), value(t.covariance));
        Scored::from(t.total)
            .with_signal("invariance term", inv)
            .with_signal("variance term", var)
            .with_signal("covariance term", cov)
    })
    .boxed()
}
