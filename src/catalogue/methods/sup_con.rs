//! SupCon: what the catalogue knows of it (its settings, texts, diagram and Views preview),
//! as plain data. Its training is `methods::sup_con`.

use crate::catalogue::MethodInfo;
use crate::catalogue::settings::{hidden_width, projection_dim, temperature};

crate::settings! {
    /// The settings of this method.
    pub struct Settings {
        temperature: f64 = temperature(
            0.1,
            "Softmax temperature of the loss (0.1 in the paper; 0.07 in the reference code)",
        ),
        projection_hidden: usize = hidden_width(
            "head hidden width",
            256.0,
            "Hidden units of the projection MLP",
        ),
        projection_dim: usize = projection_dim(
            128.0,
            "Output dimension of the projection head (128 in the paper)",
        ),
    }
}

pub static INFO: MethodInfo = MethodInfo {
    id: "supcon",
    name: "SupCon (uses labels)",
    paper: "Khosla et al. 2020, Supervised Contrastive Learning",
    summary: "Not self-supervised: it reads the labels, and is here as the upper bound the \
              other methods are measured against. SimCLR's encoder, head and views, but every \
              other view of the same class is a positive, not only the other view of the same \
              image. The gap between it and a label-free method is what learning without \
              labels costs.",
    formula: "l_i = -1/|P(i)| sum_{p in P(i)} log exp(sim(z_i, z_p)/t) / sum_{a != i} \
              exp(sim(z_i, z_a)/t),  P(i) = the other views of i's class",
    params: Settings::PARAMS,
    diagram: crate::siamese_pair!(
        "encoder f",
        "head g",
        "SupCon: every view of the same class is a positive (labels)"
    ),
    needs: crate::catalogue::Needs {
        labels: true,
        ..crate::catalogue::Needs::PAIRS
    },
};
