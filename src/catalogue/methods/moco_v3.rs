//! MoCo v3: what the catalogue knows of it (its settings, texts, diagram and Views
//! preview), as plain data. Its training is `methods::moco_v3`.

use crate::catalogue::MethodInfo;
use crate::catalogue::settings::{MLP_HIDDEN, MLP_OUTPUT, cosine_momentum, temperature};

crate::settings! {
    /// The settings of this method.
    pub struct Settings {
        temperature: f64 = temperature(
            0.2,
            "Softmax temperature of the in-batch InfoNCE (0.2 in the paper's ResNet runs); \
             the loss is scaled by 2t, as in the reference code",
        ),
        momentum: f64 = cosine_momentum(
            "key momentum m",
            "EMA coefficient of the momentum encoder at step 0 (0.99 in the paper); it rises \
             to 1 by the last step on a cosine",
        ),
        hidden: usize = MLP_HIDDEN,
        projection_dim: usize = MLP_OUTPUT,
    }
}

pub static INFO: MethodInfo = MethodInfo {
    id: "mocov3",
    name: "MoCo v3",
    paper: "Chen, Xie & He 2021, An Empirical Study of Training Self-Supervised Vision \
            Transformers",
    summary: "Both views go through a query encoder (backbone, projection MLP and prediction \
              MLP) and through a momentum copy of its backbone and projector, which gives the \
              keys and receives no gradient. Each view's query must pick out the other view's \
              key among the keys of the whole batch: there is no queue, the batch's other keys \
              are the negatives, and the loss is symmetric in the two views. The momentum rises \
              from m to 1 on a cosine schedule.",
    formula: "L = ctr(q1, k2) + ctr(q2, k1),  \
              ctr(q, k) = 2t mean_i -log exp(q_i.k_i/t) / sum_j exp(q_i.k_j/t),  \
              theta_k <- m theta_k + (1 - m) theta_q",
    params: Settings::PARAMS,
    diagram: crate::catalogue::Diagram {
        top_input: "views 1, 2 (query)",
        top: &[
            crate::catalogue::trained("encoder f_q"),
            crate::catalogue::trained("projector"),
            crate::catalogue::trained("predictor"),
        ],
        bottom_input: "views 2, 1 (key)",
        bottom: &[
            crate::catalogue::ema("encoder f_k"),
            crate::catalogue::ema("projector"),
        ],
        bottom_stop_gradient: true,
        store: None,
        loss: "InfoNCE: q1 vs k2, q2 vs k1; the batch's keys are the negatives",
    },
    needs: crate::catalogue::Needs::PAIRS,
};
