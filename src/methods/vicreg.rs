//! VICReg (Bardes, Ponce, LeCun 2022, "VICReg: Variance-Invariance-Covariance
//! Regularization for Self-Supervised Learning"): the two views' projections are pulled
//! together (invariance) while each dimension keeps its standard deviation above 1 over the
//! batch (variance) and different dimensions stay decorrelated (covariance).

use super::common::{Backbone, halves};
use super::state::MethodState;
use super::trainable::Trainable;
use super::{BuildContext, Method, MethodInfo, ParamSpec, StepError, StepOutput, TrainBatch};
use crate::losses::vicreg;
use crate::model::SmallCnn;
use crate::model::tensor_io::scalar;

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
    params: &[
        ParamSpec::number(
            "sim_weight",
            "invariance weight lambda",
            "Weight of the mean squared error between the views (25 in the paper)",
            25.0,
            0.0,
            1000.0,
        ),
        ParamSpec::number(
            "var_weight",
            "variance weight mu",
            "Weight of the std hinge (25 in the paper)",
            25.0,
            0.0,
            1000.0,
        ),
        ParamSpec::number(
            "cov_weight",
            "covariance weight nu",
            "Weight of the off-diagonal covariance (1 in the paper)",
            1.0,
            0.0,
            1000.0,
        ),
        ParamSpec::integer(
            "hidden",
            "projector hidden width",
            "Width of the expander's hidden layers (8192 in the paper)",
            512.0,
            8.0,
            8192.0,
        )
        .log(),
        ParamSpec::integer(
            "projection_dim",
            "projection dim",
            "Output of the expander (8192 in the paper)",
            512.0,
            2.0,
            8192.0,
        )
        .log(),
    ],
    diagram: super::siamese(
        &[super::trained("encoder"), super::trained("expander")],
        &[super::shared("encoder"), super::shared("expander")],
        "invariance + variance + covariance",
    ),
    needs_colour: false,
    multi_crop: false,
    build,
};

pub struct VicReg {
    net: Trainable<Backbone>,
    weights: [f64; 3],
    dim: usize,
}

fn build(ctx: &BuildContext) -> Box<dyn Method> {
    let p = ctx.params;
    let dim = p.count("projection_dim");
    let net = Backbone::new(ctx, p.count("hidden"), dim, 3);
    Box::new(VicReg {
        net: Trainable::new(net, super::optimizer::build_optimizer(ctx.train)),
        weights: [
            p.get("sim_weight"),
            p.get("var_weight"),
            p.get("cov_weight"),
        ],
        dim,
    })
}

impl Method for VicReg {
    fn save_state(&self, s: &mut MethodState) -> anyhow::Result<()> {
        self.net.save("net", s)
    }

    fn load_state(&mut self, s: &MethodState) -> anyhow::Result<()> {
        self.net.load("net", s)
    }

    fn train_step(&mut self, batch: TrainBatch, lr: f64) -> Result<StepOutput, StepError> {
        let n = batch.images();
        let [a, b, c] = self.weights;
        let (loss, (z, terms)) = self.net.step(lr, |net| {
            let z = net.forward(batch.views);
            let (z1, z2) = halves(z.clone(), n);
            let t = vicreg(z1, z2, a, b, c);
            let parts = [t.invariance, t.variance, t.covariance];
            (t.total, (z, parts))
        })?;
        let [inv, var, cov] = terms.map(|t| scalar(t.detach()));
        Ok(StepOutput::new(loss, z, self.dim)
            .with_signal("invariance term", inv)
            .with_signal("variance term", var)
            .with_signal("covariance term", cov))
    }

    fn encoder_ref(&self) -> &SmallCnn {
        &self.net.net().encoder
    }
}
