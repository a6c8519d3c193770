//! A classroom file: what a teacher hands a class. It is a preset (the experiment) plus a
//! `[classroom]` table: the lesson and step it is at, and which controls are hidden. Any
//! preset opens as one (with nothing hidden); students open it by dropping it on the window
//! or with `--classroom FILE`.

use std::path::Path;

use serde::{Deserialize, Serialize};

use super::find;
use crate::preset::Experiment;

/// The `[classroom]` table.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Classroom {
    /// A built-in lesson's id, and the step (0-based) it is at.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub lesson: Option<String>,
    pub step: usize,
    /// The settings panel is hidden.
    pub hide_settings: bool,
    /// Drawn larger, for a projector.
    pub presenting: bool,
    /// Controls hidden one by one (ids from [`HIDEABLE`]), as TF Playground hides them.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub hidden: Vec<String>,
    /// The lessons' questions before a run: `"ask"`, `"off"` (a teacher's demo) or
    /// `"require"` (Start waits for an answer).
    #[serde(skip_serializing_if = "Questions::is_ask")]
    pub questions: Questions,
}

/// Whether the lessons ask their questions before a run.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Questions {
    /// Asked; Start works without an answer.
    #[default]
    Ask,
    /// Not shown (a teacher's demo).
    Off,
    /// Asked, and Start waits for the answer (a class).
    Require,
}

impl Questions {
    fn is_ask(&self) -> bool {
        *self == Self::Ask
    }
}

/// The controls a teacher can hide one by one: id (as a classroom file names it) and
/// label (as the window's Controls menu shows it).
pub const HIDEABLE: &[(&str, &str)] = &[
    ("method", "Method and its settings"),
    (
        "optimisation",
        "Optimisation (steps, batch, learning rate, ...)",
    ),
    ("views", "View pipeline summary"),
    ("export", "Export and checkpoints"),
    ("encoder", "Open an exported encoder"),
    ("lessons", "Lessons menu"),
    ("speed", "Speed limit"),
];

/// `id` as the `&'static` id in [`HIDEABLE`], or an error naming the known ones.
pub fn hideable(id: &str) -> Result<&'static str, String> {
    HIDEABLE
        .iter()
        .map(|(known, _)| *known)
        .find(|known| *known == id)
        .ok_or_else(|| {
            let known: Vec<&str> = HIDEABLE.iter().map(|(k, _)| *k).collect();
            format!("no control named {id:?}: one of {}", known.join(", "))
        })
}

#[derive(Clone, Debug, PartialEq)]
pub struct ClassroomFile {
    pub classroom: Classroom,
    pub experiment: Experiment,
}

impl ClassroomFile {
    /// The preset, then the `[classroom]` table (after the preset's own top-level keys,
    /// which TOML needs before any table).
    pub fn to_toml(&self) -> String {
        let classroom = toml::to_string(&self.classroom).unwrap_or_default();
        format!(
            "# A contrastive-workbench classroom file: drop it on the window, or\n\
             # contrastive-workbench --classroom FILE\n{}\n[classroom]\n{classroom}",
            self.experiment.to_toml()
        )
    }

    /// Reads `text` (from `origin`, named in errors): a preset with an optional
    /// `[classroom]` table.
    pub fn parse(text: &str, origin: &str) -> Result<Self, String> {
        let mut table: toml::Table = toml::from_str(text).map_err(|e| format!("{origin}: {e}"))?;
        let classroom: Classroom = match table.remove("classroom") {
            Some(v) => v
                .try_into()
                .map_err(|e| format!("{origin}: [classroom]: {e}"))?,
            None => Classroom::default(),
        };
        if let Some(id) = &classroom.lesson {
            let lesson = find(id).map_err(|e| format!("{origin}: classroom.lesson: {e}"))?;
            if classroom.step >= lesson.steps.len() {
                return Err(format!(
                    "{origin}: classroom.step is {}, but lesson {id} has {} steps (0 to {})",
                    classroom.step,
                    lesson.steps.len(),
                    lesson.steps.len() - 1
                ));
            }
        }
        for id in &classroom.hidden {
            hideable(id).map_err(|e| format!("{origin}: classroom.hidden: {e}"))?;
        }
        let rest = toml::to_string(&table).map_err(|e| format!("{origin}: {e}"))?;
        let experiment = Experiment::from_toml(&rest, origin).map_err(|e| e.to_string())?;
        Ok(Self {
            classroom,
            experiment,
        })
    }

    pub fn load(path: &Path) -> Result<Self, String> {
        let text = std::fs::read_to_string(path)
            .map_err(|e| format!("cannot read {}: {e}", path.display()))?;
        Self::parse(&text, &path.display().to_string())
    }

    /// Writes the file through a temporary and a rename, so a failed write leaves any
    /// earlier file whole.
    pub fn save(&self, path: &Path) -> Result<(), String> {
        let fail = |e: std::io::Error| format!("cannot write {}: {e}", path.display());
        if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
            std::fs::create_dir_all(dir).map_err(fail)?;
        }
        let tmp = path.with_extension("toml.partial");
        std::fs::write(&tmp, self.to_toml()).map_err(fail)?;
        std::fs::rename(&tmp, path).map_err(fail)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn file() -> ClassroomFile {
        let lesson = find("why-colour-jitter").unwrap();
        ClassroomFile {
            classroom: Classroom {
                lesson: Some(lesson.id.into()),
                step: 1,
                hide_settings: true,
                presenting: true,
                hidden: vec!["method".into(), "speed".into()],
                questions: Questions::Require,
            },
            experiment: (lesson.start)(),
        }
    }

    #[test]
    fn a_classroom_file_round_trips_through_disk() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("class/lesson.toml");
        file().save(&path).unwrap();
        assert_eq!(ClassroomFile::load(&path).unwrap(), file());
    }

    #[test]
    fn a_plain_preset_opens_with_nothing_hidden() {
        let text = crate::preset::Experiment::default().to_toml();
        let f = ClassroomFile::parse(&text, "p.toml").unwrap();
        assert_eq!(f.classroom, Classroom::default());
    }

    #[test]
    fn bad_classroom_tables_are_named() {
        let mut f = file();
        f.classroom.step = 9;
        let e = ClassroomFile::parse(&f.to_toml(), "c.toml").unwrap_err();
        assert!(
            e.contains("c.toml: classroom.step is 9") && e.contains("2 steps"),
            "{e}"
        );
        let e = ClassroomFile::parse("[classroom]\nlesson = \"nope\"\n", "c.toml").unwrap_err();
        assert!(e.contains("classroom.lesson: no lesson named"), "{e}");
        let e = ClassroomFile::parse("[classroom]\nhidden = [\"views\", \"knobs\"]\n", "c.toml")
            .unwrap_err();
        assert!(
            e.contains("c.toml: classroom.hidden: no control named \"knobs\": one of method"),
            "{e}"
        );
        let e = ClassroomFile::parse("[classroom]\nhide = true\n", "c.toml").unwrap_err();
        assert!(e.contains("[classroom]") && e.contains("hide"), "{e}");
    }
}
