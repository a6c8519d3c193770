//! The loss ladder's third rung: NCE versus InfoNCE with the same candidates. Each anchor
//! (view 1 of an image) sees its positive (view 2 of the same image) and k negatives (view 2
//! of k other images, sampled). Binary NCE (Gutmann & Hyvarinen 2010) classifies each
//! candidate independently as data or noise; InfoNCE (van den Oord et al. 2018) asks which
//! of the k+1 is the positive, and log(k+1) - loss bounds the mutual information.

use burn::tensor::{Int, Tensor, TensorData};
use rand::seq::index::sample;

use super::common::{HeadNet, halves};
use super::state::MethodState;
use super::trainable::Trainable;
use super::{BuildContext, Method, MethodInfo, ParamSpec, StepError, StepOutput, TrainBatch};
use crate::losses::{binary_nce, info_nce, info_nce_bound, l2_normalize};
use crate::model::SmallCnn;
use crate::model::tensor_io::scalar;
use crate::seeding::{Stream, rng_for};

const ESTIMATORS: &[&str] = &["nce", "infonce"];

pub static INFO: MethodInfo = MethodInfo {
    id: "nce",
    name: "NCE vs InfoNCE",
    paper: "Gutmann & Hyvarinen 2010, Noise-contrastive estimation; van den Oord et al. 2018, \
            Representation Learning with Contrastive Predictive Coding",
    summary: "The same positive and k sampled negatives per anchor, two estimators. NCE asks, \
              for each candidate alone, whether it is the positive or noise (a logistic loss). \
              InfoNCE asks which one of the k+1 candidates is the positive (a softmax), and its \
              loss gives a lower bound on the mutual information between views, shown live.",
    formula: "s = cos(z1_i, z2_j)/t.  NCE: -log sig(s+ - ln k) - sum_k log(1 - sig(s- - ln k)).  \
              InfoNCE: -log exp(s+) / (exp(s+) + sum_k exp(s-)).  I(v1; v2) >= ln(k+1) - L_InfoNCE",
    params: &[
        ParamSpec::choice(
            "estimator",
            "estimator",
            "Binary NCE (each candidate alone) or InfoNCE (softmax over k+1)",
            ESTIMATORS,
            1,
        ),
        ParamSpec::integer(
            "negatives",
            "negatives k",
            "Negatives per anchor, sampled from the batch (at most batch - 1)",
            32.0,
            1.0,
            4096.0,
        )
        .log(),
        ParamSpec::number(
            "temperature",
            "temperature t",
            "Scale of the cosine scores",
            0.2,
            0.01,
            10.0,
        )
        .log(),
        ParamSpec::integer(
            "projection_dim",
            "projection dim",
            "Output of the head",
            128.0,
            2.0,
            2048.0,
        )
        .log(),
    ],
    diagram: super::siamese(
        &[super::trained("encoder"), super::trained("head, L2")],
        &[super::shared("encoder"), super::shared("head, L2")],
        "NCE or InfoNCE over 1 positive + k negatives",
    ),
    needs_colour: false,
    multi_crop: false,
    build,
};

pub struct Nce {
    net: Trainable<HeadNet>,
    info_nce: bool,
    negatives: usize,
    temperature: f64,
    seed: u64,
    dim: usize,
}

fn build(ctx: &BuildContext) -> Box<dyn Method> {
    let dim = ctx.params.count("projection_dim");
    let net = HeadNet::new(ctx, ctx.encoder.output_dim(), dim);
    Box::new(Nce {
        net: Trainable::new(net, super::optimizer::build_optimizer(ctx.train)),
        info_nce: ESTIMATORS[ctx.params.count("estimator")] == "infonce",
        negatives: ctx.params.count("negatives"),
        temperature: ctx.params.get("temperature"),
        seed: ctx.seed,
        dim,
    })
}

/// For each of `n` anchors, `k` distinct other columns in `0..n` (never the anchor's own).
pub fn sample_negatives(n: usize, k: usize, rng: &mut crate::seeding::Rng) -> Vec<i64> {
    let mut out = Vec::with_capacity(n * k);
    for i in 0..n {
        for j in sample(rng, n - 1, k).into_iter() {
            out.push(if j >= i { j as i64 + 1 } else { j as i64 });
        }
    }
    out
}

impl Method for Nce {
    fn save_state(&self, s: &mut MethodState) -> anyhow::Result<()> {
        self.net.save("net", s)
    }

    fn load_state(&mut self, s: &MethodState) -> anyhow::Result<()> {
        self.net.load("net", s)
    }

    fn train_step(&mut self, batch: TrainBatch, lr: f64) -> Result<StepOutput, StepError> {
        let n = batch.images();
        let k = self.negatives.min(n - 1).max(1);
        let device = batch.views.device();
        let mut rng = rng_for(self.seed, Stream::Method, &[3, batch.step]);
        let negatives = sample_negatives(n, k, &mut rng);
        let neg_idx = Tensor::<2, Int>::from_data(TensorData::new(negatives, [n, k]), &device);
        let pos_idx: Vec<i64> = (0..n as i64).collect();
        let pos_idx = Tensor::<2, Int>::from_data(TensorData::new(pos_idx, [n, 1]), &device);
        let (t, use_info_nce) = (self.temperature, self.info_nce);
        let (loss, (z, bound)) = self.net.step(lr, |net| {
            let z = l2_normalize(net.forward(batch.views));
            let (z1, z2) = halves(z.clone(), n);
            let scores = z1.matmul(z2.transpose()) / t;
            let pos = scores.clone().gather(1, pos_idx);
            let neg = scores.gather(1, neg_idx);
            // The MI bound is reported for both estimators, from the same scores.
            let info = info_nce(pos.clone(), neg.clone());
            let bound = info_nce_bound(scalar(info.clone().detach()), k);
            let loss = if use_info_nce {
                info
            } else {
                binary_nce(pos, neg)
            };
            (loss, (z, bound))
        })?;
        Ok(StepOutput::new(loss, z, self.dim).with_signal("InfoNCE MI bound (nats)", bound))
    }

    fn encoder_ref(&self) -> &SmallCnn {
        &self.net.net().encoder
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sampled_negatives_are_distinct_and_never_the_anchor() {
        let mut rng = rng_for(0, Stream::Method, &[]);
        let (n, k) = (6, 5);
        let s = sample_negatives(n, k, &mut rng);
        for i in 0..n {
            let mut row: Vec<i64> = s[i * k..(i + 1) * k].to_vec();
            assert!(!row.contains(&(i as i64)));
            row.sort_unstable();
            row.dedup();
            assert_eq!(row.len(), k);
        }
    }
}
