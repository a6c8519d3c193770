//! Triplet loss: what the catalogue knows of it (its settings, texts, diagram and Views
//! preview), as plain data. Its training is `methods::triplet`.

use crate::catalogue::settings::projection_dim;
use crate::catalogue::{MethodInfo, ParamSpec};

pub const MINING: &[&str] = &["random", "semi-hard", "hard"];

crate::settings! {
    /// The settings of this method.
    pub struct Settings {
        margin: f64 = ParamSpec::number(
            "margin",
            "Required gap between squared distances (0.2 in FaceNet)",
            0.2,
            0.0,
            4.0,
        ),
        mining: &'static str = ParamSpec::choice(
            "negative mining",
            "How each anchor's negative is picked from the batch",
            MINING,
            1,
        ),
        projection_dim: usize = projection_dim(
            64.0,
            "Output of the head (128 in FaceNet)",
        ),
    }
}

pub static INFO: MethodInfo = MethodInfo {
    id: "triplet",
    name: "Triplet loss",
    paper: "Schroff, Kalenichenko, Philbin 2015, FaceNet: A Unified Embedding for Face Recognition",
    summary: "Each anchor view is compared with its positive and one negative at a time: the \
              positive must be closer than the negative by a margin. Random negatives are soon \
              too easy to teach anything; hard ones can stall learning early; semi-hard ones \
              (farther than the positive but inside the margin) are FaceNet's compromise.",
    formula: "L = mean max(0, ||a - p||^2 - ||a - n||^2 + margin),  a, p, n on the unit sphere",
    params: Settings::PARAMS,
    diagram: crate::siamese_pair!(
        "encoder",
        "head, L2",
        "triplets (anchor, positive, mined negative)"
    ),
    needs: crate::catalogue::Needs::PAIRS,
};
