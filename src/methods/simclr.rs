//! SimCLR (Chen, Kornblith, Norouzi, Hinton 2020): two augmented views of each image pass
//! through a shared encoder f and projection head g; NT-Xent pulls each pair together
//! against the other 2N-2 views of the batch. The representation is h = f(x).

use super::common::HeadNet;
use super::state::MethodState;
use super::trainable::Trainable;
use super::{BuildContext, Method, MethodInfo, ParamSpec, StepError, StepOutput, TrainBatch};
use crate::losses::nt_xent;
use crate::model::SmallCnn;

pub static INFO: MethodInfo = MethodInfo {
    id: "simclr",
    name: "SimCLR",
    paper: "Chen et al. 2020, A Simple Framework for Contrastive Learning of Visual Representations",
    summary: "Two random augmentations of each image go through the same encoder and a small \
              MLP projection head. Each view must pick out its partner among all other views \
              in the batch, which act as negatives. The head is thrown away after training: \
              the encoder's output is the representation.",
    formula: "l(i,j) = -log exp(sim(z_i, z_j)/t) / sum_{k != i} exp(sim(z_i, z_k)/t),  \
              sim = cosine,  loss = mean over all 2N views",
    params: &[
        // 0.5 in the paper's ImageNet runs; 0.2 learns faster on small data (as solo-learn's
        // CIFAR settings).
        ParamSpec::number(
            "temperature",
            "temperature t",
            "Softmax temperature of NT-Xent; lower sharpens the contrast between negatives",
            0.2,
            0.01,
            10.0,
        )
        .log(),
        ParamSpec::integer(
            "projection_hidden",
            "head hidden width",
            "Hidden units of the projection MLP",
            256.0,
            8.0,
            4096.0,
        )
        .log(),
        ParamSpec::integer(
            "projection_dim",
            "projection dim",
            "Output dimension of the projection head (the space the loss sees)",
            128.0,
            2.0,
            2048.0,
        )
        .log(),
    ],
    diagram: super::siamese(
        &[super::trained("encoder f"), super::trained("head g")],
        &[super::shared("encoder f"), super::shared("head g")],
        "NT-Xent: each view vs its partner and 2N-2 negatives",
    ),
    needs_colour: false,
    multi_crop: false,
    build,
};

pub struct SimClr {
    net: Trainable<HeadNet>,
    temperature: f32,
    projection_dim: usize,
}

fn build(ctx: &BuildContext) -> Box<dyn Method> {
    let projection_dim = ctx.params.get("projection_dim") as usize;
    let net = HeadNet::new(ctx, ctx.params.count("projection_hidden"), projection_dim);
    Box::new(SimClr {
        net: Trainable::new(net, super::optimizer::build_optimizer(ctx.train)),
        temperature: ctx.params.get("temperature") as f32,
        projection_dim,
    })
}

impl Method for SimClr {
    fn save_state(&self, s: &mut MethodState) -> anyhow::Result<()> {
        self.net.save("net", s)
    }

    fn load_state(&mut self, s: &MethodState) -> anyhow::Result<()> {
        self.net.load("net", s)
    }

    fn train_step(&mut self, batch: TrainBatch, lr: f64) -> Result<StepOutput, StepError> {
        let temperature = self.temperature;
        let (loss, z) = self.net.step(lr, |net| {
            let z = net.forward(batch.views);
            (nt_xent(z.clone(), temperature), z)
        })?;
        Ok(StepOutput::new(loss, z, self.projection_dim))
    }

    fn encoder_ref(&self) -> &SmallCnn {
        &self.net.net().encoder
    }
}
