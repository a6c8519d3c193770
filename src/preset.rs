//! Experiments as TOML presets: everything needed to reproduce a run.
//!
//! Every table uses `#[serde(default)]` (old presets keep loading as fields are added) and
//! `deny_unknown_fields` (a typo is an error naming the field, not a silently ignored
//! setting). Ranges are checked by [`Experiment::validate`], which names the field.
//!
//! `Experiment` holds each part's own settings type: `data::DatasetSpec`,
//! `views::ViewsSpec`, `model::EncoderConfig`, the catalogue's `MethodSpec`, `TrainSpec`
//! and `EvalSpec`. Methods are described through the burn-free `catalogue`, so `preset`
//! and `methods` do not import each other. A preset that cannot be used is a
//! `PresetError` naming the file and the field.

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::catalogue::{self, MethodSpec};
use crate::data::DatasetSpec;
use crate::model::EncoderConfig;
use crate::views::{ViewPipeline, ViewsSpec};

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum OptimizerKind {
    Adam,
    /// SGD with (heavy-ball) momentum.
    Sgd,
    /// LARS: momentum SGD with a per-layer trust ratio (SimCLR's large-batch optimiser).
    Lars,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Schedule {
    Constant,
    /// Linear warm-up, then cosine decay to zero (SimCLR's schedule).
    Cosine,
}

/// Which space the evaluation's picture (PCA, t-SNE, UMAP, neighbours) shows. kNN and the
/// linear probe always read the encoder's output.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum PictureSpace {
    /// The representation h that is exported and probed: it keeps what the augmentations
    /// vary (position, size, colour), which spreads a class over the picture.
    #[default]
    Encoder,
    /// The projection head's z, the space the loss compares: invariant to what the
    /// augmentations vary, so classes form islands sooner. Methods without a head show h.
    Head,
}

impl PictureSpace {
    fn is_encoder(&self) -> bool {
        *self == Self::Encoder
    }

    /// The words the window and `train` use for it.
    pub fn label(self) -> &'static str {
        match self {
            Self::Encoder => "encoder output h",
            Self::Head => "projection head z",
        }
    }
}

/// Where the training views are made.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum AugmentOn {
    /// On the CPU's threads, ahead of the trainer (`views::prefetch`).
    #[default]
    Cpu,
    /// On the training device with tensor ops (`device_views`), from the same draws: for a
    /// GPU the CPU cannot keep fed. A pipeline with a step the device lacks (rotation,
    /// equalize, posterize) stays on the CPU, with a warning.
    Device,
}

/// Which compute backend trains the model.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum BackendChoice {
    /// The best device this build can reach: CUDA, then a hardware GPU through wgpu, else
    /// the CPU.
    Auto,
    /// burn's `flex` CPU backend.
    Cpu,
    /// The wgpu backend; fails with a clear message when no hardware GPU is found.
    Gpu,
    /// burn's CUDA backend; fails with a clear message when no NVIDIA GPU is found.
    Cuda,
    /// A `contrastive-workbench serve` process at `train.remote`: the networks run on its
    /// device while data, augmentation, metrics and the window stay here.
    Remote,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct TrainSpec {
    pub steps: u64,
    /// Images per step; each gives two views.
    pub batch_size: usize,
    pub learning_rate: f64,
    pub optimizer: OptimizerKind,
    /// SGD and LARS momentum (ignored by Adam).
    pub momentum: f64,
    /// LARS trust coefficient eta (0.001 in SimCLR; ignored by the others).
    pub trust_coefficient: f64,
    pub weight_decay: f64,
    pub schedule: Schedule,
    pub warmup_steps: u64,
    /// Metrics are reported every this many steps.
    pub log_every: u64,
    pub backend: BackendChoice,
    /// The server for `backend = "remote"`: `ws://host:port`.
    pub remote: String,
    /// A file holding the server's token (its first line); empty: no token. The token
    /// itself never goes into a preset, which is copied into every run folder.
    pub remote_token_file: String,
    /// Where the views are made: `"cpu"` (the default) or `"device"`.
    pub augment_on: AugmentOn,
}

impl Default for TrainSpec {
    fn default() -> Self {
        Self {
            steps: 1000,
            batch_size: 128,
            learning_rate: 1e-3,
            optimizer: OptimizerKind::Adam,
            momentum: 0.9,
            trust_coefficient: 0.001,
            weight_decay: 1e-6,
            schedule: Schedule::Cosine,
            warmup_steps: 20,
            log_every: 5,
            backend: BackendChoice::Auto,
            remote: String::new(),
            remote_token_file: String::new(),
            augment_on: AugmentOn::Cpu,
        }
    }
}

impl TrainSpec {
    /// The learning rate at `step` under the schedule.
    pub fn lr_at(&self, step: u64) -> f64 {
        let base = self.learning_rate;
        if step < self.warmup_steps {
            return base * (step + 1) as f64 / self.warmup_steps as f64;
        }
        match self.schedule {
            Schedule::Constant => base,
            Schedule::Cosine => {
                let span = self.steps.saturating_sub(self.warmup_steps).max(1) as f64;
                let t = ((step - self.warmup_steps) as f64 / span).min(1.0);
                0.5 * base * (1.0 + (std::f64::consts::PI * t).cos())
            }
        }
    }
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct EvalSpec {
    /// kNN evaluation and projection refresh every this many steps (and at 0 and the end).
    pub every: u64,
    pub knn_k: usize,
    pub knn_temperature: f32,
    /// Train images in the kNN bank.
    pub bank_size: usize,
    /// Held-out images queried (and projected).
    pub query_size: usize,
    /// At step 0 and at the end, also the full protocol: kNN with the whole train split as
    /// bank and the whole test split as queries (this k and temperature, and k = 200 at
    /// T = 0.1), and a mini-batch linear probe on every train image.
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub full_split: bool,
    /// What the picture shows (`"encoder"` or `"head"`).
    #[serde(skip_serializing_if = "PictureSpace::is_encoder")]
    pub picture: PictureSpace,
}

impl Default for EvalSpec {
    fn default() -> Self {
        Self {
            every: 100,
            knn_k: 20,
            knn_temperature: 0.1,
            bank_size: 4000,
            query_size: 800,
            full_split: false,
            picture: PictureSpace::Encoder,
        }
    }
}

/// A whole experiment.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Experiment {
    pub name: String,
    /// Seeds batches, views and initial weights.
    pub seed: u64,
    pub dataset: DatasetSpec,
    pub views: ViewsSpec,
    pub encoder: EncoderConfig,
    pub method: MethodSpec,
    pub train: TrainSpec,
    pub eval: EvalSpec,
}

impl Default for Experiment {
    /// SimCLR on the built-in shapes, as in `presets/simclr-shapes.toml`: the experiment a
    /// newcomer starts. One background (with four, a short run groups the images by
    /// background first, which a newcomer takes for the classes), and a picture of the
    /// projection head's space, where the classes form islands first.
    fn default() -> Self {
        Self {
            name: "simclr-shapes".into(),
            seed: 0,
            dataset: DatasetSpec::Shapes(crate::data::shapes::ShapesSpec {
                backgrounds: 1,
                ..Default::default()
            }),
            views: ViewsSpec::same(ViewPipeline::strong_colour()),
            encoder: EncoderConfig::default(),
            method: MethodSpec::default(),
            train: TrainSpec::default(),
            eval: EvalSpec {
                picture: PictureSpace::Head,
                ..EvalSpec::default()
            },
        }
    }
}

/// A preset that cannot be used; the message names the file and the field.
#[derive(Debug, thiserror::Error)]
pub enum PresetError {
    /// The reason is part of the message, not a `source`: printed as an error chain it
    /// would otherwise appear twice.
    #[error("cannot read preset {path}: {reason}")]
    Io {
        path: String,
        reason: std::io::Error,
    },
    #[error("preset {path}: {message}")]
    Invalid { path: String, message: String },
}

/// A name that is one plain folder under `runs/`: no separators, no `.`/`..`, no hidden or
/// control characters.
fn is_plain_folder_name(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= 100
        && !name.starts_with('.')
        && name.trim() == name
        && name
            .chars()
            .all(|c| c.is_alphanumeric() || matches!(c, '-' | '_' | '.' | ' ' | '+'))
}

/// A type error with the line it is on: the table's error names the field
/// (`in train.batch_size`), deserialising the text again gives its position.
fn with_line(text: &str, error: &toml::de::Error) -> String {
    let message = error.to_string().trim().replace('\n', " ");
    let start = toml::from_str::<Experiment>(text)
        .err()
        .and_then(|e| e.span())
        .map(|span| span.start.min(text.len()));
    let Some(start) = start else {
        return message;
    };
    let line = text[..start].matches('\n').count() + 1;
    let setting = setting_on_line(text, line).or_else(|| setting_in_table(text, line, &message));
    match setting {
        Some(setting) => format!("line {line} ({setting}): {message}"),
        None => format!("line {line}: {message}"),
    }
}

/// For an error placed on a table's header (a tagged table's type error), the settings of
/// that table whose value is the number the message quotes (`integer `-1``).
fn setting_in_table(text: &str, line: usize, message: &str) -> Option<String> {
    let quoted = message.split('`').nth(1)?;
    let wanted = number(quoted)?;
    let lines: Vec<&str> = text.lines().collect();
    let header = lines.get(line.checked_sub(1)?)?.trim();
    if !header.starts_with('[') {
        return None;
    }
    let table = header.trim_matches(|c| c == '[' || c == ']').trim();
    let found: Vec<String> = lines[line..]
        .iter()
        .map(|l| l.trim())
        .take_while(|l| !l.starts_with('['))
        .filter_map(|l| l.split_once('='))
        .filter(|(_, v)| {
            // A number, or an array of them: any element may be the one.
            let v = v.trim().trim_matches(|c| c == '[' || c == ']');
            v.split(',')
                .filter_map(|x| number(x.trim()))
                .any(|x| x == wanted || (x.is_nan() && wanted.is_nan()))
        })
        .map(|(k, v)| format!("{table}.{} = {}", k.trim(), v.trim()))
        .collect();
    (!found.is_empty()).then(|| found.join(" or "))
}

/// A number as TOML or serde writes it (`1e308`, `-1`, `nan`, `NaN`, `inf`).
fn number(text: &str) -> Option<f64> {
    match text.trim_start_matches('+') {
        "nan" | "NaN" | "-nan" => Some(f64::NAN),
        "inf" => Some(f64::INFINITY),
        "-inf" => Some(f64::NEG_INFINITY),
        t => t.replace('_', "").parse().ok(),
    }
}

/// The `table.key = value` written on line `line` (1-based), with the table from the
/// nearest header above it: a type error inside a tagged table (`[dataset]`, a view op)
/// names only the table, so the line's own key is named from the text.
fn setting_on_line(text: &str, line: usize) -> Option<String> {
    let lines: Vec<&str> = text.lines().collect();
    let written = lines.get(line.checked_sub(1)?)?.trim();
    let (key, value) = written.split_once('=')?;
    let key = key.trim();
    if key.is_empty() || key.starts_with('[') || key.starts_with('#') {
        return None;
    }
    let table = lines[..line - 1]
        .iter()
        .rev()
        .map(|l| l.trim())
        .find(|l| l.starts_with('['))
        .map(|h| h.trim_matches(|c| c == '[' || c == ']').trim().to_string());
    let value: String = value.trim().chars().take(40).collect();
    Some(match table {
        Some(table) => format!("{table}.{key} = {value}"),
        None => format!("{key} = {value}"),
    })
}

impl Experiment {
    pub fn load(path: &Path) -> Result<Self, PresetError> {
        let text = std::fs::read_to_string(path).map_err(|reason| PresetError::Io {
            path: path.display().to_string(),
            reason,
        })?;
        Self::from_toml(&text, &path.display().to_string())
    }

    /// Parses and validates; `origin` names the source in errors.
    pub fn from_toml(text: &str, origin: &str) -> Result<Self, PresetError> {
        let invalid = |message: String| PresetError::Invalid {
            path: origin.to_string(),
            message,
        };
        let table: toml::Table = toml::from_str(text).map_err(|e| invalid(e.to_string()))?;
        if table.is_empty() {
            return Err(invalid(
                "the preset is empty (no settings at all); see presets/ for examples".into(),
            ));
        }
        let exp: Experiment = table
            .try_into()
            .map_err(|e: toml::de::Error| invalid(with_line(text, &e)))?;
        exp.validate().map_err(invalid)?;
        Ok(exp)
    }

    pub fn to_toml(&self) -> String {
        toml::to_string_pretty(self).unwrap_or_else(|e| format!("# cannot serialise: {e}\n"))
    }

    /// Every setting as a leaf of the preset's TOML, keyed by its dotted name as written in
    /// a preset (`train.batch_size`); tables are walked, arrays are leaves.
    pub fn settings(&self) -> std::collections::BTreeMap<String, toml::Value> {
        fn walk(
            prefix: &str,
            v: toml::Value,
            out: &mut std::collections::BTreeMap<String, toml::Value>,
        ) {
            match v {
                toml::Value::Table(t) => {
                    for (k, v) in t {
                        let key = if prefix.is_empty() {
                            k
                        } else {
                            format!("{prefix}.{k}")
                        };
                        walk(&key, v, out);
                    }
                }
                leaf => {
                    out.insert(prefix.to_string(), leaf);
                }
            }
        }
        let mut out = std::collections::BTreeMap::new();
        if let Ok(v) = toml::Value::try_from(self) {
            walk("", v, &mut out);
        }
        out
    }

    /// Where a run of this experiment goes unless told otherwise: `runs/<name>`.
    pub fn run_dir(&self) -> PathBuf {
        Path::new("runs").join(&self.name)
    }

    /// Checks ranges; the error names the field as written in the preset.
    pub fn validate(&self) -> Result<(), String> {
        let t = &self.train;
        let check = |ok: bool, msg: String| if ok { Ok(()) } else { Err(msg) };
        check(
            is_plain_folder_name(&self.name),
            format!(
                "name = {:?} cannot be a folder name under runs/: use letters, digits, spaces, \
                 '-', '_' and '.' (not first), at most 100 characters",
                self.name
            ),
        )?;
        check(
            (1..=10_000_000).contains(&t.steps),
            format!(
                "train.steps = {} is out of range: must be in 1..=10000000",
                t.steps
            ),
        )?;
        check(
            (2..=4096).contains(&t.batch_size),
            format!(
                "train.batch_size = {} is out of range: must be in 2..=4096",
                t.batch_size
            ),
        )?;
        check(
            t.learning_rate.is_finite() && t.learning_rate > 0.0 && t.learning_rate <= 10.0,
            format!(
                "train.learning_rate = {} is out of range: must be in (0, 10]",
                t.learning_rate
            ),
        )?;
        check(
            (0.0..1.0).contains(&t.momentum),
            format!(
                "train.momentum = {} is out of range: must be in [0, 1)",
                t.momentum
            ),
        )?;
        check(
            t.trust_coefficient > 0.0 && t.trust_coefficient <= 1.0,
            format!(
                "train.trust_coefficient = {} is out of range: must be in (0, 1]",
                t.trust_coefficient
            ),
        )?;
        check(
            (0.0..=1.0).contains(&t.weight_decay),
            format!(
                "train.weight_decay = {} is out of range: must be in [0, 1]",
                t.weight_decay
            ),
        )?;
        check(
            t.log_every >= 1,
            "train.log_every = 0 is out of range: must be at least 1".into(),
        )?;
        if t.backend == BackendChoice::Remote {
            check(
                t.remote.starts_with("ws://") && t.remote.len() > "ws://".len(),
                format!(
                    "train.remote = {:?}: backend = \"remote\" needs the server's address, \
                     e.g. \"ws://127.0.0.1:3000\" (what `contrastive-workbench serve` prints)",
                    t.remote
                ),
            )?;
        }
        let e = &self.eval;
        check(
            e.every >= 1,
            "eval.every = 0 is out of range: must be at least 1".into(),
        )?;
        check(
            (1..=200).contains(&e.knn_k),
            format!(
                "eval.knn_k = {} is out of range: must be in 1..=200",
                e.knn_k
            ),
        )?;
        check(
            e.knn_temperature > 0.0 && e.knn_temperature.is_finite(),
            format!(
                "eval.knn_temperature = {} is out of range: must be > 0",
                e.knn_temperature
            ),
        )?;
        check(
            e.bank_size >= 1 && e.query_size >= 1,
            "eval.bank_size and eval.query_size must be at least 1".into(),
        )?;
        self.dataset.validate()?;
        self.views.validate()?;
        self.encoder.validate()?;
        catalogue::resolve(&self.method).map(|_| ())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips_through_toml() {
        let mut e = Experiment::default();
        e.train.steps = 77;
        e.views = ViewsSpec::byol(ViewPipeline::default());
        e.views
            .view2
            .steps
            .push(crate::views::Transform::RandomErasing(
                crate::views::transform::ErasingParams::default(),
            ));
        e.method
            .params
            .insert("temperature".into(), toml::Value::Float(0.2));
        let back = Experiment::from_toml(&e.to_toml(), "mem").unwrap();
        assert_eq!(back, e);
    }

    #[test]
    fn unknown_fields_and_bad_values_are_named() {
        let err = |text: &str| {
            Experiment::from_toml(text, "p.toml")
                .unwrap_err()
                .to_string()
        };
        let e = err("[train]\nbatchsize = 3\n");
        assert!(e.contains("p.toml") && e.contains("batchsize"), "{e}");
        let e = err("[train]\nbatch_size = 1\n");
        assert!(e.contains("train.batch_size = 1"), "{e}");
        let e = err("[method]\nkind = \"simclr\"\ntemperature = -1.0\n");
        assert!(e.contains("method.temperature"), "{e}");
        let e = err("[method]\nkind = \"nope\"\n");
        assert!(e.contains("nope") && e.contains("simclr"), "{e}");
        let e = err("[dataset]\nkind = \"shapes\"\nsede = 3\n");
        assert!(e.contains("sede"), "{e}");
        let e = err("[train]\nbackend = \"remote\"\n");
        assert!(
            e.contains("train.remote = \"\"") && e.contains("ws://"),
            "{e}"
        );
        let e = err("[train]\nbackend = \"remote\"\nremote = \"gpu-box:3000\"\n");
        assert!(e.contains("train.remote = \"gpu-box:3000\""), "{e}");
        let ok = "[train]\nbackend = \"remote\"\nremote = \"ws://gpu-box:3000\"\n";
        assert!(Experiment::from_toml(ok, "p.toml").is_ok());
        // A value of the wrong type names its field and its line.
        let e = err("name = \"x\"\n\n[train]\nsteps = 10\nbatch_size = 1e308\n");
        assert!(
            e.contains("line 5") && e.contains("train.batch_size"),
            "{e}"
        );
        // A generated dataset is bounded by what a machine holds.
        let e = err("[dataset]\nkind = \"shapes\"\ntrain_per_class = 1000000000\n");
        assert!(e.contains("dataset.train_per_class = 1000000000"), "{e}");
        let e = err("[dataset]\nkind = \"shapes\"\ntrain_per_class = 90000\nsize = 128\n");
        assert!(e.contains("GiB"), "{e}");
        let e = err("[[views.view1]]\nop = \"random-resized-crop\"\nscale = [0.5, 2.0]\n");
        assert!(
            e.contains("views.view1[0] (random-resized-crop): scale"),
            "{e}"
        );
    }

    #[test]
    fn cosine_schedule_warms_up_then_decays_to_zero() {
        let t = TrainSpec {
            steps: 100,
            warmup_steps: 10,
            learning_rate: 1.0,
            ..TrainSpec::default()
        };
        assert!((t.lr_at(0) - 0.1).abs() < 1e-12);
        assert!((t.lr_at(9) - 1.0).abs() < 1e-12);
        assert!((t.lr_at(10) - 1.0).abs() < 1e-12);
        assert!((t.lr_at(55) - 0.5).abs() < 1e-12);
        assert!(t.lr_at(100) < 1e-12);
    }

    #[test]
    fn shipped_presets_load() {
        let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("presets");
        let mut n = 0;
        for entry in std::fs::read_dir(dir).unwrap() {
            let p = entry.unwrap().path();
            if p.extension().is_some_and(|e| e == "toml") {
                Experiment::load(&p).unwrap();
                n += 1;
            }
        }
        assert!(n >= 2);
    }
}
