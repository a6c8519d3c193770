//! CMC (Lab views): what the catalogue knows of it (its settings, texts, diagram and Views
//! preview), as plain data. Its training is `methods::cmc`.

use crate::catalogue::preview::{PreviewColumn, ViewsPreview};
use crate::catalogue::settings::{BANK_FEATURE_DIM, BANK_MOMENTUM, BANK_TEMPERATURE};
use crate::catalogue::{MethodInfo, ParamSpec, Params};

pub const OBJECTIVES: &[&str] = &["infonce", "nce"];
pub const VIEW_SETS: &[&str] = &["L-ab", "L-a-b"];
pub const GRAPHS: &[&str] = &["core", "full"];

crate::settings! {
    /// The settings of this method.
    pub struct Settings {
        objective: &'static str = ParamSpec::choice(
            "objective",
            "Softmax over the positive and k sampled bank entries (InfoNCE), or binary NCE with \
             scores normalised by a constant Z estimated on the first batch (the reference \
             code's NCEAverage); each image draws its own k entries, the same rows in every \
             view's bank, as the reference does",
            OBJECTIVES,
            0,
        ),
        negatives: usize = ParamSpec::integer(
            "negatives k",
            "Bank entries sampled per step (16384 in the paper)",
            1024.0,
            1.0,
            65536.0,
        )
        .log(),
        temperature: f64 = BANK_TEMPERATURE,
        bank_momentum: f64 = BANK_MOMENTUM,
        feature_dim: usize = BANK_FEATURE_DIM,
        views: &'static str = ParamSpec::choice(
            "views",
            "Split each image into L and ab (two encoders), or L, a and b (three encoders)",
            VIEW_SETS,
            0,
        ),
        graph: &'static str = ParamSpec::choice(
            "view pairs",
            "Core view: L against every other view; full graph: every pair of views \
             (the same with two views)",
            GRAPHS,
            1,
        ),
        /// The paper splits AlexNet into halves, one per view, so the whole network is as
        /// wide as one: comparable with every other method's representation.
        split_width: bool = ParamSpec::switch(
            "split the width",
            "On (the paper's way), each view's encoder has 1/views of the encoder's channels, \
             so the concatenated representation is as wide as other methods'; off, every \
             view gets a full-width encoder (a 2-3x wider representation)",
            true,
        ),
    }
}

pub static INFO: MethodInfo = MethodInfo {
    id: "cmc",
    name: "CMC (Lab views)",
    paper: "Tian, Krishnan, Isola 2019, Contrastive Multiview Coding",
    summary: "Each image is split into two views that see different information: its \
              luminance L and its colour channels ab (CIE Lab). Each view has its own encoder. \
              The L feature of an image must pick out the same image's ab feature among stored \
              ab features of other images, and the other way round; memory banks hold one \
              feature per image and view. What survives is what the views share; with L, a \
              and b as three views, the core-view objective contrasts L with each of the \
              others and the full graph contrasts every pair.",
    formula: "L = -log exp(f_L(i).v_ab(i)/t) / sum_{j in {i} + k sampled} exp(f_L(i).v_ab(j)/t) \
              + (L <-> ab),  v <- norm(m v + (1 - m) f)",
    params: Settings::PARAMS,
    diagram: crate::catalogue::Diagram {
        top_input: "L channel",
        top: &[
            crate::catalogue::trained("encoder L"),
            crate::catalogue::trained("linear, L2"),
        ],
        bottom_input: "ab channels",
        bottom: &[
            crate::catalogue::trained("encoder ab"),
            crate::catalogue::trained("linear, L2"),
        ],
        bottom_stop_gradient: false,
        store: Some("memory banks: one L and one ab feature per image"),
        loss: "L feature vs ab bank (and ab vs L bank); with L, a, b: core or full graph",
    },
    needs: crate::catalogue::Needs {
        colour: true,
        preview,
        ..crate::catalogue::Needs::PAIRS
    },
};

/// One augmented view split by colour channels, one column per encoder.
fn preview(params: &Params, _image: usize) -> ViewsPreview {
    let text = if Settings::read(params).views == "L-a-b" {
        "CMC: one augmented view per image, split into its L, a and b channels, one encoder \
         each (a and b are shown together); view 2 is not used."
    } else {
        "CMC: one augmented view per image, split into its L channel (one encoder) and its ab \
         channels (the other encoder); view 2 is not used."
    };
    ViewsPreview {
        columns: [PreviewColumn::LabL, PreviewColumn::LabAb],
        ..ViewsPreview::pairs(text)
    }
}
