//! DCL and DCLW: what the catalogue knows of them (their settings, texts, diagram and Views
//! preview), as plain data. Their training is `methods::dcl`.

use crate::catalogue::settings::{hidden_width, projection_dim, temperature};
use crate::catalogue::{MethodInfo, ParamSpec};

crate::settings! {
    /// The settings of this method.
    pub struct Settings {
        temperature: f64 = temperature(
            0.1,
            "Softmax temperature of the loss (0.1 in the paper's and lightly's settings)",
        ),
        /// DCLW: the von Mises-Fisher weighting of the positive term.
        weighted: bool = ParamSpec::switch(
            "vMF weighting (DCLW)",
            "Weight each positive pair by 2 - N softmax(cos(z_i, z_i')/sigma) over the batch: \
             pairs that are far apart pull harder (DCLW); off, every positive weighs 1 (DCL)",
            false,
        ),
        sigma: f64 = ParamSpec::number(
            "vMF sigma",
            "Concentration of DCLW's weighting (0.5 in the paper); only with the weighting on",
            0.5,
            0.01,
            10.0,
        )
        .log(),
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
    id: "dcl",
    name: "DCL / DCLW",
    paper: "Yeh et al. 2022, Decoupled Contrastive Learning",
    summary: "SimCLR's encoder, head and views, with one change to the loss: the positive pair \
              is taken out of the softmax's denominator. In NT-Xent the push from the \
              negatives shrinks as the positive pair grows close, which is why SimCLR needs \
              large batches; decoupled, it does not, and small batches learn as well. DCLW \
              also weights each positive by a von Mises-Fisher factor that gives the pairs \
              still far apart more pull.",
    formula: "l_i = -w_i sim(z_i, z_i')/t + log sum_{k != i, i'} exp(sim(z_i, z_k)/t),  \
              w_i = 1 (DCL) or 2 - N softmax_j(sim(z_j, z_j')/sigma)_i (DCLW)",
    params: Settings::PARAMS,
    diagram: crate::siamese_pair!(
        "encoder f",
        "head g",
        "DCL: each view vs its partner; the 2N-2 negatives alone in the denominator"
    ),
    needs: crate::catalogue::Needs::PAIRS,
};
