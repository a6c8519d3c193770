//! SimSiam: what the catalogue knows of it (its settings, texts, diagram and Views
//! preview), as plain data. Its training is `methods::simsiam`.

use crate::catalogue::settings::projection_dim;
use crate::catalogue::{MethodInfo, ParamSpec};

crate::settings! {
    /// The settings of this method.
    pub struct Settings {
        projection_dim: usize = projection_dim(
            128.0,
            "Output of the projector g (and of the predictor h)",
        ),
        predictor_hidden: usize = ParamSpec::integer(
            "predictor bottleneck",
            "Hidden width of the predictor h (the paper uses a 4x bottleneck)",
            32.0,
            2.0,
            2048.0,
        )
        .log(),
        stop_gradient: bool = ParamSpec::switch(
            "stop-gradient",
            "Off, a constant output minimises the loss; the paper reports collapse",
            true,
        ),
        /// The paper, sec. 4.4: "the predictor ... with a constant lr (without decay)".
        fixed_predictor_lr: bool = ParamSpec::switch(
            "fixed predictor lr",
            "On (the paper's way), the predictor keeps train.learning_rate while the \
             schedule decays the encoder and projector; off, it follows the schedule too",
            true,
        ),
    }
}

pub static INFO: MethodInfo = MethodInfo {
    id: "simsiam",
    name: "SimSiam",
    paper: "Chen & He 2021, Exploring Simple Siamese Representation Learning",
    summary: "Two views share one encoder and projector; a small predictor tries to turn one \
              view's projection into the other's. There are no negatives: the target side's \
              gradient is stopped, which the paper shows is what keeps the representation from \
              collapsing to a constant.",
    formula: "L = D(p1, sg(z2))/2 + D(p2, sg(z1))/2,  D(p, z) = -cos(p, z),  p = h(z),  \
              z = g(f(x))",
    params: Settings::PARAMS,
    diagram: crate::catalogue::Diagram {
        top_input: "view 1",
        top: &[
            crate::catalogue::trained("encoder f"),
            crate::catalogue::trained("projector g"),
            crate::catalogue::trained("predictor h"),
        ],
        bottom_input: "view 2",
        bottom: &[
            crate::catalogue::shared("encoder f"),
            crate::catalogue::shared("projector g"),
        ],
        bottom_stop_gradient: true,
        store: None,
        loss: "negative cosine: p1 vs sg(z2), and swapped",
    },
    needs: crate::catalogue::Needs {
        local_crops: true,
        ..crate::catalogue::Needs::PAIRS
    },
};
