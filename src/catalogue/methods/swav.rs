//! SwAV: what the catalogue knows of it (its settings, texts, diagram and Views preview), as
//! plain data. Its training is `methods::swav`.

use crate::catalogue::settings::{hidden_width, projection_dim, temperature};
use crate::catalogue::{MethodInfo, ParamSpec};

crate::settings! {
    /// The settings of this method.
    pub struct Settings {
        temperature: f64 = temperature(
            0.1,
            "Softmax temperature of the predictions (0.1 in the paper)",
        ),
        /// Below 0.025 a sample whose cosines all lie 2 below the largest would underflow
        /// in f32's exp (2 / 0.025 = 80 < 87). 0.03 by default: with the paper's 0.05, 30
        /// prototypes and batches of 64, the codes are so smooth that a short run on the
        /// one-background shapes never leaves the uniform state (loss ln 30 = 3.40 for 300
        /// steps, kNN unmoved); at 0.03 the same run takes kNN from 30% to 57%.
        epsilon: f64 = ParamSpec::number(
            "Sinkhorn epsilon",
            "Entropy of the codes: smaller gives harder assignments (0.05 in the paper, for \
             batches of 4,096 over 3,000 prototypes; 0.025 is the least f32 allows for \
             cosines)",
            0.03,
            0.025,
            1.0,
        )
        .log(),
        sinkhorn_iterations: usize = ParamSpec::integer(
            "Sinkhorn iterations",
            "Rounds of equal-use scaling per batch (3 in the paper)",
            3.0,
            1.0,
            50.0,
        ),
        prototypes: usize = ParamSpec::integer(
            "prototypes K",
            "Trainable cluster centres on the unit sphere (3000 on ImageNet; a few times the \
             number of classes on small data)",
            30.0,
            2.0,
            4096.0,
        )
        .log(),
        queue_size: usize = ParamSpec::integer(
            "queue size",
            "Earlier embeddings per global view whose scores join the batch's in Sinkhorn, \
             so small batches can still spread over all prototypes (0: off; 3840 in the \
             paper for batches of 256)",
            0.0,
            0.0,
            65536.0,
        ),
        queue_start_step: usize = ParamSpec::integer(
            "queue start step",
            "The step from which the queue is filled; it is used once full (the paper \
             starts at epoch 15, once embeddings change slowly)",
            50.0,
            0.0,
            1_000_000.0,
        ),
        freeze_prototypes_steps: usize = ParamSpec::integer(
            "frozen prototype steps",
            "Steps at the start during which the prototypes get no update (313, one \
             ImageNet epoch, in the reference code)",
            20.0,
            0.0,
            1_000_000.0,
        ),
        hidden: usize = hidden_width(
            "projector hidden width",
            512.0,
            "Hidden width of the projector (2048 in the paper)",
        ),
        projection_dim: usize = projection_dim(
            128.0,
            "Dimension of z, where the prototypes live (128 in the paper)",
        ),
    }
}

pub static INFO: MethodInfo = MethodInfo {
    id: "swav",
    name: "SwAV",
    paper: "Caron et al. 2020, Unsupervised Learning of Visual Features by Contrasting \
            Cluster Assignments",
    summary: "Each view's unit embedding is scored against K trainable prototypes, and the \
              Sinkhorn-Knopp algorithm turns a global view's scores into soft cluster codes \
              that use every prototype equally over the batch. Every other crop, the other \
              global view and the small local crops of multi-crop, must predict those codes \
              from its own scores, so views are compared through their clusters rather than \
              against negatives. The equal-use constraint is what keeps all images from \
              falling into one cluster.",
    formula: "L = -sum_k q2_k log softmax(z1.C/t)_k - sum_k q1_k log softmax(z2.C/t)_k,  \
              q = Sinkhorn(exp(z.C/eps)),  C: unit prototypes",
    params: Settings::PARAMS,
    diagram: crate::catalogue::Diagram {
        top_input: "view 1",
        top: &[
            crate::catalogue::trained("encoder f"),
            crate::catalogue::trained("projector"),
            crate::catalogue::trained("prototypes C"),
        ],
        bottom_input: "view 2 (and local crops)",
        bottom: &[
            crate::catalogue::shared("encoder f"),
            crate::catalogue::shared("projector"),
            crate::catalogue::shared("prototypes C"),
        ],
        bottom_stop_gradient: false,
        store: Some("queue of earlier z per global view (when queue size > 0)"),
        loss: "swapped prediction: softmax(z.C/t) of each crop vs the Sinkhorn codes of the \
               other global view (codes without gradient)",
    },
    needs: crate::catalogue::Needs {
        local_crops: true,
        ..crate::catalogue::Needs::PAIRS
    },
};
