//! What the window remembers between sessions, kept apart from its runtime handles (as
//! egui_demo_app keeps its persisted `State`): the experiment being edited, the open tab,
//! the projection choice and the export settings. eframe stores it (its "persistence"
//! feature) as one TOML value under [`KEY`].
//!
//! The experiment is kept as preset TOML, the format presets already keep readable
//! across versions. A `version` newer than this build's, or a file that does not parse,
//! is set aside with a notice: the window opens with the defaults rather than failing.

use serde::{Deserialize, Deserializer, Serialize, Serializer};

use super::Tab;
use super::projection_view::ProjectionChoice;
use crate::preset::Experiment;

/// The eframe storage key.
pub const KEY: &str = "contrastive-workbench";
/// The version this build writes. Readers accept it and every older one; fields added
/// later take their defaults (`#[serde(default)]`).
pub const VERSION: u32 = 1;

/// Everything the window remembers, as one value: the window reads and edits it in place
/// and eframe stores it whole, so nothing is copied field by field.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct Settings {
    pub version: u32,
    /// The experiment being edited (what Start runs), stored as its preset text.
    #[serde(with = "preset_text")]
    pub experiment: Experiment,
    pub tab: Tab,
    /// Which projection, how it is coloured, how many neighbours (stored flat, as
    /// version 1 wrote them).
    #[serde(flatten)]
    pub projection: ProjectionChoice,
    /// Where exports, checkpoints and classroom files go.
    pub export_dir: String,
    /// Checkpoint into the export folder every this many steps, on stop and at the end
    /// (0: no checkpoints).
    pub checkpoint_every: u64,
    /// The run folder typed in "Browse with an encoder".
    pub encoder_dir: String,
}

impl Default for Settings {
    fn default() -> Self {
        Self::for_experiment(Experiment::default())
    }
}

impl Settings {
    /// The defaults around `experiment`: a new user sees pictures first (the Dataset
    /// tab), and exports go to the experiment's own run folder.
    pub fn for_experiment(experiment: Experiment) -> Self {
        Self {
            version: VERSION,
            export_dir: experiment.run_dir().display().to_string(),
            experiment,
            tab: Tab::Dataset,
            projection: ProjectionChoice::default(),
            checkpoint_every: 200,
            encoder_dir: String::new(),
        }
    }

    /// The stored settings in `text`, or why they cannot be used.
    pub fn parse(text: &str) -> Result<Self, String> {
        let table: toml::Table = toml::from_str(text)
            .map_err(|e| format!("the saved window settings do not parse ({e})"))?;
        // The version first: a newer file may hold what this build cannot read.
        let version = table.get("version").and_then(toml::Value::as_integer);
        if let Some(v) = version.filter(|v| *v > i64::from(VERSION)) {
            return Err(format!(
                "the saved window settings are version {v}, newer than this build's {VERSION}"
            ));
        }
        Settings::deserialize(table)
            .map_err(|e| format!("the saved window settings do not parse ({e})"))
    }

    /// The settings as they are stored.
    pub fn to_toml(&self) -> String {
        toml::to_string(self).unwrap_or_default()
    }
}

/// The experiment as preset TOML: the format presets already keep readable across
/// versions, validated (naming the field) as any preset is.
mod preset_text {
    use super::{Deserialize, Deserializer, Experiment, Serializer};

    pub fn serialize<S: Serializer>(experiment: &Experiment, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&experiment.to_toml())
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Experiment, D::Error> {
        let text = String::deserialize(d)?;
        Experiment::from_toml(&text, "the saved experiment").map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::app::projection_view::{ColourBy, ProjectionMode};

    #[test]
    fn settings_round_trip_whole() {
        let mut exp = Experiment::default();
        exp.train.steps = 1234;
        let settings = Settings {
            tab: Tab::Views,
            projection: ProjectionChoice {
                mode: ProjectionMode::Tsne,
                colour: ColourBy::Attribute(2),
                neighbours: 5,
            },
            checkpoint_every: 7,
            encoder_dir: "runs/enc".into(),
            ..Settings::for_experiment(exp)
        };
        let back = Settings::parse(&settings.to_toml()).unwrap();
        assert_eq!(back, settings);
        assert_eq!(back.experiment.train.steps, 1234);
    }

    #[test]
    fn a_version_1_file_reads_as_it_was_written() {
        // Written by the build before the settings became one value: flat projection keys.
        let text = "version = 1\nexperiment = \"[train]\\nsteps = 77\\n\"\ntab = \"Views\"\n\
                    projection = \"Umap\"\ncolour = \"KnnCorrect\"\nneighbours = 3\n\
                    export_dir = \"runs/x\"\ncheckpoint_every = 50\nencoder_dir = \"runs/e\"\n";
        let s = Settings::parse(text).unwrap();
        assert_eq!(s.experiment.train.steps, 77);
        assert_eq!(s.tab, Tab::Views);
        assert_eq!(s.projection.mode, ProjectionMode::Umap);
        assert_eq!(s.projection.colour, ColourBy::KnnCorrect);
        assert_eq!(s.projection.neighbours, 3);
        assert_eq!(s.export_dir, "runs/x");
        assert_eq!(s.checkpoint_every, 50);
        assert_eq!(s.encoder_dir, "runs/e");
    }

    #[test]
    fn an_older_file_opens_with_defaults_for_what_it_lacks() {
        // A version-1 file written before `encoder_dir` and the projection existed.
        let text = "version = 1\ntab = \"Dataset\"\nexport_dir = \"runs/old\"\n";
        let settings = Settings::parse(text).unwrap();
        assert_eq!(settings.tab, Tab::Dataset);
        assert_eq!(settings.export_dir, "runs/old");
        assert_eq!(settings.projection, ProjectionChoice::default());
        assert_eq!(settings.experiment, Experiment::default());
    }

    #[test]
    fn newer_or_broken_settings_are_refused_with_a_reason() {
        let newer = format!("version = {}\nexperiment = 3\n", VERSION + 1);
        let e = Settings::parse(&newer).unwrap_err();
        assert!(e.contains("newer than this build"), "{e}");
        let e = Settings::parse("tab = 3").unwrap_err();
        assert!(e.contains("do not parse"), "{e}");
        let bad = "experiment = \"[train]\\nsteps = -1\\n\"\n";
        let e = Settings::parse(bad).unwrap_err();
        assert!(e.contains("train.steps") || e.contains("steps"), "{e}");
    }
}
