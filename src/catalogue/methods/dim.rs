//! Deep InfoMax: what the catalogue knows of it (its settings, texts, diagram and Views
//! preview), as plain data. Its training is `methods::dim`.

use crate::catalogue::preview::ViewsPreview;
use crate::catalogue::settings::hidden_width;
use crate::catalogue::{MethodInfo, ParamSpec, Params};

pub const ESTIMATORS: &[&str] = &["jsd", "dv", "infonce"];

crate::settings! {
    /// The settings of this method.
    pub struct Settings {
        estimator: &'static str = ParamSpec::choice(
            "MI estimator",
            "Jensen-Shannon (the paper's default), Donsker-Varadhan (as MINE) or InfoNCE (each positive against every position of every other image, as the reference code)",
            ESTIMATORS,
            0,
        ),
        local_stage: usize = ParamSpec::integer(
            "local feature stage",
            "Which encoder stage's feature map gives the local features (0 = first)",
            2.0,
            0.0,
            5.0,
        ),
        cross_view: bool = ParamSpec::switch(
            "cross-view pairs (AMDIM)",
            "Score the global vector of one augmented view against the local features of the \
             other view (Bachman et al. 2019), so colour and other per-view shortcuts cannot \
             carry the mutual information; off is the DIM paper (same image, same view)",
            true,
        ),
        local_weight: f64 = ParamSpec::number(
            "local MI weight (beta)",
            "Weight of the local objective: y against every position of the feature map \
             (the paper's best setting, DIM(L), is beta 1, alpha 0)",
            1.0,
            0.0,
            10.0,
        ),
        global_weight: f64 = ParamSpec::number(
            "global MI weight (alpha)",
            "Weight of the global objective: y against the whole feature map, flattened \
             (DIM(G) is alpha 1, beta 0)",
            0.0,
            0.0,
            10.0,
        ),
        prior_weight: f64 = ParamSpec::number(
            "prior matching weight (gamma)",
            "Weight of the adversarial term pushing the squashed representation 1 - e^-y \
             toward a uniform prior on [0, 1]^d (the paper uses 0.1; 0 turns it off). The \
             paper squashes with a sigmoid; this encoder's output is non-negative (ReLU then \
             pooling), where a sigmoid could only reach [0.5, 1)",
            0.0,
            0.0,
            10.0,
        ),
        critic_dim: usize = hidden_width(
            "critic dim",
            128.0,
            "Dimension the critic embeds global and local features into",
        ),
    }
}

pub static INFO: MethodInfo = MethodInfo {
    id: "dim",
    name: "Deep InfoMax",
    paper: "Hjelm et al. 2019, Learning deep representations by mutual information estimation and maximization",
    summary: "The encoder's global vector for an image is scored against every local feature of \
              an intermediate feature map, of the same image (positive) and of other images \
              (negatives). Maximising a mutual-information estimate between global and local \
              makes the global vector summarise what all parts of the image share. The paper \
              needs no second view; the cross-view switch (AMDIM) takes the local features \
              from the other augmented view, which on the built-in data learns much faster.",
    formula: "max alpha I(y; M) + beta mean_p I(y; l_p) - gamma prior,  T(y, l) = phi(y) . psi(l),  \
              JSD: E_P[-sp(-T)] - E_N[sp(T)],  DV: E_P[T] - log E_N[e^T],  \
              InfoNCE: E[log softmax_j T(y_i, l_j)] + log B,  prior: -E log s(D(1 - e^-y))",
    params: Settings::PARAMS,
    diagram: crate::catalogue::Diagram {
        top_input: "image",
        top: &[
            crate::catalogue::trained("encoder -> global y"),
            crate::catalogue::trained("critic phi(y)"),
        ],
        bottom_input: "same image",
        bottom: &[
            crate::catalogue::shared("local map l (stage k)"),
            crate::catalogue::trained("critic psi(l)"),
        ],
        bottom_stop_gradient: false,
        store: None,
        loss: "MI estimates: (y_i, l_j) local, (y_i, M_j) global, i = j positive; + prior",
    },
    needs: crate::catalogue::Needs {
        preview,
        ..crate::catalogue::Needs::PAIRS
    },
};

fn preview(_: &Params, _image: usize) -> ViewsPreview {
    ViewsPreview::pairs(
        "Deep InfoMax: no view construction of its own; it contrasts a view's global vector \
         with local feature-map positions (of the other view with cross_view on).",
    )
}
