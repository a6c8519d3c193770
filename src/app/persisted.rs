//! What the window remembers between sessions, kept apart from its runtime handles (as
//! egui_demo_app keeps its persisted `State`): the experiment being edited, the open tab,
//! the projection choice and the export settings. eframe stores it (its "persistence"
//! feature) as one TOML value under [`KEY`].
//!
//! The experiment is kept as preset TOML, the format presets already keep readable
//! across versions. A `version` newer than this build's, or a file that does not parse,
//! is set aside with a notice: the window opens with the defaults rather than failing.

use serde::{Deserialize, Serialize};

use super::Tab;
use super::projection_view::{ColourBy, ProjectionMode};
use crate::preset::Experiment;

/// The eframe storage key.
pub const KEY: &str = "contrastive-workbench";
/// The version this build writes. Readers accept it and every older one; fields added
/// later take their defaults (`#[serde(default)]`).
pub const VERSION: u32 = 1;

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct Settings {
    pub version: u32,
    /// The experiment being edited, as a preset.
    pub experiment: String,
    pub tab: Tab,
    pub projection: ProjectionMode,
    pub colour: ColourBy,
    pub neighbours: usize,
    pub export_dir: String,
    pub checkpoint_every: u64,
    /// The run folder typed in "Browse with an encoder".
    pub encoder_dir: String,
}

impl Default for Settings {
    fn default() -> Self {
        Self {
            version: VERSION,
            experiment: Experiment::default().to_toml(),
            tab: Tab::Training,
            projection: ProjectionMode::default(),
            colour: ColourBy::default(),
            neighbours: 8,
            export_dir: Experiment::default().run_dir().display().to_string(),
            checkpoint_every: 200,
            encoder_dir: String::new(),
        }
    }
}

impl Settings {
    /// The stored settings in `text` and the experiment they hold, or why they cannot be
    /// used.
    pub fn parse(text: &str) -> Result<(Self, Experiment), String> {
        let settings: Settings = toml::from_str(text)
            .map_err(|e| format!("the saved window settings do not parse ({e})"))?;
        if settings.version > VERSION {
            return Err(format!(
                "the saved window settings are version {}, newer than this build's {VERSION}",
                settings.version
            ));
        }
        let experiment = Experiment::from_toml(&settings.experiment, "the saved experiment")
            .map_err(|e| e.to_string())?;
        Ok((settings, experiment))
    }

    /// The settings as they are stored.
    pub fn to_toml(&self) -> String {
        toml::to_string(self).unwrap_or_default()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn settings_round_trip_and_keep_the_experiment() {
        let mut settings = Settings {
            tab: Tab::Views,
            projection: ProjectionMode::Tsne,
            colour: ColourBy::KnnCorrect,
            neighbours: 5,
            ..Settings::default()
        };
        let mut exp = Experiment::default();
        exp.train.steps = 1234;
        settings.experiment = exp.to_toml();
        let (back, experiment) = Settings::parse(&settings.to_toml()).unwrap();
        assert_eq!(back, settings);
        assert_eq!(experiment, exp);
    }

    #[test]
    fn an_older_file_opens_with_defaults_for_what_it_lacks() {
        // A version-1 file written before `encoder_dir` and the projection existed.
        let text = "version = 1\ntab = \"Dataset\"\nexport_dir = \"runs/old\"\n";
        let (settings, experiment) = Settings::parse(text).unwrap();
        assert_eq!(settings.tab, Tab::Dataset);
        assert_eq!(settings.export_dir, "runs/old");
        assert_eq!(settings.projection, ProjectionMode::default());
        assert_eq!(experiment, Experiment::default());
    }

    #[test]
    fn newer_or_broken_settings_are_refused_with_a_reason() {
        let newer = format!("version = {}\n", VERSION + 1);
        let e = Settings::parse(&newer).unwrap_err();
        assert!(e.contains("newer than this build"), "{e}");
        let e = Settings::parse("tab = 3").unwrap_err();
        assert!(e.contains("do not parse"), "{e}");
        let bad = "experiment = \"[train]\\nsteps = -1\\n\"\n";
        let e = Settings::parse(bad).unwrap_err();
        assert!(e.contains("train.steps") || e.contains("steps"), "{e}");
    }
}
