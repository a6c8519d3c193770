//! SimCLR (Chen, Kornblith, Norouzi, Hinton 2020): two augmented views of each image pass
//! through a shared encoder f and projection head g; NT-Xent pulls each pair together
//! against the other 2N-2 views of the batch. The representation is h = f(x).

use super::common::HeadNet;
use super::plain::{Pairs, plain};
use super::{BuildContext, Method, MethodInfo};
use crate::catalogue::settings::{hidden_width, projection_dim, temperature};
use crate::losses::nt_xent;

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

pub fn build(ctx: &BuildContext) -> Box<dyn Method> {
    let s = Settings::read(ctx.params);
    let net = HeadNet::new(ctx, s.projection_hidden, s.projection_dim);
    let t = s.temperature as f32;
    plain(ctx, net, move |z, _: &Pairs| nt_xent(z, t).into())
        .temperature(s.temperature)
        .boxed()
}
