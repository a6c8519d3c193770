//! The views tab: original images and the two augmented views training step 0 uses for
//! the shown seed (the same function the trainer calls), resampled on demand.

use eframe::egui::{self, RichText};

use crate::app::workbench::{Action, WorkbenchApp};
use crate::views::ImageF32;
use crate::views::pipeline::{batch_indices, view_rng};

const PAIRS: usize = 12;
/// Triplets (original, view 1, view 2) per grid row.
const PER_ROW: usize = 2;
const THUMB: f32 = 96.0;

pub fn show(ui: &mut egui::Ui, app: &mut WorkbenchApp, actions: &mut Vec<Action>) {
    let seed = app.preview.seed;
    ui.horizontal(|ui| {
        ui.label(format!("Seed {seed}"));
        if ui.button("Resample").clicked() {
            actions.push(Action::ResampleViews);
        }
        ui.label(
            RichText::new(
                "Each triple: an image and the two views SimCLR compares, exactly as training step 0 \
                 draws them with this seed.",
            )
            .small(),
        );
    });
    if let Err(problem) = app.experiment.views.validate() {
        ui.colored_label(egui::Color32::from_rgb(230, 90, 80), problem);
        return;
    }
    // The pipeline may have been edited: key textures by its content too.
    let key = format!("{:?}", app.experiment.views);
    let pipeline_hash = fxhash(&key);
    let d = std::sync::Arc::clone(&app.dataset);
    let size = d.image_size();
    let batch = app.experiment.train.batch_size.min(d.train.len());
    let indices = batch_indices(seed, 0, d.train.len(), batch);
    egui::ScrollArea::vertical().show(ui, |ui| {
        egui::Grid::new("view_pairs")
            .spacing([8.0, 8.0])
            .show(ui, |ui| {
                for k in 0..PER_ROW {
                    ui.label(RichText::new("original").strong());
                    ui.label(RichText::new("view 1").strong());
                    ui.label(RichText::new("view 2").strong());
                    if k + 1 < PER_ROW {
                        ui.add_space(24.0);
                    }
                }
                ui.end_row();
                for (slot, &idx) in indices.iter().take(PAIRS).enumerate() {
                    let original =
                        app.textures
                            .get(ui.ctx(), &format!("train/{idx}"), size, || {
                                d.train.image(idx).to_vec()
                            });
                    ui.add(egui::Image::new(original).fit_to_exact_size(egui::vec2(THUMB, THUMB)))
                        .on_hover_text(d.class_names[d.train.labels[idx] as usize].clone());
                    for view in 0..2 {
                        let tex_key = format!("view/{seed}/{pipeline_hash}/{slot}/{view}");
                        let pipeline = &app.experiment.views;
                        let tex = app.textures.get(ui.ctx(), &tex_key, size, || {
                            let src = ImageF32::from_u8(d.train.image(idx), size, size);
                            pipeline
                                .apply(&src, size, &mut view_rng(seed, 0, slot, view))
                                .to_u8()
                        });
                        ui.add(egui::Image::new(tex).fit_to_exact_size(egui::vec2(THUMB, THUMB)));
                    }
                    if slot % PER_ROW == PER_ROW - 1 {
                        ui.end_row();
                    } else {
                        ui.add_space(24.0);
                    }
                }
            });
    });
}

/// FNV-1a, to key textures by pipeline settings.
fn fxhash(s: &str) -> u64 {
    s.bytes().fold(0xcbf2_9ce4_8422_2325, |h, b| {
        (h ^ u64::from(b)).wrapping_mul(0x100_0000_01b3)
    })
}
