//! NCE vs InfoNCE: what the catalogue knows of it (its settings, texts, diagram and Views
//! preview), as plain data. Its training is `methods::nce`.

use crate::catalogue::settings::{projection_dim, temperature};
use crate::catalogue::{MethodInfo, ParamSpec};

pub const ESTIMATORS: &[&str] = &["nce", "infonce"];

crate::settings! {
    /// The settings of this method.
    pub struct Settings {
        estimator: &'static str = ParamSpec::choice(
            "estimator",
            "Binary NCE (each candidate alone) or InfoNCE (softmax over k+1)",
            ESTIMATORS,
            1,
        ),
        negatives: usize = ParamSpec::integer(
            "negatives k",
            "Negatives per anchor, sampled from the batch (at most batch - 1)",
            32.0,
            1.0,
            4096.0,
        )
        .log(),
        temperature: f64 = temperature(
            0.2,
            "Scale of the cosine scores",
        ),
        projection_dim: usize = projection_dim(
            128.0,
            "Output of the head",
        ),
    }
}

pub static INFO: MethodInfo = MethodInfo {
    id: "nce",
    name: "NCE vs InfoNCE",
    paper: "Gutmann & Hyvarinen 2010, Noise-contrastive estimation; van den Oord et al. 2018, \
            Representation Learning with Contrastive Predictive Coding",
    summary: "The same positive and k sampled negatives per anchor, two estimators. NCE asks, \
              for each candidate alone, whether it is the positive or noise (a logistic loss). \
              InfoNCE asks which one of the k+1 candidates is the positive (a softmax), and its \
              loss gives a lower bound on the mutual information between views, shown live.",
    formula: "s = cos(z1_i, z2_j)/t.  NCE: -log sig(s+ - ln k) - sum_k log(1 - sig(s- - ln k)).  \
              InfoNCE: -log exp(s+) / (exp(s+) + sum_k exp(s-)).  I(v1; v2) >= ln(k+1) - L_InfoNCE",
    params: Settings::PARAMS,
    diagram: crate::siamese_pair!(
        "encoder",
        "head, L2",
        "NCE or InfoNCE over 1 positive + k negatives"
    ),
    needs: crate::catalogue::Needs::PAIRS,
};
