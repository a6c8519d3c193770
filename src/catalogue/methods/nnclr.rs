//! NNCLR: what the catalogue knows of it (its settings, texts, diagram and Views preview),
//! as plain data. Its training is `methods::nnclr`.

use crate::catalogue::settings::{MLP_HIDDEN, MLP_OUTPUT, temperature};
use crate::catalogue::{MethodInfo, ParamSpec};

crate::settings! {
    /// The settings of this method.
    pub struct Settings {
        temperature: f64 = temperature(
            0.1,
            "Softmax temperature of the loss (0.1 in the paper)",
        ),
        support_size: usize = ParamSpec::integer(
            "support set size",
            "Embeddings kept to search for neighbours (98,304 in the paper on ImageNet; \
             keep it below the dataset size, or an image finds its own earlier view)",
            1024.0,
            16.0,
            65536.0,
        )
        .log(),
        hidden: usize = MLP_HIDDEN,
        projection_dim: usize = MLP_OUTPUT,
    }
}

pub static INFO: MethodInfo = MethodInfo {
    id: "nnclr",
    name: "NNCLR",
    paper: "Dwibedi et al. 2021, With a Little Help from My Friends: Nearest-Neighbor \
            Contrastive Learning of Visual Representations",
    summary: "SimCLR with a different positive: each view's embedding is replaced by its \
              nearest neighbour in a support set of embeddings from earlier batches, and \
              that neighbour must pick out the other view's prediction among the batch's. \
              The neighbour is usually another image that looks alike, so the positives \
              vary more than any augmentation makes them. The support set is a queue, \
              updated after each step, and receives no gradient.",
    formula: "L = -log exp(NN(z1).p2/t) / sum_k exp(NN(z1).p2_k/t)  (and 1 <-> 2),  \
              NN(z) = argmax_{q in Q} cos(z, q)",
    params: Settings::PARAMS,
    diagram: crate::catalogue::Diagram {
        top_input: "view 1",
        top: &[
            crate::catalogue::trained("encoder f"),
            crate::catalogue::trained("projector"),
        ],
        bottom_input: "view 2",
        bottom: &[
            crate::catalogue::shared("encoder f"),
            crate::catalogue::shared("projector"),
            crate::catalogue::trained("predictor"),
        ],
        bottom_stop_gradient: false,
        store: Some("support set Q (FIFO): z1 -> NN(z1)"),
        loss: "InfoNCE: NN(z1) vs p2, NN(z2) vs p1; the batch's predictions are negatives",
    },
    needs: crate::catalogue::Needs::PAIRS,
};
