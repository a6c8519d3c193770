//! Barlow Twins (Zbontar et al. 2021, "Barlow Twins: Self-Supervised Learning via
//! Redundancy Reduction"): the cross-correlation matrix of the two views' projections is
//! pushed toward the identity. Invariance on the diagonal, decorrelation off it; no
//! negatives, no momentum encoder, no stop-gradient.

use super::common::{Backbone, halves};
use super::state::MethodState;
use super::trainable::Trainable;
use super::{BuildContext, Method, MethodInfo, ParamSpec, StepError, StepOutput, TrainBatch};
use crate::losses::barlow_twins;
use crate::model::SmallCnn;

pub static INFO: MethodInfo = MethodInfo {
    id: "barlow_twins",
    name: "Barlow Twins",
    paper: "Zbontar et al. 2021, Barlow Twins: Self-Supervised Learning via Redundancy Reduction",
    summary: "Both views go through one network; the loss looks at the cross-correlation \
              matrix between their projections, computed over the batch. Its diagonal is \
              pushed to 1 (the views agree) and everything else to 0 (each dimension carries \
              different information), which rules out collapse without any negatives.",
    formula: "C_ij = sum_b z1_bi z2_bj / N (standardised over the batch),  \
              L = sum_i (1 - C_ii)^2 + lambda sum_{i != j} C_ij^2",
    params: &[
        ParamSpec::number(
            "lambda",
            "off-diagonal weight lambda",
            "Weight of the redundancy-reduction term (0.0051 in the paper)",
            0.0051,
            1e-5,
            1.0,
        )
        .log(),
        ParamSpec::integer(
            "hidden",
            "projector hidden width",
            "Width of the projector's hidden layers (8192 in the paper)",
            512.0,
            8.0,
            8192.0,
        )
        .log(),
        ParamSpec::integer(
            "projection_dim",
            "projection dim",
            "Output of the projector: the size of C (8192 in the paper)",
            512.0,
            2.0,
            8192.0,
        )
        .log(),
    ],
    diagram: super::siamese(
        &[super::trained("encoder"), super::trained("projector")],
        &[super::shared("encoder"), super::shared("projector")],
        "cross-correlation C of z1, z2 -> identity",
    ),
    needs_colour: false,
    multi_crop: false,
    build,
};

pub struct BarlowTwins {
    net: Trainable<Backbone>,
    lambda: f64,
    dim: usize,
}

fn build(ctx: &BuildContext) -> Box<dyn Method> {
    let p = ctx.params;
    let dim = p.count("projection_dim");
    let net = Backbone::new(ctx, p.count("hidden"), dim, 3);
    Box::new(BarlowTwins {
        net: Trainable::new(net, super::optimizer::build_optimizer(ctx.train)),
        lambda: p.get("lambda"),
        dim,
    })
}

impl Method for BarlowTwins {
    fn save_state(&self, s: &mut MethodState) -> anyhow::Result<()> {
        self.net.save("net", s)
    }

    fn load_state(&mut self, s: &MethodState) -> anyhow::Result<()> {
        self.net.load("net", s)
    }

    fn train_step(&mut self, batch: TrainBatch, lr: f64) -> Result<StepOutput, StepError> {
        let n = batch.images();
        let lambda = self.lambda;
        let (loss, z) = self.net.step(lr, |net| {
            let z = net.forward(batch.views);
            let (z1, z2) = halves(z.clone(), n);
            (barlow_twins(z1, z2, lambda), z)
        })?;
        Ok(StepOutput::new(loss, z, self.dim))
    }

    fn encoder_ref(&self) -> &SmallCnn {
        &self.net.net().encoder
    }
}
