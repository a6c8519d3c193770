//! PixPro: what the catalogue knows of it (its settings, texts, diagram and Views
//! preview), as plain data. Its training is `methods::pixpro`.

use crate::catalogue::preview::ViewsPreview;
use crate::catalogue::settings::{cosine_momentum, hidden_width};
use crate::catalogue::{MethodInfo, ParamSpec, Params};

crate::settings! {
    /// The settings of this method.
    pub struct Settings {
        threshold: f64 = ParamSpec::number(
            "positive distance T",
            "Pixels are a positive pair when their centres, in the original image, lie less \
             than T feature-map cell diagonals apart (0.7 in the paper)",
            0.7,
            0.05,
            4.0,
        ),
        gamma: f64 = ParamSpec::number(
            "propagation sharpness gamma",
            "Exponent on the (non-negative) cosine similarity in the pixel propagation module \
             (2 in the paper)",
            2.0,
            0.0,
            8.0,
        ),
        instance_weight: f64 = ParamSpec::number(
            "instance branch weight",
            "Weight of the instance-level branch (pooled features, projector and predictor \
             against the momentum branch, as BYOL); the paper adds it for better linear \
             evaluation, 0 leaves pixel consistency alone",
            1.0,
            0.0,
            10.0,
        ),
        /// The reference's instance branch projects and predicts every position of the map
        /// (1x1-conv MLPs) and pools after; pooling first is the cheaper BYOL-style head.
        instance_pool_after: bool = ParamSpec::switch(
            "instance branch pools after its heads",
            "On (the reference code's way), the instance projector and predictor run at every \
             position of the feature map and their outputs are averaged; off, the map is \
             pooled first and the heads see one vector per image (BYOL's way)",
            true,
        ),
        tau_base: f64 = cosine_momentum(
            "target momentum tau_base",
            "EMA coefficient at step 0 (0.99 in the paper); it rises to 1 on a cosine schedule",
        ),
        hidden: usize = hidden_width(
            "projector hidden width",
            256.0,
            "Hidden width of the per-pixel projector (1x1 convolutions)",
        ),
        projection_dim: usize = ParamSpec::integer(
            "pixel feature dim",
            "Output dimension of the per-pixel projector (256 in the paper)",
            64.0,
            2.0,
            1024.0,
        )
        .log(),
    }
}

pub static INFO: MethodInfo = MethodInfo {
    id: "pixpro",
    name: "PixPro",
    paper: "Xie et al. 2021, Propagate Yourself: Exploring Pixel-Level Consistency for \
            Unsupervised Visual Representation Learning",
    summary: "Two crops of an image overlap somewhere; every position of the encoder's feature \
              map of one crop that shows the same place as a position in the other crop forms \
              a positive pair. The online network smooths its per-pixel features by \
              propagating them between similar pixels of the same view, then must agree with \
              a momentum encoder's feature of the matching pixel in the other view. The \
              representation is the encoder's pooled output, as for every method here.",
    formula: "y_i = sum_j max(cos(x_i, x_j), 0)^gamma g(x_j),  \
              L = -mean_{(i,j): dist(i,j) < T} [cos(y_i^1, x'_j^2) + cos(y_j^2, x'_i^1)] \
              - w [cos(q(z^1), z'^2) + cos(q(z^2), z'^1)],  ' = momentum encoder",
    params: Settings::PARAMS,
    diagram: crate::catalogue::Diagram {
        top_input: "views 1, 2 (online)",
        top: &[
            crate::catalogue::trained("encoder -> map"),
            crate::catalogue::trained("pixel projector"),
            crate::catalogue::trained("pixel propagation"),
        ],
        bottom_input: "views 2, 1 (target)",
        bottom: &[
            crate::catalogue::ema("encoder -> map"),
            crate::catalogue::ema("pixel projector"),
        ],
        bottom_stop_gradient: true,
        store: None,
        loss: "cosine of matching pixels (same place); + instance branch",
    },
    needs: crate::catalogue::Needs {
        preview,
        ..crate::catalogue::Needs::PAIRS
    },
};

fn preview(_: &Params, _image: usize) -> ViewsPreview {
    ViewsPreview::pairs(
        "PixPro: feature-map positions of the two views that show the same place of the image \
         (followed back through each view's crop and flips) are the positive pairs; views that \
         do not overlap give none, and a rotated view gives none.",
    )
}
