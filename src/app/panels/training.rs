//! The training tab: live curves on the left, the embedding projection on the right.

use eframe::egui;

use super::{dashboard, projection};
use crate::app::action::Action;
use crate::app::projection_view::{ProjectionChoice, ProjectionView};
use crate::app::run_view::RunView;
use crate::app::textures::TextureCache;

pub fn show(
    ui: &mut egui::Ui,
    run: &RunView,
    choice: &mut ProjectionChoice,
    projection_view: &mut ProjectionView,
    textures: &mut TextureCache,
    actions: &mut Vec<Action>,
) {
    let width = ui.available_width();
    ui.horizontal_top(|ui| {
        ui.vertical(|ui| {
            ui.set_width(width * 0.55);
            dashboard::show(ui, run, actions);
        });
        ui.separator();
        // Whatever is left; long captions wrap instead of pushing the plot off-screen.
        let rest = ui.available_width();
        ui.vertical(|ui| {
            ui.set_max_width(rest);
            projection::show(
                ui,
                projection::ProjectionPanel {
                    history: run.history,
                    dataset: run.dataset,
                    choice,
                    view: projection_view,
                    textures,
                },
            );
        });
    });
}
