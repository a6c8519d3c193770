//! Deep InfoMax (Hjelm et al. 2019, "Learning deep representations by mutual information
//! estimation and maximization"), local objective: the global representation of an image
//! should carry information shared by all its local features. A critic scores (global,
//! local) pairs, "encode and dot" style; pairs from the same image are positives, pairs
//! across images negatives; the encoder maximises a mutual-information estimate (JSD, DV or
//! InfoNCE). No views are needed: each of the batch's images is used on its own.
//! Prior matching (the paper's adversarial term) is not implemented.

use burn::module::Module;
use burn::tensor::{Int, Tensor, TensorData};

use super::trainable::Trainable;
use super::{BuildContext, Method, MethodInfo, ParamSpec, StepError, StepOutput, TrainBatch};
use crate::losses::{MiEstimator, mi_estimate};
use crate::model::{MlpHead, MlpHeadConfig, SmallCnn};

const ESTIMATORS: &[&str] = &["jsd", "dv", "infonce"];

pub static INFO: MethodInfo = MethodInfo {
    id: "dim",
    name: "Deep InfoMax (local)",
    paper: "Hjelm et al. 2019, Learning deep representations by mutual information estimation and maximization",
    summary: "The encoder's global vector for an image is scored against every local feature of \
              an intermediate feature map, of the same image (positive) and of other images \
              (negatives). Maximising a mutual-information estimate between global and local \
              makes the global vector summarise what all parts of the image share. The paper \
              needs no second view; the cross-view switch (AMDIM) takes the local features \
              from the other augmented view, which on the built-in data learns much faster.",
    formula: "T(y, l) = phi(y) . psi(l),  JSD: E_P[-sp(-T)] - E_N[sp(T)],  \
              DV: E_P[T] - log E_N[e^T],  InfoNCE: E[log softmax_j T(y_i, l_j)] + log B",
    params: &[
        ParamSpec::choice(
            "estimator",
            "MI estimator",
            "Jensen-Shannon (the paper's default), Donsker-Varadhan (as MINE) or InfoNCE",
            ESTIMATORS,
            0,
        ),
        ParamSpec::integer(
            "local_stage",
            "local feature stage",
            "Which encoder stage's feature map gives the local features (0 = first)",
            2.0,
            0.0,
            5.0,
        ),
        ParamSpec::switch(
            "cross_view",
            "cross-view pairs (AMDIM)",
            "Score the global vector of one augmented view against the local features of the \
             other view (Bachman et al. 2019), so colour and other per-view shortcuts cannot \
             carry the mutual information; off is the DIM paper (same image, same view)",
            true,
        ),
        ParamSpec::integer(
            "critic_dim",
            "critic dim",
            "Dimension the critic embeds global and local features into",
            128.0,
            8.0,
            1024.0,
        )
        .log(),
    ],
    diagram: super::Diagram {
        top_input: "image",
        top: &[
            super::trained("encoder -> global y"),
            super::trained("critic phi(y)"),
        ],
        bottom_input: "same image",
        bottom: &[
            super::shared("local map l (stage k)"),
            super::trained("critic psi(l)"),
        ],
        bottom_stop_gradient: false,
        store: None,
        loss: "MI estimate over (y_i, l_j) pairs; i = j positive",
    },
    needs_colour: false,
    build,
};

#[derive(Module, Debug)]
pub struct DimNet {
    pub encoder: SmallCnn,
    pub global_critic: MlpHead,
    pub local_critic: MlpHead,
}

pub struct Dim {
    net: Trainable<DimNet>,
    estimator: MiEstimator,
    stage: usize,
    cross_view: bool,
    dim: usize,
}

fn build(ctx: &BuildContext) -> Box<dyn Method> {
    let p = ctx.params;
    let channels = &ctx.encoder.channels;
    let stage = p.count("local_stage").min(channels.len().saturating_sub(1));
    let critic = p.count("critic_dim");
    let head = |input| {
        MlpHeadConfig {
            input,
            hidden: critic,
            output: critic,
        }
        .init(ctx.device)
    };
    let net = DimNet {
        encoder: ctx.encoder.init(ctx.device),
        global_critic: head(ctx.encoder.output_dim()),
        local_critic: head(channels[stage]),
    };
    Box::new(Dim {
        net: Trainable::new(net, super::optimizer::build_optimizer(ctx.train)),
        estimator: match ESTIMATORS[p.count("estimator")] {
            "dv" => MiEstimator::DonskerVaradhan,
            "infonce" => MiEstimator::InfoNce,
            _ => MiEstimator::Jsd,
        },
        stage,
        cross_view: p.on("cross_view"),
        dim: ctx.encoder.output_dim(),
    })
}

impl Method for Dim {
    fn train_step(&mut self, batch: TrainBatch, lr: f64) -> Result<StepOutput, StepError> {
        let (estimator, stage) = (self.estimator, self.stage);
        let n = batch.images();
        let device = batch.views.device();
        // Cross-view: local features of row i come from the other view of the same image, so
        // the positive pairs on the diagonal pair view 1 with view 2.
        let other_view = self.cross_view.then(|| {
            let rows: Vec<i64> = (0..2 * n).map(|i| ((i + n) % (2 * n)) as i64).collect();
            Tensor::<1, Int>::from_data(TensorData::new(rows, [2 * n]), &device)
        });
        let (loss, (y, mi)) = self.net.step(lr, |net| {
            let (y, map) = net.encoder.forward_with_map(batch.views, stage);
            let map = match other_view {
                Some(rows) => map.select(0, rows),
                None => map,
            };
            let [b, c, h, w] = map.dims();
            let positions = h * w;
            // Local features as rows: [b, c, h, w] -> [b * h * w, c].
            let local = map
                .reshape([b, c, positions])
                .swap_dims(1, 2)
                .reshape([b * positions, c]);
            let l = net.local_critic.forward(local);
            let g = net.global_critic.forward(y.clone());
            let scores = g.matmul(l.transpose()).reshape([b, b, positions]);
            let mi = mi_estimate(scores, estimator);
            (-mi.clone(), (y, mi))
        })?;
        let label = match estimator {
            MiEstimator::Jsd => "JSD MI estimate",
            _ => "MI estimate (nats)",
        };
        let value = crate::model::tensor_io::scalar(mi.detach());
        Ok(StepOutput::new(loss, y, self.dim).with_signal(label, value))
    }

    fn encoder_ref(&self) -> &SmallCnn {
        &self.net.net().encoder
    }
}
