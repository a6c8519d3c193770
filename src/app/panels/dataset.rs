//! The dataset tab: counts per class and a grid of sample images with labels.

use eframe::egui::{self, RichText};

use crate::app::palette::class_colour;
use crate::app::workbench::WorkbenchApp;

const SHOWN: usize = 96;
const THUMB: f32 = 64.0;

pub fn show(ui: &mut egui::Ui, app: &mut WorkbenchApp) {
    let d = std::sync::Arc::clone(&app.dataset);
    ui.label(format!(
        "{}: {} train / {} held-out images, {}x{} RGB, {} classes",
        d.name,
        d.train.len(),
        d.test.len(),
        d.image_size(),
        d.image_size(),
        d.class_names.len()
    ));
    let counts = d.train.class_counts(d.class_names.len());
    ui.horizontal_wrapped(|ui| {
        for (c, name) in d.class_names.iter().enumerate() {
            ui.label(RichText::new(format!("{name}: {}", counts[c])).color(class_colour(c)));
        }
    });
    ui.separator();
    let columns = ((ui.available_width() / (THUMB + 14.0)).floor() as usize).max(1);
    egui::ScrollArea::vertical().show(ui, |ui| {
        egui::Grid::new("dataset_grid")
            .spacing([6.0, 6.0])
            .show(ui, |ui| {
                for i in 0..SHOWN.min(d.train.len()) {
                    let tex =
                        app.textures
                            .get(ui.ctx(), &format!("train/{i}"), d.image_size(), || {
                                d.train.image(i).to_vec()
                            });
                    let label = d.class_names[d.train.labels[i] as usize].clone();
                    ui.vertical(|ui| {
                        ui.add(egui::Image::new(tex).fit_to_exact_size(egui::vec2(THUMB, THUMB)))
                            .on_hover_text(format!("train image {i}: {label}"));
                        ui.label(RichText::new(label).small());
                    });
                    if (i + 1) % columns == 0 {
                        ui.end_row();
                    }
                }
            });
    });
}
