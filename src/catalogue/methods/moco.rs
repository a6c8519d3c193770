//! MoCo v1/v2: what the catalogue knows of it (its settings, texts, diagram and Views
//! preview), as plain data. Its training is `methods::moco`.

use crate::catalogue::settings::{projection_dim, temperature};
use crate::catalogue::{MethodInfo, ParamSpec};

crate::settings! {
    /// The settings of this method.
    pub struct Settings {
        temperature: f64 = temperature(
            0.2,
            "0.07 in MoCo v1, 0.2 in v2",
        ),
        queue_size: usize = ParamSpec::integer(
            "queue size K",
            "Keys kept as negatives (65536 on ImageNet; keep it below the dataset size)",
            1024.0,
            16.0,
            65536.0,
        )
        .log(),
        momentum: f64 = ParamSpec::number(
            "key momentum m",
            "EMA coefficient of the key encoder (0.999 in the paper; faster for short runs)",
            0.99,
            0.0,
            0.99999,
        ),
        mlp_head: bool = ParamSpec::switch(
            "MLP head (v2)",
            "v2's 2-layer MLP head instead of v1's single linear layer",
            true,
        ),
        projection_dim: usize = projection_dim(
            128.0,
            "Dimension of queries and keys",
        ),
        /// The paper shuffles the keys across GPUs so that a key's BatchNorm statistics are
        /// not its query's (sec. 3.3, "Shuffling BN"); on one device the keys are shuffled
        /// and split into this many groups with statistics of their own, as the MoCo CIFAR
        /// demo's SplitBatchNorm does. 1 turns it off.
        key_bn_splits: usize = ParamSpec::integer(
            "key BN groups",
            "Shuffle BN's one-device substitute: keys are shuffled and normalised in this \
             many groups, so a positive key does not share its query's batch statistics (1: \
             off, the shortcut the paper warns of)",
            4.0,
            1.0,
            64.0,
        ),
    }
}

pub static INFO: MethodInfo = MethodInfo {
    id: "moco",
    name: "MoCo v1/v2",
    paper: "He et al. 2020, Momentum Contrast for Unsupervised Visual Representation Learning; \
            Chen et al. 2020, Improved Baselines with Momentum Contrastive Learning",
    summary: "A query view must find its key, the other view encoded by a slowly moving \
              momentum copy of the encoder, among thousands of keys queued from earlier batches. \
              The queue decouples the number of negatives from the batch size; the momentum \
              keeps the queued keys consistent with each other. v2 adds an MLP head, a \
              higher temperature and stronger augmentation.",
    formula: "L = -log exp(q.k+/t) / (exp(q.k+/t) + sum_queue exp(q.k/t)),  \
              theta_k <- m theta_k + (1 - m) theta_q",
    params: Settings::PARAMS,
    diagram: crate::catalogue::Diagram {
        top_input: "view 1 (query)",
        top: &[
            crate::catalogue::trained("encoder f_q"),
            crate::catalogue::trained("head"),
        ],
        bottom_input: "view 2 (key)",
        bottom: &[
            crate::catalogue::ema("encoder f_k"),
            crate::catalogue::ema("head"),
        ],
        bottom_stop_gradient: true,
        store: Some("queue of K keys (FIFO)"),
        loss: "InfoNCE: q vs k+ and the queue",
    },
    needs: crate::catalogue::Needs::PAIRS,
};
