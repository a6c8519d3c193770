//! The first rung of the loss ladder: Hadsell, Chopra, LeCun 2006, "Dimensionality Reduction
//! by Learning an Invariant Mapping". Pairs, not softmaxes: two views of one image are a
//! similar pair and are pulled together; views of different images are pushed apart until
//! they are at least a margin away, and then left alone.

use burn::tensor::{Int, Tensor, TensorData};

use super::common::{HeadNet, halves};
use super::state::MethodState;
use super::trainable::Trainable;
use super::{BuildContext, Method, MethodInfo, ParamSpec, StepError, StepOutput, TrainBatch};
use crate::losses::{l2_normalize, margin_contrastive, pairwise_sq_distances};
use crate::model::SmallCnn;

pub static INFO: MethodInfo = MethodInfo {
    id: "hadsell",
    name: "Margin contrastive (Hadsell 2006)",
    paper: "Hadsell, Chopra, LeCun 2006, Dimensionality Reduction by Learning an Invariant Mapping",
    summary: "The original contrastive loss works on pairs. A positive pair (two views of one \
              image) is pulled together by its squared distance; a negative pair (views of two \
              images) is pushed apart only while it is closer than the margin. Every cross-view \
              pair in the batch is used; positives and negatives each count half.",
    formula: "L = mean_pos D^2 / 2 + mean_neg max(0, m - D)^2 / 2,  D = ||z_a - z_b||, z on the unit sphere",
    params: &[
        ParamSpec::number(
            "margin",
            "margin m",
            "Distance beyond which negatives stop being pushed (embeddings are unit vectors, so D <= 2)",
            1.0,
            0.01,
            2.0,
        ),
        ParamSpec::integer(
            "projection_dim",
            "projection dim",
            "Output of the head (the space distances are measured in)",
            64.0,
            2.0,
            2048.0,
        )
        .log(),
    ],
    diagram: super::siamese(
        &[super::trained("encoder"), super::trained("head, L2")],
        &[super::shared("encoder"), super::shared("head, L2")],
        "pairs: pull positives, push negatives to the margin",
    ),
    needs_colour: false,
    multi_crop: false,
    build,
};

pub struct Hadsell {
    net: Trainable<HeadNet>,
    margin: f64,
    dim: usize,
}

fn build(ctx: &BuildContext) -> Box<dyn Method> {
    let dim = ctx.params.count("projection_dim");
    let net = HeadNet::new(ctx, ctx.encoder.output_dim(), dim);
    Box::new(Hadsell {
        net: Trainable::new(net, super::optimizer::build_optimizer(ctx.train)),
        margin: ctx.params.get("margin"),
        dim,
    })
}

/// Flat positions of the diagonal and of everything else in an `n x n` matrix.
pub fn diagonal_split(n: usize) -> (Vec<i64>, Vec<i64>) {
    let all = 0..(n * n) as i64;
    all.partition(|&k| k as usize / n == k as usize % n)
}

impl Method for Hadsell {
    fn save_state(&self, s: &mut MethodState) -> anyhow::Result<()> {
        self.net.save("net", s)
    }

    fn load_state(&mut self, s: &MethodState) -> anyhow::Result<()> {
        self.net.load("net", s)
    }

    fn train_step(&mut self, batch: TrainBatch, lr: f64) -> Result<StepOutput, StepError> {
        let n = batch.images();
        let device = batch.views.device();
        let (diag, off) = diagonal_split(n);
        let index = |v: Vec<i64>| {
            let len = v.len();
            Tensor::<1, Int>::from_data(TensorData::new(v, [len]), &device)
        };
        let (diag, off) = (index(diag), index(off));
        let margin = self.margin;
        let (loss, z) = self.net.step(lr, |net| {
            let z = l2_normalize(net.forward(batch.views));
            let (z1, z2) = halves(z.clone(), n);
            let d = pairwise_sq_distances(z1, z2).reshape([n * n]);
            let loss = margin_contrastive(d.clone().select(0, diag), d.select(0, off), margin);
            (loss, z)
        })?;
        Ok(StepOutput::new(loss, z, self.dim))
    }

    fn encoder_ref(&self) -> &SmallCnn {
        &self.net.net().encoder
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn the_diagonal_split_covers_the_matrix_once() {
        let (diag, off) = super::diagonal_split(3);
        assert_eq!(diag, vec![0, 4, 8]);
        assert_eq!(off, vec![1, 2, 3, 5, 6, 7]);
    }
}
