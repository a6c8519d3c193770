//! Margin contrastive (Hadsell 2006): what the catalogue knows of it (its settings, texts,
//! diagram and Views preview), as plain data. Its training is `methods::hadsell`.

use crate::catalogue::settings::projection_dim;
use crate::catalogue::{MethodInfo, ParamSpec};

crate::settings! {
    /// The settings of this method.
    pub struct Settings {
        margin: f64 = ParamSpec::number(
            "margin m",
            "Distance beyond which negatives stop being pushed (embeddings are unit vectors, so D <= 2)",
            1.0,
            0.01,
            2.0,
        ),
        projection_dim: usize = projection_dim(
            64.0,
            "Output of the head (the space distances are measured in)",
        ),
    }
}

pub static INFO: MethodInfo = MethodInfo {
    id: "hadsell",
    name: "Margin contrastive (Hadsell 2006)",
    paper: "Hadsell, Chopra, LeCun 2006, Dimensionality Reduction by Learning an Invariant Mapping",
    summary: "The original contrastive loss works on pairs. A positive pair (two views of one \
              image) is pulled together by its squared distance; a negative pair (views of two \
              images) is pushed apart only while it is closer than the margin. Every cross-view \
              pair in the batch is used; positives and negatives each count half.",
    formula: "L = mean_pos D^2 / 2 + mean_neg max(0, m - D)^2 / 2,  D = ||z_a - z_b||, z on the unit sphere",
    params: Settings::PARAMS,
    diagram: crate::siamese_pair!(
        "encoder",
        "head, L2",
        "pairs: pull positives, push negatives to the margin"
    ),
    needs: crate::catalogue::Needs::PAIRS,
};
