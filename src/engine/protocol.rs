//! Messages between the UI (or CLI) and the trainer: closed enums of plain data.

use std::path::PathBuf;

use serde::{Deserialize, Serialize};

/// UI -> trainer.
#[derive(Clone, Debug, PartialEq)]
pub enum Command {
    /// Hold before the next step until `Resume` or `Stop`.
    Pause,
    Resume,
    /// Take one step, then pause (from a pause: one step and pause again).
    Step,
    /// End the run after the current step; the trained model stays available for export.
    Stop,
    /// Write the encoder, preset and metrics into this folder.
    Export(PathBuf),
    /// Train a linear probe on the latest evaluation's features (on its own thread).
    Probe,
    /// At most this many steps per second (`None`: full speed), so a class can follow.
    SpeedLimit(Option<f32>),
}

/// Where training runs, and why that backend was chosen.
#[derive(Clone, Debug, PartialEq)]
pub struct BackendInfo {
    /// "CPU (flex)" or "GPU (wgpu: <adapter>)".
    pub name: String,
    /// Why: e.g. "no hardware GPU adapter found".
    pub reason: String,
}

/// One logged training step.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct StepMetrics {
    pub step: u64,
    pub loss: f32,
    // The representation figures below are the same for every method: the encoder output h
    // of the batch's two views (evaluation mode), L2-normalised. `own` has the figures of
    // the space the method's loss compares, which differs from method to method.
    /// Wang & Isola alignment (alpha = 2) of the batch's positive pairs.
    pub align: f32,
    /// Wang & Isola uniformity (t = 2) of the batch's embeddings.
    pub uniform: f32,
    /// Mean per-dimension std of the normalised embeddings (collapse signal).
    pub z_std: f32,
    /// 1/sqrt(d): what `z_std` is for a healthy embedding.
    pub z_std_healthy: f32,
    /// Effective rank of the batch's normalised embeddings (Roy & Vetterli): how many
    /// directions they use, 1..=d.
    #[serde(default)]
    pub effective_rank: f32,
    /// `z_std` has fallen far below the healthy value, or the effective rank to about one
    /// direction: the embeddings are collapsing.
    pub collapsing: bool,
    /// Mean cosine similarity of the batch's positive pairs.
    pub pos_sim: f32,
    /// Mean cosine similarity of the batch's other (negative) pairs.
    pub neg_sim: f32,
    /// Histograms of the batch's positive and negative pair cosines
    /// (`metrics::SIMILARITY_BINS` bins over [-1, 1]).
    pub pos_hist: Vec<u32>,
    pub neg_hist: Vec<u32>,
    /// The same figures in the space the method's loss compares (SimCLR's projection z,
    /// MoCo's query and key, ...); absent in logs written before it existed.
    #[serde(default)]
    pub own: Option<SpaceFigures>,
    /// Method-specific values (queue fill, EMA momentum, MI estimate), by name.
    pub signals: Vec<(String, f32)>,
    pub lr: f64,
    pub steps_per_sec: f32,
    pub views_per_sec: f32,
    /// Fraction of the logging window the trainer spent waiting for views (0: the
    /// augmentation pipeline kept up).
    pub data_wait: f32,
    /// For a remote device: one value's trip to the server and back (milliseconds),
    /// measured between steps.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub round_trip_ms: Option<f32>,
}

/// Alignment, uniformity and collapse figures of one space's `[2N, dim]` embeddings.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct SpaceFigures {
    /// What the space is, as the dashboard labels it.
    pub space: String,
    pub dim: usize,
    pub align: f32,
    pub uniform: f32,
    pub z_std: f32,
    pub effective_rank: f32,
}

/// What the shared representation figures are computed on, as plots label it.
pub const SHARED_SPACE: &str = "h: encoder output";

/// A kNN evaluation of the encoder's representation.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct EvalReport {
    pub step: u64,
    /// Top-1 accuracy in 0..=1 on the held-out queries.
    pub knn_top1: f32,
    /// The same evaluation of the encoder at initialisation (step 0).
    pub baseline_top1: f32,
    /// The same kNN predicting each nuisance attribute instead of the class: what else the
    /// representation groups images by. Empty for datasets without attributes.
    #[serde(default)]
    pub attributes: Vec<AttributeScore>,
    /// kNN top-1 among the queries of each class, in the dataset's class order (which
    /// classes the representation has learned and which it confuses).
    #[serde(default)]
    pub per_class: Vec<ClassScore>,
}

/// kNN top-1 among one class's held-out queries.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ClassScore {
    pub name: String,
    pub top1: f32,
    /// How many queries of the class were scored.
    pub queries: usize,
}

/// kNN top-1 of one nuisance attribute, with its random-init value and chance level.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct AttributeScore {
    pub name: String,
    pub top1: f32,
    pub baseline_top1: f32,
    /// The accuracy of always answering the most common value among the queries.
    pub chance: f32,
}

/// One nuisance attribute of the projected points: its name, value names, and each
/// point's value.
#[derive(Clone, Debug, PartialEq)]
pub struct PointAttribute {
    pub name: String,
    pub values: Vec<String>,
    pub of_point: Vec<u16>,
}

/// One kNN setting of the full-split evaluation and its top-1 accuracy.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct KnnFigure {
    pub k: usize,
    pub temperature: f32,
    pub top1: f32,
}

/// The full protocol (published tables' way): kNN with every train image as the bank and
/// every test image as a query, and a mini-batch linear probe on all train features.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct FullEvalReport {
    pub step: u64,
    pub train_images: usize,
    pub test_images: usize,
    /// The run's own k and temperature first, then k = 200 at T = 0.1 (lightly's and
    /// solo-learn's protocol).
    pub knn: Vec<KnnFigure>,
    pub probe_top1: f32,
    /// Wall time of the whole evaluation (embedding both splits included).
    pub seconds: f32,
    /// The process's peak resident memory during it, where measurable.
    pub peak_rss_mib: Option<f32>,
}

impl FullEvalReport {
    /// One line: the figures, the splits, the time and memory it took.
    pub fn summary(&self) -> String {
        let knn: Vec<String> = self
            .knn
            .iter()
            .map(|k| format!("kNN k={} T={}: {:.1}%", k.k, k.temperature, 100.0 * k.top1))
            .collect();
        let peak = self
            .peak_rss_mib
            .map_or(String::new(), |m| format!(", peak memory {m:.0} MiB"));
        format!(
            "full splits at step {} ({} train as bank, {} test as queries): {}, linear probe \
             {:.1}%; {:.1} s{peak}",
            self.step,
            self.train_images,
            self.test_images,
            knn.join(", "),
            100.0 * self.probe_top1,
            self.seconds
        )
    }
}

/// The cosine similarity matrix of a logged step's first pairs (see
/// `metrics::similarity_matrix`): rows/columns `0..pairs` are view 1, `pairs..2*pairs`
/// view 2, so `(i, i + pairs)` are the positives.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct SimilarityMatrix {
    pub step: u64,
    pub pairs: usize,
    /// Row-major `[2 * pairs, 2 * pairs]` cosines.
    pub cosines: Vec<f32>,
    /// The method's temperature, when it has one: its logits are `cosines / temperature`.
    pub temperature: Option<f32>,
}

/// A linear probe on frozen features: trained on the kNN bank, scored on the held-out
/// queries.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ProbeReport {
    pub step: u64,
    /// Top-1 accuracy in 0..=1.
    pub accuracy: f32,
    /// The probe on the encoder at initialisation (step 0).
    pub baseline: f32,
    /// `classes x classes` counts, row = true class, column = predicted.
    pub confusion: Vec<u32>,
    pub class_names: Vec<String>,
}

/// A 2-D projection of the held-out sample's representations.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct ProjectionFrame {
    pub step: u64,
    pub points: Vec<[f32; 2]>,
    pub labels: Vec<u16>,
    /// Indices into the test split, parallel to `points`.
    pub indices: Vec<usize>,
    /// Fraction of variance per axis.
    pub explained: [f32; 2],
    /// The representations projected, row-major `[n, dim]` (the UI's t-SNE and
    /// neighbour lookup use them).
    pub embeddings: Vec<f32>,
    pub dim: usize,
    /// The space `embeddings` are in: the encoder's output, or the projection head's when
    /// the preset asks for it and the method has one.
    pub space: crate::preset::PictureSpace,
    /// Whether the kNN evaluation labelled each point correctly.
    pub knn_correct: Vec<bool>,
    /// For the first projected images (parallel to the start of `points`): where their
    /// two augmented views land in the same PCA picture. Empty when not computed.
    pub view_pairs: Vec<[[f32; 2]; 2]>,
    /// The points' nuisance attributes (the projection can be coloured by each).
    pub attributes: Vec<PointAttribute>,
}

/// Trainer -> UI.
#[derive(Clone, Debug, PartialEq)]
pub enum Event {
    /// The run has begun on this backend.
    Started {
        backend: BackendInfo,
        total_steps: u64,
    },
    /// A logged step's metrics.
    Step(StepMetrics),
    /// A kNN evaluation (the first one, at step 0, is the random-init baseline).
    Eval(EvalReport),
    /// A full-split evaluation (at step 0 and at the end, when the preset asks for it).
    FullEval(FullEvalReport),
    /// The latest logged step's similarity matrix.
    Similarity(SimilarityMatrix),
    /// A linear probe finished.
    Probe(ProbeReport),
    ProbeFailed {
        step: u64,
        message: String,
    },
    /// A new projection of the sample embeddings.
    Projection(ProjectionFrame),
    Paused {
        step: u64,
    },
    Resumed {
        step: u64,
    },
    /// Files written by an export.
    Exported {
        dir: PathBuf,
        files: Vec<String>,
    },
    ExportFailed {
        message: String,
    },
    /// A checkpoint was written (`step` steps done).
    Checkpointed {
        step: u64,
        path: PathBuf,
    },
    CheckpointFailed {
        message: String,
    },
    /// A setting that will not do what it seems to (named as in the preset), said once
    /// when the run starts.
    Warning {
        message: String,
    },
    /// The run ended normally (`stopped` when the user stopped it early).
    Finished {
        step: u64,
        stopped: bool,
    },
    /// The run could not go on; the model of the last good step is kept for export.
    Failed {
        step: u64,
        message: String,
    },
}
