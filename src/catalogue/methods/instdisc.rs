//! InstDisc (memory bank): what the catalogue knows of it (its settings, texts, diagram and Views
//! preview), as plain data. Its training is `methods::instdisc`.

use crate::catalogue::settings::{BANK_FEATURE_DIM, BANK_MOMENTUM, BANK_TEMPERATURE};
use crate::catalogue::{MethodInfo, ParamSpec};

pub const OBJECTIVES: &[&str] = &["nce", "softmax"];

crate::settings! {
    /// The settings of this method.
    pub struct Settings {
        objective: &'static str = ParamSpec::choice(
            "objective",
            "Full softmax over the bank (the paper's choice for small data) or NCE with sampled \
             negatives (its choice for ImageNet)",
            OBJECTIVES,
            1,
        ),
        negatives: usize = ParamSpec::integer(
            "NCE negatives m",
            "Bank entries sampled as noise per step (4096 in the paper)",
            1024.0,
            1.0,
            65536.0,
        )
        .log(),
        temperature: f64 = BANK_TEMPERATURE,
        bank_momentum: f64 = BANK_MOMENTUM,
        feature_dim: usize = BANK_FEATURE_DIM,
    }
}

pub static INFO: MethodInfo = MethodInfo {
    id: "instdisc",
    name: "InstDisc (memory bank)",
    paper: "Wu et al. 2018, Unsupervised Feature Learning via Non-Parametric Instance Discrimination",
    summary: "Each image is treated as its own class. Instead of a classifier with one weight \
              per image, a memory bank stores the latest feature of every image, and a view must \
              recognise its own image's entry among the others (NCE against sampled entries, or \
              a softmax over the whole bank). The bank entry then moves halfway to the new \
              feature.",
    formula: "P(i|v) = exp(v_i.f/t) / Z,  NCE: h = P / (P + m/n),  \
              L = -log h(i, f) - sum_noise log(1 - h(j, f)),  v_i <- norm(0.5 v_i + 0.5 f)",
    params: Settings::PARAMS,
    diagram: crate::catalogue::Diagram {
        top_input: "view of image i",
        top: &[
            crate::catalogue::trained("encoder"),
            crate::catalogue::trained("linear 128, L2"),
        ],
        bottom_input: "",
        bottom: &[],
        bottom_stop_gradient: false,
        store: Some("memory bank: one feature per image"),
        loss: "NCE / softmax: f vs bank entry i and sampled entries",
    },
    needs: crate::catalogue::Needs::PAIRS,
};
