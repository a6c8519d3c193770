//! DINO: what the catalogue knows of it (its settings, texts, diagram and Views preview),
//! as plain data. Its training is `methods::dino`.

use crate::catalogue::settings::{cosine_momentum, hidden_width, temperature};
use crate::catalogue::{MethodInfo, ParamSpec};

crate::settings! {
    /// The settings of this method.
    pub struct Settings {
        outputs: usize = ParamSpec::integer(
            "outputs K",
            "Dimensions of the head's output, the softmax's support (65536 in the paper)",
            1024.0,
            8.0,
            65536.0,
        )
        .log(),
        hidden: usize = hidden_width(
            "head hidden width",
            512.0,
            "Hidden width of the head's MLP (2048 in the paper)",
        ),
        bottleneck: usize = hidden_width(
            "bottleneck width",
            128.0,
            "Width before the weight-normalised last layer (256 in the paper)",
        ),
        student_temperature: f64 = temperature(
            0.1,
            "Softmax temperature of the student (0.1 in the paper)",
        ),
        teacher_temperature: f64 = ParamSpec::number(
            "teacher temperature",
            "Sharpening: the teacher's softmax temperature after its warm-up (0.04 to 0.07 \
             in the paper); lower is sharper",
            0.07,
            0.001,
            1.0,
        )
        .log(),
        teacher_temperature_start: f64 = ParamSpec::number(
            "teacher temperature at step 0",
            "The teacher's temperature rises linearly from this to its final value over \
             the warm-up (0.04 in the paper)",
            0.04,
            0.001,
            1.0,
        )
        .log(),
        teacher_warmup_steps: usize = ParamSpec::integer(
            "teacher warm-up steps",
            "Steps of the teacher temperature's warm-up (30 epochs in the paper)",
            100.0,
            0.0,
            100000.0,
        ),
        centering: bool = ParamSpec::switch(
            "centering",
            "Subtract the centre (an EMA of the teacher's batch means) before sharpening; \
             off, the teacher collapses onto one output (sec. 5.3)",
            true,
        ),
        centre_momentum: f64 = ParamSpec::number(
            "centre momentum",
            "EMA coefficient of the centre (0.9 in the paper)",
            0.9,
            0.0,
            0.9999,
        ),
        momentum: f64 = cosine_momentum(
            "teacher momentum",
            "EMA coefficient of the teacher at step 0 (0.996 in the paper); it rises to 1 \
             by the last step on a cosine",
        ),
        freeze_last_layer_steps: usize = ParamSpec::integer(
            "last layer frozen for",
            "Steps during which the weight-normalised last layer is not updated (one epoch \
             in the paper), which steadies the start",
            30.0,
            0.0,
            100000.0,
        ),
    }
}

pub static INFO: MethodInfo = MethodInfo {
    id: "dino",
    name: "DINO",
    paper: "Caron et al. 2021, Emerging Properties in Self-Supervised Vision Transformers",
    summary: "Self-distillation without labels: a student network's softmax over K outputs \
              must match a teacher's for another crop of the same image, the teacher being a \
              momentum copy of the student that sees only the two global views. The \
              teacher's outputs are centred (an EMA of its batch mean is subtracted) and \
              sharpened (a low temperature): centering alone collapses to the uniform \
              distribution and sharpening alone to one output, so the dashboard shows both \
              the teacher's entropy and the KL between teacher and student.",
    formula: "L = sum_{g in global} sum_{v != g} H(P_t(g), P_s(v)),  \
              P_t = softmax((g_t(x) - c)/t_t),  P_s = softmax(g_s(x)/t_s),  \
              c <- m c + (1 - m) mean g_t(x)",
    params: Settings::PARAMS,
    diagram: crate::catalogue::Diagram {
        top_input: "all crops (student)",
        top: &[
            crate::catalogue::trained("encoder"),
            crate::catalogue::trained("head + norm. last layer"),
        ],
        bottom_input: "global views (teacher)",
        bottom: &[
            crate::catalogue::ema("encoder"),
            crate::catalogue::ema("head"),
        ],
        bottom_stop_gradient: true,
        store: Some("centre c (EMA of teacher means)"),
        loss: "cross-entropy: centred, sharpened teacher vs student, other crops",
    },
    needs: crate::catalogue::Needs {
        local_crops: true,
        ..crate::catalogue::Needs::PAIRS
    },
};
