//! VICReg: what the catalogue knows of it (its settings, texts, diagram and Views
//! preview), as plain data. Its training is `methods::vicreg`.

use crate::catalogue::settings::{hidden_width, projection_dim};
use crate::catalogue::{MethodInfo, ParamSpec};

crate::settings! {
    /// The settings of this method.
    pub struct Settings {
        sim_weight: f64 = ParamSpec::number(
            "invariance weight lambda",
            "Weight of the mean squared error between the views (25 in the paper)",
            25.0,
            0.0,
            1000.0,
        ),
        var_weight: f64 = ParamSpec::number(
            "variance weight mu",
            "Weight of the std hinge (25 in the paper)",
            25.0,
            0.0,
            1000.0,
        ),
        cov_weight: f64 = ParamSpec::number(
            "covariance weight nu",
            "Weight of the off-diagonal covariance (1 in the paper)",
            1.0,
            0.0,
            1000.0,
        ),
        hidden: usize = hidden_width(
            "projector hidden width",
            512.0,
            "Width of the expander's hidden layers (8192 in the paper)",
        ),
        projection_dim: usize = projection_dim(
            512.0,
            "Output of the expander (8192 in the paper)",
        ),
    }
}

pub static INFO: MethodInfo = MethodInfo {
    id: "vicreg",
    name: "VICReg",
    paper: "Bardes, Ponce, LeCun 2022, VICReg: Variance-Invariance-Covariance Regularization",
    summary: "Three explicit terms replace negatives: the views' projections must match \
              (invariance), every dimension must keep a standard deviation of at least 1 across \
              the batch (variance, which forbids collapse), and dimensions must be uncorrelated \
              (covariance, which forbids redundancy).",
    formula: "L = lambda MSE(z1, z2) + mu sum_views mean_j max(0, 1 - sqrt(Var z_j + eps)) \
              + nu sum_views sum_{i != j} Cov(z)_ij^2 / d",
    params: Settings::PARAMS,
    diagram: crate::siamese_pair!("encoder", "expander", "invariance + variance + covariance"),
    needs: crate::catalogue::Needs::PAIRS,
};
