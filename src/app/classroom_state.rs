//! The classroom: the lesson being followed, the settings panel hidden, controls hidden one
//! by one, presentation mode. The toggles are its own; opening lessons and classroom files
//! changes the experiment and the tab too, so that lives with the window
//! (`lesson_state`).

use eframe::egui;

use crate::lessons::LessonProgress;
use crate::lessons::classroom_file::Classroom;

/// How much larger presentation mode draws the window.
pub const PRESENTING_ZOOM: f32 = 1.4;

#[derive(Default)]
pub struct ClassroomState {
    /// The lesson being followed, and where.
    pub lesson: Option<LessonProgress>,
    /// Classroom view: the settings panel hidden, so the class sees the pictures.
    pub hide_settings: bool,
    /// Controls hidden one by one (ids of `lessons::classroom_file::HIDEABLE`).
    pub hidden: Vec<&'static str>,
    /// Presentation mode: everything drawn larger, for a projector.
    pub presenting: bool,
}

impl ClassroomState {
    pub fn toggle_control(&mut self, id: &'static str) {
        match self.hidden.iter().position(|h| *h == id) {
            Some(i) => {
                self.hidden.remove(i);
            }
            None => self.hidden.push(id),
        }
    }

    pub fn set_presenting(&mut self, presenting: bool, ctx: &egui::Context) {
        self.presenting = presenting;
        ctx.set_zoom_factor(if presenting { PRESENTING_ZOOM } else { 1.0 });
    }

    /// Whether the control `id` is shown to the class.
    pub fn shows(&self, id: &str) -> bool {
        !self.hidden.contains(&id)
    }

    /// The `[classroom]` table of a classroom file of this window.
    pub fn table(&self) -> Classroom {
        Classroom {
            lesson: self.lesson.map(|p| p.lesson.to_string()),
            step: self.lesson.map_or(0, |p| p.step),
            hide_settings: self.hide_settings,
            presenting: self.presenting,
            hidden: self.hidden.iter().map(|h| h.to_string()).collect(),
        }
    }
}
