//! The loss ladder's second rung: the triplet loss (Schroff, Kalenichenko, Philbin 2015,
//! "FaceNet"). An anchor (view 1 of an image) must be closer to its positive (view 2 of the
//! same image) than to a negative (view 2 of another image) by a margin; which negative is
//! used matters, so the mining strategy is a setting.

use burn::tensor::{Int, Tensor, TensorData};
use rand::RngExt;

use super::common::{HeadNet, halves};
use super::state::MethodState;
use super::trainable::Trainable;
use super::{BuildContext, Method, MethodInfo, ParamSpec, StepError, StepOutput, TrainBatch};
use crate::losses::{Mining, choose_negatives, l2_normalize, pairwise_sq_distances, triplet};
use crate::model::SmallCnn;
use crate::model::tensor_io::matrix_to_vec;
use crate::seeding::{Stream, rng_for};

const MINING: &[&str] = &["random", "semi-hard", "hard"];

pub static INFO: MethodInfo = MethodInfo {
    id: "triplet",
    name: "Triplet loss",
    paper: "Schroff, Kalenichenko, Philbin 2015, FaceNet: A Unified Embedding for Face Recognition",
    summary: "Each anchor view is compared with its positive and one negative at a time: the \
              positive must be closer than the negative by a margin. Random negatives are soon \
              too easy to teach anything; hard ones can stall learning early; semi-hard ones \
              (farther than the positive but inside the margin) are FaceNet's compromise.",
    formula: "L = mean max(0, ||a - p||^2 - ||a - n||^2 + margin),  a, p, n on the unit sphere",
    params: &[
        ParamSpec::number(
            "margin",
            "margin",
            "Required gap between squared distances (0.2 in FaceNet)",
            0.2,
            0.0,
            4.0,
        ),
        ParamSpec::choice(
            "mining",
            "negative mining",
            "How each anchor's negative is picked from the batch",
            MINING,
            1,
        ),
        ParamSpec::integer(
            "projection_dim",
            "projection dim",
            "Output of the head (128 in FaceNet)",
            64.0,
            2.0,
            2048.0,
        )
        .log(),
    ],
    diagram: super::siamese(
        &[super::trained("encoder"), super::trained("head, L2")],
        &[super::shared("encoder"), super::shared("head, L2")],
        "triplets (anchor, positive, mined negative)",
    ),
    needs_colour: false,
    multi_crop: false,
    build,
};

pub struct Triplet {
    net: Trainable<HeadNet>,
    margin: f64,
    mining: Mining,
    seed: u64,
    dim: usize,
}

fn build(ctx: &BuildContext) -> Box<dyn Method> {
    let dim = ctx.params.count("projection_dim");
    let net = HeadNet::new(ctx, ctx.encoder.output_dim(), dim);
    let mining = match MINING[ctx.params.count("mining")] {
        "random" => Mining::Random,
        "hard" => Mining::Hard,
        _ => Mining::SemiHard,
    };
    Box::new(Triplet {
        net: Trainable::new(net, super::optimizer::build_optimizer(ctx.train)),
        margin: ctx.params.get("margin"),
        mining,
        seed: ctx.seed,
        dim,
    })
}

impl Method for Triplet {
    fn save_state(&self, s: &mut MethodState) -> anyhow::Result<()> {
        self.net.save("net", s)
    }

    fn load_state(&mut self, s: &MethodState) -> anyhow::Result<()> {
        self.net.load("net", s)
    }

    fn train_step(&mut self, batch: TrainBatch, lr: f64) -> Result<StepOutput, StepError> {
        let n = batch.images();
        let device = batch.views.device();
        let (margin, mining) = (self.margin, self.mining);
        let mut rng = rng_for(self.seed, Stream::Method, &[2, batch.step]);
        let mut active = 0.0f32;
        let (loss, z) = self.net.step(lr, |net| {
            let z = l2_normalize(net.forward(batch.views));
            let (z1, z2) = halves(z.clone(), n);
            let d = pairwise_sq_distances(z1, z2);
            // Mining looks at the current distances but is not differentiated through.
            let plain = matrix_to_vec(d.clone().detach());
            let picks: Vec<i64> = choose_negatives(&plain, n, mining, |k| rng.random_range(0..k))
                .into_iter()
                .map(|j| j as i64)
                .collect();
            let pos_idx: Vec<i64> = (0..n as i64).collect();
            let col =
                |v: Vec<i64>| Tensor::<2, Int>::from_data(TensorData::new(v, [n, 1]), &device);
            let ap = d.clone().gather(1, col(pos_idx)).reshape([n]);
            let an = d.gather(1, col(picks)).reshape([n]);
            let violations = matrix_to_vec(
                (ap.clone() - an.clone() + margin)
                    .detach()
                    .greater_elem(0.0)
                    .float()
                    .reshape([1, n]),
            );
            active = violations.iter().sum::<f32>() / n as f32;
            (triplet(ap, an, margin), z)
        })?;
        Ok(StepOutput::new(loss, z, self.dim).with_signal("active triplets", active))
    }

    fn encoder_ref(&self) -> &SmallCnn {
        &self.net.net().encoder
    }
}
