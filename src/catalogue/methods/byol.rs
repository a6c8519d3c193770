//! BYOL: what the catalogue knows of it (its settings, texts, diagram and Views
//! preview), as plain data. Its training is `methods::byol`.

use crate::catalogue::MethodInfo;
use crate::catalogue::settings::{MLP_HIDDEN, MLP_OUTPUT, cosine_momentum};

crate::settings! {
    /// The settings of this method.
    pub struct Settings {
        tau_base: f64 = cosine_momentum(
            "target momentum tau_base",
            "EMA coefficient at step 0 (0.996 in the paper); it rises to 1 by the last step",
        ),
        hidden: usize = MLP_HIDDEN,
        projection_dim: usize = MLP_OUTPUT,
    }
}

pub static INFO: MethodInfo = MethodInfo {
    id: "byol",
    name: "BYOL",
    paper: "Grill et al. 2020, Bootstrap Your Own Latent: A New Approach to Self-Supervised Learning",
    summary: "The online network predicts, from one view, what a target network outputs for the \
              other view. The target is a slow moving average of the online network and \
              receives no gradient, so there is no trivial solution to chase; no negatives are \
              used. Its momentum rises from tau_base to 1 on a cosine schedule.",
    formula: "L = ||q(z1)/|q(z1)| - z2'/|z2'| ||^2 + (symmetric),  z' = target,  \
              xi <- tau xi + (1 - tau) theta,  tau = 1 - (1 - tau_base)(cos(pi k/K) + 1)/2",
    params: Settings::PARAMS,
    diagram: crate::catalogue::Diagram {
        top_input: "views 1, 2 (online)",
        top: &[
            crate::catalogue::trained("encoder"),
            crate::catalogue::trained("projector"),
            crate::catalogue::trained("predictor q"),
        ],
        bottom_input: "views 2, 1 (target)",
        bottom: &[
            crate::catalogue::ema("encoder"),
            crate::catalogue::ema("projector"),
        ],
        bottom_stop_gradient: true,
        store: None,
        loss: "normalised MSE: q(z) vs target z'",
    },
    needs: crate::catalogue::Needs {
        local_crops: true,
        ..crate::catalogue::Needs::PAIRS
    },
};
