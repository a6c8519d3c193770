//! Barlow Twins: what the catalogue knows of it (its settings, texts, diagram and Views
//! preview), as plain data. Its training is `methods::barlow_twins`.

use crate::catalogue::settings::{hidden_width, projection_dim};
use crate::catalogue::{MethodInfo, ParamSpec};

crate::settings! {
    /// The settings of this method.
    pub struct Settings {
        lambda: f64 = ParamSpec::number(
            "off-diagonal weight lambda",
            "Weight of the redundancy-reduction term (0.0051 in the paper)",
            0.0051,
            1e-5,
            1.0,
        )
        .log(),
        hidden: usize = hidden_width(
            "projector hidden width",
            512.0,
            "Width of the projector's hidden layers (8192 in the paper)",
        ),
        projection_dim: usize = projection_dim(
            512.0,
            "Output of the projector: the size of C (8192 in the paper)",
        ),
    }
}

pub static INFO: MethodInfo = MethodInfo {
    id: "barlow_twins",
    name: "Barlow Twins",
    paper: "Zbontar et al. 2021, Barlow Twins: Self-Supervised Learning via Redundancy Reduction",
    summary: "Both views go through one network; the loss looks at the cross-correlation \
              matrix between their projections, computed over the batch. Its diagonal is \
              pushed to 1 (the views agree) and everything else to 0 (each dimension carries \
              different information), which rules out collapse without any negatives.",
    formula: "C_ij = sum_b z1_bi z2_bj / N (standardised over the batch),  \
              L = sum_i (1 - C_ii)^2 + lambda sum_{i != j} C_ij^2",
    params: Settings::PARAMS,
    diagram: crate::siamese_pair!(
        "encoder",
        "projector",
        "cross-correlation C of z1, z2 -> identity"
    ),
    needs: crate::catalogue::Needs::PAIRS,
};
