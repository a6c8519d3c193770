//! VICReg (Bardes, Ponce, LeCun 2022, "VICReg: Variance-Invariance-Covariance
//! Regularization for Self-Supervised Learning"): the two views' projections are pulled
//! together (invariance) while each dimension keeps its standard deviation above 1 over the
//! batch (variance) and different dimensions stay decorrelated (covariance).

use super::common::{Backbone, halves};
use super::plain::{Pairs, Scored, plain};
use super::{BuildContext, Method, MethodInfo, ParamSpec};
use crate::catalogue::settings::{hidden_width, projection_dim};
use crate::losses::vicreg;
use crate::model::tensor_io::scalar;

crate::settings! {
    /// The settings of this method.
    pub struct Settings {
        sim_weight: f64 = ParamSpec::number(
            "invariance weight lambda",
            "Weight of the mean squared error between the views (25 in the paper)",
            25.0,
            0.0,
            1000.0,
        ),
        var_weight: f64 = ParamSpec::number(
            "variance weight mu",
            "Weight of the std hinge (25 in the paper)",
            25.0,
            0.0,
            1000.0,
        ),
        cov_weight: f64 = ParamSpec::number(
            "covariance weight nu",
            "Weight of the off-diagonal covariance (1 in the paper)",
            1.0,
            0.0,
            1000.0,
        ),
        hidden: usize = hidden_width(
            "projector hidden width",
            512.0,
            "Width of the expander's hidden layers (8192 in the paper)",
        ),
        projection_dim: usize = projection_dim(
            512.0,
            "Output of the expander (8192 in the paper)",
        ),
    }
}

pub static INFO: MethodInfo = MethodInfo {
    id: "vicreg",
    name: "VICReg",
    paper: "Bardes, Ponce, LeCun 2022, VICReg: Variance-Invariance-Covariance Regularization",
    summary: "Three explicit terms replace negatives: the views' projections must match \
              (invariance), every dimension must keep a standard deviation of at least 1 across \
              the batch (variance, which forbids collapse), and dimensions must be uncorrelated \
              (covariance, which forbids redundancy).",
    formula: "L = lambda MSE(z1, z2) + mu sum_views mean_j max(0, 1 - sqrt(Var z_j + eps)) \
              + nu sum_views sum_{i != j} Cov(z)_ij^2 / d",
    params: Settings::PARAMS,
    diagram: crate::siamese_pair!("encoder", "expander", "invariance + variance + covariance"),
    needs: crate::catalogue::Needs::PAIRS,
};

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
