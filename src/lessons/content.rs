//! The seven built-in lessons' texts and set-ups.

use super::{Lesson, LessonStep, Measured, Question};
use crate::catalogue::{MethodSpec, find};
use crate::preset::Experiment;

/// The window's default (SimCLR on shapes) at a classroom budget: short enough to watch
/// end to end, evaluated often so the curves and the projection move.
fn classroom() -> Experiment {
    let mut e = Experiment::default();
    e.train.steps = 300;
    e.train.warmup_steps = 10;
    e.train.log_every = 5;
    e.eval.every = 25;
    e.eval.bank_size = 2000;
    e.eval.query_size = 400;
    e
}

/// The classroom run on shapes drawn on one background, with greyscale views half the
/// time. Measured over 300 steps (seed 0, `tests/teaching.rs`): on the full set a short
/// run's picture groups the images by background first (a random network already does:
/// t-SNE silhouette by background 0.70 at step 0, still 0.50 at step 300) and class kNN
/// reaches ~38%; on one background, 79%; with greyscale at p = 0.5 as well, 80% by step
/// 150 (40 s) and the picture's colour silhouette falls from 0.46 to 0.03.
fn one_background() -> Experiment {
    let mut e = classroom();
    if let crate::data::DatasetSpec::Shapes(s) = &mut e.dataset {
        s.backgrounds = 1;
    }
    for view in [&mut e.views.view1, &mut e.views.view2] {
        for t in &mut view.steps {
            if let crate::views::Transform::Grayscale(p) = t {
                p.p = 0.5;
            }
        }
    }
    e
}

/// The clusters lesson's run: one background, a narrower encoder (16-32-64-128 channels,
/// 2.3x the steps per second) trained 800 steps, and the picture of the projection head's
/// space. Measured (seed 0, `tests/teaching.rs`; `train --lesson simclr-clusters` gives
/// the same closing figures): the 300-step run on the default encoder ended at class kNN
/// 81% with a settled t-SNE silhouette by class of -0.08 on the encoder's output and 0.18
/// on the head's; this one reaches 88% and 0.35 at step 500 (104 s) and ends at 90% and
/// 0.38 (168 s). Trained 600 steps instead (a faster cosine decay), it ends at 86% and 0.27.
fn clusters() -> Experiment {
    let mut e = one_background();
    e.encoder.channels = vec![16, 32, 64, 128];
    e.train.steps = 800;
    e.eval.every = 50;
    e.eval.picture = crate::preset::PictureSpace::Head;
    e
}

/// The classroom run on the full shapes set: four backgrounds, a nuisance a short run
/// groups by first (the lesson on what a representation learns besides the shape), and
/// the picture of the encoder's output, where that nuisance shows.
fn four_backgrounds() -> Experiment {
    let mut e = classroom();
    if let crate::data::DatasetSpec::Shapes(s) = &mut e.dataset {
        s.backgrounds = 4;
    }
    e.eval.picture = crate::preset::PictureSpace::Encoder;
    e
}

/// Method `id` at its defaults, with `params` changed.
fn method(exp: &mut Experiment, id: &str, params: &[(&str, toml::Value)]) {
    let info = find(id).expect("lessons name catalogued methods");
    let mut spec = MethodSpec::with_defaults(info);
    for (k, v) in params {
        spec.params.insert((*k).into(), v.clone());
    }
    exp.method = spec;
}

/// Turns every transform `op` of both views on or off.
fn transform(exp: &mut Experiment, op: &str, on: bool) {
    for view in [&mut exp.views.view1, &mut exp.views.view2] {
        for t in view.steps.iter_mut().filter(|t| t.op() == op) {
            *t.enabled_mut() = on;
        }
    }
}

fn float(v: f64) -> toml::Value {
    toml::Value::Float(v)
}

static NEIGHBOURS: Question = Question {
    prompt: "No label is used. After training, what will a held-out image's nearest training \
             images (the kNN vote) mostly share with it?",
    choices: &["its shape", "its colour", "nothing: they will be random"],
    answer: 0,
    why: "The two views of an image keep its shape and differ in colour, position and size, so \
          telling a view's partner from the other images pays only through the shape.",
    measured: Measured::KnnTop1,
};

static COLOUR: Question = Question {
    prompt: "Without colour jitter, how well will kNN on the representation predict an \
             image's colour?",
    choices: &[
        "near chance: colour is not the class",
        "far above chance",
        "no better than at random initialisation",
    ],
    answer: 1,
    why: "Both views of an image keep its colour, so colour alone tells a view's partner from \
          most other images: the representation keeps it.",
    measured: Measured::AttributeKnn("colour"),
};

static COLLAPSE: Question = Question {
    prompt: "Without the stop-gradient, what will SimSiam's embeddings do?",
    choices: &[
        "spread out as usual",
        "collapse towards one point",
        "blow up to infinity",
    ],
    answer: 1,
    why: "Mapping every image to the same vector makes the two views agree perfectly: with \
          nothing stopping it, the loss finds that shortcut, and the embeddings' spread falls.",
    measured: Measured::EmbeddingStd,
};

static NO_NEGATIVES: Question = Question {
    prompt: "BYOL never pushes two images apart. Will it learn anything (kNN above the \
             random network's)?",
    choices: &[
        "no: it collapses to one point",
        "yes: its kNN rises above the random network's",
        "only with a very large batch",
    ],
    answer: 1,
    why: "The predictor and the slowly moving target keep the trivial solution from being a \
          fixed point of training: BYOL learns without negatives.",
    measured: Measured::KnnTop1,
};

pub static LESSONS: &[Lesson] = &[
    Lesson {
        id: "what-is-a-positive-pair",
        title: "What a positive pair is",
        start: classroom,
        steps: &[
            LessonStep {
                title: "Two views of one image",
                text: "Each row shows one training image and two random augmentations of it. \
                       The two views are a positive pair: the encoder is trained to give them \
                       nearby representations, and to keep them apart from every other image's \
                       views. Press Resample to draw new augmentations.",
                tab: "views",
                question: None,
                setup: None,
            },
            LessonStep {
                title: "One augmentation at a time",
                text: "Untick every transform but the crop (the box before each one's name, in \
                       both views): the pairs now differ only in where they were cut. Tick colour jitter back on, then \
                       greyscale and blur, one at a time, and watch what each adds. Whatever the \
                       augmentations change, the representation learns to ignore.",
                tab: "views",
                question: None,
                setup: None,
            },
            LessonStep {
                title: "What the pairs are for",
                text: "A good pair changes what should not matter (colour, position, size) and \
                       keeps what should (the shape). Too weak, and the task is trivial; too \
                       strong, and the two views no longer show the same thing. The next lessons \
                       train on these pairs.",
                tab: "views",
                question: None,
                setup: None,
            },
        ],
    },
    Lesson {
        id: "simclr-clusters",
        title: "SimCLR: watch class clusters form",
        start: clusters,
        steps: &[
            LessonStep {
                title: "Start training",
                text: "Press Start. SimCLR trains on pairs of views; no label is used. Left: the \
                       loss and the kNN accuracy (a held-out image is labelled by its nearest \
                       training images). Right: the held-out images' representations in 2-D. \
                       The shapes here share one background (the full set's four backgrounds \
                       are what a short run groups by first).",
                tab: "training",
                question: Some(&NEIGHBOURS),
                setup: None,
            },
            LessonStep {
                title: "The projection",
                text: "Colour: class. The picture shows the projection head's output z, where \
                       the loss pulls the two views of an image together. As the kNN curve rises \
                       above the dashed random-init line, the points of each shape gather into \
                       one island. Switch the projection to t-SNE for the clearest picture, drag \
                       the slider under it back to step 0 to see the random network's mess (or \
                       press Play to replay the run), and click a point to see its nearest \
                       neighbours' images.",
                tab: "training",
                question: None,
                setup: None,
            },
            LessonStep {
                title: "What else it groups by",
                text: "Colour the projection by colour or size instead. The line above the \
                       plots says how well kNN predicts each of them, and the silhouette under \
                       the picture how much its clusters follow the colouring: clusters that \
                       follow an attribute rather than the class mean the representation has \
                       learned that attribute. Hover the kNN line for each class's accuracy.",
                tab: "training",
                question: None,
                setup: None,
            },
            LessonStep {
                title: "Before the head",
                text: "This run pictures the encoder's output h instead: what kNN, the linear \
                       probe and the exported encoder use. Press Start. The probe reads the \
                       shapes from h as well as from z, yet the picture spreads each shape out: \
                       h still holds what the augmentations vary (position, size, some colour), \
                       which the head learns to drop. This is why SimCLR trains through a head \
                       and then throws it away.",
                tab: "training",
                question: None,
                setup: Some(|e| e.eval.picture = crate::preset::PictureSpace::Encoder),
            },
        ],
    },
    Lesson {
        id: "why-colour-jitter",
        title: "Why colour jitter matters",
        start: || {
            let mut e = four_backgrounds();
            transform(&mut e, "color-jitter", false);
            transform(&mut e, "grayscale", false);
            e
        },
        steps: &[
            LessonStep {
                title: "Without colour jitter",
                text: "This run's views keep their colours (colour jitter and greyscale are off). \
                       Press Start, then colour the projection by colour: the two views of an \
                       image always share a colour, so colour alone tells them apart from most \
                       other images, and the representation groups images by colour.",
                tab: "training",
                question: Some(&COLOUR),
                setup: None,
            },
            LessonStep {
                title: "With colour jitter",
                text: "Colour jitter and greyscale are back on for the next run. Press Start \
                       again: colour no longer matches between a pair's views, so matching them \
                       pays off only through what the colour does not change. Compare the two \
                       runs' colour kNN (it falls; a random network already encodes colour, see \
                       its random-init figure) and class kNN. In 300 steps colour is still \
                       readable; longer runs move further toward the shape.",
                tab: "training",
                question: None,
                setup: Some(|e| {
                    transform(e, "color-jitter", true);
                    transform(e, "grayscale", true);
                }),
            },
        ],
    },
    Lesson {
        id: "temperature",
        title: "Temperature",
        start: || {
            let mut e = classroom();
            method(&mut e, "simclr", &[("temperature", float(0.05))]);
            e
        },
        steps: &[
            LessonStep {
                title: "t = 0.05",
                text: "A low temperature makes the softmax sharp: the hardest negatives dominate \
                       the loss. Press Start and watch the alignment-uniformity plane.",
                tab: "training",
                question: None,
                setup: None,
            },
            LessonStep {
                title: "t = 0.2",
                text: "The temperature is now 0.2 (SimCLR's default here). Press Start; the \
                       earlier run stays on the plane for comparison.",
                tab: "training",
                question: None,
                setup: Some(|e| method(e, "simclr", &[("temperature", float(0.2))])),
            },
            LessonStep {
                title: "t = 1.0",
                text: "At 1.0 every negative counts almost equally. Press Start and compare the \
                       three paths: lower left (aligned and uniform) is better; the kNN curves \
                       say which temperature separated the classes best.",
                tab: "training",
                question: None,
                setup: Some(|e| method(e, "simclr", &[("temperature", float(1.0))])),
            },
        ],
    },
    Lesson {
        id: "collapse",
        title: "Collapse: SimSiam without the stop-gradient",
        start: || {
            let mut e = classroom();
            method(
                &mut e,
                "simsiam",
                &[("stop_gradient", toml::Value::Boolean(false))],
            );
            e.train.learning_rate = 0.03;
            e
        },
        steps: &[
            LessonStep {
                title: "No stop-gradient",
                text: "SimSiam has no negatives; what keeps it from mapping every image to one \
                       point is the stop-gradient on its target branch. It is off in this run. \
                       Press Start: the embedding std falls far below 1/sqrt(d), the effective \
                       rank drops, and the COLLAPSE alarm fires.",
                tab: "training",
                question: Some(&COLLAPSE),
                setup: None,
            },
            LessonStep {
                title: "With the stop-gradient",
                text: "The stop-gradient is back on. Press Start: the std stays near the healthy \
                       line and the kNN accuracy rises.",
                tab: "training",
                question: None,
                setup: Some(|e| {
                    method(
                        e,
                        "simsiam",
                        &[("stop_gradient", toml::Value::Boolean(true))],
                    );
                }),
            },
        ],
    },
    Lesson {
        id: "do-we-need-negatives",
        title: "Do we need negatives? SimCLR against BYOL",
        start: classroom,
        steps: &[
            LessonStep {
                title: "SimCLR: negatives",
                text: "SimCLR pushes every other image in the batch away. Press Start and note \
                       where the kNN curve ends.",
                tab: "training",
                question: None,
                setup: None,
            },
            LessonStep {
                title: "BYOL: no negatives",
                text: "BYOL only pulls a view's prediction toward a slowly moving target network's \
                       view; nothing pushes images apart, yet it does not collapse. Press Start \
                       and compare the two runs' kNN and uniformity.",
                tab: "training",
                question: Some(&NO_NEGATIVES),
                setup: Some(|e| method(e, "byol", &[])),
            },
        ],
    },
    Lesson {
        id: "loss-ladder",
        title: "The loss ladder: margin, triplet, NCE, InfoNCE",
        start: || {
            let mut e = classroom();
            method(&mut e, "hadsell", &[]);
            e
        },
        steps: &[
            LessonStep {
                title: "Margin contrastive",
                text: "Hadsell et al. 2006: pull positive pairs together, push negative pairs \
                       until they are a margin apart. Press Start.",
                tab: "training",
                question: None,
                setup: None,
            },
            LessonStep {
                title: "Triplet",
                text: "Schroff et al. 2015: an anchor must be closer to its positive than to a \
                       negative, by a margin. Press Start and compare.",
                tab: "training",
                question: None,
                setup: Some(|e| method(e, "triplet", &[])),
            },
            LessonStep {
                title: "NCE",
                text: "Binary NCE: each pair is classified as positive or noise on its own. Press \
                       Start.",
                tab: "training",
                question: None,
                setup: Some(|e| {
                    method(
                        e,
                        "nce",
                        &[("estimator", toml::Value::String("nce".into()))],
                    );
                }),
            },
            LessonStep {
                title: "InfoNCE",
                text: "InfoNCE: the positive must win a softmax over all the negatives at once. \
                       Press Start and compare the four runs' kNN curves.",
                tab: "training",
                question: None,
                setup: Some(|e| {
                    method(
                        e,
                        "nce",
                        &[("estimator", toml::Value::String("infonce".into()))],
                    );
                }),
            },
        ],
    },
];
