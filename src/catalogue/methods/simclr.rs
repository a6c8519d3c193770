//! SimCLR: what the catalogue knows of it (its settings, texts, diagram and Views
//! preview), as plain data. Its training is `methods::simclr`.

use crate::catalogue::MethodInfo;
use crate::catalogue::settings::{hidden_width, projection_dim, temperature};

crate::settings! {
    /// The settings of this method.
    pub struct Settings {
        /// 0.5 in the paper's ImageNet runs; 0.2 learns faster on small data (as solo-learn's
        /// CIFAR settings).
        temperature: f64 = temperature(
            0.2,
            "Softmax temperature of NT-Xent; lower sharpens the contrast between negatives",
        ),
        projection_hidden: usize = hidden_width(
            "head hidden width",
            256.0,
            "Hidden units of the projection MLP",
        ),
        projection_dim: usize = projection_dim(
            128.0,
            "Output dimension of the projection head (the space the loss sees)",
        ),
    }
}

pub static INFO: MethodInfo = MethodInfo {
    id: "simclr",
    name: "SimCLR",
    paper: "Chen et al. 2020, A Simple Framework for Contrastive Learning of Visual Representations",
    summary: "Two random augmentations of each image go through the same encoder and a small \
              MLP projection head. Each view must pick out its partner among all other views \
              in the batch, which act as negatives. The head is thrown away after training: \
              the encoder's output is the representation.",
    formula: "l(i,j) = -log exp(sim(z_i, z_j)/t) / sum_{k != i} exp(sim(z_i, z_k)/t),  \
              sim = cosine,  loss = mean over all 2N views",
    params: Settings::PARAMS,
    diagram: crate::siamese_pair!(
        "encoder f",
        "head g",
        "NT-Xent: each view vs its partner and 2N-2 negatives"
    ),
    needs: crate::catalogue::Needs::PAIRS,
};
