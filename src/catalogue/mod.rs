//! The method catalogue: what the window, presets and the CLI know of each method, as plain
//! data with no burn types: its texts, its settings ([`ParamSpec`]s, resolved into
//! [`Params`]), its pipeline diagram, and what its Views preview shows, one file per method
//! under [`methods`]. The window reads only this. The catalogue names no burn type and does
//! not depend on the methods: the methods register their builders against its entries.

pub mod methods;
pub mod params;
pub mod preview;
pub mod settings;

pub use params::{MethodSpec, ParamKind, ParamSpec, Params, resolve};

/// How a box in a method's diagram relates to training.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Mark {
    /// Trained by the optimiser.
    Trained,
    /// The same weights as the box above it (a shared encoder).
    Shared,
    /// A momentum (EMA) copy of the box above it: no gradient, moved toward it each step.
    Ema,
}

/// One box of a branch.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Stage {
    pub label: &'static str,
    pub mark: Mark,
}

/// The method's pipeline as the method panel draws it: one or two branches from the views
/// to the loss, an optional stored set of features, and where gradients stop.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Diagram {
    /// Input of the first branch, e.g. "view 1".
    pub top_input: &'static str,
    pub top: &'static [Stage],
    /// Input of the second branch; empty when the method has one branch.
    pub bottom_input: &'static str,
    pub bottom: &'static [Stage],
    /// The second branch's output is detached before the loss (stop-gradient).
    pub bottom_stop_gradient: bool,
    /// Features kept across steps (queue, memory bank), if any.
    pub store: Option<&'static str>,
    /// What the loss box says it compares.
    pub loss: &'static str,
}

/// Shorthands for the diagram tables.
pub const fn trained(label: &'static str) -> Stage {
    Stage {
        label,
        mark: Mark::Trained,
    }
}
pub const fn shared(label: &'static str) -> Stage {
    Stage {
        label,
        mark: Mark::Shared,
    }
}
pub const fn ema(label: &'static str) -> Stage {
    Stage {
        label,
        mark: Mark::Ema,
    }
}

/// The common siamese layout: both views through the same stages, one loss.
pub const fn siamese(
    stages: &'static [Stage],
    shared_stages: &'static [Stage],
    loss: &'static str,
) -> Diagram {
    Diagram {
        top_input: "view 1",
        top: stages,
        bottom_input: "view 2",
        bottom: shared_stages,
        bottom_stop_gradient: false,
        store: None,
        loss,
    }
}

/// What a method needs from the data and the views, and what its Views tab shows.
#[derive(Debug)]
pub struct Needs {
    /// It compares colour with luminance (CMC): greyscale datasets are refused.
    pub colour: bool,
    /// It uses multi-crop's local crops when the views settings make them (they are not
    /// made for other methods).
    pub local_crops: bool,
    /// It trains on the dataset's labels (SupCon): not self-supervised, the upper bound the
    /// others are compared with. The window marks it, and unlabelled datasets are refused.
    pub labels: bool,
    /// What the Views tab shows of its input, for these settings and image side.
    pub preview: fn(&Params, usize) -> preview::ViewsPreview,
}

impl Needs {
    /// Two augmented views of any image, nothing more.
    pub const PAIRS: Needs = Needs {
        colour: false,
        local_crops: false,
        labels: false,
        preview: preview::pairs,
    };
}

/// The diagram of a shared encoder and head on both views, compared by `loss`.
#[macro_export]
macro_rules! siamese_pair {
    ($encoder:expr, $head:expr, $loss:expr) => {
        $crate::catalogue::siamese(
            &[
                $crate::catalogue::trained($encoder),
                $crate::catalogue::trained($head),
            ],
            &[
                $crate::catalogue::shared($encoder),
                $crate::catalogue::shared($head),
            ],
            $loss,
        )
    };
}

/// What the window and presets know of a method: how to describe and configure it.
#[derive(Debug)]
pub struct MethodInfo {
    /// The `kind` in presets.
    pub id: &'static str,
    pub name: &'static str,
    pub paper: &'static str,
    /// A few sentences for the method panel.
    pub summary: &'static str,
    /// The loss, written out for the method panel.
    pub formula: &'static str,
    pub params: &'static [ParamSpec],
    pub diagram: Diagram,
    /// What it needs from the data and the views, and what the Views tab shows of them.
    pub needs: Needs,
}

/// Every method the workbench offers, in the order the window lists them.
pub fn methods() -> impl Iterator<Item = &'static MethodInfo> {
    methods::METHODS.iter().copied()
}

pub fn find(id: &str) -> Option<&'static MethodInfo> {
    methods().find(|m| m.id == id)
}
